"""A small synchronous Python client for Modelport (router or any backend).

Every call carries a deadline; gRPC failures surface as `ClientError` with the status
code and message, never as a bare `grpc.RpcError`. The client speaks plaintext, TLS
(a CA bundle, or the system's roots) or mTLS (a client certificate), and can send a
bearer token and extra metadata with every call.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeAlias, TypeVar

import grpc

from modelport.serving.calls import MODEL_HEADER, VERSION_HEADER
from modelport.v1 import (
    common_pb2,
    embedding_pb2,
    embedding_pb2_grpc,
    nlp_pb2,
    nlp_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    vision_pb2,
    vision_pb2_grpc,
)

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_OPTIONS: tuple[tuple[str, Any], ...] = (("grpc.max_send_message_length", 64 * 1024 * 1024),)

STATUS_DETAILS = "grpc-status-details-bin"
"""The trailer with `google.rpc.Status` details that every Modelport server error carries."""
FINISH_REASONS = {
    nlp_pb2.FINISH_REASON_LENGTH: "length",
    nlp_pb2.FINISH_REASON_EOS: "eos",
    nlp_pb2.FINISH_REASON_STOP_SEQUENCE: "stop_sequence",
}

Pem: TypeAlias = "bytes | str | os.PathLike[str]"
"""PEM data as bytes, or the path of a PEM file."""
Response = TypeVar("Response")
T = TypeVar("T")
AGGREGATIONS = {
    "simple": nlp_pb2.AGGREGATION_SIMPLE,
    "none": nlp_pb2.AGGREGATION_NONE,
    "first": nlp_pb2.AGGREGATION_FIRST,
    "average": nlp_pb2.AGGREGATION_AVERAGE,
}
"""How ClassifyTokens merges tokens into entities, by the names the client takes."""


class ClientError(Exception):
    """A call failed; `code` is the gRPC status code, `message` its details.

    `unreachable` is True when no server answered: the connection was refused, the name
    did not resolve, the handshake failed, or what answered does not speak gRPC (grpc's
    own UNAVAILABLE, without the status details every Modelport server sends).
    """

    def __init__(self, code: grpc.StatusCode, message: str, *, unreachable: bool = False) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.unreachable = unreachable


@dataclass(frozen=True)
class Embeddings:
    model: str
    version: str
    vectors: list[list[float]]
    input_tokens: int


class Answers(list[T], Generic[T]):
    """One result for each input, in input order; also says which model version answered
    (`model`, `version`) and, for texts, the tokens it read."""

    def __init__(
        self, results: Sequence[T], model: str, version: str, input_tokens: int = 0
    ) -> None:
        super().__init__(results)
        self.model = model
        self.version = version
        self.input_tokens = input_tokens


class Classifications(Answers[list[tuple[str, float]]]):
    """Labels with scores, best first, for each input."""


@dataclass(frozen=True)
class Entity:
    """A labelled span of a text: `text` is `input[start:end]` (code points)."""

    label: str
    score: float
    text: str
    start: int
    end: int


Box: TypeAlias = tuple[float, float, float, float]
"""`(x_min, y_min, x_max, y_max)` in pixels of the original image."""


@dataclass(frozen=True)
class Detection:
    """One object found in an image; an OCR model's are text lines (`label` "text",
    `text` the line read)."""

    label: str
    score: float
    box: Box
    text: str = ""


@dataclass(frozen=True)
class TextLine:
    """One line of text read in an image."""

    text: str
    confidence: float
    box: Box


@dataclass(frozen=True)
class ImageText:
    """The text of one image: its lines in reading order, and them joined (a space
    within a row, a newline between rows)."""

    text: str
    lines: list[TextLine]


def _box(box: vision_pb2.BoundingBox) -> Box:
    return (box.x_min, box.y_min, box.x_max, box.y_max)


@dataclass(frozen=True)
class GenerationChunk:
    """New text of a generation as the model produces it. The last chunk has
    `finish_reason` (`length`, `eos`, `stop_sequence`) and the token counts."""

    text: str
    model: str
    version: str
    finish_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class ChatReply(GenerationChunk):
    """A chat model's whole reply (`text`), with its finish reason and token counts
    (`input_tokens`: the conversation with the chat template applied)."""

    role: str = "assistant"


Messages: TypeAlias = "str | Sequence[tuple[str, str]]"
"""A conversation: (role, content) pairs, oldest first (roles `system`, `user`,
`assistant`), or one user message as a plain string."""
CHAT_MODEL = "smollm2-135m-instruct"


def chat_messages(messages: Messages, system: str | None = None) -> list[nlp_pb2.ChatMessage]:
    """The request's messages: `system` first when given, then `messages`."""
    pairs = [("user", messages)] if isinstance(messages, str) else list(messages)
    if system is not None:
        pairs.insert(0, ("system", system))
    return [nlp_pb2.ChatMessage(role=role, content=content) for role, content in pairs]


def generation_parameters(
    max_new_tokens: int, temperature: float | None, seed: int | None
) -> nlp_pb2.GenerationParameters:
    """`max_new_tokens` 0: the model's default; `temperature` None: greedy."""
    parameters = nlp_pb2.GenerationParameters(max_new_tokens=max_new_tokens)
    if temperature is not None:
        parameters.do_sample = True
        parameters.temperature = temperature
    if seed is not None:
        parameters.seed = seed
    return parameters


def _read(pem: Pem | None) -> bytes | None:
    if pem is None or isinstance(pem, bytes):
        return pem
    return Path(pem).read_bytes()


@contextlib.contextmanager
def _client_errors() -> Iterator[None]:
    """The one place a `grpc.RpcError` becomes a `ClientError`."""
    try:
        yield
    except grpc.RpcError as exc:
        if not isinstance(exc, grpc.Call):
            raise ClientError(grpc.StatusCode.UNKNOWN, str(exc)) from exc
        code, details = exc.code(), exc.details() or ""
        answered = any(key == STATUS_DETAILS for key, _ in exc.trailing_metadata() or ())
        unreachable = code == grpc.StatusCode.UNAVAILABLE and not answered
        raise ClientError(code, details, unreachable=unreachable) from exc


class ModelportClient:
    """`with ModelportClient("127.0.0.1:50051") as client: client.embed(["hi"])`.

    - `timeout_s`: the deadline of every call.
    - `tls`: speak TLS, verifying the server with the system's root certificates, or
      with `root_certificates` (a CA bundle) when given. Any of `root_certificates`,
      `certificate_chain` or `private_key` turns TLS on.
    - `certificate_chain`, `private_key`: this client's certificate and key (mTLS);
      both or neither.
    - `token`: a bearer token sent as `authorization: Bearer <token>` with every call.
      Over plaintext only with `allow_insecure_token=True` (local development): a token
      sent in the clear can be read by anyone on the path.
    - `metadata`: more headers sent with every call (`x-request-id`, `traceparent` ...).
    - `options`: gRPC channel arguments, added to (or replacing) the client's defaults;
      `("grpc.ssl_target_name_override", "name")` verifies the server under another
      name than the target's host.

    PEM arguments are bytes, or the path of a file to read.
    """

    def __init__(
        self,
        target: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        tls: bool = False,
        root_certificates: Pem | None = None,
        certificate_chain: Pem | None = None,
        private_key: Pem | None = None,
        token: str | None = None,
        allow_insecure_token: bool = False,
        metadata: Sequence[tuple[str, str]] = (),
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        if (certificate_chain is None) != (private_key is None):
            raise ValueError("a client certificate needs both certificate_chain and private_key")
        secure = tls or any(
            pem is not None for pem in (root_certificates, certificate_chain, private_key)
        )
        if token is not None and not secure and not allow_insecure_token:
            raise ValueError(
                "refusing to send a bearer token over plaintext: use TLS, or pass "
                "allow_insecure_token=True (local development only)"
            )
        channel_options = list({**dict(DEFAULT_OPTIONS), **dict(options)}.items())
        if secure:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(root_certificates),
                private_key=_read(private_key),
                certificate_chain=_read(certificate_chain),
            )
            self._channel = grpc.secure_channel(target, credentials, options=channel_options)
        else:
            self._channel = grpc.insecure_channel(target, options=channel_options)
        headers = [(key.lower(), value) for key, value in metadata]
        if token is not None:
            headers.append(("authorization", f"Bearer {token}"))
        self._metadata = tuple(headers)
        self._timeout = timeout_s
        self._embedding = embedding_pb2_grpc.EmbeddingServiceStub(self._channel)
        self._registry = registry_pb2_grpc.RegistryServiceStub(self._channel)
        self._nlp = nlp_pb2_grpc.NlpServiceStub(self._channel)
        self._vision = vision_pb2_grpc.VisionServiceStub(self._channel)

    def __enter__(self) -> ModelportClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _headers(self, request: Any) -> tuple[tuple[str, str], ...]:
        """The metadata of a call of `request`: the client's, and the model it names
        (`x-modelport-model`, `x-modelport-version`), so that Envoy in front of the
        router sends it straight to a replica (the router ignores them)."""
        ref = getattr(request, "model", None)
        if not isinstance(ref, common_pb2.ModelRef) or not ref.name:
            return self._metadata
        route: tuple[tuple[str, str], ...] = ((MODEL_HEADER, ref.name),)
        if ref.version:
            route += ((VERSION_HEADER, ref.version),)
        return self._metadata + route

    def _call(self, rpc: Callable[..., Response], request: Any) -> Response:
        """One unary call with the deadline and metadata; errors as `ClientError`."""
        with _client_errors():
            return rpc(request, timeout=self._timeout, metadata=self._headers(request))

    def _stream(self, rpc: Callable[..., Any], request: Any) -> Generator[Any, None, None]:
        """The responses of one server-streaming call (deadline, metadata, errors as
        `ClientError`); the call is cancelled if the caller stops early."""
        call = rpc(request, timeout=self._timeout, metadata=self._headers(request))
        try:
            with _client_errors():
                yield from call
        finally:
            call.cancel()

    def embed(
        self,
        texts: Sequence[str],
        *,
        model: str = "all-MiniLM-L6-v2",
        version: str = "",
        dimensions: int = 0,
        normalize: bool | None = None,
    ) -> Embeddings:
        request = embedding_pb2.EmbedRequest(
            model=common_pb2.ModelRef(name=model, version=version),
            inputs=list(texts),
            dimensions=dimensions,
        )
        if normalize is not None:
            request.normalize = normalize
        response = self._call(self._embedding.Embed, request)
        return Embeddings(
            response.model.name,
            response.model.version,
            [list(e.values) for e in response.embeddings],
            response.usage.input_tokens,
        )

    def classify(
        self, texts: Sequence[str], *, model: str = "sentiment", version: str = "", top_k: int = 0
    ) -> Classifications:
        """Labels with scores, best first, for each text (`top_k` 0: every label)."""
        request = nlp_pb2.ClassifyRequest(
            model=common_pb2.ModelRef(name=model, version=version),
            inputs=list(texts),
            top_k=top_k,
        )
        response = self._call(self._nlp.Classify, request)
        return Classifications(
            [[(s.label, s.score) for s in r.labels] for r in response.results],
            response.model.name,
            response.model.version,
            response.usage.input_tokens,
        )

    def classify_images(
        self,
        images: Sequence[bytes],
        *,
        model: str = "efficientnet-lite0",
        version: str = "",
        top_k: int = 5,
    ) -> Classifications:
        """Labels with scores, best first, for each encoded image (JPEG, PNG, WebP ...)."""
        request = vision_pb2.ClassifyImageRequest(
            model=common_pb2.ModelRef(name=model, version=version),
            images=list(images),
            top_k=top_k,
        )
        response = self._call(self._vision.ClassifyImage, request)
        return Classifications(
            [[(s.label, s.score) for s in r.labels] for r in response.results],
            response.model.name,
            response.model.version,
        )

    def explain_text(
        self,
        text: str,
        *,
        model: str = "sentiment",
        version: str = "",
        target_label: str = "",
        method: common_pb2.ExplainMethod.ValueType = common_pb2.EXPLAIN_METHOD_UNSPECIFIED,
        steps: int = 0,
        baseline: common_pb2.Baseline.ValueType = common_pb2.BASELINE_UNSPECIFIED,
    ) -> nlp_pb2.ExplainTextResponse:
        """Each token's attribution to `target_label` (default: the predicted label)."""
        request = nlp_pb2.ExplainTextRequest(
            model=common_pb2.ModelRef(name=model, version=version),
            input=text,
            target_label=target_label,
            method=method,
            steps=steps,
            baseline=baseline,
        )
        return self._call(self._nlp.Explain, request)

    def explain_image(
        self,
        image: bytes,
        *,
        model: str = "efficientnet-lite0",
        version: str = "",
        target_label: str = "",
        method: common_pb2.ExplainMethod.ValueType = common_pb2.EXPLAIN_METHOD_UNSPECIFIED,
        steps: int = 0,
        baseline: common_pb2.Baseline.ValueType = common_pb2.BASELINE_UNSPECIFIED,
        window: int = 0,
        stride: int = 0,
        heatmap: bool = False,
    ) -> vision_pb2.ExplainImageResponse:
        """A saliency map of the encoded image for `target_label` (default: predicted),
        with a PNG heat map when `heatmap`."""
        request = vision_pb2.ExplainImageRequest(
            model=common_pb2.ModelRef(name=model, version=version),
            image=image,
            target_label=target_label,
            method=method,
            steps=steps,
            baseline=baseline,
            window=window,
            stride=stride,
            heatmap=heatmap,
        )
        return self._call(self._vision.Explain, request)

    def classify_tokens(
        self,
        texts: Sequence[str],
        *,
        model: str = "ner",
        version: str = "",
        aggregation: str = "simple",
        min_score: float = 0.0,
    ) -> Answers[list[Entity]]:
        """The entities of each text, in order of appearance (`aggregation`: simple,
        none, first or average; entities scoring below `min_score` are dropped)."""
        request = nlp_pb2.ClassifyTokensRequest(
            model=common_pb2.ModelRef(name=model, version=version),
            inputs=list(texts),
            aggregation=AGGREGATIONS[aggregation],
            min_score=min_score,
        )
        response = self._call(self._nlp.ClassifyTokens, request)
        return Answers(
            [
                [Entity(e.label, e.score, e.text, e.start, e.end) for e in r.entities]
                for r in response.results
            ],
            response.model.name,
            response.model.version,
            response.usage.input_tokens,
        )

    def detect_objects(
        self,
        images: Sequence[bytes],
        *,
        model: str = "ocr",
        version: str = "",
        threshold: float = 0.0,
        max_detections: int = 0,
    ) -> Answers[list[Detection]]:
        """The `Detection`s of each encoded image, best first (`threshold` 0: the server's
        0.5; `max_detections` 0: all)."""
        request = vision_pb2.DetectObjectsRequest(
            model=common_pb2.ModelRef(name=model, version=version),
            images=list(images),
            threshold=threshold,
            max_detections=max_detections,
        )
        response = self._call(self._vision.DetectObjects, request)
        return Answers(
            [
                [Detection(d.label, d.score, _box(d.box), d.text) for d in r.detections]
                for r in response.results
            ],
            response.model.name,
            response.model.version,
        )

    def read_text(
        self,
        images: Sequence[bytes],
        *,
        model: str = "ocr",
        version: str = "",
        min_confidence: float = 0.0,
    ) -> Answers[ImageText]:
        """The `ImageText` of each encoded image: lines in reading order (those read with
        less than `min_confidence` dropped; 0: the server's 0.5)."""
        request = vision_pb2.ReadTextRequest(
            model=common_pb2.ModelRef(name=model, version=version),
            images=list(images),
            min_confidence=min_confidence,
        )
        response = self._call(self._vision.ReadText, request)
        return Answers(
            [
                ImageText(r.text, [TextLine(t.text, t.confidence, _box(t.box)) for t in r.lines])
                for r in response.results
            ],
            response.model.name,
            response.model.version,
        )

    def generate_stream(
        self,
        prompt: str,
        *,
        model: str = "gemma-3-270m",
        version: str = "",
        max_new_tokens: int = 0,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        """Text chunks as the model produces them."""
        for chunk in self.generate_chunks(
            prompt,
            model=model,
            version=version,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            seed=seed,
        ):
            yield chunk.text

    def generate_chunks(
        self,
        prompt: str,
        *,
        model: str = "gemma-3-270m",
        version: str = "",
        max_new_tokens: int = 0,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> Iterator[GenerationChunk]:
        """The generation as it is produced, with the model version that answered; the
        last chunk carries the finish reason and token counts. `max_new_tokens` 0: the
        model's default, cut to fit its context; `temperature` None: greedy."""
        request = nlp_pb2.GenerateRequest(
            model=common_pb2.ModelRef(name=model, version=version),
            prompts=[prompt],
            parameters=generation_parameters(max_new_tokens, temperature, seed),
        )
        for chunk in self._stream(self._nlp.GenerateStream, request):
            yield _chunk(chunk)

    def chat(
        self,
        messages: Messages,
        *,
        system: str | None = None,
        model: str = CHAT_MODEL,
        version: str = "",
        max_new_tokens: int = 0,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> ChatReply:
        """A chat model's reply to a conversation (its chat template is applied by the
        server). `system`: a system message put first. `max_new_tokens` 0: the model's
        default, cut to fit its context; `temperature` None: greedy."""
        response = self._call(
            self._nlp.Chat,
            _chat_request(messages, system, model, version, max_new_tokens, temperature, seed),
        )
        return ChatReply(
            response.message.content,
            response.model.name,
            response.model.version,
            FINISH_REASONS.get(response.finish_reason),
            response.usage.input_tokens,
            response.usage.output_tokens,
            response.message.role,
        )

    def chat_stream(
        self,
        messages: Messages,
        *,
        system: str | None = None,
        model: str = CHAT_MODEL,
        version: str = "",
        max_new_tokens: int = 0,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> Iterator[GenerationChunk]:
        """A chat model's reply as it is produced (as `chat`); the last chunk carries the
        finish reason and token counts. Stopping early cancels the call."""
        request = _chat_request(messages, system, model, version, max_new_tokens, temperature, seed)
        for chunk in self._stream(self._nlp.ChatStream, request):
            yield _chunk(chunk)

    def wait_for_models(self, names: Sequence[str]) -> registry_pb2.ListModelsResponse:
        """Watch the registry until every named model has a READY version, then list."""
        missing = set(names)
        if missing:
            events = self._stream(self._registry.WatchModels, registry_pb2.WatchModelsRequest())
            with contextlib.closing(events):  # cancels the watch
                for event in events:
                    if any(v.state == common_pb2.MODEL_STATE_READY for v in event.model.versions):
                        missing.discard(event.model.name)
                    if not missing:
                        break
        return self.list_models()

    def list_models(self) -> registry_pb2.ListModelsResponse:
        return self._call(self._registry.ListModels, registry_pb2.ListModelsRequest())

    def get_model(self, name: str) -> registry_pb2.ModelInfo:
        """The model's versions (newest first) with their states and traffic weights."""
        return self._call(self._registry.GetModel, registry_pb2.GetModelRequest(name=name))

    def set_traffic_split(self, name: str, weights: dict[str, int], reason: str = "") -> None:
        """Share the model's unpinned calls between versions by `weights` (router, admin);
        empty weights remove the split. `reason` goes to the router's audit log."""
        request = registry_pb2.SetTrafficSplitRequest(name=name, weights=weights, reason=reason)
        self._call(self._registry.SetTrafficSplit, request)

    def set_shadow(
        self, name: str, version: str, fraction: float, reason: str = ""
    ) -> registry_pb2.ShadowStatus:
        """Copy `fraction` of the model's unpinned calls to `version` and compare the
        answers (router, admin); a fraction of 0 stops it."""
        request = registry_pb2.SetShadowRequest(
            name=name, version=version, fraction=fraction, reason=reason
        )
        return self._call(self._registry.SetShadow, request)

    def get_shadow(self, name: str) -> registry_pb2.ShadowStatus:
        """What the model's shadow compared so far."""
        return self._call(self._registry.GetShadow, registry_pb2.GetShadowRequest(name=name))


def _chat_request(
    messages: Messages,
    system: str | None,
    model: str,
    version: str,
    max_new_tokens: int,
    temperature: float | None,
    seed: int | None,
) -> nlp_pb2.ChatRequest:
    return nlp_pb2.ChatRequest(
        model=common_pb2.ModelRef(name=model, version=version),
        messages=chat_messages(messages, system),
        parameters=generation_parameters(max_new_tokens, temperature, seed),
    )


def _chunk(
    response: nlp_pb2.GenerateStreamResponse | nlp_pb2.ChatStreamResponse,
) -> GenerationChunk:
    return GenerationChunk(
        response.text,
        response.model.name,
        response.model.version,
        FINISH_REASONS.get(response.finish_reason),
        response.usage.input_tokens,
        response.usage.output_tokens,
    )

"""Property-based fuzzing of every RPC, on each backend (embedding, NLP, vision),
through the router, and through Envoy routed by the router over xDS (calls carry
`x-modelport-model`, so the backends parse the fuzzed bytes with no router in front):
random bytes, mutated valid requests (truncated, bit-flipped, spliced, wrong wire types,
invalid UTF-8, huge fields), random messages with edge values, broken images and
decompression bombs, invalid OIP tensors, and streams of several such
messages never produce INTERNAL, UNKNOWN or a hang; every INVALID_ARGUMENT names its
field; and the server still answers a valid call afterwards.

Two tiers: a sample of every RPC (about 360 cases) in the default run, and the full
budget (`MODELPORT_FUZZ_CASES`, default 10,500 cases, spread by weight over the RPCs) in
the slow tier. Cases are derandomized, so a failure reproduces on every run.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from modelport.embedding.__main__ import build as build_embedding
from modelport.embedding.settings import EmbeddingSettings
from modelport.inference.server import InferenceServer
from modelport.inference.settings import GenerationSettings, ModelSpec
from modelport.inference.tensors import serialize_raw_bytes
from modelport.nlp.__main__ import build as build_nlp
from modelport.nlp.settings import NlpSettings
from modelport.oip.v2 import open_inference_pb2 as oip
from modelport.router.envoy import Envoy
from modelport.serving.calls import MODEL_HEADER
from modelport.v1 import common_pb2, embedding_pb2, nlp_pb2, registry_pb2, vision_pb2
from modelport.vision.__main__ import build as build_vision
from modelport.vision.settings import RapidOcrSpec, VisionSettings
from tests.fuzzing import (
    ALLOWED,
    UPSTREAM_RACE,
    UPSTREAM_RACES,
    Hints,
    Rpc,
    bombs,
    check,
    encode,
    images,
    oip_hints,
    requests,
    rpcs,
)
from tests.helpers import (
    ServiceProcess,
    free_port,
    loopback_settings,
    running_server,
    static_router,
)

FULL_CASES = int(os.environ.get("MODELPORT_FUZZ_CASES", "10500"))
SAMPLE_CASES = 360  # about 300 as before over the targets other than envoy
MAX_PIXELS = 1_000_000
RPCS = rpcs(embedding_pb2, nlp_pb2, vision_pb2, registry_pb2, oip)
CASES: collections.Counter[str] = collections.Counter()

# -- what is served where --------------------------------------------------------------------
MODELS = {  # name: (task, OIP input)
    "fuzz": ("embedding", "text"),
    "cls": ("text-classification", "text"),
    "ner": ("token-classification", "text"),
    "gpt": ("text-generation", "prompt"),
    "chat": ("text-generation", "prompt"),
    "t5": ("text2text-generation", "prompt"),
    "vit": ("image-classification", "image"),
    "detector": ("object-detection", "image"),
    "ocr": ("ocr", "image"),
}
EMBEDDING = "modelport.v1.EmbeddingService"
NLP = "modelport.v1.NlpService"
VISION = "modelport.v1.VisionService"
REGISTRY = "modelport.v1.RegistryService"
OIP = "inference.GRPCInferenceService"


@dataclass(frozen=True)
class Target:
    name: str
    fixture: str
    models: tuple[str, ...]
    services: tuple[str, ...]
    alive: str
    """A method whose first seed must still succeed after fuzzing."""
    router: bool = False
    registry_writes: bool = False
    """Fuzz the registry's writes for real (a router of its own)."""


TARGETS = [
    Target("embedding", "embedding", ("fuzz",), (EMBEDDING, REGISTRY, OIP), f"/{EMBEDDING}/Embed"),
    Target(
        "nlp", "nlp", ("cls", "ner", "gpt", "chat", "t5"), (NLP, REGISTRY, OIP), f"/{NLP}/Generate"
    ),
    Target(
        "vision",
        "vision",
        ("vit", "detector", "ocr"),
        (VISION, REGISTRY, OIP),
        f"/{VISION}/ClassifyImage",
    ),
    Target(
        "router",
        "router",
        tuple(MODELS),
        (EMBEDDING, NLP, VISION, REGISTRY, OIP),
        f"/{OIP}/ModelInfer",
        router=True,
    ),
    Target(
        "envoy",
        "envoy",
        tuple(MODELS),
        (EMBEDDING, NLP, VISION, REGISTRY, OIP),
        f"/{OIP}/ModelInfer",
        router=True,
    ),
    Target(
        "registry",
        "registry",
        ("split",),
        (REGISTRY,),
        f"/{REGISTRY}/RegisterModel",
        router=True,
        registry_writes=True,
    ),
]
REGISTRY_WRITES = {
    "RegisterModel", "RenewLease", "DeregisterModel", "SetTrafficSplit", "SetShadow"
}  # fmt: skip
WEIGHTS = {
    "Embed": 500, "EmbedStream": 300, "Classify": 400, "ClassifyTokens": 400,
    "Generate": 400, "GenerateStream": 300, "Chat": 200, "ChatStream": 200,
    "ClassifyImage": 400, "DetectObjects": 300, "ReadText": 200, "Explain": 200,
    "ModelInfer": 600, "ModelStreamInfer": 300, "ModelMetadata": 80, "ModelConfig": 80,
    "ModelReady": 80, "ModelStatistics": 60, "RepositoryModelLoad": 60,
    "RepositoryModelUnload": 60,
    "RepositoryIndex": 40, "ServerLive": 30, "ServerReady": 30, "ServerMetadata": 30,
    "ListModels": 80, "GetModel": 80, "WatchModels": 40, "RegisterModel": 300,
    "RenewLease": 200, "DeregisterModel": 200, "SetTrafficSplit": 200, "SetShadow": 100,
    "GetShadow": 60,
}  # fmt: skip
"""Relative share of the case budget per RPC (per target)."""


def methods(target: Target) -> list[str]:
    """The RPCs fuzzed on `target`: all it serves (the main router leaves registry writes
    to the registry target, so its routing table stays intact)."""
    return [
        path
        for path in RPCS
        if path.split("/")[1] in target.services
        and (
            target.registry_writes or not target.router or path.split("/")[2] not in REGISTRY_WRITES
        )
    ]


def weight(target: Target, path: str) -> int:
    name = path.rsplit("/", 1)[1]
    if name in REGISTRY_WRITES and not target.registry_writes:
        return 40  # UNIMPLEMENTED on a backend: cheap and dull
    return WEIGHTS[name]


CASES_TOTAL_WEIGHT = sum(weight(t, m) for t in TARGETS for m in methods(t))


def budget(target: Target, path: str, total: int) -> int:
    return max(2, round(weight(target, path) * total / CASES_TOTAL_WEIGHT))


# -- valid requests to mutate ----------------------------------------------------------------
def small_image(fmt: str) -> bytes:
    return encode(Image.new("RGB", (24, 16), (200, 30, 90)), fmt)


BOMBS = bombs(small_image)


def infer_seeds(model: str) -> list[Message]:
    _, name = MODELS[model]
    element = small_image("PNG") if name == "image" else b"the cat sat on the mat"
    tensor = oip.ModelInferRequest.InferInputTensor(name=name, datatype="BYTES", shape=[2])
    typed = oip.ModelInferRequest(model_name=model, id="seed", inputs=[tensor])
    typed.inputs[0].contents.bytes_contents.extend([element, element])
    typed.parameters["top_k"].int64_param = 2
    typed.parameters["max_new_tokens"].int64_param = 3
    raw = oip.ModelInferRequest(
        model_name=model, inputs=[tensor], raw_input_contents=[serialize_raw_bytes([element] * 2)]
    )
    return [typed, raw]


def typed_seeds(model: str) -> dict[str, list[Message]]:
    ref = common_pb2.ModelRef(name=model)
    task, _ = MODELS[model]
    if task == "embedding":
        embed = embedding_pb2.EmbedRequest(model=ref, inputs=["hello", "world"], dimensions=8)
        return {f"/{EMBEDDING}/Embed": [embed], f"/{EMBEDDING}/EmbedStream": [embed]}
    if task == "text-classification":
        explain: list[Message] = [
            nlp_pb2.ExplainTextRequest(model=ref, input="I love it", steps=4),
            nlp_pb2.ExplainTextRequest(
                model=ref, input="I love it", method=common_pb2.EXPLAIN_METHOD_OCCLUSION
            ),
        ]
        return {
            f"/{NLP}/Classify": [nlp_pb2.ClassifyRequest(model=ref, inputs=["I love it"])],
            f"/{NLP}/Explain": explain,
        }
    if task == "token-classification":
        tokens = nlp_pb2.ClassifyTokensRequest(model=ref, inputs=["the cat sat in the park"])
        return {f"/{NLP}/ClassifyTokens": [tokens]}
    if task.endswith("generation"):
        parameters = nlp_pb2.GenerationParameters(
            max_new_tokens=4, do_sample=True, temperature=0.7, top_p=0.9, top_k=5, seed=1
        )
        parameters.stop.append("dog")
        generate = nlp_pb2.GenerateRequest(model=ref, prompts=["the cat"], parameters=parameters)
        chat = nlp_pb2.ChatRequest(
            model=ref,
            messages=[nlp_pb2.ChatMessage(role="user", content="the cat")],
            parameters=parameters,
        )
        return {
            f"/{NLP}/Generate": [generate],
            f"/{NLP}/GenerateStream": [generate],
            f"/{NLP}/Chat": [chat],
            f"/{NLP}/ChatStream": [chat],
        }
    if task == "image-classification":
        classify = vision_pb2.ClassifyImageRequest(model=ref, images=[small_image("PNG")], top_k=2)
        explain_image: list[Message] = [
            vision_pb2.ExplainImageRequest(model=ref, image=small_image("PNG"), steps=2),
            vision_pb2.ExplainImageRequest(
                model=ref,
                image=small_image("JPEG"),
                method=common_pb2.EXPLAIN_METHOD_OCCLUSION,
                window=8,
                heatmap=True,
            ),
        ]
        return {f"/{VISION}/ClassifyImage": [classify], f"/{VISION}/Explain": explain_image}
    if task == "ocr":
        image = [small_image("PNG")]
        read = vision_pb2.ReadTextRequest(model=ref, images=image, min_confidence=0.2)
        detect = vision_pb2.DetectObjectsRequest(model=ref, images=image, max_detections=2)
        return {f"/{VISION}/ReadText": [read], f"/{VISION}/DetectObjects": [detect]}
    detect = vision_pb2.DetectObjectsRequest(
        model=ref, images=[small_image("JPEG")], threshold=0.1, max_detections=3
    )
    return {f"/{VISION}/DetectObjects": [detect]}


def seeds(target: Target) -> dict[str, list[bytes]]:
    """Valid requests of every RPC, for the models `target` serves."""
    found: dict[str, list[Message]] = collections.defaultdict(list)
    for model in target.models:
        if model in MODELS:
            for path, messages in typed_seeds(model).items():
                found[path] += messages
            found[f"/{OIP}/ModelInfer"] += infer_seeds(model)
            found[f"/{OIP}/ModelStreamInfer"] += infer_seeds(model)
        for method in ("ModelReady", "ModelMetadata", "ModelConfig", "ModelStatistics"):
            found[f"/{OIP}/{method}"].append(_named(method, model))
        found[f"/{OIP}/RepositoryModelLoad"].append(
            oip.RepositoryModelLoadRequest(model_name=model)
        )
        found[f"/{REGISTRY}/GetModel"].append(registry_pb2.GetModelRequest(name=model))
        found[f"/{REGISTRY}/WatchModels"].append(registry_pb2.WatchModelsRequest(name=model))
    registration = registry_pb2.RegisterModelRequest(
        model=common_pb2.ModelRef(name="registered", version="1"),
        task=common_pb2.TASK_EMBEDDING,
        endpoint="127.0.0.1:9",
        metadata={"k": "v"},
    )
    registration.lease_ttl.FromSeconds(30)
    for path, message in {
        "ServerLive": oip.ServerLiveRequest(),
        "ServerReady": oip.ServerReadyRequest(),
        "ServerMetadata": oip.ServerMetadataRequest(),
        "RepositoryIndex": oip.RepositoryIndexRequest(ready=True),
        "RepositoryModelUnload": oip.RepositoryModelUnloadRequest(model_name="absent-model"),
    }.items():
        found[f"/{OIP}/{path}"].append(message)
    for path, message in {
        "ListModels": registry_pb2.ListModelsRequest(ready_only=True),
        "WatchModels": registry_pb2.WatchModelsRequest(),
        "RegisterModel": registration,
        "RenewLease": registry_pb2.RenewLeaseRequest(
            lease_ids=["nope"], states=[common_pb2.MODEL_STATE_READY]
        ),
        "DeregisterModel": registry_pb2.DeregisterModelRequest(
            model=registration.model, endpoint=registration.endpoint
        ),
        "SetTrafficSplit": registry_pb2.SetTrafficSplitRequest(name="split", weights={"1": 3}),
        "SetShadow": registry_pb2.SetShadowRequest(name="split", version="1", fraction=0.5),
        "GetShadow": registry_pb2.GetShadowRequest(name="split"),
    }.items():
        found[f"/{REGISTRY}/{path}"].append(message)
    return {path: [m.SerializeToString() for m in messages] for path, messages in found.items()}


def _named(method: str, model: str) -> Message:
    return getattr(oip, f"{method}Request")(name=model)  # type: ignore[no-any-return]


def hints(target: Target) -> Hints:
    """Field strategies that reach past the model lookup: served names, their OIP inputs,
    images and bombs where images go."""
    names = st.one_of(st.sampled_from(target.models), st.text(max_size=12))
    texts = st.text(max_size=24).map(str.encode)
    has_images = any(MODELS.get(m, ("", ""))[1] == "image" for m in target.models)
    image = images(list(BOMBS.values()))
    inputs = sorted({MODELS[m][1] for m in target.models if m in MODELS}) or ["text"]
    found: dict[str, st.SearchStrategy[Any]] = {
        "modelport.v1.ModelRef.name": names,
        "modelport.v1.ModelRef.version": st.sampled_from(["", "1", "2"]),
        "modelport.v1.ChatMessage.role": st.one_of(
            st.sampled_from(["system", "user", "assistant"]), st.text(max_size=12)
        ),
        "modelport.v1.ClassifyImageRequest.images": st.lists(image, max_size=3),
        "modelport.v1.DetectObjectsRequest.images": st.lists(image, max_size=3),
        "modelport.v1.ReadTextRequest.images": st.lists(image, max_size=3),
        "inference.RepositoryModelUnloadRequest.model_name": st.text().map("absent-".__add__),
        "modelport.v1.RegisterModelRequest.endpoint": st.one_of(
            st.sampled_from(["127.0.0.1:9", "", "localhost", "[::1]:9"]), st.text(max_size=12)
        ),
        "modelport.v1.SetTrafficSplitRequest.WeightsEntry.key": st.one_of(
            st.sampled_from(["1", "2"]), st.text(max_size=4)
        ),
        **oip_hints(target.models, inputs, st.one_of(texts, image) if has_images else texts),
    }
    for field in (
        "inference.ModelReadyRequest.name",
        "inference.ModelMetadataRequest.name",
        "inference.ModelConfigRequest.name",
        "inference.ModelStatisticsRequest.name",
        "inference.RepositoryModelLoadRequest.model_name",
        "modelport.v1.GetModelRequest.name",
        "modelport.v1.WatchModelsRequest.name",
        "modelport.v1.SetTrafficSplitRequest.name",
    ):
        found[field] = names
    return found


# -- servers --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def embedding(tiny_bert_dir: Path) -> Iterator[InferenceServer]:
    models = [ModelSpec(name="fuzz", runtime="sentence-embedding", path=tiny_bert_dir)]
    settings = loopback_settings(EmbeddingSettings, max_inputs_per_request=16)
    with running_server(build_embedding, settings, models) as server:
        yield server


@pytest.fixture(scope="module")
def nlp(
    tiny_classifier_dir: Path,
    tiny_ner_dir: Path,
    tiny_gpt2_dir: Path,
    tiny_chat_dir: Path,
    tiny_t5_dir: Path,
) -> Iterator[InferenceServer]:
    generation = GenerationSettings(default_max_new_tokens=4, max_new_tokens=8)
    models = [
        ModelSpec(name="cls", runtime="hf-sequence-classification", path=tiny_classifier_dir),
        ModelSpec(name="ner", runtime="hf-token-classification", path=tiny_ner_dir),
        ModelSpec(name="gpt", runtime="hf-causal-lm", path=tiny_gpt2_dir, generation=generation),
        ModelSpec(name="chat", runtime="hf-causal-lm", path=tiny_chat_dir, generation=generation),
        ModelSpec(name="t5", runtime="hf-seq2seq", path=tiny_t5_dir, generation=generation),
    ]
    settings = NlpSettings(host="127.0.0.1", port=0, metrics_port=-1, max_inputs_per_request=16)
    with running_server(build_nlp, settings, models) as server:
        yield server


@pytest.fixture(scope="module")
def vision(tiny_vit_dir: Path, tiny_detector_dir: Path) -> Iterator[InferenceServer]:
    models = [
        ModelSpec(name="vit", runtime="hf-image-classification", path=tiny_vit_dir),
        ModelSpec(name="detector", runtime="hf-object-detection", path=tiny_detector_dir),
        RapidOcrSpec(name="ocr"),
    ]
    settings = VisionSettings(
        host="127.0.0.1",
        port=0,
        metrics_port=-1,
        max_inputs_per_request=8,
        max_image_bytes=1 << 20,
        max_image_pixels=MAX_PIXELS,
    )
    with running_server(build_vision, settings, models) as server:
        yield server


@pytest.fixture(scope="module")
def router(
    embedding: InferenceServer,
    nlp: InferenceServer,
    vision: InferenceServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    backends = {"embedding": embedding, "nlp": nlp, "vision": vision}
    replicas = [
        {"name": model, "task": task, "endpoint": f"127.0.0.1:{backends[target.name].port}"}
        for target in TARGETS[:3]
        for model in target.models
        for task in [MODELS[model][0]]
    ]
    with static_router(tmp_path_factory.mktemp("router"), replicas) as process:
        yield process


@dataclass(frozen=True)
class Listening:
    port: int


@pytest.fixture(scope="module")
def envoy(
    embedding: InferenceServer,
    nlp: InferenceServer,
    vision: InferenceServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Listening]:
    """The router's replicas behind Envoy, configured by the router over xDS: calls get
    `x-modelport-model` (see `channel_to`), so they go from Envoy straight to a backend,
    which parses the fuzzed bytes with no router in front."""
    backends = {"embedding": embedding, "nlp": nlp, "vision": vision}
    replicas = [
        {"name": model, "task": MODELS[model][0], "endpoint": f"127.0.0.1:{backends[t.name].port}"}
        for t in TARGETS[:3]
        for model in t.models
    ]
    work = tmp_path_factory.mktemp("envoy")
    listen = free_port()
    router = ServiceProcess(
        "modelport.router",
        {
            **os.environ,
            "MODELPORT_DATA_DIR": str(work),
            "MODELPORT_STATIC_REPLICAS": json.dumps(replicas),
            "MODELPORT_XDS": "1",
            "MODELPORT_XDS_WARMUP_S": "0",
            "MODELPORT_XDS_LISTEN_ADDRESS": f"127.0.0.1:{listen}",
        },
        free_port(),
    ).start()
    plane = Envoy(("127.0.0.1", router.port), free_port(), work)
    try:
        router.wait_serving()
        plane.start()
        assert plane.wait_ready(), "Envoy did not take the router's listener"
        while "model/ocr/" not in plane.admin("/clusters"):
            time.sleep(0.1)
        yield Listening(listen)
    finally:
        plane.stop()
        router.stop()


HEADER_MODELS = {
    "Classify": "cls",
    "ClassifyTokens": "ner",
    "Generate": "gpt",
    "GenerateStream": "gpt",
    "Chat": "chat",
    "ChatStream": "chat",
    "ClassifyImage": "vit",
    "DetectObjects": "detector",
    "ReadText": "ocr",
}
"""The model each fuzzed RPC names in `x-modelport-model` through Envoy (else `fuzz`)."""


class _Details(
    collections.namedtuple(
        "_Details",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,
):
    pass


class RouteHeader(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[type-arg]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[type-arg]
    grpc.StreamUnaryClientInterceptor,  # type: ignore[type-arg]
    grpc.StreamStreamClientInterceptor,  # type: ignore[type-arg]
):
    """Adds `x-modelport-model` as Modelport's clients do, so Envoy routes by it."""

    def _details(self, details: Any) -> Any:
        model = HEADER_MODELS.get(details.method.rsplit("/", 1)[1], "fuzz")
        metadata = [*(details.metadata or ()), (MODEL_HEADER, model)]
        return _Details(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            details.wait_for_ready,
            details.compression,
        )

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """A router of its own for registry writes; `split` has a replica nobody listens on."""
    replicas = [{"name": "split", "version": v, "endpoint": "127.0.0.1:9"} for v in ("1", "2")]
    with static_router(tmp_path_factory.mktemp("registry"), replicas) as process:
        yield process


def address(request: pytest.FixtureRequest, target: Target) -> str:
    server = request.getfixturevalue(target.fixture)
    if isinstance(server, ServiceProcess):
        return server.address
    return f"127.0.0.1:{server.port}"


@pytest.fixture(scope="module", autouse=True)
def report_cases(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print how many cases each RPC ran, per target."""
    yield
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is None or capture is None or not CASES:
        return
    races = collections.Counter(UPSTREAM_RACES)
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_line(f"fuzz cases per RPC ({sum(CASES.values())} in all):")
        for key, count in sorted(CASES.items()):
            reporter.write_line(f"  {count:6d}  {key}")
        for path, count in sorted(races.items()):
            reporter.write_line(f"  {count:6d}  router streams ended by {UPSTREAM_RACE!r}: {path}")


# -- the property -----------------------------------------------------------------------------
def allowed(target: Target) -> set[grpc.StatusCode]:
    return ALLOWED | {grpc.StatusCode.UNAVAILABLE} if target.router else ALLOWED


def fuzz_rpc(
    channel: grpc.Channel, target: Target, rpc: Rpc, valid: Sequence[bytes], cases: int
) -> None:
    """`cases` requests (derandomized) to one RPC; each must satisfy `check`."""

    @settings(
        max_examples=cases,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(requests(rpc, valid, hints(target)))
    def run(case: list[bytes]) -> None:
        CASES[f"{target.name:9} {rpc.path}"] += 1
        check(channel, rpc, case, allowed(target), target.router)

    run()


def fuzz(request: pytest.FixtureRequest, target: Target, paths: Sequence[str], total: int) -> None:
    """Fuzz each of `paths` on `target` with its share of `total` cases, then check that
    a valid call still succeeds."""
    valid = seeds(target)
    with channel_to(request, target) as channel:
        for path in paths:
            assert valid.get(path), f"no valid {path} request to start from"
            fuzz_rpc(channel, target, RPCS[path], valid[path], budget(target, path, total))
        assert_alive(channel, target, valid)


def assert_alive(channel: grpc.Channel, target: Target, valid: dict[str, list[bytes]]) -> None:
    """A valid call still succeeds."""
    alive = check(channel, RPCS[target.alive], valid[target.alive][:1], {grpc.StatusCode.OK})
    assert alive.responses, f"{target.name} did not answer {target.alive}"


@contextlib.contextmanager
def channel_to(request: pytest.FixtureRequest, target: Target) -> Iterator[grpc.Channel]:
    """A channel that sends and receives messages of any size."""
    options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
    with grpc.insecure_channel(address(request, target), options=options) as channel:
        if target.name == "envoy":
            yield grpc.intercept_channel(channel, RouteHeader())
        else:
            yield channel


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_a_sample_of_every_rpc_survives_fuzzing(
    target: Target, request: pytest.FixtureRequest
) -> None:
    fuzz(request, target, methods(target), SAMPLE_CASES)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("target", "path"),
    [(t, m) for t in TARGETS for m in methods(t)],
    ids=[f"{t.name}-{m.rsplit('/', 1)[1]}" for t in TARGETS for m in methods(t)],
)
def test_every_rpc_survives_fuzzing(
    target: Target, path: str, request: pytest.FixtureRequest
) -> None:
    fuzz(request, target, [path], FULL_CASES)


IMAGE_RPCS: dict[str, Callable[[list[bytes]], Message]] = {
    f"/{VISION}/ClassifyImage": lambda images: vision_pb2.ClassifyImageRequest(
        model=common_pb2.ModelRef(name="vit"), images=images
    ),
    f"/{VISION}/DetectObjects": lambda images: vision_pb2.DetectObjectsRequest(
        model=common_pb2.ModelRef(name="detector"), images=images
    ),
    f"/{VISION}/ReadText": lambda images: vision_pb2.ReadTextRequest(
        model=common_pb2.ModelRef(name="ocr"), images=images
    ),
    f"/{OIP}/ModelInfer": lambda images: oip.ModelInferRequest(
        model_name="vit",
        inputs=[
            oip.ModelInferRequest.InferInputTensor(
                name="image",
                datatype="BYTES",
                shape=[len(images)],
                contents=oip.InferTensorContents(bytes_contents=images),
            )
        ],
    ),
}


@pytest.mark.parametrize("bomb", sorted(BOMBS))
@pytest.mark.parametrize("target", [TARGETS[2], TARGETS[3]], ids=["vision", "router"])
def test_decompression_bombs_are_refused_naming_the_image(
    bomb: str, target: Target, request: pytest.FixtureRequest
) -> None:
    """A small file that claims a huge canvas is refused from its header, by index."""
    with channel_to(request, target) as channel:
        for path, make in IMAGE_RPCS.items():
            payload = make([small_image("PNG"), BOMBS[bomb]]).SerializeToString()
            refused = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED}
            outcome = check(channel, RPCS[path], [payload], refused)
            assert outcome.details.startswith("images[1]: "), (path, outcome.details)
        assert_alive(channel, target, seeds(target))


@pytest.mark.slow
@pytest.mark.parametrize("target", [TARGETS[0], TARGETS[3]], ids=["embedding", "router"])
def test_messages_over_the_size_limit_are_refused(
    target: Target, request: pytest.FixtureRequest
) -> None:
    """gRPC itself refuses a request over the 64 MiB default; the server goes on."""
    text = "x" * (65 << 20)
    payload = embedding_pb2.EmbedRequest(
        model=common_pb2.ModelRef(name="fuzz"), inputs=[text]
    ).SerializeToString()
    with channel_to(request, target) as channel:
        path = f"/{EMBEDDING}/Embed"
        check(channel, RPCS[path], [payload], {grpc.StatusCode.RESOURCE_EXHAUSTED})
        CASES[f"{target.name:9} {path} (over 64 MiB)"] += 1
        assert_alive(channel, target, seeds(target))

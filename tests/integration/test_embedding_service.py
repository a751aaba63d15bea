"""The embedding service on loopback, called through real stubs."""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from modelport.embedding.__main__ import build
from modelport.embedding.settings import EmbeddingSettings
from modelport.inference.server import InferenceServer
from modelport.inference.settings import EngineOptions, ModelSpec
from modelport.v1 import (
    common_pb2,
    embedding_pb2,
    embedding_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)
from tests.helpers import loopback_settings, rpc_error, running_server, scrape_until

TEXTS = [
    "the cat sat on the mat",
    "Kubernetes schedules pods",
    "a considerably longer sentence about serving models over gRPC with dynamic batching",
    "héllo wörld ✓",
]


@pytest.fixture(scope="module")
def server(
    tiny_bert_dir: Path, minilm_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InferenceServer]:
    models = [
        ModelSpec(name="tiny", version="1", runtime="sentence-embedding", path=tiny_bert_dir),
        ModelSpec(name="tiny", version="2", runtime="sentence-embedding", path=tiny_bert_dir),
        ModelSpec(name="minilm", runtime="sentence-embedding", path=minilm_dir),
        ModelSpec(
            name="minilm-torch", runtime="sentence-embedding", path=minilm_dir, engine="torch"
        ),
        ModelSpec(
            name="tiny-strict",
            runtime="sentence-embedding",
            path=tiny_bert_dir,
            engine="onnxruntime",
            engine_options=EngineOptions(min_cosine=1.0),
        ),
        ModelSpec(name="broken", runtime="sentence-embedding", path=tiny_bert_dir / "missing"),
    ]
    settings = loopback_settings(
        EmbeddingSettings,
        max_inputs_per_request=64,
        metrics_port=0,
        cache_dir=tmp_path_factory.mktemp("cache"),  # exports go to a cache of this module's
    )
    with running_server(build, settings, models) as srv:
        yield srv


@pytest.fixture(scope="module")
def channel(server: InferenceServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        yield ch


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> embedding_pb2_grpc.EmbeddingServiceStub:
    return embedding_pb2_grpc.EmbeddingServiceStub(channel)


def embed(
    stub: embedding_pb2_grpc.EmbeddingServiceStub,
    inputs: list[str],
    model: str = "minilm",
    **fields: object,
) -> embedding_pb2.EmbedResponse:
    request = embedding_pb2.EmbedRequest(
        model=common_pb2.ModelRef(name=model),
        inputs=inputs,
        **fields,  # type: ignore[arg-type]
    )
    return stub.Embed(request, timeout=30)


def vectors(response: embedding_pb2.EmbedResponse) -> np.ndarray:
    return np.array([e.values for e in response.embeddings], dtype=np.float32)


def oip_texts(model: str, texts: list[str], model_version: str = "", id: str = "") -> Any:
    """An OIP ModelInferRequest of `texts` as the `text` BYTES tensor (typed contents)."""
    from modelport.oip.v2 import open_inference_pb2 as oip

    tensor = oip.ModelInferRequest.InferInputTensor(
        name="text",
        datatype="BYTES",
        shape=[len(texts)],
        contents=oip.InferTensorContents(bytes_contents=[t.encode() for t in texts]),
    )
    return oip.ModelInferRequest(
        model_name=model, model_version=model_version, id=id, inputs=[tensor]
    )


def reference(path: Path, texts: list[str], normalize: bool = True) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device="cpu")
    return np.asarray(model.encode(texts, normalize_embeddings=normalize))


def test_minilm_matches_sentence_transformers(
    stub: embedding_pb2_grpc.EmbeddingServiceStub, minilm_dir: Path
) -> None:
    response = embed(stub, TEXTS)
    got = vectors(response)
    assert got.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(got, reference(minilm_dir, TEXTS), atol=1e-4)
    assert response.model.name == "minilm"
    assert response.model.version == "1"
    assert response.usage.input_tokens == response.usage.total_tokens > len(TEXTS) * 3


def test_each_engine_serves_the_eager_vectors(
    stub: embedding_pb2_grpc.EmbeddingServiceStub, channel: grpc.Channel, minilm_dir: Path
) -> None:
    texts = [*TEXTS, "tokens " * 400, "ok"]
    eager = reference(minilm_dir, texts)
    registry = registry_pb2_grpc.RegistryServiceStub(channel)
    listed = {
        m.name: m.versions[0].metadata
        for m in registry.ListModels(registry_pb2.ListModelsRequest(), timeout=5).models
    }
    for name, engine in (("minilm", "onnxruntime"), ("minilm-torch", "torch")):
        assert listed[name]["engine"] == engine
        got = vectors(embed(stub, texts, model=name)).astype(np.float64)
        cosine = (
            (got * eager).sum(axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(eager, axis=1)
        )
        assert cosine.min() >= 0.99999, (name, cosine)
    assert listed["minilm"]["engine_requested"] == "auto"
    assert float(listed["minilm"]["engine_probe_min_cosine"]) >= 0.99999


def test_a_failed_engine_check_serves_with_torch_and_says_why(
    stub: embedding_pb2_grpc.EmbeddingServiceStub, channel: grpc.Channel, tiny_bert_dir: Path
) -> None:
    registry = registry_pb2_grpc.RegistryServiceStub(channel)
    models = registry.ListModels(registry_pb2.ListModelsRequest(), timeout=5).models
    [version] = next(m for m in models if m.name == "tiny-strict").versions
    assert version.state == common_pb2.MODEL_STATE_READY
    assert version.metadata["engine"] == "torch"
    assert version.metadata["engine_requested"] == "onnxruntime"
    assert "disagrees with torch" in version.metadata["engine_reason"]
    got = vectors(embed(stub, TEXTS, model="tiny-strict"))
    np.testing.assert_allclose(got, reference(tiny_bert_dir, TEXTS), atol=1e-5)


def test_tiny_model_honours_its_pooling_and_normalize_config(
    stub: embedding_pb2_grpc.EmbeddingServiceStub, tiny_bert_dir: Path
) -> None:
    got = vectors(embed(stub, TEXTS, model="tiny"))
    np.testing.assert_allclose(got, reference(tiny_bert_dir, TEXTS), atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_dimensions_truncate_then_renormalise(
    stub: embedding_pb2_grpc.EmbeddingServiceStub,
) -> None:
    full = vectors(embed(stub, TEXTS[:2], normalize=False))
    cut = vectors(embed(stub, TEXTS[:2], dimensions=64))
    expected = full[:, :64] / np.linalg.norm(full[:, :64], axis=1, keepdims=True)
    np.testing.assert_allclose(cut, expected, atol=1e-5)
    raw = vectors(embed(stub, TEXTS[:2], dimensions=64, normalize=False))
    np.testing.assert_allclose(raw, full[:, :64], atol=1e-6)


def test_long_inputs_truncate_by_default_and_fail_when_asked(
    stub: embedding_pb2_grpc.EmbeddingServiceStub, minilm_dir: Path
) -> None:
    long_text = "tokens " * 400
    got = vectors(embed(stub, [long_text]))
    np.testing.assert_allclose(got, reference(minilm_dir, [long_text]), atol=1e-4)
    start = vectors(embed(stub, [long_text + "end"], truncation=common_pb2.TRUNCATION_START))
    assert not np.allclose(start, got, atol=1e-3)
    err = rpc_error(lambda: embed(stub, ["ok", long_text], truncation=common_pb2.TRUNCATION_NONE))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "inputs[1]" in (err.details() or "")
    assert "254" in (err.details() or "")


@pytest.mark.parametrize(
    ("inputs", "fields", "code", "needle"),
    [
        ([], {}, grpc.StatusCode.INVALID_ARGUMENT, "inputs"),
        (["fine", ""], {}, grpc.StatusCode.INVALID_ARGUMENT, "inputs[1]"),
        (["x"] * 65, {}, grpc.StatusCode.INVALID_ARGUMENT, "at most 64"),
        (["x"], {"dimensions": 1000}, grpc.StatusCode.INVALID_ARGUMENT, "dimensions"),
    ],
)
def test_bad_requests_name_the_field(
    stub: embedding_pb2_grpc.EmbeddingServiceStub,
    inputs: list[str],
    fields: dict[str, Any],
    code: grpc.StatusCode,
    needle: str,
) -> None:
    err = rpc_error(lambda: embed(stub, inputs, **fields))
    assert err.code() == code
    assert needle in (err.details() or "")


def test_model_lookup_errors(stub: embedding_pb2_grpc.EmbeddingServiceStub) -> None:
    def code(name: str, version: str = "") -> grpc.StatusCode:
        request = embedding_pb2.EmbedRequest(
            model=common_pb2.ModelRef(name=name, version=version), inputs=["x"]
        )
        return rpc_error(lambda: stub.Embed(request, timeout=10)).code()

    assert code("") == grpc.StatusCode.INVALID_ARGUMENT
    assert code("nope") == grpc.StatusCode.NOT_FOUND
    assert code("tiny", "9") == grpc.StatusCode.NOT_FOUND
    assert code("broken") == grpc.StatusCode.UNAVAILABLE


def test_versions_resolve_to_newest_or_pinned(
    stub: embedding_pb2_grpc.EmbeddingServiceStub,
) -> None:
    assert embed(stub, ["x"], model="tiny").model.version == "2"
    pinned = stub.Embed(
        embedding_pb2.EmbedRequest(
            model=common_pb2.ModelRef(name="tiny", version="1"), inputs=["x"]
        ),
        timeout=10,
    )
    assert pinned.model.version == "1"


def test_invalid_utf8_is_rejected_and_others_are_unaffected(
    channel: grpc.Channel, stub: embedding_pb2_grpc.EmbeddingServiceStub
) -> None:
    raw = channel.unary_unary("/modelport.v1.EmbeddingService/Embed", None, None)
    good = embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name="minilm"), inputs=["ok"])
    bad = good.SerializeToString() + b"\x12\x03\xc3\x28\x41"
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        goods = [pool.submit(stub.Embed, good, timeout=30) for _ in range(6)]
        err = rpc_error(lambda: raw(bad, timeout=10))
        assert all(len(f.result().embeddings) == 1 for f in goods)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (err.details() or "") == "inputs[1]: is not valid UTF-8"


def test_concurrent_callers_are_batched(
    server: InferenceServer, stub: embedding_pb2_grpc.EmbeddingServiceStub, minilm_dir: Path
) -> None:
    batcher = server.repository.get("minilm").batcher
    before = batcher.batches_run
    texts = [f"sentence number {i} about the weather" for i in range(32)]
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        futures = [pool.submit(embed, stub, [t]) for t in texts]
        got = np.concatenate([vectors(f.result()) for f in futures])
    np.testing.assert_allclose(got, reference(minilm_dir, texts), atol=1e-4)
    assert batcher.batches_run - before < 16  # 32 callers, far fewer model calls


def test_embed_stream_answers_in_order(stub: embedding_pb2_grpc.EmbeddingServiceStub) -> None:
    requests = [
        embedding_pb2.EmbedRequest(
            model=common_pb2.ModelRef(name="minilm"), inputs=[f"text {i}", "x"], request_id=str(i)
        )
        for i in range(20)
    ]
    responses = list(stub.EmbedStream(iter(requests), timeout=60))
    assert [r.request_id for r in responses] == [str(i) for i in range(20)]
    assert all(len(r.embeddings) == 2 for r in responses)


def test_embed_stream_metrics_carry_the_model_version(
    server: InferenceServer, stub: embedding_pb2_grpc.EmbeddingServiceStub
) -> None:
    """EmbedStream works on each request in a task of its own; the call's duration is
    still labelled with the model version that answered."""
    requests = [
        embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name="tiny"), inputs=[f"t {i}"])
        for i in range(3)
    ]
    assert len(list(stub.EmbedStream(iter(requests), timeout=60))) == 3
    body = (
        urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=5)
        .read()
        .decode()
    )
    counted = [line for line in body.splitlines() if "_count{" in line and "EmbedStream" in line]
    assert (
        'modelport_request_duration_seconds_count{code="OK",'
        'method="/modelport.v1.EmbeddingService/EmbedStream",model="tiny",version="2"} 1.0'
    ) in counted


def test_health_per_service_and_model(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)

    def status(service: str) -> int:
        return health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status  # type: ignore[no-any-return]

    serving = health_pb2.HealthCheckResponse.SERVING
    assert status("") == serving
    assert status("modelport.v1.EmbeddingService") == serving
    assert status("model/minilm") == serving
    assert status("model/broken") == health_pb2.HealthCheckResponse.NOT_SERVING


def test_list_models_shows_states_and_failure_reason(channel: grpc.Channel) -> None:
    registry = registry_pb2_grpc.RegistryServiceStub(channel)
    models = {
        m.name: m for m in registry.ListModels(registry_pb2.ListModelsRequest(), timeout=5).models
    }
    assert [v.version for v in models["tiny"].versions] == ["2", "1"]
    assert models["minilm"].versions[0].metadata["dimensions"] == "384"
    broken = models["broken"].versions[0]
    assert broken.state == common_pb2.MODEL_STATE_FAILED
    assert "missing" in broken.replicas[0].reason
    ready = registry.ListModels(registry_pb2.ListModelsRequest(ready_only=True), timeout=5)
    assert "broken" not in {m.name for m in ready.models}


def test_reflection_lists_the_services(channel: grpc.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    response = next(iter(stub.ServerReflectionInfo(iter([request]), timeout=5)))
    names = {s.name for s in response.list_services_response.service}
    assert {
        "modelport.v1.EmbeddingService",
        "modelport.v1.RegistryService",
        "grpc.health.v1.Health",
    } <= names


def test_reflection_v1_answers_like_v1alpha_and_describes_itself(channel: grpc.Channel) -> None:
    """grpcurl and grpc_cli ask `grpc.reflection.v1` first; its messages are v1alpha's."""
    info = channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="grpc.reflection.v1.ServerReflection"
        ),
        reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="modelport.v1.EmbeddingService"
        ),
    ]
    listed, v1, embedding = list(info(iter(requests), timeout=5))
    names = {s.name for s in listed.list_services_response.service}
    assert {
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "modelport.v1.EmbeddingService",
    } <= names
    for response in (v1, embedding):
        assert not response.HasField("error_response"), response.error_response
        assert response.file_descriptor_response.file_descriptor_proto


def test_model_config_describes_batching_and_tensors(channel: grpc.Channel) -> None:
    """Triton's ModelConfig: dims leave out the batch dimension; a tensor that is the batch
    alone is dims [1] reshaped to []."""
    from modelport.oip.v2 import open_inference_pb2 as oip
    from modelport.oip.v2 import open_inference_pb2_grpc as oip_grpc

    inference = oip_grpc.GRPCInferenceServiceStub(channel)
    config = inference.ModelConfig(oip.ModelConfigRequest(name="minilm"), timeout=5).config
    assert (config.name, config.platform, config.backend, config.runtime) == (
        "minilm",
        "modelport/sentence-embedding",
        "modelport",
        "sentence-embedding",
    )
    assert config.max_batch_size == 32
    assert list(config.dynamic_batching.preferred_batch_size) == [32]
    (text,) = config.input
    assert (text.name, text.data_type, list(text.dims)) == ("text", oip.TYPE_STRING, [1])
    assert text.HasField("reshape")
    assert not text.reshape.shape
    (embedding,) = config.output
    assert (embedding.name, embedding.data_type, list(embedding.dims)) == (
        "embedding",
        oip.TYPE_FP32,
        [384],
    )
    assert config.parameters["dimensions"].string_value == "384"
    err = rpc_error(lambda: inference.ModelConfig(oip.ModelConfigRequest(name="nope"), timeout=5))
    assert err.code() == grpc.StatusCode.NOT_FOUND


def test_metrics_endpoint_exports_histograms(
    server: InferenceServer, stub: embedding_pb2_grpc.EmbeddingServiceStub
) -> None:
    embed(stub, ["metrics please"])
    rpc_error(lambda: embed(stub, ["x"], model="nope"))
    body = scrape_until(
        server.metrics_port,
        'modelport_request_duration_seconds_count{code="NOT_FOUND",'
        'method="/modelport.v1.EmbeddingService/Embed",model="",version=""}',
    )
    for name in (
        'modelport_request_duration_seconds_count{code="OK",'
        'method="/modelport.v1.EmbeddingService/Embed",model="minilm",version="1"}',
        'modelport_request_duration_seconds_count{code="NOT_FOUND",'
        'method="/modelport.v1.EmbeddingService/Embed",model="",version=""}',
        'modelport_queue_duration_seconds_bucket{le="0.001",model="minilm"}',
        'modelport_compute_duration_seconds_count{model="minilm"}',
        'modelport_batch_size_bucket{le="1.0",model="minilm"}',
        'modelport_model_state{model="broken",state="FAILED",version="1"} 1.0',
    ):
        assert name in body, name


@contextlib.contextmanager
def first_batch_held(server: InferenceServer) -> Iterator[tuple[list[list[int]], threading.Event]]:
    """MiniLM's batches as they run (the token counts of each), the first held until the
    event is set: so "while the model computes a batch" is certain, not a matter of time.
    The model itself runs as ever."""
    batcher = server.repository.get("minilm").batcher
    predict = batcher._predict
    ran: list[list[int]] = []
    release = threading.Event()

    def recording(batch: Any) -> Any:
        ran.append([len(item.ids) for item in batch])
        if len(ran) == 1:
            release.wait(60)
        return predict(batch)

    batcher._predict = recording
    try:
        yield ran, release
    finally:
        release.set()
        batcher._predict = predict


def test_cancelled_call_leaves_the_queue(
    server: InferenceServer, stub: embedding_pb2_grpc.EmbeddingServiceStub
) -> None:
    batcher = server.repository.get("minilm").batcher
    request = partial(embedding_pb2.EmbedRequest, model=common_pb2.ModelRef(name="minilm"))
    with first_batch_held(server) as (ran, release):
        busy = stub.Embed.future(request(inputs=["word " * 250] * 64), timeout=120)
        wait_until(lambda: len(ran) == 1)  # the model is computing
        left = 64 - len(ran[0])
        queued = stub.Embed.future(request(inputs=["x"] * 5), timeout=60)
        wait_until(lambda: batcher.queue_depth == left + 5)
        queued.cancel()  # type: ignore[no-untyped-call]
        wait_until(lambda: batcher.queue_depth == left)  # left while the model was busy
        assert len(ran) == 1
        release.set()
        assert len(busy.result().embeddings) == 64
    assert embed(stub, ["still serving"]).embeddings


def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.002)


def test_open_inference_protocol_with_typed_contents(
    channel: grpc.Channel, stub: embedding_pb2_grpc.EmbeddingServiceStub
) -> None:
    from modelport.oip.v2 import open_inference_pb2 as oip
    from modelport.oip.v2 import open_inference_pb2_grpc as oip_grpc

    inference = oip_grpc.GRPCInferenceServiceStub(channel)
    request = oip_texts("minilm", TEXTS[:2], id="req-1")
    response = inference.ModelInfer(request, timeout=30)
    assert response.id == "req-1"
    assert response.model_version == "1"
    assert not response.raw_output_contents  # typed in, typed out
    (output,) = response.outputs
    assert (output.name, output.datatype, list(output.shape)) == ("embedding", "FP32", [2, 384])
    got = np.array(output.contents.fp32_contents, np.float32).reshape(2, 384)
    np.testing.assert_allclose(got, vectors(embed(stub, TEXTS[:2])), atol=1e-6)
    with pytest.raises(grpc.RpcError) as info:
        inference.ModelInfer(
            oip.ModelInferRequest(
                model_name="minilm",
                inputs=[
                    oip.ModelInferRequest.InferInputTensor(name="text", datatype="FP32", shape=[1])
                ],
                raw_input_contents=[b"\x00\x00\x80\x3f"],
            ),
            timeout=10,
        )
    failure = info.value
    assert isinstance(failure, grpc.Call)
    assert failure.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "inputs[text]: must be BYTES" in (failure.details() or "")
    ready = inference.ModelReady(oip.ModelReadyRequest(name="broken"), timeout=5)
    assert ready.ready is False


def test_a_call_that_fails_after_its_model_is_resolved_is_labelled_with_it(
    server: InferenceServer, stub: embedding_pb2_grpc.EmbeddingServiceStub
) -> None:
    """A bad option (or a full queue) is found after the model is known: the failed call
    still counts against that model version, not against an empty label."""
    error = rpc_error(
        lambda: stub.Embed(
            embedding_pb2.EmbedRequest(
                model=common_pb2.ModelRef(name="tiny", version="1"), inputs=["x"], dimensions=9999
            ),
            timeout=30,
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    line = (
        'modelport_request_duration_seconds_count{code="INVALID_ARGUMENT",'
        'method="/modelport.v1.EmbeddingService/Embed",model="tiny",version="1"} 1.0'
    )
    assert line in scrape_until(server.metrics_port, line).splitlines()


def test_an_input_over_the_byte_limit_is_refused_and_others_are_served(
    stub: embedding_pb2_grpc.EmbeddingServiceStub,
) -> None:
    huge = "word " * (1024 * 1024 // 5 + 1)  # just over 1 MiB, the default limit
    error = rpc_error(lambda: embed(stub, ["fine", huge]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == f"inputs[1]: has {len(huge)} bytes; at most 1048576 per input"
    assert len(vectors(embed(stub, ["still serving"]))) == 1


def test_a_small_call_is_not_held_behind_a_huge_one(
    server: InferenceServer, stub: embedding_pb2_grpc.EmbeddingServiceStub
) -> None:
    """One caller's 64-input call of long texts and another's one-input call that arrives
    while the first batch computes: the small call's text runs in the very next batch,
    alone rather than padded to the long texts (the default token budget), and the rest
    of the huge call after it. Read from the batches the model ran: ordering, not time."""
    batcher = server.repository.get("minilm").batcher
    text = "serving models over grpc keeps latency low while batching raises throughput " * 5
    request = partial(embedding_pb2.EmbedRequest, model=common_pb2.ModelRef(name="minilm"))
    with first_batch_held(server) as (ran, release):
        huge = stub.Embed.future(request(inputs=[text] * 64), timeout=300)
        wait_until(lambda: len(ran) == 1)  # its first batch is on the model
        small = stub.Embed.future(request(inputs=["hi"]), timeout=300)
        wait_until(lambda: batcher.queue_depth == 64 - len(ran[0]) + 1)
        release.set()
        assert len(small.result().embeddings) == 1
        assert len(huge.result().embeddings) == 64
    first, second = ran[0], ran[1]
    assert second == [small.result().usage.input_tokens], ran  # next, alone: no padding
    assert len(first) * max(first) <= 128, ran  # the default token budget
    assert sum(map(len, ran[2:])) == 64 - len(first), ran  # the rest of the huge call after


def test_model_statistics_count_every_request_of_the_model_on_any_protocol(
    channel: grpc.Channel, stub: embedding_pb2_grpc.EmbeddingServiceStub
) -> None:
    """Triton's ModelStatistics: `success` and `fail` count the model's requests whatever
    the protocol (typed Embed and EmbedStream, OIP ModelInfer), each with its time;
    `inference_count` the inputs computed. A request for an unknown model is nobody's."""
    from modelport.oip.v2 import open_inference_pb2 as oip
    from modelport.oip.v2 import open_inference_pb2_grpc as oip_grpc

    inference = oip_grpc.GRPCInferenceServiceStub(channel)

    def stats() -> Any:
        request = oip.ModelStatisticsRequest(name="tiny", version="2")
        (model,) = inference.ModelStatistics(request, timeout=10).model_stats
        return model

    def typed(**fields: object) -> embedding_pb2.EmbedRequest:
        ref = common_pb2.ModelRef(name="tiny", version="2")
        return embedding_pb2.EmbedRequest(model=ref, **fields)  # type: ignore[arg-type]

    before = stats()
    stub.Embed(typed(inputs=["one", "two"]), timeout=30)
    list(stub.EmbedStream(iter([typed(inputs=["three"])]), timeout=30))
    inference.ModelInfer(oip_texts("tiny", ["four"], model_version="2"), timeout=30)
    failed = rpc_error(lambda: stub.Embed(typed(inputs=["x"], dimensions=9999), timeout=30))
    assert failed.code() == grpc.StatusCode.INVALID_ARGUMENT
    rpc_error(lambda: embed(stub, ["x"], model="no-such-model"))
    after = stats()
    success, fail = after.inference_stats.success, after.inference_stats.fail
    assert success.count - before.inference_stats.success.count == 3
    assert fail.count - before.inference_stats.fail.count == 1
    assert success.ns > before.inference_stats.success.ns
    assert fail.ns > before.inference_stats.fail.ns
    assert after.inference_count - before.inference_count == 4

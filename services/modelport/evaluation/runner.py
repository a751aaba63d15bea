"""Run a labelled dataset through the live API and score the answers.

Calls go out `batch_size` inputs at a time, at most `concurrency` at once (threads over
one channel), each with the client's deadline. A failed call is counted under its status
code and its inputs are left out of the scores (the report says how many); when no call
at all is answered because no server is there, the client's unreachable error is raised
as is. Latency is per call, as the client sees it.
"""

from __future__ import annotations

import datetime
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import IO, Any, TypeVar

from modelport import __version__
from modelport.client import ClientError, ModelportClient
from modelport.evaluation import metrics
from modelport.evaluation.data import Dataset, Example

T = TypeVar("T")

TASKS = ("classification", "token-classification", "retrieval", "image-classification")
REGISTRY_TASKS = {
    "text-classification": "classification",
    "token-classification": "token-classification",
    "embedding": "retrieval",
    "image-classification": "image-classification",
}
"""The evaluation task of each registry task that has one."""


class Progress:
    """A progress bar on a terminal (stderr), redrawn in place; elsewhere a line at each
    tenth. `total` is in inputs."""

    WIDTH = 30

    def __init__(self, what: str, total: int, stream: IO[str] | None = None) -> None:
        self.what = what
        self.total = max(total, 1)
        self.done = 0
        self.failed = 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self._shown = -1
        self._start = time.monotonic()
        self._lock = threading.Lock()

    def advance(self, n: int, failed: bool = False) -> None:
        with self._lock:
            self.done += n
            self.failed += n if failed else 0
            tenth = self.done * 10 // self.total
            if not self.tty and tenth == self._shown:
                return
            self._shown = tenth
            filled = self.WIDTH * self.done // self.total
            rate = self.done / max(time.monotonic() - self._start, 1e-9)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            errors = f", {self.failed} failed" if self.failed else ""
            line = f"{self.what} [{bar}] {self.done}/{self.total} ({rate:.1f}/s{errors})"
            self.stream.write(("\r" + line) if self.tty else line + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


@dataclass
class Calls:
    """What the calls of one evaluation did: latencies, failures by status, versions."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    failed_items: int = 0
    versions: Counter[str] = field(default_factory=Counter)
    model: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(
        self,
        batches: Sequence[Sequence[T]],
        call: Callable[[Sequence[T]], Any],
        concurrency: int,
        progress: Progress,
    ) -> list[Any]:
        """`call(batch)` for every batch, `concurrency` at a time; its result per batch
        (None for a failed call). Raises the client's error when no server answered."""
        results: list[Any] = [None] * len(batches)

        def one(i: int) -> tuple[int, Any, ClientError | None, float]:
            start = time.perf_counter()
            try:
                answer = call(batches[i])
            except ClientError as exc:
                return i, None, exc, time.perf_counter() - start
            return i, answer, None, time.perf_counter() - start

        unreachable: ClientError | None = None
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            futures = [pool.submit(one, i) for i in range(len(batches))]
            for future in as_completed(futures):
                i, answer, error, seconds = future.result()
                with self._lock:
                    if error is None:
                        self.latencies.append(seconds)
                        results[i] = answer
                        version = getattr(answer, "version", "")
                        self.model = getattr(answer, "model", "") or self.model
                        self.versions[version] += len(batches[i])
                    else:
                        self.errors[error.code.name] += 1
                        self.failed_items += len(batches[i])
                        if error.unreachable:
                            unreachable = error
                progress.advance(len(batches[i]), failed=error is not None)
        if unreachable is not None and not self.latencies:
            raise unreachable
        return results

    def summary(self) -> dict[str, Any]:
        calls = len(self.latencies) + sum(self.errors.values())
        return {
            "calls": calls,
            "failed_calls": sum(self.errors.values()),
            "failed_inputs": self.failed_items,
            "by_status": dict(sorted(self.errors.items())),
        }


@dataclass
class Options:
    """How to call the model, and what to compare."""

    task: str
    model: str
    version: str = ""
    concurrency: int = 4
    batch_size: int = 8
    labels: tuple[str, ...] = ()
    """Classification: only these labels (examples of others are dropped, the answer is
    the best-scored of them). Token classification: only entities of these types."""
    label_map: dict[str, str] = field(default_factory=dict)
    """Model label → dataset label, applied to answers before comparing ("" drops an
    entity type)."""
    seed: int = 0
    limit: int = 0
    target: str = ""


def _batches(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _matches(label: str, predicted: str) -> bool:
    """A predicted label names the dataset's `label`: equal ignoring case, or one of its
    comma-separated names ("tabby, tabby cat" names "tabby cat")."""
    wanted = label.strip().lower().replace("_", " ")
    names = [n.strip().lower() for n in predicted.split(",")]
    return wanted == predicted.strip().lower() or wanted in names


def evaluate(
    client: ModelportClient, dataset: Dataset, options: Options, stream: IO[str] | None = None
) -> dict[str, Any]:
    """Score the model on `dataset`; the report as a JSON-ready dict (without gates)."""
    started = datetime.datetime.now(datetime.UTC)
    clock = time.monotonic()
    records = len(dataset.examples)
    if options.task == "classification" and options.labels:  # before sampling: --limit N
        kept = [e for e in dataset.examples if e.label in options.labels]
        dataset = replace(dataset, examples=kept)
    dataset = dataset.sample(options.limit, options.seed)
    calls = Calls()
    examples = dataset.examples
    mapped = options.label_map

    def progress(what: str, n: int) -> Progress:
        return Progress(what, n, stream)

    if options.task == "classification":
        truth, predicted = _classify(client, examples, options, calls, progress)
        scores = metrics.classification(truth, predicted)
    elif options.task == "token-classification":
        gold, found = _entities(client, examples, options, calls, progress)
        scores = metrics.entities(gold, found)
    elif options.task == "retrieval":
        rankings, relevant = _retrieve(client, dataset, options, calls, progress)
        scores = metrics.retrieval(rankings, relevant)
    elif options.task == "image-classification":
        truth, ranked = _classify_images(client, examples, options, calls, progress)
        scores = metrics.top_k_accuracy(truth, ranked)
    else:
        raise ValueError(f"unknown task {options.task!r}; one of {', '.join(TASKS)}")
    scored = scores["n"]
    answered = sum(calls.versions.values())
    total = answered + calls.failed_items
    scores["success_rate"] = answered / total if total else 0.0
    versions = dict(calls.versions.most_common())
    report: dict[str, Any] = {
        "modelport_version": __version__,
        "task": options.task,
        "model": calls.model or options.model,
        "version": next(iter(versions), options.version),
        "versions": versions,
        "target": options.target,
        "dataset": {
            "path": dataset.path,
            "sha256": dataset.sha256,
            "n": records,
            "evaluated": scored,
        },
        "seed": options.seed,
        "limit": options.limit,
        "concurrency": options.concurrency,
        "batch_size": options.batch_size,
        "label_map": mapped,
        "labels": list(options.labels),
        "metrics": scores,
        "latency": metrics.latency(calls.latencies),
        "errors": calls.summary(),
        "started_at": started.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - clock, 3),
    }
    if dataset.corpus:
        report["dataset"]["corpus"] = {"n": len(dataset.corpus), "sha256": dataset.corpus_sha256}
    return report


Bar = Callable[[str, int], Progress]


def _run(
    what: str,
    items: Sequence[T],
    call: Callable[[Sequence[T]], Any],
    options: Options,
    calls: Calls,
    bar: Bar,
) -> list[tuple[Sequence[T], Any]]:
    """(batch, answer) of every batch of `items`; answer None for a failed call."""
    batches = _batches(items, options.batch_size)
    progress = bar(what, len(items))
    try:
        answers = calls.run(batches, call, options.concurrency, progress)
    finally:
        progress.close()
    return list(zip(batches, answers, strict=True))


def _classify(
    client: ModelportClient,
    examples: Sequence[Example],
    options: Options,
    calls: Calls,
    bar: Bar,
) -> tuple[list[str], list[str]]:
    def call(batch: Sequence[Example]) -> Any:
        return client.classify(
            [e.text for e in batch], model=options.model, version=options.version
        )

    truth: list[str] = []
    predicted: list[str] = []
    for batch, answer in _run("classify", examples, call, options, calls, bar):
        if answer is None:
            continue
        for example, labels in zip(batch, answer, strict=True):
            scored = [(options.label_map.get(lab, lab), s) for lab, s in labels]
            if options.labels:
                scored = [(lab, s) for lab, s in scored if lab in options.labels]
            truth.append(example.label)
            predicted.append(max(scored, key=lambda ls: ls[1])[0] if scored else "")
    return truth, predicted


def _entities(
    client: ModelportClient,
    examples: Sequence[Example],
    options: Options,
    calls: Calls,
    bar: Bar,
) -> tuple[list[list[metrics.Span]], list[list[metrics.Span]]]:
    def call(batch: Sequence[Example]) -> Any:
        return client.classify_tokens(
            [e.text for e in batch], model=options.model, version=options.version
        )

    def kept(label: str) -> bool:
        return bool(label) and (not options.labels or label in options.labels)

    gold: list[list[metrics.Span]] = []
    found: list[list[metrics.Span]] = []
    for batch, answer in _run("entities", examples, call, options, calls, bar):
        if answer is None:
            continue
        for example, entities in zip(batch, answer, strict=True):
            gold.append([s for s in example.entities if kept(s[2])])
            spans = [(e.start, e.end, options.label_map.get(e.label, e.label)) for e in entities]
            found.append([s for s in spans if kept(s[2])])
    return gold, found


def _embed(
    client: ModelportClient,
    what: str,
    docs: Sequence[Example],
    options: Options,
    calls: Calls,
    bar: Bar,
) -> list[list[float] | None]:
    def call(batch: Sequence[Example]) -> Any:
        return client.embed([d.text for d in batch], model=options.model, version=options.version)

    vectors: list[list[float] | None] = []
    for batch, answer in _run(what, docs, call, options, calls, bar):
        vectors += list(answer.vectors) if answer is not None else [None] * len(batch)
    return vectors


def _retrieve(
    client: ModelportClient, dataset: Dataset, options: Options, calls: Calls, bar: Bar
) -> tuple[list[list[str]], list[set[str]]]:
    """Rank the whole corpus for each query by cosine similarity of their embeddings."""
    corpus = _embed(client, "corpus", dataset.corpus, options, calls, bar)
    queries = _embed(client, "queries", dataset.examples, options, calls, bar)
    docs = [(d.id, v) for d, v in zip(dataset.corpus, corpus, strict=True) if v is not None]
    rankings: list[list[str]] = []
    relevant: list[set[str]] = []
    for query, vector in zip(dataset.examples, queries, strict=True):
        if vector is None:
            continue
        scored = sorted(docs, key=lambda dv: -metrics.cosine(vector, dv[1]))
        rankings.append([doc_id for doc_id, _ in scored])
        relevant.append(set(query.relevant))
    return rankings, relevant


def _classify_images(
    client: ModelportClient,
    examples: Sequence[Example],
    options: Options,
    calls: Calls,
    bar: Bar,
) -> tuple[list[str], list[list[str]]]:
    def call(batch: Sequence[Example]) -> Any:
        return client.classify_images(
            [e.data for e in batch], model=options.model, version=options.version, top_k=5
        )

    truth: list[str] = []
    ranked: list[list[str]] = []
    for batch, answer in _run("images", examples, call, options, calls, bar):
        if answer is None:
            continue
        for example, labels in zip(batch, answer, strict=True):
            names = [options.label_map.get(lab, lab) for lab, _ in labels]
            truth.append(example.label)
            ranked.append([example.label if _matches(example.label, n) else n for n in names])
    return truth, ranked

"""Overload: about ten times a backend's capacity for 30 s, open loop, through the router.

One router, one replica of all-MiniLM-L6-v2 (one torch thread). Every call carries
INPUTS texts, the batcher cuts batches of INPUTS inputs (one call) and queues at most
QUEUE = 2 x INPUTS inputs (two calls) beside the batch it runs; every further call is
refused at once with RESOURCE_EXHAUSTED, before its texts are tokenised.

The capacity is measured first, closed loop, by QUEUE / INPUTS callers: while one call
computes the other waits in the queue, so the model never idles, and however the
collector's timing falls the queue never holds more than QUEUE inputs, so that phase
cannot shed (it tolerates nothing but OK). Then MULTIPLE x capacity is offered open loop
(calls fire on a schedule, whatever the answers) through the router, plus a quarter as
many straight at the backend.

The test asserts behaviour: only answers and refusals, refusals that carry QuotaFailure
and RetryInfo through the router, most calls shed, some accepted, the router SERVING its
health checks throughout, bounded memory, both processes alive and serving afterwards.
On a shared machine it asserts no latency: the timings (shed and accepted latency,
throughput, health-check times) are printed (`pytest -s`); docs/benchmarks.md has the
figures.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from modelport.v1 import common_pb2, embedding_pb2, embedding_pb2_grpc
from tests.cluster import (
    MODEL,
    backend_process,
    minilm,
    router_metrics,
    router_process,
    stop_all,
    wait_replicas,
)
from tests.helpers import ServiceProcess

pytestmark = pytest.mark.slow

DURATION_S = float(os.environ.get("MODELPORT_OVERLOAD_S", "30"))
"""How long the overload lasts (30 s in CI)."""
MULTIPLE = 10
"""Offered rate through the router, in multiples of the measured capacity."""
DIRECT_SHARE = 0.25
"""Calls per second straight at the backend, as a share of the rate through the router."""
INPUTS = 8
"""Texts per call; also the batch size, so one batch is one call."""
QUEUE = 2 * INPUTS
"""Inputs the backend queues beyond the running batch."""
TEXT = "the quick brown fox jumps over the lazy dog " * 14  # about 128 tokens
CALL_TIMEOUT_S = 60.0
"""Far above any latency here: a call that reaches it is a failure of the test."""
HEALTH_TIMEOUT_S = 10.0
"""Likewise for the health checks: the router answering at all is what is asserted."""
RSS_GROWTH_LIMIT_MB = 200.0


@dataclass
class Outcome:
    code: grpc.StatusCode
    latency_s: float


@dataclass
class Run:
    """Outcomes of the calls of one path, plus the first RESOURCE_EXHAUSTED error."""

    outcomes: list[Outcome] = field(default_factory=list)
    shed_example: grpc.aio.AioRpcError | None = None
    sent: int = 0
    sending_s: float = 0.0

    def latencies(self, code: grpc.StatusCode) -> list[float]:
        return sorted(o.latency_s for o in self.outcomes if o.code == code)

    def codes(self) -> Counter[grpc.StatusCode]:
        return Counter(o.code for o in self.outcomes)


def quantile(values: list[float], q: float) -> float:
    """`values` sorted; the q-quantile (nearest rank)."""
    return values[min(len(values) - 1, int(q * len(values)))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def embed_request() -> embedding_pb2.EmbedRequest:
    return embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name=MODEL), inputs=[TEXT] * INPUTS)


async def one_call(stub: embedding_pb2_grpc.EmbeddingServiceStub, run: Run) -> None:
    start = time.perf_counter()
    try:
        await stub.Embed(embed_request(), timeout=CALL_TIMEOUT_S)  # type: ignore[misc]
    except grpc.aio.AioRpcError as error:
        run.outcomes.append(Outcome(error.code(), time.perf_counter() - start))
        if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and run.shed_example is None:
            run.shed_example = error
    else:
        run.outcomes.append(Outcome(grpc.StatusCode.OK, time.perf_counter() - start))


async def closed_loop(
    stub: embedding_pb2_grpc.EmbeddingServiceStub, concurrency: int, seconds: float
) -> tuple[float, list[float]]:
    """(calls/s, sorted latencies) of `concurrency` callers back to back; all must pass."""
    run = Run()
    end = time.perf_counter() + seconds

    async def caller() -> None:
        while time.perf_counter() < end:
            await one_call(stub, run)

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    assert run.codes() == {grpc.StatusCode.OK: len(run.outcomes)}, run.codes()
    return len(run.outcomes) / elapsed, run.latencies(grpc.StatusCode.OK)


async def open_loop(
    stub: embedding_pb2_grpc.EmbeddingServiceStub, rate: float, seconds: float
) -> Run:
    """Fire a call every 1/rate s for `seconds`, never waiting for answers."""
    run = Run()
    loop = asyncio.get_running_loop()
    calls: set[asyncio.Task[None]] = set()
    start = loop.time()
    total = int(rate * seconds)
    for i in range(total):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one_call(stub, run))
        calls.add(task)
        task.add_done_callback(calls.discard)
    run.sent, run.sending_s = total, loop.time() - start
    await asyncio.gather(*calls)
    return run


async def watch_health(address: str, stop: asyncio.Event, answers: list[tuple[int, float]]) -> None:
    """grpc.health.v1 Check every 100 ms: (status, seconds) of each answer; a check that
    fails (or reaches HEALTH_TIMEOUT_S) is recorded as (-1, seconds)."""
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while not stop.is_set():
            start = time.perf_counter()
            try:
                response = await health.Check(
                    health_pb2.HealthCheckRequest(), timeout=HEALTH_TIMEOUT_S
                )
                answers.append((response.status, time.perf_counter() - start))
            except grpc.aio.AioRpcError:
                answers.append((-1, time.perf_counter() - start))
            await asyncio.sleep(0.1)


async def watch_rss(pids: dict[str, int], stop: asyncio.Event, peaks: dict[str, float]) -> None:
    while not stop.is_set():
        for name, pid in pids.items():
            peaks[name] = max(peaks.get(name, 0.0), rss_mb(pid))
        await asyncio.sleep(0.5)


@pytest.fixture
def served(
    tmp_path: Path, minilm_dir: Path, free_env: dict[str, str]
) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    """A router and one MiniLM replica with a small queue."""
    router = router_process(free_env, tmp_path / "data").start().wait_serving()
    model = minilm(tmp_path, minilm_dir, max_batch_size=INPUTS, max_queue_size=QUEUE)
    backend = backend_process(free_env, router, model).start()
    try:
        wait_replicas(router, 1, timeout_s=120)
        yield router, backend
    finally:
        stop_all(backend, router)


def test_ten_times_capacity_is_shed_while_everything_stays_up(
    served: tuple[ServiceProcess, ServiceProcess],
) -> None:
    router, backend = served
    assert router.process is not None
    assert backend.process is not None
    pids = {"router": router.process.pid, "backend": backend.process.pid}
    report = asyncio.run(overload(router.address, backend.address, pids))
    print(report.summary())

    # nothing but answers and refusals; most calls refused, some answered; the refusals
    # say why and when to retry
    for name, run in (("router", report.routed), ("direct", report.direct)):
        codes = run.codes()
        assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}, (name, codes)
        assert codes[grpc.StatusCode.RESOURCE_EXHAUSTED] > 0.5 * len(run.outcomes), (name, codes)
        assert codes[grpc.StatusCode.OK] > 0, (name, codes)
        assert run.shed_example is not None
        status = rpc_status.from_call(run.shed_example)  # type: ignore[arg-type]
        assert status is not None, f"{name}: RESOURCE_EXHAUSTED without google.rpc details"
        quota, retry = error_details_pb2.QuotaFailure(), error_details_pb2.RetryInfo()
        assert status.details[0].Unpack(quota)
        assert status.details[1].Unpack(retry)
        assert quota.violations[0].subject == f"model:{MODEL}"
        assert retry.retry_delay.ToMilliseconds() > 0
    # the router answered SERVING to every health check during the overload
    assert report.health, "no health check was answered"
    failed = [a for a in report.health if a[0] != health_pb2.HealthCheckResponse.SERVING]
    assert not failed, f"{len(failed)} of {len(report.health)} health checks failed"
    # memory is bounded
    for name, peak in report.peak_rss.items():
        growth = peak - report.base_rss[name]
        assert growth < RSS_GROWTH_LIMIT_MB, f"{name} grew {growth:.0f} MB"
    # no crash, no ejection: both still serve a normal call
    assert router.process.poll() is None
    assert backend.process.poll() is None
    for address in (router.address, backend.address):
        with grpc.insecure_channel(address) as channel:
            reply = embedding_pb2_grpc.EmbeddingServiceStub(channel).Embed(
                embed_request(), timeout=30
            )
            assert len(reply.embeddings) == INPUTS
    ejections = {k: v for k, v in router_metrics(router).items() if "ejections_total" in k}
    assert not any(ejections.values()), ejections


@dataclass
class Report:
    capacity: float
    unloaded_p50: float
    unloaded_router_p50: float
    routed: Run
    direct: Run
    health: list[tuple[int, float]]
    backend_health: list[tuple[int, float]]
    base_rss: dict[str, float]
    peak_rss: dict[str, float]

    @property
    def offered_rate(self) -> float:
        return self.routed.sent / self.routed.sending_s

    @property
    def offered_multiple(self) -> float:
        return self.offered_rate / self.capacity

    @property
    def accepted_per_s(self) -> float:
        accepted = self.routed.codes()[grpc.StatusCode.OK] + self.direct.codes()[grpc.StatusCode.OK]
        return accepted / self.routed.sending_s

    @property
    def accepted_p50(self) -> float:
        return statistics.median(self.routed.latencies(grpc.StatusCode.OK))

    @property
    def accepted_p99(self) -> float:
        return quantile(self.routed.latencies(grpc.StatusCode.OK), 0.99)

    @property
    def bound(self) -> float:
        """Accepted latency on an idle machine: (1 + QUEUE / INPUTS) unloaded calls."""
        return (1 + QUEUE / INPUTS) * self.unloaded_p50

    def _run(self, path: str) -> Run:
        return self.routed if path == "router" else self.direct

    def shed_p50(self, path: str) -> float:
        return statistics.median(self._run(path).latencies(grpc.StatusCode.RESOURCE_EXHAUSTED))

    def shed_p99(self, path: str) -> float:
        return quantile(self._run(path).latencies(grpc.StatusCode.RESOURCE_EXHAUSTED), 0.99)

    @staticmethod
    def health_quantiles(answers: list[tuple[int, float]]) -> str:
        seconds = sorted(s for _, s in answers)
        return "/".join(f"{quantile(seconds, q) * 1e3:.1f}" for q in (0.5, 0.99, 1.0)) + " ms"

    def summary(self) -> str:
        shed = grpc.StatusCode.RESOURCE_EXHAUSTED
        direct_rate = self.direct.sent / self.direct.sending_s
        return (
            f"\noverload {DURATION_S:.0f} s: capacity {self.capacity:.1f} calls/s "
            f"(unloaded p50 {self.unloaded_p50 * 1e3:.0f} ms direct, "
            f"{self.unloaded_router_p50 * 1e3:.0f} ms via router); "
            f"offered {self.offered_rate:.0f}/s via router = {self.offered_multiple:.1f}x "
            f"+ {direct_rate:.0f}/s direct; accepted {self.accepted_per_s:.1f}/s; "
            f"shed {self.routed.codes()[shed]} via router, {self.direct.codes()[shed]} direct\n"
            f"  shed latency direct p50/p99 {self.shed_p50('direct') * 1e3:.2f}/"
            f"{self.shed_p99('direct') * 1e3:.2f} ms, via router p50/p99 "
            f"{self.shed_p50('router') * 1e3:.2f}/{self.shed_p99('router') * 1e3:.2f} ms; "
            f"accepted via router p50/p99 {self.accepted_p50 * 1e3:.0f}/"
            f"{self.accepted_p99 * 1e3:.0f} ms (idle bound {self.bound * 1e3:.0f} ms)\n"
            f"  router health checks {len(self.health)}, p50/p99/max "
            f"{self.health_quantiles(self.health)}, backend's "
            f"{self.health_quantiles(self.backend_health)}; RSS peak (growth) "
            + ", ".join(
                f"{n} {p:.0f} MB (+{p - self.base_rss[n]:.0f})" for n, p in self.peak_rss.items()
            )
        )


async def overload(router: str, backend: str, pids: dict[str, int]) -> Report:
    async with (
        grpc.aio.insecure_channel(router) as via_router,
        grpc.aio.insecure_channel(backend) as direct,
    ):
        routed_stub = embedding_pb2_grpc.EmbeddingServiceStub(via_router)
        direct_stub = embedding_pb2_grpc.EmbeddingServiceStub(direct)
        _, unloaded = await closed_loop(direct_stub, 1, 2.0)
        _, unloaded_routed = await closed_loop(routed_stub, 1, 2.0)
        # QUEUE / INPUTS callers keep the model busy (one call computing, the other queued)
        # and never hold more than QUEUE inputs, even before the collector takes a batch
        capacity, _ = await closed_loop(direct_stub, QUEUE // INPUTS, 4.0)
        base_rss = {name: rss_mb(pid) for name, pid in pids.items()}
        stop = asyncio.Event()
        health: list[tuple[int, float]] = []
        backend_health: list[tuple[int, float]] = []
        peaks: dict[str, float] = {}
        watchers = [
            asyncio.create_task(watch_health(router, stop, health)),
            asyncio.create_task(watch_health(backend, stop, backend_health)),
            asyncio.create_task(watch_rss(pids, stop, peaks)),
        ]
        rate = MULTIPLE * capacity
        routed, direct_run = await asyncio.gather(
            open_loop(routed_stub, rate, DURATION_S),
            open_loop(direct_stub, DIRECT_SHARE * rate, DURATION_S),
        )
        stop.set()
        await asyncio.gather(*watchers)
    return Report(
        capacity,
        statistics.median(unloaded),
        statistics.median(unloaded_routed),
        routed,
        direct_run,
        health,
        backend_health,
        base_rss,
        peaks,
    )

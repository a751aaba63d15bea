"""Shadow traffic: a copy of a share of a model's unpinned calls goes to another version.

The copy is made after the caller has its answer, in a task of its own (fire and
forget): it never delays, changes or fails the caller's call. At most `max_inflight`
copies are in flight at once per router; one more is dropped and counted. Each copy
pins the shadow version (a second ModelRef occurrence naming only the version, which
protobuf merges over the first) and carries its own deadline. Its answer is compared
with the caller's and thrown away: classifiers by their top label per input, token
classifiers by the whole set of entities per input, embeddings by cosine similarity.
Calls the shadow version answered itself (a traffic split sends some there) and calls
that pinned a version are not copied. Counts live in this router process only (each
router replica keeps its own) and start anew whenever the shadow is set.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from modelport.router.metrics import RouterMetrics
from modelport.router.pool import ReplicaPool
from modelport.router.registry import Registry
from modelport.serving.errors import InvalidArgument, ModelportError
from modelport.serving.wire import Malformed, length_delimited, length_delimited_field
from modelport.v1 import common_pb2, embedding_pb2, nlp_pb2, vision_pb2

log = logging.getLogger(__name__)


def pin(request: bytes, version: str) -> bytes:
    """A typed request's copy pinned to `version` (a further ModelRef occurrence holding
    only the version, which protobuf merges over the first)."""
    ref = common_pb2.ModelRef(version=version).SerializeToString()
    return request + length_delimited_field(1, ref)


Compared = tuple[int, int, list[float]]
"""(inputs whose labels were compared, of those that agreed, each vector's cosine)."""
Compare = Callable[[bytes, bytes], Compared]


@dataclass
class ShadowStats:
    """One model's shadow: where copies go, and what they gave."""

    name: str
    version: str
    fraction: float
    mirrored: int = 0
    dropped: int = 0
    errors: int = 0
    compared: int = 0
    agreed: int = 0
    vectors: int = 0
    cosine_sum: float = 0.0

    @property
    def mean_cosine(self) -> float:
        return self.cosine_sum / self.vectors if self.vectors else 0.0


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _labels(message: type[Any]) -> Compare:
    """Top label of each input (Classify, ClassifyImage)."""

    def compare(primary: bytes, shadow: bytes) -> Compared:
        ours, theirs = message.FromString(primary), message.FromString(shadow)
        pairs = list(zip(ours.results, theirs.results, strict=False))
        agreed = sum(
            (a.labels[0].label if a.labels else "") == (b.labels[0].label if b.labels else "")
            for a, b in pairs
        )
        return len(pairs), agreed, []

    return compare


def _entities(primary: bytes, shadow: bytes) -> Compared:
    ours = nlp_pb2.ClassifyTokensResponse.FromString(primary)
    theirs = nlp_pb2.ClassifyTokensResponse.FromString(shadow)
    pairs = list(zip(ours.results, theirs.results, strict=False))
    agreed = sum(
        {(e.start, e.end, e.label) for e in a.entities}
        == {(e.start, e.end, e.label) for e in b.entities}
        for a, b in pairs
    )
    return len(pairs), agreed, []


def _vectors(primary: bytes, shadow: bytes) -> Compared:
    ours = embedding_pb2.EmbedResponse.FromString(primary)
    theirs = embedding_pb2.EmbedResponse.FromString(shadow)
    cosines = [
        cosine(a.values, b.values)
        for a, b in zip(ours.embeddings, theirs.embeddings, strict=False)
        if len(a.values) == len(b.values)
    ]
    return 0, 0, cosines


COMPARED: dict[str, Compare] = {
    "/modelport.v1.NlpService/Classify": _labels(nlp_pb2.ClassifyResponse),
    "/modelport.v1.NlpService/ClassifyTokens": _entities,
    "/modelport.v1.VisionService/ClassifyImage": _labels(vision_pb2.ClassifyImageResponse),
    "/modelport.v1.EmbeddingService/Embed": _vectors,
}
"""The unary methods whose answers a shadow compares; other calls are not copied."""


def answered_version(response: bytes) -> str:
    """The version in a typed response's ModelRef (field 1); "" when unreadable."""
    try:
        return common_pb2.ModelRef.FromString(b"".join(length_delimited(response, 1))).version
    except (Malformed, DecodeError):
        return ""


class Shadows:
    """Every model's shadow on this router, and the copies in flight."""

    def __init__(
        self,
        registry: Registry,
        pool: ReplicaPool,
        metrics: RouterMetrics,
        *,
        max_inflight: int = 16,
        timeout_s: float = 10.0,
    ) -> None:
        self._registry = registry
        self._pool = pool
        self._metrics = metrics
        self._max_inflight = max_inflight
        self._timeout_s = timeout_s
        self._shadows: dict[str, ShadowStats] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def set(self, name: str, version: str, fraction: float) -> ShadowStats:
        """Start (or restart, counts at zero) or, with `fraction` 0, stop a shadow."""
        if not name:
            raise InvalidArgument("name", "is required")
        if not 0 <= fraction <= 1 or math.isnan(fraction):
            raise InvalidArgument("fraction", "must be between 0 and 1")
        if fraction == 0:
            self._shadows.pop(name, None)
            return ShadowStats(name, "", 0.0)
        if not version:
            raise InvalidArgument("version", "is required to start a shadow")
        if not any(v.version == version for v in self._registry.versions(name)):
            raise InvalidArgument("version", f"is not a registered version of {name!r}")
        stats = ShadowStats(name, version, fraction)
        self._shadows[name] = stats
        return stats

    def get(self, name: str) -> ShadowStats | None:
        return self._shadows.get(name)

    def offer(
        self,
        method: str,
        name: str,
        version: str,
        request: bytes,
        response: bytes,
        metadata: tuple[tuple[str, str | bytes], ...],
    ) -> None:
        """The caller has its answer: copy the call to the shadow version, maybe. Never
        raises, never waits."""
        stats = self._shadows.get(name)
        compare = COMPARED.get(method)
        if stats is None or compare is None or version or random.random() >= stats.fraction:
            return
        if answered_version(response) == stats.version:
            return
        if len(self._tasks) >= self._max_inflight:
            stats.dropped += 1
            self._metrics.shadow_calls.labels(name, stats.version, "dropped").inc()
            return
        stats.mirrored += 1
        task = asyncio.create_task(
            self._mirror(stats, method, pin(request, stats.version), response, metadata, compare)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _mirror(
        self,
        stats: ShadowStats,
        method: str,
        request: bytes,
        primary: bytes,
        metadata: tuple[tuple[str, str | bytes], ...],
        compare: Compare,
    ) -> None:
        outcome = "compared"
        try:
            async with asyncio.timeout(self._timeout_s):
                registrations = self._registry.ready_replicas(stats.name, stats.version)
                replica = self._pool.pick(registrations, set())
                if replica is None or not await self._pool.connect(replica, self._timeout_s):
                    raise ConnectionError("no replica of the shadow version could be reached")
                replica.outstanding += 1
                try:
                    call = replica.callable("unary_unary", method)
                    answer = await call(request, timeout=self._timeout_s, metadata=metadata)
                finally:
                    replica.outstanding -= 1
            self._record(stats, answer, primary, compare)
        except (grpc.aio.AioRpcError, ModelportError, ConnectionError, TimeoutError) as exc:
            outcome = "error"
            stats.errors += 1
            log.debug("shadow call of %s v%s failed: %s", stats.name, stats.version, exc)
        except Exception:  # a comparison that cannot parse an answer: never the caller's
            outcome = "error"
            stats.errors += 1
            log.exception("shadow comparison of %s v%s failed", stats.name, stats.version)
        self._metrics.shadow_calls.labels(stats.name, stats.version, outcome).inc()

    def _record(self, stats: ShadowStats, answer: bytes, primary: bytes, compare: Compare) -> None:
        """Compare one copy's answer with the caller's; count it in `stats` and metrics."""
        compared, agreed, cosines = compare(primary, answer)
        stats.compared += compared
        stats.agreed += agreed
        stats.vectors += len(cosines)
        stats.cosine_sum += sum(cosines)
        answers = self._metrics.shadow_answers
        answers.labels(stats.name, stats.version, "agree").inc(agreed)
        answers.labels(stats.name, stats.version, "disagree").inc(compared - agreed)
        histogram = self._metrics.shadow_cosine.labels(stats.name, stats.version)
        for value in cosines:
            histogram.observe(value)

    async def close(self) -> None:
        """Cancel the copies in flight (shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

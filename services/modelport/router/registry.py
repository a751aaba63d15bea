"""The router's registry: models, versions and replicas, with leases and change events.

Plain Python (no protobuf). Sources are merged into one view: leased self-registrations,
persistent admin registrations (stored by `RegistryStore`), static configuration and,
later, Kubernetes discovery. The servicer converts to and from the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import enum
import logging
import math
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from modelport.serving.catalog import version_key
from modelport.serving.errors import InvalidArgument, ModelNotReady, NotFound, ResourceExhausted

log = logging.getLogger(__name__)

KNOWN_SHOWN = 5
"""Known model names an unknown model's NOT_FOUND lists."""


class ReplicaState(enum.Enum):
    """State of one replica of one model version (mirrors `modelport.v1.ModelState`)."""

    LOADING = "LOADING"
    READY = "READY"
    FAILED = "FAILED"
    UNLOADING = "UNLOADING"
    DRAINING = "DRAINING"
    NOT_LOADED = "NOT_LOADED"
    """In the replica's catalogue, not loaded: the router loads it when a call needs it."""
    EVICTED = "EVICTED"
    """Loaded there once, evicted to make room: loadable again like NOT_LOADED."""


LOADABLE = (ReplicaState.NOT_LOADED, ReplicaState.EVICTED)
"""States of a replica the router may ask to load the model (`RepositoryModelLoad`)."""


class Source(enum.Enum):
    """Where a registration came from."""

    LEASE = "lease"
    PERSISTENT = "persistent"
    STATIC = "static"
    KUBERNETES = "kubernetes"


@dataclass
class Registration:
    """One replica serving one model version."""

    name: str
    version: str
    endpoint: str
    task: str
    state: ReplicaState
    source: Source
    reason: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    lease_id: str = ""
    lease_ttl_s: float = 0.0
    """Lease length granted at registration; each renewal extends the lease by it."""
    lease_expires: float = 0.0
    """time.monotonic() deadline for leased registrations."""
    size_bytes: int = 0
    """Memory the model takes there, as the replica reported it (0: not said)."""
    pinned: bool = False
    """The replica never evicts it."""
    last_used: float = 0.0
    """time.time() this router last sent it a call for the model (0: never)."""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.name, self.version, self.endpoint)

    def same_as(self, other: Registration) -> bool:
        """Whether `other` describes the replica as this one does (its lease aside)."""
        return replace(self, **_NO_LEASE) == replace(other, **_NO_LEASE)


_NO_LEASE: dict[str, Any] = {
    "lease_id": "",
    "lease_ttl_s": 0.0,
    "lease_expires": 0.0,
    "last_used": 0.0,
}


@dataclass(frozen=True)
class VersionView:
    """One version of a model as clients see it."""

    version: str
    task: str
    replicas: list[Registration]
    weight: int

    @property
    def state(self) -> ReplicaState:
        states = {r.state for r in self.replicas}
        for state in (
            ReplicaState.READY,
            ReplicaState.LOADING,
            ReplicaState.EVICTED,
            ReplicaState.NOT_LOADED,
            ReplicaState.DRAINING,
            ReplicaState.UNLOADING,
            ReplicaState.FAILED,
        ):
            if state in states:
                return state
        return ReplicaState.FAILED


class Watch:
    """One subscriber's stream of changed model names (see `Registry.watch`)."""

    def __init__(self, size: int) -> None:
        self._names: asyncio.Queue[str] = asyncio.Queue(maxsize=size)
        self._size = size
        self._behind = False

    def offer(self, name: str) -> bool:
        """Queue `name`; False (and the watch is over) if the subscriber fell behind."""
        try:
            self._names.put_nowait(name)
        except asyncio.QueueFull:
            self._behind = True
        return not self._behind

    async def get(self) -> str:
        """The name of the next model that changed.

        Raises `ResourceExhausted` once more than `size` changes went unread: the
        subscriber missed changes, and only a new watch (which starts with the current
        state) makes its view whole again.
        """
        if self._behind:
            raise ResourceExhausted(
                f"this watch fell more than {self._size} changes behind and missed some; "
                "call WatchModels again for the current state"
            )
        return await self._names.get()


class Registry:
    """In-memory merged view with leases, traffic splits and watchers."""

    def __init__(
        self,
        lease_ttl_s: float,
        max_lease_ttl_s: float,
        *,
        watch_buffer: int = 1024,
        remember_s: float = 600.0,
    ) -> None:
        self.lease_ttl_s = lease_ttl_s
        self.max_lease_ttl_s = max_lease_ttl_s
        self.watch_buffer = watch_buffer
        """Unread changes a watcher may have before it is ended (it must subscribe again)."""
        self.remember_s = remember_s
        """How long an endpoint that deregistered a model is still reachable for a
        repository load of it (unless it was forgotten)."""
        self._entries: dict[tuple[str, str, str], Registration] = {}
        self._leases: dict[str, Registration] = {}
        self._splits: dict[str, dict[str, int]] = {}
        self._past: dict[str, dict[str, float]] = {}
        """Endpoints that serve or lately served each model, with the time.monotonic() until
        which they are remembered (inf while registered): a repository load reaches a
        replica that unloaded the model, never one that was removed."""
        self._watchers: set[Watch] = set()
        self._changed: asyncio.Event | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._started = -math.inf

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        """Start expiring leases; call inside the running loop."""
        self._started = time.monotonic()
        self._changed = asyncio.Event()
        self._reaper = asyncio.create_task(self._reap(), name="lease-reaper")

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper

    # -- writes ----------------------------------------------------------------------
    def register(self, registration: Registration, ttl_s: float | None = None) -> Registration:
        """Add or replace the registration for (name, version, endpoint).

        Registering what is registered already (Kubernetes discovery does on every
        refresh) changes nothing visible: no event, no log line; a lease is still granted
        anew.
        """
        if not registration.name:
            raise InvalidArgument("model.name", "is required")
        if not registration.version:
            raise InvalidArgument("model.version", "is required to register")
        if not registration.endpoint:
            raise InvalidArgument("endpoint", "is required (host:port)")
        old = self._entries.get(registration.key)
        if old is not None and old.lease_id:
            self._leases.pop(old.lease_id, None)
        if registration.source is Source.LEASE:
            registration.lease_ttl_s = min(ttl_s or self.lease_ttl_s, self.max_lease_ttl_s)
            registration.lease_id = uuid.uuid4().hex
            registration.lease_expires = time.monotonic() + registration.lease_ttl_s
            self._leases[registration.lease_id] = registration
        if old is not None:
            registration.last_used = old.last_used
        self._entries[registration.key] = registration
        self._past.setdefault(registration.name, {})[registration.endpoint] = math.inf
        if old is not None and old.same_as(registration):
            return registration
        self._notify(registration.name)
        log.info(
            "registered %s v%s at %s (%s, %s)",
            registration.name,
            registration.version,
            registration.endpoint,
            registration.source.value,
            registration.state.value,
        )
        return registration

    def renew(
        self,
        lease_ids: list[str],
        states: list[ReplicaState] | None = None,
        allowed: Callable[[Registration], bool] | None = None,
    ) -> list[str]:
        """Extend each lease by the TTL granted at its registration; return the ids that are
        unknown (the caller registers again). Leases whose registration is not `allowed`
        (not the caller's) count as unknown and are left alone."""
        unknown = []
        now = time.monotonic()
        for i, lease_id in enumerate(lease_ids):
            registration = self._leases.get(lease_id)
            if registration is None or (allowed is not None and not allowed(registration)):
                unknown.append(lease_id)
                continue
            registration.lease_expires = now + registration.lease_ttl_s
            if states and i < len(states) and states[i] is not registration.state:
                registration.state = states[i]
                self._notify(registration.name)
        return unknown

    def deregister(
        self, name: str, version: str, endpoint: str, *, forget: bool = True
    ) -> Registration:
        """Remove one registration. Unless `forget` is False (a replica deregistering a
        model itself), its endpoint is never contacted about the model again; otherwise it
        still is, for `remember_s`, so that a repository load reaches it."""
        registration = self._entries.pop((name, version, endpoint), None)
        if registration is None:
            raise NotFound(f"no registration of {name!r} version {version!r} at {endpoint!r}")
        if registration.lease_id:
            self._leases.pop(registration.lease_id, None)
        self._left(name, endpoint, forget)
        self._notify(name)
        log.info("deregistered %s v%s at %s", name, version, endpoint)
        return registration

    def _left(self, name: str, endpoint: str, forget: bool) -> None:
        """`endpoint` lost a registration of `name`: remember it for a while, or forget it,
        unless it still serves another version."""
        if any(k[0] == name and k[2] == endpoint for k in self._entries):
            return
        past = self._past.get(name, {})
        if forget or not self.remember_s:
            past.pop(endpoint, None)
        else:
            past[endpoint] = time.monotonic() + self.remember_s
        if not past:
            self._past.pop(name, None)

    def remove_endpoint(self, endpoint: str, source: Source) -> None:
        """Drop every registration of `endpoint` from `source` (it is gone: forgotten)."""
        for key in [k for k, r in self._entries.items() if k[2] == endpoint and r.source is source]:
            self.deregister(*key)

    def set_split(self, name: str, weights: dict[str, int]) -> None:
        if not name:
            raise InvalidArgument("name", "is required")
        for version, weight in weights.items():
            if weight < 0:
                raise InvalidArgument(f"weights[{version}]", "must not be negative")
        if weights and not any(weights.values()):
            raise InvalidArgument("weights", "need at least one positive weight")
        if weights:
            self._splits[name] = dict(weights)
        else:
            self._splits.pop(name, None)
        self._notify(name)

    def has_split(self, name: str) -> bool:
        """Whether a traffic split chooses the version of `name`'s unpinned calls."""
        return name in self._splits

    def splits(self) -> dict[str, dict[str, int]]:
        return {k: dict(v) for k, v in self._splits.items()}

    # -- reads -----------------------------------------------------------------------
    def past_endpoints(self, name: str = "") -> set[str]:
        """Endpoints that serve `name` (any model when empty), or deregistered it
        themselves within `remember_s`."""
        now = time.monotonic()
        chosen = [self._past.get(name, {})] if name else list(self._past.values())
        return {e for past in chosen for e, until in past.items() if until > now}

    def find(self, name: str, version: str, endpoint: str) -> Registration | None:
        return self._entries.get((name, version, endpoint))

    def leased(self, lease_id: str) -> Registration | None:
        """The registration holding `lease_id`, if any."""
        return self._leases.get(lease_id)

    def registrations(self) -> list[Registration]:
        return list(self._entries.values())

    def names(self) -> list[str]:
        return sorted({r.name for r in self._entries.values()})

    def versions(self, name: str) -> list[VersionView]:
        """Versions of `name`, newest first."""
        by_version: dict[str, list[Registration]] = {}
        for r in self._entries.values():
            if r.name == name:
                by_version.setdefault(r.version, []).append(r)
        split = self._splits.get(name, {})
        newest_first = (
            sorted(by_version.items(), key=lambda kv: version_key(kv[0]), reverse=True)
            if len(by_version) > 1
            else by_version.items()  # one version (the usual case): no sort key per call
        )
        return [
            VersionView(v, rs[0].task, sorted(rs, key=lambda r: r.endpoint), split.get(v, 0))
            for v, rs in newest_first
        ]

    def ready_replicas(
        self, name: str, version: str, *, reasons: bool = True
    ) -> list[Registration]:
        """READY replicas of the version a call should go to (resolving empty versions).

        Unknown model or version → NOT_FOUND naming what is known (UNAVAILABLE for an
        unknown model during the first lease after start); known but none READY →
        UNAVAILABLE, with `RetryInfo` while a replica is loading, and the reason of a
        failed load when `reasons` (a client is not shown server paths and addresses).
        """
        if not name:
            raise InvalidArgument("model.name", "is required")
        versions = self.versions(name)
        if not versions:
            if time.monotonic() - self._started < self.lease_ttl_s:
                # Restarted: backends that hold leases register again within one lease.
                # UNAVAILABLE lets clients retry; NOT_FOUND would tell them to give up.
                raise ModelNotReady(
                    f"model {name!r} is not registered yet (the router started moments ago)",
                    retry_after_s=ModelNotReady.LOADING_RETRY_S,
                )
            raise NotFound(self._unknown(name))
        if version:
            match = [v for v in versions if v.version == version]
            if not match:
                known = ", ".join(repr(v.version) for v in versions)
                raise NotFound(f"model {name!r} has no version {version!r}; it has {known}")
            ready = [r for r in match[0].replicas if r.state is ReplicaState.READY]
            if not ready:
                raise _not_ready(f"model {name!r} version {version!r}", match[0].replicas, reasons)
            return ready
        candidates = [
            (v, [r for r in v.replicas if r.state is ReplicaState.READY]) for v in versions
        ]
        candidates = [(v, rs) for v, rs in candidates if rs]
        if not candidates:
            raise _not_ready(f"model {name!r}", [r for v in versions for r in v.replicas], reasons)
        weighted = [(v, rs) for v, rs in candidates if v.weight > 0]
        if weighted:
            chosen = random.choices(weighted, weights=[v.weight for v, _ in weighted])[0]
            return chosen[1]
        return candidates[0][1]

    def loadable(self, name: str, version: str) -> list[Registration]:
        """Replicas that hold `name` (the newest version holding it when `version` is
        empty) in their catalogue without having it loaded: where a load may go."""
        for view in self.versions(name):
            if version and view.version != version:
                continue
            found = [r for r in view.replicas if r.state in LOADABLE]
            if found:
                return found
        return []

    def _unknown(self, name: str) -> str:
        """Why `name` is NOT_FOUND: the closest known names, else a few of them."""
        names = self.names()
        if not names:
            return f"model {name!r} is not registered; no model is (is any backend running?)"
        by_case = {n.lower(): n for n in names}
        close = [by_case[name.lower()]] if name.lower() in by_case else []
        close = close or difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        if close:
            hint = f"did you mean {' or '.join(repr(n) for n in close)}?"
        else:
            shown = ", ".join(names[:KNOWN_SHOWN])
            more = f" and {len(names) - KNOWN_SHOWN} more" if len(names) > KNOWN_SHOWN else ""
            hint = f"known models: {shown}{more}"
        return f"model {name!r} is not registered; {hint} (`modelport models` lists them all)"

    # -- watching ---------------------------------------------------------------------
    def watch(self) -> Watch:
        """A subscription that receives the name of every model that changes."""
        watch = Watch(self.watch_buffer)
        self._watchers.add(watch)
        return watch

    def unwatch(self, watch: Watch) -> None:
        self._watchers.discard(watch)

    def _notify(self, name: str) -> None:
        for watch in list(self._watchers):
            if not watch.offer(name):  # fell behind: its next get() ends it with an error
                self._watchers.discard(watch)
        if self._changed is not None:
            self._changed.set()

    async def _reap(self) -> None:
        """Remove leases as they expire: sleep until the next expiry or a change."""
        assert self._changed is not None
        while True:
            self._changed.clear()
            now = time.monotonic()
            for lease_id, registration in list(self._leases.items()):
                if registration.lease_expires <= now:
                    log.warning(
                        "lease of %s v%s at %s expired",
                        registration.name,
                        registration.version,
                        registration.endpoint,
                    )
                    del self._leases[lease_id]
                    self._entries.pop(registration.key, None)
                    self._left(registration.name, registration.endpoint, forget=True)
                    self._notify(registration.name)
            self._changed.clear()
            next_expiry = min((r.lease_expires for r in self._leases.values()), default=None)
            timeout = None if next_expiry is None else max(0.0, next_expiry - time.monotonic())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):  # wait_for may swallow a cancel (3.11)
                    await self._changed.wait()

    def load(
        self, registrations: Iterable[Registration], splits: dict[str, dict[str, int]]
    ) -> None:
        """Bulk-add stored or static entries at start-up."""
        for registration in registrations:
            self._entries[registration.key] = registration
            self._past.setdefault(registration.name, {})[registration.endpoint] = math.inf
        self._splits.update(splits)


def _not_ready(what: str, replicas: list[Registration], reasons: bool) -> ModelNotReady:
    """UNAVAILABLE for `what`, none of whose `replicas` is READY: saying it is loading (with
    a retry delay) when one is, else each replica's state and (with `reasons`) the reason
    of a failure."""
    if any(r.state is ReplicaState.LOADING for r in replicas):
        return ModelNotReady.loading(what)
    if any(r.state in LOADABLE for r in replicas):
        return ModelNotReady(
            f"{what} is not loaded on any replica; retry (a call loads it)",
            retry_after_s=ModelNotReady.LOADING_RETRY_S,
        )
    failed = [r for r in replicas if r.state is ReplicaState.FAILED]
    if failed and len(failed) == len(replicas):
        if not reasons:
            return ModelNotReady(f"{what} failed to load (an admin's GetModel says why)")
        reason = next((r.reason for r in failed if r.reason), "no reason given")
        return ModelNotReady(f"{what} failed to load: {reason}")
    states = ", ".join(sorted({r.state.value for r in replicas}))
    return ModelNotReady(f"{what} has no READY replica ({states})")

"""The router's registry as plain Python: leases, versions, splits, watchers."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from modelport.router.registry import Registration, Registry, ReplicaState, Source, Watch
from modelport.serving.errors import InvalidArgument, ModelNotReady, NotFound, ResourceExhausted


def replica(
    version: str = "1",
    endpoint: str = "10.0.0.1:50051",
    *,
    name: str = "m",
    state: ReplicaState = ReplicaState.READY,
    source: Source = Source.LEASE,
) -> Registration:
    return Registration(name, version, endpoint, "embedding", state, source)


async def test_unknown_model_is_unavailable_for_one_lease_after_start_then_not_found() -> None:
    registry = Registry(lease_ttl_s=0.2, max_lease_ttl_s=1.0)
    registry.start()
    with pytest.raises(ModelNotReady):  # its backends may not have registered again yet
        registry.ready_replicas("m", "")
    await asyncio.sleep(0.3)
    with pytest.raises(NotFound):
        registry.ready_replicas("m", "")
    await registry.close()


def test_an_unknown_model_is_not_found_with_the_closest_names_or_a_few_known_ones() -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=300.0)
    with pytest.raises(NotFound, match="no model is"):
        registry.ready_replicas("m", "")
    for name in ("all-MiniLM-L6-v2", "sentiment", "gemma-3-270m", "a", "b", "c", "d"):
        registry.register(replica(name=name, source=Source.STATIC))
    with pytest.raises(NotFound) as info:
        registry.ready_replicas("all-minilm-l6-v2", "")  # case differs
    assert "did you mean 'all-MiniLM-L6-v2'?" in info.value.message
    assert "`modelport models`" in info.value.message
    with pytest.raises(NotFound) as info:
        registry.ready_replicas("zzz", "")
    assert "known models: a, all-MiniLM-L6-v2, b, c, d and 2 more" in info.value.message
    with pytest.raises(NotFound, match="has no version '2'; it has '1'"):
        registry.ready_replicas("sentiment", "2")


@pytest.mark.parametrize("pinned", ["", "1"])
def test_a_loading_model_is_unavailable_with_a_retry_delay(pinned: str) -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=300.0)
    registry.register(replica(state=ReplicaState.LOADING))
    with pytest.raises(ModelNotReady) as info:
        registry.ready_replicas("m", pinned)
    assert info.value.message.endswith("is loading; retry")
    assert info.value.retry_after_s is not None


def test_a_model_that_failed_everywhere_says_why_and_offers_no_retry() -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=300.0)
    failed = replica(state=ReplicaState.FAILED)
    failed.reason = "OSError: no weights"
    registry.register(failed)
    with pytest.raises(ModelNotReady) as info:
        registry.ready_replicas("m", "")
    assert info.value.message == "model 'm' failed to load: OSError: no weights"
    assert info.value.retry_after_s is None


# -- leases --------------------------------------------------------------------------------


def test_a_lease_is_granted_as_asked_up_to_the_maximum_and_by_default_the_router_ttl() -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=300.0)
    asked = registry.register(replica(endpoint="a:1"), 60.0)
    capped = registry.register(replica(endpoint="b:1"), 1000.0)
    default = registry.register(replica(endpoint="c:1"))
    assert (asked.lease_ttl_s, capped.lease_ttl_s, default.lease_ttl_s) == (60.0, 300.0, 10.0)
    assert len({asked.lease_id, capped.lease_id, default.lease_id}) == 3


def test_renewal_extends_a_lease_by_the_ttl_granted_at_registration() -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=300.0)
    long = registry.register(replica(endpoint="a:1"), 60.0)
    capped = registry.register(replica(endpoint="b:1"), 1000.0)
    before = time.monotonic()
    assert registry.renew([long.lease_id, capped.lease_id]) == []
    # not the router's default of 10 s: that would drop the replica between renewals
    assert long.lease_expires >= before + 60.0
    assert capped.lease_expires >= before + 300.0


async def test_a_short_lease_expires_after_renewal_too() -> None:
    registry = Registry(lease_ttl_s=30.0, max_lease_ttl_s=60.0)
    registry.start()
    watch = registry.watch()
    short = registry.register(replica(), 0.2)
    assert registry.renew([short.lease_id]) == []
    await asyncio.wait_for(until_gone(registry, watch, "m"), 10)  # not after 30 s
    assert registry.renew([short.lease_id]) == [short.lease_id]  # the caller registers again
    await registry.close()


def test_renewal_reports_unknown_leases_and_applies_new_states() -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=60.0)
    lease = registry.register(replica())
    assert registry.renew(["gone", lease.lease_id], [ReplicaState.READY, ReplicaState.FAILED]) == [
        "gone"
    ]
    assert lease.state is ReplicaState.FAILED
    with pytest.raises(ModelNotReady):
        registry.ready_replicas("m", "1")


def test_registering_again_replaces_the_lease() -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=60.0)
    first = registry.register(replica())
    second = registry.register(replica(state=ReplicaState.FAILED))
    assert registry.renew([first.lease_id, second.lease_id]) == [first.lease_id]
    assert [r.state for r in registry.registrations()] == [ReplicaState.FAILED]


def test_other_sources_hold_no_lease() -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=60.0)
    stored = registry.register(replica(source=Source.PERSISTENT))
    assert stored.lease_id == ""
    assert registry.renew([stored.lease_id]) == [""]


# -- writes and validation -----------------------------------------------------------------


def test_registration_needs_name_version_and_endpoint() -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=60.0)
    for bad, field in (
        (replica(name=""), "model.name"),
        (replica(version=""), "model.version"),
        (replica(endpoint=""), "endpoint"),
    ):
        with pytest.raises(InvalidArgument) as info:
            registry.register(bad)
        assert info.value.violations[0].field == field
    assert registry.registrations() == []


def test_deregister_and_remove_endpoint_by_source() -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=60.0)
    registry.register(replica("1", "a:1", source=Source.KUBERNETES))
    registry.register(replica("2", "a:1", source=Source.KUBERNETES))
    registry.register(replica("1", "a:1", name="other", source=Source.PERSISTENT))
    registry.register(replica("1", "b:1", source=Source.KUBERNETES))
    registry.remove_endpoint("a:1", Source.KUBERNETES)
    assert sorted(r.key for r in registry.registrations()) == [
        ("m", "1", "b:1"),
        ("other", "1", "a:1"),
    ]
    registry.deregister("m", "1", "b:1")
    with pytest.raises(NotFound):
        registry.deregister("m", "1", "b:1")
    assert registry.names() == ["other"]
    assert registry.past_endpoints("m") == set()  # removed: never contacted again
    assert registry.past_endpoints() == {"a:1"}  # it still serves `other`


async def test_a_replica_that_deregistered_itself_is_remembered_a_while_others_never() -> None:
    """L2: a repository load reaches a replica that unloaded a model (it deregistered it
    itself) for `remember_s`; an endpoint an admin removed, whose lease lapsed or that
    left Kubernetes is never contacted again."""
    registry = Registry(lease_ttl_s=0.1, max_lease_ttl_s=60.0, remember_s=3600)
    registry.start()
    watch = registry.watch()
    try:
        registry.register(replica("1", "self:1"))
        registry.register(replica("2", "self:1"))
        registry.register(replica("1", "admin:1", source=Source.PERSISTENT))
        registry.register(replica("1", "gone:1", source=Source.KUBERNETES))
        registry.register(replica("1", "lapsed:1"), ttl_s=0.05)
        registry.deregister("m", "1", "self:1", forget=False)
        registry.deregister("m", "2", "self:1", forget=False)
        registry.deregister("m", "1", "admin:1")
        registry.remove_endpoint("gone:1", Source.KUBERNETES)
        async with asyncio.timeout(30):
            while registry.find("m", "1", "lapsed:1") is not None:
                await watch.get()  # the reaper tells when the lease expired
        assert registry.past_endpoints("m") == {"self:1"}
    finally:
        await registry.close()
    brief = Registry(lease_ttl_s=10.0, max_lease_ttl_s=60.0, remember_s=0.01)
    brief.register(replica("1", "self:1"))
    brief.deregister("m", "1", "self:1", forget=False)
    await asyncio.sleep(0.05)
    assert brief.past_endpoints("m") == set()  # remembered no longer


# -- versions and splits -------------------------------------------------------------------


def test_versions_list_newest_first_and_an_empty_version_routes_to_the_newest_ready() -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=60.0)
    registry.register(replica("9", "a:1"))
    registry.register(replica("10", "b:1"))
    registry.register(replica("10", "c:1"))
    registry.register(replica("11", "d:1", state=ReplicaState.LOADING))
    views = registry.versions("m")
    assert [v.version for v in views] == ["11", "10", "9"]  # "10" > "9": numeric order
    assert [r.endpoint for r in views[1].replicas] == ["b:1", "c:1"]
    assert [v.state for v in views] == [
        ReplicaState.LOADING,
        ReplicaState.READY,
        ReplicaState.READY,
    ]
    assert {r.endpoint for r in registry.ready_replicas("m", "")} == {"b:1", "c:1"}
    assert [r.endpoint for r in registry.ready_replicas("m", "9")] == ["a:1"]  # pinned
    with pytest.raises(ModelNotReady):
        registry.ready_replicas("m", "11")
    with pytest.raises(NotFound):
        registry.ready_replicas("m", "12")
    with pytest.raises(InvalidArgument):
        registry.ready_replicas("", "")


def test_a_version_with_one_ready_replica_is_ready() -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=60.0)
    registry.register(replica("1", "a:1", state=ReplicaState.FAILED))
    registry.register(replica("1", "b:1", state=ReplicaState.LOADING))
    assert registry.versions("m")[0].state is ReplicaState.LOADING
    registry.register(replica("1", "c:1"))
    assert registry.versions("m")[0].state is ReplicaState.READY
    assert [r.endpoint for r in registry.ready_replicas("m", "1")] == ["c:1"]


def test_a_split_sends_unpinned_calls_only_to_weighted_ready_versions() -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=60.0)
    registry.register(replica("1", "a:1"))
    registry.register(replica("2", "b:1"))
    registry.register(replica("3", "c:1", state=ReplicaState.FAILED))
    registry.set_split("m", {"1": 1, "2": 0, "3": 5})  # 3 has no READY replica
    assert {registry.ready_replicas("m", "")[0].endpoint for _ in range(50)} == {"a:1"}
    assert registry.ready_replicas("m", "2")[0].endpoint == "b:1"  # pinning ignores it
    assert [v.weight for v in registry.versions("m")] == [5, 0, 1]
    registry.set_split("m", {"1": 1, "2": 1})
    assert {registry.ready_replicas("m", "")[0].endpoint for _ in range(200)} == {"a:1", "b:1"}
    registry.set_split("m", {})  # cleared: newest READY again
    assert registry.splits() == {}
    assert {registry.ready_replicas("m", "")[0].endpoint for _ in range(50)} == {"b:1"}


@pytest.mark.parametrize(
    ("name", "weights"),
    [("", {"1": 1}), ("m", {"1": -1}), ("m", {"1": 0, "2": 0})],
)
def test_invalid_splits_are_rejected(name: str, weights: dict[str, int]) -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=60.0)
    with pytest.raises(InvalidArgument):
        registry.set_split(name, weights)
    assert registry.splits() == {}


async def test_close_ends_the_reaper_even_right_after_a_change() -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=60.0)
    registry.register(replica("1"))
    registry.start()
    await asyncio.sleep(0.05)  # the reaper waits for a change or the lease's expiry
    registry.register(replica("2"))  # wakes it; close() cancels it before it runs again
    closing = asyncio.create_task(registry.close())
    done, _ = await asyncio.wait([closing], timeout=5)
    assert done, "the reaper ignored its cancellation"


async def test_registering_an_unchanged_replica_again_logs_and_notifies_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=60.0)
    watch = registry.watch()
    with caplog.at_level(logging.INFO, logger="modelport.router.registry"):
        for _ in range(3):  # what Kubernetes discovery does on every refresh
            registry.register(replica(source=Source.KUBERNETES))
        registry.register(replica(source=Source.KUBERNETES, state=ReplicaState.FAILED))
        changed = replica(source=Source.KUBERNETES)
        changed.metadata["dimensions"] = "384"
        registry.register(changed)
        registry.register(replica(source=Source.STATIC))  # another source is a change
    registry.set_split("end", {})
    assert [await watch.get() for _ in range(5)] == ["m", "m", "m", "m", "end"]
    assert [r.getMessage().split(" (")[-1] for r in caplog.records] == [
        "kubernetes, READY)",
        "kubernetes, FAILED)",
        "kubernetes, READY)",
        "static, READY)",
    ]


async def test_an_unchanged_leased_replica_registering_again_gets_a_new_lease_quietly() -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=60.0)
    watch = registry.watch()
    first = registry.register(replica(), 30.0)
    again = registry.register(replica(), 20.0)
    registry.set_split("end", {})
    assert [await watch.get() for _ in range(2)] == ["m", "end"]
    assert registry.renew([first.lease_id, again.lease_id]) == [first.lease_id]
    assert again.lease_ttl_s == 20.0


# -- watchers ------------------------------------------------------------------------------


async def test_a_watcher_gets_the_name_of_each_changed_model() -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=60.0)
    watch = registry.watch()
    registry.register(replica(name="a"))
    registry.set_split("a", {"1": 1})
    registry.deregister("a", "1", "10.0.0.1:50051")
    registry.register(replica(name="b"))
    assert [await watch.get() for _ in range(4)] == ["a", "a", "a", "b"]
    registry.unwatch(watch)


async def test_a_watcher_that_falls_behind_is_ended_with_an_error_and_others_go_on() -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=60.0, watch_buffer=3)
    slow, fast = registry.watch(), registry.watch()
    for i in range(3):
        registry.register(replica(str(i)))
        assert await fast.get() == "m"
    registry.register(replica("3"))  # the fourth change unread by `slow`
    assert await fast.get() == "m"
    with pytest.raises(ResourceExhausted) as info:
        await slow.get()  # not the changes it still holds: it missed one, the view is stale
    assert "WatchModels again" in info.value.message
    registry.register(replica("4"))
    assert await fast.get() == "m"
    with pytest.raises(ResourceExhausted):
        await slow.get()


# -- helpers -------------------------------------------------------------------------------


async def until_gone(registry: Registry, watch: Watch, name: str) -> None:
    """Wait for the change event after which `name` has no registration left."""
    while name in registry.names():
        await watch.get()


def test_why_a_model_failed_is_left_out_for_callers_who_may_not_see_it() -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=300.0)
    failed = replica(state=ReplicaState.FAILED)
    failed.reason = "OSError: no such folder /srv/secret-team/models"
    registry.register(failed)
    for version in ("", "1"):
        with pytest.raises(ModelNotReady) as info:
            registry.ready_replicas("m", version, reasons=False)
        assert "failed to load" in info.value.message
        assert "/srv" not in info.value.message

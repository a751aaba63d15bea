"""DynamicBatcher: batching, cancellation, overload, failures. The model is a plain
function run on the batcher's real worker thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Sequence

import grpc
import pytest

from modelport.inference.batching import DynamicBatcher
from modelport.inference.metrics import InferenceMetrics
from modelport.inference.settings import BatchingSettings
from modelport.serving.errors import InvalidArgument, ModelportError, ResourceExhausted


class Recorder:
    """Doubles its inputs, records each batch, optionally waits on a gate or sleeps."""

    def __init__(self, compute_s: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[str] = set()
        self.compute_s = compute_s
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, batch: Sequence[int]) -> list[int | ModelportError]:
        self.gate.wait(10)
        self.threads.add(threading.current_thread().name)
        self.batches.append(list(batch))
        time.sleep(self.compute_s)
        return [InvalidArgument(f"inputs[{x}]", "odd") if x < 0 else 2 * x for x in batch]


async def until(condition: Callable[[], bool]) -> None:
    """Let the event loop run until `condition` on the batcher's state holds: ordering, not
    a guess at how long it takes (a batcher that never gets there times the test out)."""
    while not condition():  # noqa: ASYNC110  (the batcher has no event for these states)
        await asyncio.sleep(0.001)


def make(fn: Recorder, **settings: float) -> DynamicBatcher[int, int]:
    batcher: DynamicBatcher[int, int] = DynamicBatcher(
        "m",
        fn,
        BatchingSettings(**settings),
        InferenceMetrics(),
    )
    batcher.start()
    return batcher


async def test_concurrent_callers_share_few_model_calls() -> None:
    fn = Recorder(compute_s=0.02)
    batcher = make(fn, max_batch_size=32)
    results = await asyncio.gather(*(batcher.submit([i]) for i in range(32)))
    assert results == [[2 * i] for i in range(32)]
    assert len(fn.batches) <= 4, fn.batches  # 32 callers, far fewer model calls
    assert max(len(b) for b in fn.batches) > 8
    await batcher.close()


async def test_lone_call_is_dispatched_without_waiting() -> None:
    batcher = make(Recorder(), max_batch_size=32)
    assert await batcher.submit([1, 2, 3]) == [2, 4, 6]
    assert batcher.batches_run == 1
    await batcher.close()


async def test_batches_never_exceed_max_size_and_keep_order() -> None:
    fn = Recorder()
    batcher = make(fn, max_batch_size=4)
    assert await batcher.submit(list(range(10))) == [2 * i for i in range(10)]
    assert all(len(b) <= 4 for b in fn.batches)
    await batcher.close()


async def test_compute_runs_on_the_model_worker_thread() -> None:
    fn = Recorder()
    batcher = make(fn)
    await batcher.submit([1])
    assert fn.threads == {"model-m_0"}
    assert threading.current_thread().name not in fn.threads
    await batcher.close()


async def test_full_queue_is_refused_at_once() -> None:
    fn = Recorder()
    fn.gate.clear()  # the model is stuck: nothing leaves the queue
    batcher = make(fn, max_batch_size=1, max_queue_size=4)
    first = asyncio.create_task(batcher.submit([0]))
    await until(lambda: batcher.batches_run == 1)  # taken into the (blocked) batch
    waiting = asyncio.create_task(batcher.submit([1, 2, 3, 4]))
    await until(lambda: batcher.queue_depth == 4)
    refused = batcher.submit([5])
    with pytest.raises(ResourceExhausted) as info:
        refused.send(None)  # its first step refuses: it never waits for the stuck model
    assert info.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    with pytest.raises(ResourceExhausted):
        batcher.admit(1)  # what handlers ask before they tokenise
    fn.gate.set()
    assert await first == [0]
    assert await waiting == [2, 4, 6, 8]
    await batcher.close()


async def test_cancelled_call_leaves_the_queue_and_is_never_computed() -> None:
    fn = Recorder()
    fn.gate.clear()
    batcher = make(fn, max_batch_size=8)
    busy = asyncio.create_task(batcher.submit([1]))
    await until(lambda: batcher.batches_run == 1)
    doomed = asyncio.create_task(batcher.submit([100, 101]))
    kept = asyncio.create_task(batcher.submit([7]))
    await until(lambda: batcher.queue_depth == 3)
    doomed.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await doomed
    assert batcher.queue_depth == 1
    fn.gate.set()
    assert await busy == [2]
    assert await kept == [14]
    assert all(100 not in b and 101 not in b for b in fn.batches)
    await batcher.close()


async def test_item_error_fails_only_its_caller() -> None:
    fn = Recorder()
    fn.gate.clear()
    batcher = make(fn, max_batch_size=8)
    blocker = asyncio.create_task(batcher.submit([0]))
    await until(lambda: batcher.batches_run == 1)
    bad = asyncio.create_task(batcher.submit([-1]))
    good = asyncio.create_task(batcher.submit([3]))
    await until(lambda: batcher.queue_depth == 2)
    fn.gate.set()
    with pytest.raises(InvalidArgument):
        await bad
    assert await good == [6]
    assert await blocker == [0]
    assert fn.batches[1] == [-1, 3]  # they shared one batch
    await batcher.close()


async def test_failing_batch_fails_every_future_in_it() -> None:
    def broken(batch: Sequence[int]) -> list[int]:
        raise RuntimeError("CUDA out of memory")

    batcher: DynamicBatcher[int, int] = DynamicBatcher(
        "m", broken, BatchingSettings(), InferenceMetrics()
    )
    batcher.start()
    results = await asyncio.gather(*(batcher.submit([i]) for i in range(5)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    # the batcher survives and serves the next call
    batcher._predict = lambda b: list(b)
    assert await batcher.submit([9]) == [9]
    await batcher.close()


async def test_queue_delay_collects_a_fuller_batch_when_idle() -> None:
    fn = Recorder()
    # a delay far longer than the test: the batch is cut because it is full, not late
    batcher = make(fn, max_batch_size=2, max_queue_delay_ms=60_000)
    first = asyncio.create_task(batcher.submit([1]))
    await until(lambda: batcher.queue_depth == 1)
    second = asyncio.create_task(batcher.submit([2]))
    assert await first == [2]
    assert await second == [4]
    assert fn.batches == [[1, 2]]
    await batcher.close()


async def test_a_huge_call_shares_every_batch_with_calls_behind_it() -> None:
    """One call of many inputs must not hold later calls for its whole length: they ride
    in the next batch, calls not served yet first (FIFO put them after all 100 inputs)."""
    fn = Recorder()
    fn.gate.clear()
    batcher = make(fn, max_batch_size=4, adaptive=False)
    huge = asyncio.create_task(batcher.submit(list(range(100))))
    await until(lambda: batcher.batches_run == 1)  # the first batch is on the model
    small = asyncio.create_task(batcher.submit([1000]))
    another = asyncio.create_task(batcher.submit([2000, 2001]))
    await until(lambda: batcher.queue_depth == 96 + 3)
    fn.gate.set()
    assert await small == [2000]
    assert await another == [4000, 4002]
    assert await huge == [2 * i for i in range(100)]
    assert fn.batches[1] == [1000, 2000, 4, 2001], fn.batches[:3]  # calls not served first
    # the huge call's own inputs still run in order
    assert [x for b in fn.batches for x in b if x < 1000] == list(range(100))
    await batcher.close()


async def test_a_cancelled_call_leaves_the_queue_and_others_are_served() -> None:
    fn = Recorder()
    fn.gate.clear()
    batcher = make(fn, max_batch_size=2, adaptive=False)
    first = asyncio.create_task(batcher.submit([1, 2]))
    await until(lambda: batcher.batches_run == 1)
    doomed = asyncio.create_task(batcher.submit(list(range(10, 20))))
    kept = asyncio.create_task(batcher.submit([30]))
    await until(lambda: batcher.queue_depth == 11)
    doomed.cancel()
    await until(lambda: batcher.queue_depth == 1)
    fn.gate.set()
    assert await first == [2, 4]
    assert await kept == [60]
    assert all(x < 10 or x >= 20 for b in fn.batches for x in b), fn.batches
    await batcher.close()


def weighed(
    fn: Recorder, tokens: Callable[[int], int], **settings: float
) -> DynamicBatcher[int, int]:
    batcher: DynamicBatcher[int, int] = DynamicBatcher(
        "m", fn, BatchingSettings(**settings), InferenceMetrics(), tokens=tokens
    )
    batcher.start()
    return batcher


async def test_batches_stay_within_the_token_budget_and_long_inputs_run_alone() -> None:
    """Padded tokens (inputs x the longest) never exceed `max_batch_tokens`; an input over
    the budget still runs, alone; a call's short inputs share batches, shortest first."""
    fn = Recorder()
    lengths = {i: 10 * (i % 7 + 1) for i in range(40)}  # 10..70 tokens
    lengths[99] = 500
    batcher = weighed(fn, lengths.__getitem__, max_batch_size=32, max_batch_tokens=160)
    inputs = [*range(40), 99]
    assert await batcher.submit(inputs) == [2 * i for i in inputs]
    for batch in fn.batches:
        padded = len(batch) * max(lengths[x] for x in batch)
        assert padded <= 160 or batch == [99], fn.batches
    assert [99] in fn.batches
    firsts = [max(lengths[x] for x in b) for b in fn.batches]
    assert firsts == sorted(firsts), fn.batches  # shortest first: long ones run together
    assert len(fn.batches[0]) == 8  # its six 10-token inputs and two of 20: 8 x 20 = 160
    await batcher.close()


async def test_without_a_budget_batches_are_bounded_by_count_only() -> None:
    fn = Recorder()
    batcher = weighed(fn, lambda x: 100, max_batch_size=8, max_batch_tokens=0)
    await batcher.submit(list(range(16)))
    assert [len(b) for b in fn.batches] == [8, 8]
    await batcher.close()


async def test_a_newcomer_starts_the_next_batch_beside_a_budgeted_huge_call() -> None:
    """With a budget the huge call's batches are small; another caller's input starts the
    very next batch (new callers go first). A short one runs alone rather than padded to
    the huge call's length; one of similar length shares the batch."""
    fn = Recorder()
    fn.gate.clear()
    batcher = weighed(fn, lambda x: 4 if x >= 2000 else 60, max_batch_tokens=240)
    huge = asyncio.create_task(batcher.submit(list(range(100)), caller="id:a"))
    await until(lambda: batcher.batches_run == 1)
    short = asyncio.create_task(batcher.submit([2000], caller="id:b"))
    similar = asyncio.create_task(batcher.submit([1000], caller="id:c"))
    await until(lambda: batcher.queue_depth == 96 + 2)
    fn.gate.set()
    assert await short == [4000]
    assert await similar == [2000]
    await huge
    assert fn.batches[:3] == [[0, 1, 2, 3], [2000], [1000, 4, 5, 6]], fn.batches[:3]
    await batcher.close()


async def test_turns_go_by_caller_not_by_call() -> None:
    """One caller's four concurrent calls get no more of a batch than another caller's
    one call: turns alternate between callers (per call, caller a had 4 of every 5)."""
    fn = Recorder()
    fn.gate.clear()
    batcher = make(fn, max_batch_size=4, adaptive=False)
    first = asyncio.create_task(batcher.submit([-1000], caller="id:a"))
    await until(lambda: batcher.batches_run == 1)
    many = [
        asyncio.create_task(batcher.submit(list(range(10 * c, 10 * c + 8)), caller="id:a"))
        for c in range(1, 5)
    ]
    other = asyncio.create_task(batcher.submit([500, 501, 502, 503], caller="id:b"))
    await until(lambda: batcher.queue_depth == 4 * 8 + 4)
    fn.gate.set()
    with contextlib.suppress(InvalidArgument):
        await first
    assert await other == [1000, 1002, 1004, 1006]
    await asyncio.gather(*many)
    second, third = fn.batches[1], fn.batches[2]
    assert sorted(x >= 500 for x in second) == [False, False, True, True], fn.batches[:3]
    assert sorted(x >= 500 for x in third) == [False, False, True, True], fn.batches[:3]
    # caller a's own turns go round its calls
    assert {x // 10 for x in [*second, *third] if x < 500} == {1, 2, 3, 4}, fn.batches[:3]
    await batcher.close()


async def test_the_fair_share_key_of_the_call_served_is_the_default() -> None:
    from modelport.serving.calls import fair_share

    fn = Recorder()
    fn.gate.clear()
    batcher = make(fn, max_batch_size=2, adaptive=False)
    first = asyncio.create_task(batcher.submit([1]))
    await until(lambda: batcher.batches_run == 1)

    async def as_caller(key: str, items: list[int]) -> list[int]:
        fair_share.set(key)  # what the interceptors do for each call
        return await batcher.submit(items)

    a = asyncio.create_task(as_caller("id:a", [10, 11, 12]))
    await until(lambda: batcher.queue_depth == 3)
    b = asyncio.create_task(as_caller("id:b", [20]))
    await until(lambda: batcher.queue_depth == 4)
    fn.gate.set()
    await asyncio.gather(first, a, b)
    assert sorted(fn.batches[1]) == [10, 20], fn.batches
    await batcher.close()


async def test_background_pieces_run_only_while_no_input_waits() -> None:
    fn = Recorder()
    fn.gate.clear()
    batcher = make(fn, adaptive=False)
    order: list[str] = []
    first = asyncio.create_task(batcher.submit([1]))
    await until(lambda: batcher.batches_run == 1)  # the first batch runs (held by the gate)

    def piece_of_work() -> str:
        order.append("piece")
        return "done"

    piece = asyncio.create_task(batcher.run_idle(piece_of_work))
    second = asyncio.create_task(batcher.submit([2]))
    await until(lambda: batcher.queue_depth == 1)
    fn.gate.set()
    assert await piece == "done"
    assert await first == [2]
    assert await second == [4]
    assert fn.batches == [[1], [2]]  # the input queued after the piece still went first
    assert order == ["piece"]
    assert batcher.idle_pieces_run == 1
    await batcher.close()


async def test_a_cancelled_background_piece_never_runs_and_close_fails_the_rest() -> None:
    fn = Recorder()
    fn.gate.clear()
    batcher = make(fn)
    ran: list[int] = []
    busy = asyncio.create_task(batcher.submit([1]))
    await until(lambda: batcher.batches_run == 1)
    cancelled = asyncio.create_task(batcher.run_idle(lambda: ran.append(1)))
    waiting = asyncio.create_task(batcher.run_idle(lambda: ran.append(2)))
    await asyncio.sleep(0)
    cancelled.cancel()
    await batcher.close()
    fn.gate.set()
    with pytest.raises(ModelportError) as failed:
        await waiting
    assert failed.value.code == grpc.StatusCode.UNAVAILABLE
    assert ran == []
    assert cancelled.cancelled()
    with contextlib.suppress(ModelportError):
        await busy

"""Dynamic batching: one queue and one worker thread per model.

Inputs of many calls are queued; a collector cuts a batch of at most `max_batch_size`
inputs and runs it on the model's worker thread. While the model computes, new inputs
accumulate and form the next batch, so a lone call is dispatched at once (no fixed
collection window on the critical path) and a busy model still gets full batches.
Adaptive filling (on by default) keeps those batches full: right after a batch of N, the
collector waits (at most half that batch's compute time) for N inputs, because the
callers just answered come straight back; without it a busy model alternates between
full batches and batches of the one or two inputs that arrived first.
`max_queue_delay_ms` optionally waits a fixed time for a fuller batch when idle.

Batches are cut fairly, by caller and by work:

- Each caller (its fair-share key, `serving.calls.fair_share`: the authenticated identity,
  or the connection of an unauthenticated caller, as the router forwards it) has a flow,
  and within it each call has a queue. A batch takes one input from each waiting caller
  in turn, and a caller's turns go round its calls, so one identity's 1,024-input call
  (or its hundred concurrent calls) shares every batch with another identity's one
  sentence instead of holding it for its whole length (a single input behind such a
  call used to wait 16 s).
  Callers with nothing served yet go before the others (FQ-CoDel's "new flows"), so a
  newcomer's input starts the very next batch.
- A batch is bounded by work, not only by count: `max_batch_tokens` bounds its padded
  tokens (inputs x the longest of them, as the model pads it), and its inputs are of
  similar length (the longest at most `LENGTH_SPREAD` times the shortest). A long input
  therefore runs in a small batch and short ones in big batches, and a batch already
  running never holds a newcomer for long: it waits for that batch, then its short
  input runs without a document's padding. A call's inputs are queued shortest first,
  so its short inputs share batches and its long ones run together. An input longer
  than the budget runs alone. `max_batch_tokens: 0` turns all of this off (batches
  bounded by count only).

Each input has its own future; a failing batch fails every future in it; a cancelled
call takes its inputs out of the queue; a full queue refuses a call at once with
RESOURCE_EXHAUSTED.

Background work (explanations) runs on the same worker thread at a lower priority
(`run_idle`): one piece at a time, and only while no input waits, so an inference call
waits at most for the one piece running when it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace

from modelport.inference.metrics import InferenceMetrics
from modelport.inference.scheduling import refuse_if_full
from modelport.inference.settings import BatchingSettings
from modelport.inference.stats import ModelStats
from modelport.serving.calls import fair_share
from modelport.serving.errors import ModelportError, Unavailable

In = TypeVar("In")
Out = TypeVar("Out")

log = logging.getLogger(__name__)

LENGTH_SPREAD = 4
"""Under a token budget, an input joins a batch only if the batch's longest input is at
most this many times its shortest: a one-sentence call is not padded to the length of a
document and does not wait for the document's compute (it runs in a batch of its own)."""
QUEUE_FULL_RETRY_AFTER_S = 0.1
"""RetryInfo hint of a call shed because the queue was full: a batch or two drains it."""


@dataclass(eq=False)
class _Entry(Generic[In, Out]):
    item: In
    future: asyncio.Future[Out]
    enqueued: float
    context: otel_context.Context | None = None
    enqueued_ns: int = 0
    tokens: int = 0
    """What the input weighs against `max_batch_tokens` (0: not counted)."""


class _Flow(Generic[In, Out]):
    """The waiting inputs of one caller: a queue per call, served round robin, calls not
    served yet first (like callers)."""

    def __init__(self) -> None:
        self._new: OrderedDict[int, deque[_Entry[In, Out]]] = OrderedDict()
        self._old: OrderedDict[int, deque[_Entry[In, Out]]] = OrderedDict()

    def __bool__(self) -> bool:
        return bool(self._new or self._old)

    def add(self, call: int, entries: deque[_Entry[In, Out]]) -> None:
        self._new[call] = entries

    def remove(self, call: int) -> deque[_Entry[In, Out]] | None:
        return self._new.pop(call, None) or self._old.pop(call, None)

    def queues(self) -> list[deque[_Entry[In, Out]]]:
        return [*self._new.values(), *self._old.values()]

    def peek(self) -> _Entry[In, Out]:
        return next(iter(self._new.values() or self._old.values()))[0]

    def pop(self) -> _Entry[In, Out]:
        """The next input of the call whose turn it is; that call goes to the back."""
        line = self._new or self._old
        call, waiting = next(iter(line.items()))
        entry = waiting.popleft()
        del line[call]
        if waiting:
            self._old[call] = waiting
        return entry


def _fits(count: int, shortest: int, longest: int, tokens: int, budget: int) -> bool:
    """Whether an input of `tokens` may join a batch of `count` inputs of `shortest` to
    `longest` tokens under a padded-token `budget`."""
    if (count + 1) * max(longest, tokens) > budget:
        return False
    if not tokens or not shortest:  # inputs without tokens are not compared
        return True
    return max(longest, tokens) <= LENGTH_SPREAD * min(shortest, tokens)


class DynamicBatcher(Generic[In, Out]):
    """Batches inputs of concurrent calls for one model."""

    def __init__(
        self,
        name: str,
        predict: Callable[[Sequence[In]], Sequence[Out | ModelportError]],
        settings: BatchingSettings,
        metrics: InferenceMetrics,
        *,
        tracer: trace.Tracer | None = None,
        tokens: Callable[[In], int] | None = None,
    ) -> None:
        self.name = name
        self._tracer = tracer
        self._predict = predict
        self._settings = settings
        self._metrics = metrics
        self._tokens = tokens
        """An input's tokens (what `max_batch_tokens` counts); None: inputs are not counted."""
        self._new: OrderedDict[str, _Flow[In, Out]] = OrderedDict()
        """Callers with inputs waiting and none served yet, by fair-share key, by arrival."""
        self._old: OrderedDict[str, _Flow[In, Out]] = OrderedDict()
        """The other callers with inputs waiting, served round robin after the new ones."""
        self._queued = 0
        self._next_call = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"model-{name}")
        self._wakeup: asyncio.Event | None = None
        self._collector: asyncio.Task[None] | None = None
        self._running: list[_Entry[In, Out]] = []
        self._idle: deque[tuple[Callable[[], Any], asyncio.Future[Any]]] = deque()
        """Background pieces waiting for the model to be idle (`run_idle`), in order."""
        self.stats = ModelStats()
        self.batches_run = 0
        """How many times the model was called (for tests and statistics)."""
        self.idle_pieces_run = 0
        """How many background pieces (`run_idle`) ran (for tests and statistics)."""

    def start(self) -> None:
        """Start the collector; call from inside the running event loop."""
        self._wakeup = asyncio.Event()
        self._collector = asyncio.create_task(self._collect(), name=f"batcher-{self.name}")

    @property
    def queue_depth(self) -> int:
        return self._queued

    async def _run_on_worker(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def admit(self, count: int) -> None:
        """Refuse at once with RESOURCE_EXHAUSTED if `count` more inputs would overflow the
        queue. Handlers call it before preparing inputs, so shedding costs no tokenising
        and no thread hop; `submit` checks again."""
        refuse_if_full(
            self.name,
            self._metrics,
            waiting=self._queued,
            count=count,
            limit=self._settings.max_queue_size,
            unit="inputs",
            retry_after_s=QUEUE_FULL_RETRY_AFTER_S,
        )

    async def submit(self, items: Sequence[In], caller: str | None = None) -> list[Out]:
        """Queue `items`, wait for their outputs (in order). Raises the first item error.
        `caller`: whose work it is (default: the fair-share key of the call served)."""
        if self._collector is None or self._wakeup is None:
            raise Unavailable(f"model {self.name!r} is not accepting requests")
        self.admit(len(items))
        loop = asyncio.get_running_loop()
        now = time.perf_counter()
        context = otel_context.get_current() if self._tracer else None
        now_ns = time.time_ns()
        weigh = self._tokens
        entries = [
            _Entry[In, Out](
                item, loop.create_future(), now, context, now_ns, weigh(item) if weigh else 0
            )
            for item in items
        ]
        key = fair_share.get() if caller is None else caller
        call = self._next_call
        self._next_call += 1
        if entries:
            flow = self._new.get(key) or self._old.get(key)
            if flow is None:
                flow = self._new[key] = _Flow()
            flow.add(call, deque(sorted(entries, key=lambda e: e.tokens)))
            self._queued += len(entries)
        self._metrics.queue_depth.labels(self.name).set(self._queued)
        self._wakeup.set()
        try:
            results = await asyncio.gather(*(e.future for e in entries), return_exceptions=True)
        except asyncio.CancelledError:
            self._withdraw(key, call)
            raise
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results  # type: ignore[return-value]

    async def run_idle(self, piece: Callable[[], Any]) -> Any:
        """Run `piece` on the model's worker thread when no input is queued, and return
        its result: background work that every inference call goes before. Cancelling
        the caller withdraws a piece not started yet (one running finishes)."""
        if self._collector is None or self._wakeup is None:
            raise Unavailable(f"model {self.name!r} is not accepting requests")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._idle.append((piece, future))
        self._wakeup.set()
        return await future

    async def _run_idle_piece(self) -> None:
        piece, future = self._idle.popleft()
        if future.done():  # its caller was cancelled while it waited
            return
        self.idle_pieces_run += 1
        try:
            result = await self._run_on_worker(piece)
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(result)

    async def warm_up(self, items: Sequence[In]) -> None:
        """Run `items` as one call (the model's warm-up batch)."""
        if items:
            await self.submit(items)

    def _withdraw(self, key: str, call: int) -> None:
        """Take a cancelled call's waiting inputs out of the queue."""
        line = self._new if key in self._new else self._old
        flow = line.get(key)
        waiting = flow.remove(call) if flow is not None else None
        if flow is not None and not flow:
            del line[key]
        if waiting:
            self._queued -= len(waiting)
            for entry in waiting:
                entry.future.cancel()
        self._metrics.queue_depth.labels(self.name).set(self._queued)

    def _oldest(self) -> float:
        flows = [*self._new.values(), *self._old.values()]
        return min(w[0].enqueued for flow in flows for w in flow.queues())

    def _cut(self, size: int, budget: int) -> list[_Entry[In, Out]]:
        """Up to `size` inputs, one from each waiting caller in turn: first the callers
        not yet served (in arrival order), then the others; a caller served goes to the
        back of the line. With a `budget`, the batch's padded tokens (count x longest)
        stay within it (the first input always goes) and its inputs are of similar length
        (within `LENGTH_SPREAD`); a caller whose next input does not fit keeps its place,
        so a later batch starts with it."""
        batch: list[_Entry[In, Out]] = []
        shortest, longest = 0, 0
        taken = True
        while (self._new or self._old) and len(batch) < size and taken:
            taken = False
            for key in [*self._new, *self._old]:
                if len(batch) == size:
                    break
                flow = self._new.get(key) or self._old[key]
                tokens = flow.peek().tokens
                if batch and budget and not _fits(len(batch), shortest, longest, tokens, budget):
                    continue
                entry = flow.pop()
                taken = True
                self._queued -= 1
                self._new.pop(key, None)
                self._old.pop(key, None)
                if flow:
                    self._old[key] = flow
                if not entry.future.done():  # a cancelled call's input is dropped
                    batch.append(entry)
                    longest = max(longest, tokens)
                    shortest = min(shortest, tokens) if shortest else tokens
        return batch

    async def _collect(self) -> None:
        assert self._wakeup is not None
        max_batch = self._settings.max_batch_size
        delay = self._settings.max_queue_delay_ms / 1000
        last_size, last_end, last_compute = 0, 0.0, 0.0
        while True:
            while not self._queued:
                if self._idle:
                    await self._run_idle_piece()
                    continue
                self._wakeup.clear()
                await self._wakeup.wait()
            if delay:
                await self._fill(max_batch, self._oldest() + delay)
            if self._settings.adaptive and last_size > 1:
                # The callers of the last batch were just answered and usually come straight
                # back: wait briefly for as many inputs rather than run a tiny batch first.
                await self._fill(min(last_size, max_batch), last_end + last_compute / 2)
            batch = self._cut(max_batch, self._settings.max_batch_tokens)
            self._metrics.queue_depth.labels(self.name).set(self._queued)
            if batch:
                start = time.perf_counter()
                await self._run(batch)
                last_end = time.perf_counter()
                last_size, last_compute = len(batch), last_end - start

    async def _fill(self, size: int, deadline: float) -> None:
        """Wait until `size` inputs are queued or `deadline` (perf_counter) passes."""
        assert self._wakeup is not None
        while self._queued < size and (left := deadline - time.perf_counter()) > 0:
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), left)

    async def _run(self, batch: list[_Entry[In, Out]]) -> None:
        start = time.perf_counter()
        waited = 0.0
        for entry in batch:
            self._metrics.queue_duration.labels(self.name).observe(start - entry.enqueued)
            waited += start - entry.enqueued
        self._metrics.batch_size.labels(self.name).observe(len(batch))
        self.batches_run += 1
        self._running = batch
        try:
            outputs = await self._run_on_worker(self._predict, [e.item for e in batch])
            if len(outputs) != len(batch):
                raise RuntimeError(f"model returned {len(outputs)} outputs for {len(batch)} inputs")
        except Exception as exc:
            log.exception("batch of %d failed in model %s", len(batch), self.name)
            for entry in batch:
                if not entry.future.done():
                    entry.future.set_exception(exc)
        else:
            for entry, output in zip(batch, outputs, strict=True):
                if entry.future.done():
                    continue
                if isinstance(output, ModelportError):
                    entry.future.set_exception(output)
                else:
                    entry.future.set_result(output)
        finally:
            self._running = []
            compute = time.perf_counter() - start
            self._metrics.compute_duration.labels(self.name).observe(compute)
            self.stats.executed(len(batch), waited, compute)
            self._trace(batch, compute)

    def _trace(self, batch: list[_Entry[In, Out]], compute_s: float) -> None:
        """A queue span and a compute span under each caller's span (after the fact, with
        the measured times), the compute span carrying the batch size."""
        if self._tracer is None:
            return
        end = time.time_ns()
        started = end - int(compute_s * 1e9)
        seen: set[int] = set()
        for entry in batch:
            if entry.context is None or id(entry.context) in seen:
                continue
            seen.add(id(entry.context))  # one pair of spans per call, not per input
            attributes: dict[str, str | int] = {
                "modelport.model": self.name,
                "modelport.batch_size": len(batch),
            }
            self._tracer.start_span(
                "queue",
                context=entry.context,
                start_time=entry.enqueued_ns,
                attributes={"modelport.model": self.name},
            ).end(started)
            self._tracer.start_span(
                "compute", context=entry.context, start_time=started, attributes=attributes
            ).end(end)

    async def close(self) -> None:
        """Stop collecting; calls still queued or running get UNAVAILABLE; the worker is
        released."""
        running = list(self._running)  # cancelling the collector clears `_running`
        if self._collector is not None:
            self._collector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._collector
            self._collector = None
        flows = [*self._new.values(), *self._old.values()]
        waiting = [e for flow in flows for w in flow.queues() for e in w]
        for entry in [*running, *waiting]:
            if not entry.future.done():
                entry.future.set_exception(Unavailable(f"model {self.name!r} was unloaded"))
        for _, future in self._idle:
            if not future.done():
                future.set_exception(Unavailable(f"model {self.name!r} was unloaded"))
        self._idle.clear()
        self._new.clear()
        self._old.clear()
        self._queued = 0
        self._executor.shutdown(wait=False)

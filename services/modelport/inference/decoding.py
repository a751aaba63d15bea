"""Batched decoding: the scheduler of a generative model.

`DecodeLoop` runs one decoding loop and one worker thread per model. A call's
generations wait for a slot in the running batch (bounded by `max_running` and a KV
budget, `max_kv_tokens`), join it at the next token step (the model prefills their
prompt) and leave it when they finish or their caller goes away, so concurrent
generations share every forward pass. Each step runs on the model's worker thread:
the model's forward pass, then, per sequence, the new token's text (incremental
detokenisation), stop sequences and finish rules. The event loop only admits work and
hands chunks of text to callers.

Torch-free: the model behind the loop is a `Decoder` (the NLP service's generative
runtimes); what a sequence holds for the model (KV cache, sampling state) is opaque here.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelport.inference.metrics import InferenceMetrics
from modelport.inference.scheduling import refuse_if_full
from modelport.inference.settings import GenerationSettings
from modelport.inference.stats import ModelStats
from modelport.serving.errors import Unavailable

log = logging.getLogger(__name__)


class FinishReason(enum.Enum):
    LENGTH = "length"
    EOS = "eos"
    STOP_SEQUENCE = "stop_sequence"


@dataclass(frozen=True)
class GenerationParams:
    max_new_tokens: int
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    stop_ids: frozenset[int] = frozenset()
    """Tokens that end the sequence as end-of-sequence does (a chat template's end of
    turn), beside the model's own `eos_ids`."""


@dataclass(frozen=True)
class Prompt:
    """One generation to run: prompt token ids and decoding parameters."""

    ids: list[int]
    params: GenerationParams


@dataclass(frozen=True)
class Chunk:
    """New text of one sequence; `finish` set on its last chunk."""

    text: str
    finish: FinishReason | None
    input_tokens: int
    output_tokens: int


class Detokenizer:
    """The text of a growing token sequence, piece by piece, as TGI and vLLM produce it.

    Each call decodes only a window: the tokens since `prefix_offset`, compared with the
    text of the tokens up to `read_offset` (the previous piece). The difference is the
    new text. Decoding a little context before the new tokens keeps what a tokenizer does
    at the start of a decode (SentencePiece drops a leading space) from leaking into the
    middle of the text. A piece that ends in U+FFFD (an incomplete UTF-8 character, or
    byte-fallback tokens still to come) is held back until the next token completes it;
    `final` releases it. The pieces concatenate to `decode(all ids)`.
    """

    def __init__(self, decode: Callable[[Sequence[int]], str]) -> None:
        self._decode = decode
        self.prefix_offset = 0
        self.read_offset = 0

    def next(self, ids: Sequence[int], *, final: bool = False) -> str:
        """New text of `ids` (the whole sequence so far) since the last piece."""
        prefix = self._decode(ids[self.prefix_offset : self.read_offset])
        text = self._decode(ids[self.prefix_offset :])
        if len(text) > len(prefix) and (final or not text.endswith("\ufffd")):
            self.prefix_offset, self.read_offset = self.read_offset, len(ids)
            return text[len(prefix) :]
        return ""


@dataclass(eq=False)
class GenSequence:
    """Loop-side state of one generation."""

    prompt: list[int]
    params: GenerationParams
    queue: asyncio.Queue[tuple[int, Chunk] | BaseException]
    """Where its chunks go: the queue of its call, shared with the call's other prompts."""
    index: int = 0
    """Its prompt's position in its call."""
    generated: list[int] = field(default_factory=list)
    cache: Any = None
    """Model-specific KV state (set at prefill)."""
    generator: Any = None
    """Model-specific sampling state (a seeded random generator)."""
    detokenizer: Detokenizer | None = None
    pending: str = ""
    """Decoded text not sent yet: it may be the start of a stop sequence."""
    enqueued: float = 0.0
    cancelled: bool = False
    finished: bool = False


class Decoder(Protocol):
    """What the loop needs of a generative model. `step` and `detokenize` run on the
    loop's worker thread."""

    eos_ids: set[int]

    def step(self, joining: list[GenSequence], running: list[GenSequence]) -> list[int]:
        """Prefill `joining`, decode `running` in one forward pass; the next token of each
        (joining first, then running)."""
        ...

    def detokenize(self, ids: Sequence[int]) -> str:
        """Text of `ids`, special tokens skipped."""
        ...


class Generations:
    """The generations of one call: `(prompt index, chunk)` pairs in the order the loop
    produces them; each prompt's last chunk has `finish` set. `close()` takes every
    generation still waiting or running out of the loop (call it when the caller goes
    away; after the last chunk it does nothing)."""

    def __init__(self, loop: DecodeLoop, seqs: list[GenSequence]) -> None:
        self._loop = loop
        self._seqs = seqs
        self._open = len(seqs)

    def __aiter__(self) -> Generations:
        return self

    async def __anext__(self) -> tuple[int, Chunk]:
        if not self._open:
            raise StopAsyncIteration
        item = await self._seqs[0].queue.get()
        if isinstance(item, BaseException):
            self._open = 0
            raise item
        if item[1].finish is not None:
            self._open -= 1
        return item

    def close(self) -> None:
        for seq in self._seqs:
            self._loop.leave(seq)


class DecodeLoop:
    """The scheduler of one generative model."""

    def __init__(
        self,
        name: str,
        model: Decoder,
        settings: GenerationSettings,
        metrics: InferenceMetrics,
    ) -> None:
        self.name = name
        self._model = model
        self._settings = settings
        self._metrics = metrics
        self._waiting: deque[GenSequence] = deque()
        self._running: list[GenSequence] = []
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"model-{name}")
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.stats = ModelStats()

    def start(self) -> None:
        """Start the loop; call from inside the running event loop."""
        self._wakeup = asyncio.Event()
        self._task = asyncio.create_task(self._loop(), name=f"decode-{self.name}")

    @property
    def queue_depth(self) -> int:
        """Generations waiting for a slot in the running batch."""
        return len(self._waiting)

    @property
    def running(self) -> int:
        """Sequences in the running batch."""
        return len(self._running)

    def admit(self, count: int) -> None:
        """Refuse at once with RESOURCE_EXHAUSTED if `count` more generations would
        overflow the waiting queue (`max_waiting`). Handlers call it before tokenising;
        `submit` checks again."""
        refuse_if_full(
            self.name,
            self._metrics,
            waiting=len(self._waiting),
            count=count,
            limit=self._settings.max_waiting,
            unit="generations",
            retry_after_s=1.0,
        )

    def submit(self, prompts: Sequence[list[int]], params: GenerationParams) -> Generations:
        """Queue one generation per prompt, all or none; their chunks come through the
        returned `Generations` (close it when done)."""
        if self._wakeup is None:
            raise Unavailable(f"model {self.name!r} is not accepting requests")
        self.admit(len(prompts))
        queue: asyncio.Queue[tuple[int, Chunk] | BaseException] = asyncio.Queue()
        now = time.perf_counter()
        seqs = [
            GenSequence(
                ids,
                params,
                queue,
                index=i,
                detokenizer=Detokenizer(self._model.detokenize),
                enqueued=now,
            )
            for i, ids in enumerate(prompts)
        ]
        self._waiting.extend(seqs)
        self._metrics.queue_depth.labels(self.name).set(len(self._waiting))
        self._wakeup.set()
        return Generations(self, seqs)

    async def warm_up(self, items: Sequence[Prompt]) -> None:
        """Generate each prompt to its end (the model's warm-up)."""
        for prompt in items:
            generations = self.submit([prompt.ids], prompt.params)
            try:
                async for _ in generations:
                    pass
            finally:
                generations.close()

    def leave(self, seq: GenSequence) -> None:
        """Take `seq` out: at once if it is waiting, at the next step if it is running."""
        if seq.finished or seq.cancelled:
            return
        seq.cancelled = True
        with contextlib.suppress(ValueError):
            self._waiting.remove(seq)
            self._metrics.queue_depth.labels(self.name).set(len(self._waiting))
        if self._wakeup is not None:
            self._wakeup.set()

    def _cost(self, seq: GenSequence) -> int:
        return len(seq.prompt) + seq.params.max_new_tokens

    def _join(self) -> list[GenSequence]:
        """The waiting generations that fit in the running batch now, oldest first."""
        joining: list[GenSequence] = []
        budget = sum(self._cost(s) for s in self._running)
        while self._waiting and len(self._running) + len(joining) < self._settings.max_running:
            cost = self._cost(self._waiting[0])
            if budget + cost > self._settings.max_kv_tokens and (self._running or joining):
                break
            joining.append(self._waiting.popleft())
            budget += cost
        if joining:
            self._metrics.queue_depth.labels(self.name).set(len(self._waiting))
        return joining

    async def _loop(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        name = self.name
        while True:
            self._running = [s for s in self._running if not s.cancelled]
            if not self._waiting and not self._running:
                self._metrics.generation_running.labels(name).set(0)
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            joining = self._join()
            running = self._running
            self._running = [*running, *joining]
            self._metrics.generation_running.labels(name).set(len(self._running))
            start = time.perf_counter()
            waited = 0.0
            for seq in joining:
                self._metrics.queue_duration.labels(name).observe(start - seq.enqueued)
                waited += start - seq.enqueued
            try:
                chunks, tokens = await loop.run_in_executor(
                    self._executor, self._step, joining, running
                )
            except Exception as exc:
                log.exception("generation step failed in model %s", name)
                for seq in self._running:
                    seq.finished = True
                    seq.queue.put_nowait(exc)
                self._running = []
                continue
            compute = time.perf_counter() - start
            self._metrics.compute_duration.labels(name).observe(compute)
            self._metrics.batch_size.labels(name).observe(len(joining) + len(running))
            self.stats.executed(len(joining) + len(running), waited, compute)
            if running:
                self._metrics.generation_steps.labels(name).inc()
            self._metrics.generated_tokens.labels(name).inc(tokens)
            for seq, chunk in zip([*joining, *running], chunks, strict=True):
                if chunk is not None and not seq.cancelled:
                    seq.queue.put_nowait((seq.index, chunk))
            self._running = [s for s in self._running if not s.finished]

    def _step(
        self, joining: list[GenSequence], running: list[GenSequence]
    ) -> tuple[list[Chunk | None], int]:
        """One forward pass and its text (on the worker thread): a chunk or None per
        sequence, and how many tokens were generated."""
        batch = [*joining, *running]
        tokens = self._model.step(joining, running)
        before = sum(len(s.generated) for s in batch)
        chunks = [self._advance(seq, token) for seq, token in zip(batch, tokens, strict=True)]
        return chunks, sum(len(s.generated) for s in batch) - before

    def _advance(self, seq: GenSequence, token: int) -> Chunk | None:
        """Record one token; return the new text that is safe to send, or None; finish
        when a rule says so."""
        assert seq.detokenizer is not None
        finish = None
        if token in self._model.eos_ids or token in seq.params.stop_ids:
            finish = FinishReason.EOS
        else:
            seq.generated.append(token)
            if len(seq.generated) >= seq.params.max_new_tokens:
                finish = FinishReason.LENGTH
        seq.pending += seq.detokenizer.next(seq.generated, final=finish is not None)
        # Sent text never holds the start of a stop sequence (see below), so a stop can
        # only begin in the pending text.
        text, end = seq.pending, len(seq.pending)
        for stop in seq.params.stop:
            at = text.find(stop)
            if at != -1 and at < end:
                end, finish = at, FinishReason.STOP_SEQUENCE
        if finish is None:
            end = min([end, *(end - _stop_prefix(text, stop) for stop in seq.params.stop)])
        new, seq.pending = text[:end], text[end:]
        if finish is not None:
            seq.finished = True
        if new or finish is not None:
            return Chunk(new, finish, len(seq.prompt), len(seq.generated))
        return None

    async def close(self) -> None:
        """Stop the loop; waiting and running generations get UNAVAILABLE; the worker is
        released."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._wakeup = None
        for seq in [*self._waiting, *self._running]:
            if not seq.finished:
                seq.finished = True
                seq.queue.put_nowait(Unavailable(f"model {self.name!r} was unloaded"))
        self._waiting.clear()
        self._running = []
        self._metrics.queue_depth.labels(self.name).set(0)
        self._metrics.generation_running.labels(self.name).set(0)
        self._executor.shutdown(wait=False)


def _stop_prefix(text: str, stop: str) -> int:
    """Length of the longest end of `text` that may become `stop` (a proper prefix)."""
    for k in range(min(len(stop) - 1, len(text)), 0, -1):
        if text.endswith(stop[:k]):
            return k
    return 0

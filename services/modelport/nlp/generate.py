"""Text generation with batched decoding.

`GenerationEngine` runs one decoding loop per model. Requests join the running batch at
the next token step (their prompt is prefilled) and leave it when they finish or their
caller goes away, so concurrent generations share every forward pass. Each sequence
keeps its own KV cache; at each step the caches are left-padded into one batch, the
model runs once, and the caches are split back. All model work runs on the model's
worker thread; the event loop only moves text to callers.

Runtimes: `hf-causal-lm` (AutoModelForCausalLM) and `hf-seq2seq` (AutoModelForSeq2SeqLM,
for summarise/translate prompts: the encoder runs once at prefill, the decoder steps are
batched the same way, with cross-attention caches padded on the right).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer, DynamicCache
from transformers.cache_utils import EncoderDecoderCache

from modelport.inference.metrics import InferenceMetrics
from modelport.inference.model import Model, ModelMetadata, TensorSpec
from modelport.ml.device import select_device
from modelport.serving.catalog import Task
from modelport.serving.errors import InvalidArgument, ModelportError, ResourceExhausted, Unavailable

from .settings import GenerativeOptions

log = logging.getLogger(__name__)

KV = list[tuple[torch.Tensor, torch.Tensor]]


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


@dataclass(frozen=True)
class Chunk:
    """New text of one sequence; `finish` set on its last chunk."""

    text: str
    finish: FinishReason | None
    input_tokens: int
    output_tokens: int


@dataclass(eq=False)
class GenSequence:
    """Engine-side state of one generation."""

    prompt: list[int]
    params: GenerationParams
    queue: asyncio.Queue[Chunk | BaseException]
    generated: list[int] = field(default_factory=list)
    cache: Any = None
    """Runtime-specific KV state (set at prefill)."""
    generator: torch.Generator | None = None
    cancelled: bool = False
    finished: bool = False
    emitted: int = 0


class GenerativeModel(Model[Any, Any]):
    """Base of the generation runtimes: tokenizer, sampling, text streaming."""

    task = Task.TEXT_GENERATION
    options: GenerativeOptions
    eos_ids: set[int]
    model: Any
    tokenizer: Any
    device: torch.device
    max_context: int

    def load_tokenizer(self, root: Any) -> None:
        self.tokenizer = AutoTokenizer.from_pretrained(root, local_files_only=True)
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = next(iter(self.eos_ids), 0)

    def metadata(self) -> ModelMetadata:
        return ModelMetadata(
            task=self.task,
            inputs=(TensorSpec("prompt", "BYTES", (-1,)),),
            outputs=(TensorSpec("text", "BYTES", (-1,)),),
            properties={"max_context": str(self.max_context)},
        )

    def encode_prompts(self, prompts: Sequence[str]) -> list[list[int]]:
        """Prompt token ids (preprocess thread)."""
        return [list(ids) for ids in self.tokenizer(list(prompts), verbose=False)["input_ids"]]

    def predict_batch(self, batch: Sequence[Any]) -> Sequence[Any | ModelportError]:
        raise NotImplementedError("generation runs through GenerationEngine")

    # -- work done on the model thread --------------------------------------------------
    def prefill(self, seq: GenSequence) -> torch.Tensor:
        """Run the prompt; set `seq.cache`; return next-token logits `[vocab]`."""
        raise NotImplementedError

    def decode(self, seqs: list[GenSequence]) -> torch.Tensor:
        """One batched step for sequences with a cache; return logits `[batch, vocab]`."""
        raise NotImplementedError

    def step(self, joining: list[GenSequence], running: list[GenSequence]) -> list[int]:
        """Prefill `joining`, decode `running` in one forward pass; next token of each
        (joining first, then running)."""
        with torch.inference_mode():
            rows = [self.prefill(seq) for seq in joining]
            if running:
                rows += list(self.decode(running))
            return [
                choose(logits, seq) for logits, seq in zip(rows, [*joining, *running], strict=True)
            ]

    async def load(self) -> None:
        await super().load()
        await asyncio.to_thread(self.warmup)  # before READY: the first call is not slow

    def warmup(self) -> None:
        seq = GenSequence(self.encode_prompts(["Hello"])[0], GenerationParams(2), asyncio.Queue())
        token = self.step([seq], [])[0]
        seq.generated.append(token)
        self.step([], [seq])


def choose(logits: torch.Tensor, seq: GenSequence) -> int:
    """Next token from `[vocab]` logits with the sequence's decoding parameters."""
    p = seq.params
    # float64: a tiny temperature or penalty in float32 would round to 0 and make 0/0.
    logits = logits.double()
    if p.repetition_penalty != 1.0:
        seen = torch.tensor(sorted(set(seq.prompt + seq.generated)), dtype=torch.long)
        picked = logits[seen]
        logits[seen] = torch.where(
            picked > 0, picked / p.repetition_penalty, picked * p.repetition_penalty
        )
    if not p.do_sample:
        return int(logits.argmax())
    # A tiny temperature or penalty that still overflows to ±inf is clamped: inf - inf in
    # the softmax would be NaN. The limit of a tiny temperature is greedy decoding.
    finite = torch.finfo(logits.dtype)
    logits = (logits / p.temperature).clamp(finite.min, finite.max)
    if p.top_k:
        kth = torch.topk(logits, min(p.top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = logits.softmax(-1)
    if p.top_p < 1.0:
        sorted_probs, order = probs.sort(descending=True)
        keep = sorted_probs.cumsum(0) - sorted_probs < p.top_p
        mask = torch.zeros_like(probs, dtype=torch.bool)
        mask[order[keep]] = True
        probs = probs.masked_fill(~mask, 0.0)
        probs = probs / probs.sum()
    if seq.generator is None:
        seq.generator = torch.Generator()
        seq.generator.manual_seed(p.seed if p.seed is not None else torch.seed())
    return int(torch.multinomial(probs, 1, generator=seq.generator))


def _left_pad(tensors: list[torch.Tensor], length: int) -> torch.Tensor:
    return torch.cat([F.pad(t, (0, 0, length - t.shape[2], 0)) for t in tensors])


def _stack_kv(caches: list[KV], length: int) -> KV:
    layers = len(caches[0])
    return [
        (_left_pad([c[i][0] for c in caches], length), _left_pad([c[i][1] for c in caches], length))
        for i in range(layers)
    ]


def _split_kv(cache: Any, lengths: list[int], width: int) -> list[KV]:
    """Per-sequence caches from a batched cache of `width` positions (left-padded)."""
    layers = [(layer.keys, layer.values) for layer in cache.layers]
    return [
        [(k[row : row + 1, :, width - n :], v[row : row + 1, :, width - n :]) for k, v in layers]
        for row, n in enumerate(lengths)
    ]


def _kv_of(cache: Any) -> KV:
    return [(layer.keys, layer.values) for layer in cache.layers]


class CausalLM(GenerativeModel):
    """`runtime: hf-causal-lm`."""

    def load_weights(self) -> None:
        root = self.model_path()
        self.device, dtype = select_device(self.spec)
        model: Any = AutoModelForCausalLM.from_pretrained(root, local_files_only=True, dtype=dtype)
        self.model = model.to(self.device).eval()
        self.load_tokenizer(root)
        config = self.model.config.get_text_config()
        positions: Any = getattr(config, "max_position_embeddings", None)
        self.max_context = int(positions or getattr(config, "n_positions", 1024))
        if self.options.max_context is not None:
            self.max_context = min(self.max_context, self.options.max_context)

    def prefill(self, seq: GenSequence) -> torch.Tensor:
        ids = torch.tensor([seq.prompt], device=self.device)
        with torch.inference_mode():
            out = self.model(
                input_ids=ids, past_key_values=DynamicCache(), use_cache=True, logits_to_keep=1
            )
        seq.cache = _kv_of(out.past_key_values)
        logits: torch.Tensor = out.logits[0, -1]
        return logits

    def decode(self, seqs: list[GenSequence]) -> torch.Tensor:
        lengths = [s.cache[0][0].shape[2] for s in seqs]
        width = max(lengths)
        cache = DynamicCache(ddp_cache_data=_stack_kv([s.cache for s in seqs], width))
        mask = torch.zeros((len(seqs), width + 1), dtype=torch.long, device=self.device)
        for row, n in enumerate(lengths):
            mask[row, width - n :] = 1
        ids = torch.tensor([[s.generated[-1]] for s in seqs], device=self.device)
        positions = torch.tensor([[n] for n in lengths], device=self.device)
        with torch.inference_mode():
            out = self.model(
                input_ids=ids,
                past_key_values=cache,
                attention_mask=mask,
                position_ids=positions,
                use_cache=True,
            )
        for seq, kv in zip(
            seqs, _split_kv(out.past_key_values, [n + 1 for n in lengths], width + 1), strict=True
        ):
            seq.cache = kv
        logits: torch.Tensor = out.logits[:, -1]
        return logits


@dataclass
class _Seq2SeqState:
    encoder: torch.Tensor  # [1, source, hidden]
    self_kv: KV
    cross_kv: KV


class Seq2SeqLM(GenerativeModel):
    """`runtime: hf-seq2seq` (T5, BART ...): summarise / translate prompts."""

    task = Task.TEXT2TEXT_GENERATION

    def load_weights(self) -> None:
        root = self.model_path()
        self.device, dtype = select_device(self.spec)
        self.model = (
            AutoModelForSeq2SeqLM.from_pretrained(root, local_files_only=True, dtype=dtype)
            .to(self.device)
            .eval()
        )
        self.load_tokenizer(root)
        config = self.model.config
        start = config.decoder_start_token_id
        self.start_id = int(start if start is not None else self.pad_id)
        self.max_context = self.options.max_context or int(
            getattr(config, "max_position_embeddings", None) or 512
        )

    def prefill(self, seq: GenSequence) -> torch.Tensor:
        ids = torch.tensor([seq.prompt], device=self.device)
        with torch.inference_mode():
            encoder = self.model.get_encoder()(input_ids=ids).last_hidden_state
            cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
            out = self.model(
                encoder_outputs=(encoder,),
                decoder_input_ids=torch.tensor([[self.start_id]], device=self.device),
                past_key_values=cache,
                use_cache=True,
            )
        seq.cache = _Seq2SeqState(
            encoder,
            _kv_of(out.past_key_values.self_attention_cache),
            _kv_of(out.past_key_values.cross_attention_cache),
        )
        logits: torch.Tensor = out.logits[0, -1]
        return logits

    def decode(self, seqs: list[GenSequence]) -> torch.Tensor:
        states: list[_Seq2SeqState] = [s.cache for s in seqs]
        lengths = [st.self_kv[0][0].shape[2] for st in states]
        width = max(lengths)
        sources = [st.encoder.shape[1] for st in states]
        source_width = max(sources)
        encoder = torch.cat(
            [F.pad(st.encoder, (0, 0, 0, source_width - st.encoder.shape[1])) for st in states]
        )
        encoder_mask = torch.zeros((len(seqs), source_width), dtype=torch.long, device=self.device)
        for row, n in enumerate(sources):
            encoder_mask[row, :n] = 1
        cross = [
            (
                torch.cat(
                    [
                        F.pad(st.cross_kv[i][0], (0, 0, 0, source_width - n))
                        for st, n in zip(states, sources, strict=True)
                    ]
                ),
                torch.cat(
                    [
                        F.pad(st.cross_kv[i][1], (0, 0, 0, source_width - n))
                        for st, n in zip(states, sources, strict=True)
                    ]
                ),
            )
            for i in range(len(states[0].cross_kv))
        ]
        cache = EncoderDecoderCache(
            DynamicCache(ddp_cache_data=_stack_kv([st.self_kv for st in states], width)),
            DynamicCache(ddp_cache_data=cross),
        )
        decoder_mask = torch.zeros((len(seqs), width + 1), dtype=torch.long, device=self.device)
        for row, n in enumerate(lengths):
            decoder_mask[row, width - n :] = 1
        ids = torch.tensor([[s.generated[-1]] for s in seqs], device=self.device)
        with torch.inference_mode():
            out = self.model(
                encoder_outputs=(encoder,),
                attention_mask=encoder_mask,
                decoder_input_ids=ids,
                decoder_attention_mask=decoder_mask,
                past_key_values=cache,
                use_cache=True,
            )
        for st, kv in zip(
            states,
            _split_kv(
                out.past_key_values.self_attention_cache, [n + 1 for n in lengths], width + 1
            ),
            strict=True,
        ):
            st.self_kv = kv
        logits: torch.Tensor = out.logits[:, -1]
        return logits


class GenerationEngine:
    """The decoding loop of one generative model."""

    def __init__(
        self,
        model: GenerativeModel,
        run_on_worker: Any,
        metrics: InferenceMetrics,
        *,
        max_running: int,
        max_waiting: int,
        max_batch_tokens: int,
    ) -> None:
        self.model = model
        self._run_on_worker = run_on_worker
        self._metrics = metrics
        self.max_running = max_running
        self.max_waiting = max_waiting
        self.max_batch_tokens = max_batch_tokens
        self._waiting: list[GenSequence] = []
        self._running: list[GenSequence] = []
        self._wakeup: asyncio.Event | None = None
        self._loop_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._loop_task = asyncio.create_task(self._loop(), name=f"generate-{self.model.name}")

    async def close(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for seq in [*self._waiting, *self._running]:
            seq.queue.put_nowait(Unavailable(f"model {self.model.name!r} was unloaded"))

    @property
    def running(self) -> int:
        return len(self._running)

    def check(self, prompt: list[int], params: GenerationParams, field: str) -> None:
        total = len(prompt) + params.max_new_tokens
        if total > self.model.max_context:
            raise InvalidArgument(
                field,
                f"has {len(prompt)} tokens; with max_new_tokens={params.max_new_tokens} that "
                f"exceeds the model's context of {self.model.max_context} tokens",
            )

    async def generate(
        self, prompt: list[int], params: GenerationParams
    ) -> AsyncGenerator[Chunk, None]:
        """Chunks of text as tokens are produced; the last one has `finish` set."""
        if self._wakeup is None:
            raise Unavailable(f"model {self.model.name!r} is not accepting requests")
        if len(self._waiting) >= self.max_waiting:
            raise ResourceExhausted(
                f"model {self.model.name!r} is overloaded: {len(self._waiting)} generations "
                "waiting",
                subject=f"model:{self.model.name}",
                retry_after_s=1.0,
            )
        seq = GenSequence(prompt, params, asyncio.Queue())
        self._waiting.append(seq)
        self._wakeup.set()
        try:
            while True:
                item = await seq.queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if item.finish is not None:
                    return
        finally:
            if not seq.finished:
                seq.cancelled = True  # leaves the batch at the next step
                self._wakeup.set()

    def _budget(self, seqs: list[GenSequence]) -> int:
        return sum(len(s.prompt) + s.params.max_new_tokens for s in seqs)

    async def _loop(self) -> None:
        assert self._wakeup is not None
        while True:
            self._waiting = [s for s in self._waiting if not s.cancelled]
            self._running = [s for s in self._running if not s.cancelled]
            if not self._waiting and not self._running:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            joining: list[GenSequence] = []
            budget = self._budget(self._running)
            while self._waiting and len(self._running) + len(joining) < self.max_running:
                cost = self._budget([self._waiting[0]])
                if budget + cost > self.max_batch_tokens and (self._running or joining):
                    break
                joining.append(self._waiting.pop(0))
                budget += cost
            running = list(self._running)
            try:
                tokens = await self._run_on_worker(self.model.step, joining, running)
            except Exception as exc:
                log.exception("generation step failed in model %s", self.model.name)
                for seq in [*joining, *running]:
                    seq.finished = True
                    seq.queue.put_nowait(exc)
                self._running = []
                continue
            name = self.model.name
            if running:
                self._metrics.generation_steps.labels(name).inc()
            self._running = running + joining
            for seq, token in zip([*joining, *running], tokens, strict=True):
                self._advance(seq, token)
            self._running = [s for s in self._running if not s.finished]
            self._metrics.generation_running.labels(name).set(len(self._running))
            self._metrics.generation_waiting.labels(name).set(len(self._waiting))

    def _advance(self, seq: GenSequence, token: int) -> None:
        """Record one token; send the new stable text; finish when a rule says so."""
        finish = None
        if token in self.model.eos_ids:
            finish = FinishReason.EOS
        else:
            seq.generated.append(token)
            self._metrics.generated_tokens.labels(self.model.name).inc()
        text = str(self.model.tokenizer.decode(seq.generated, skip_special_tokens=True))
        end = len(text)
        for stop in seq.params.stop:
            at = text.find(stop)
            if at != -1 and at < end:
                end, finish = at, FinishReason.STOP_SEQUENCE
        if finish is None and len(seq.generated) >= seq.params.max_new_tokens:
            finish = FinishReason.LENGTH
        if finish is None:
            if text.endswith("\ufffd"):  # an incomplete UTF-8 character: wait for the rest
                end = len(text.rstrip("\ufffd"))
            for stop in seq.params.stop:  # hold back what may become a stop sequence
                for k in range(min(len(stop) - 1, end), 0, -1):
                    if text[end - k : end] == stop[:k]:
                        end = min(end, end - k)
                        break
        new = text[seq.emitted : end] if end > seq.emitted else ""
        if new or finish is not None:
            seq.emitted = max(seq.emitted, end)
            if finish is not None:
                seq.finished = True
            seq.queue.put_nowait(Chunk(new, finish, len(seq.prompt), len(seq.generated)))

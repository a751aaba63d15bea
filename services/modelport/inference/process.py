"""Process set-up and the run loop shared by every inference service's composition root."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import SettingsError

from modelport.inference.server import InferenceServer
from modelport.inference.settings import ModelSpec, ServerSettings, describe
from modelport.serving.catalog import ModelState
from modelport.serving.errors import ConfigError
from modelport.serving.process import configure_logging

S = TypeVar("S", bound=ServerSettings)

CONFIG_EXIT_CODE = 2
"""Exit status of a process whose settings or model config are wrong."""
PREPARE_FAILED_EXIT_CODE = 1
"""Exit status of a `prepare_only` process one of whose models failed to load."""


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
    """Start serving, load models in the background, stop gracefully on a signal.

    A model that fails to load is FAILED and the others serve; loading that raises (a bug,
    or a spec no runtime takes) stops the server and raises here, so the process exits
    with the reason instead of sitting NOT_SERVING until a probe kills it.
    """
    await server.start()
    loading = asyncio.create_task(server.load_models(specs))
    serving = asyncio.create_task(server.run_until_signal())
    try:
        await asyncio.wait({loading, serving}, return_when=asyncio.FIRST_COMPLETED)
        if loading.done() and not loading.cancelled() and loading.exception() is not None:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
            await server.stop(grace=0)
            loading.result()  # raises the loading error
        await serving
    finally:
        for task in (loading, serving):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def prepare(server: InferenceServer, specs: Sequence[ModelSpec]) -> int:
    """Load every model (on-demand ones too) once without serving (filling the cache dir
    with what models build on first use), unload them, and say how it went: the exit
    status, each failure on stderr."""
    repository = server.repository
    try:
        # on-demand models are prepared too (under a budget, by evicting the ones before)
        await repository.load_all([s.model_copy(update={"load": "startup"}) for s in specs])
        failed = [m for m in repository.models() if m.state is ModelState.FAILED]
        for managed in failed:
            print(
                f"modelport: model {managed.name!r} version {managed.version!r} failed to "
                f"load: {managed.reason}",
                file=sys.stderr,
                flush=True,
            )
        return PREPARE_FAILED_EXIT_CODE if failed else 0
    finally:
        await repository.close()


def read_settings(
    settings_type: type[S], default_models: Callable[[], list[ModelSpec]]
) -> tuple[S, list[ModelSpec]]:
    """The service's settings and the models to serve, typed by its runtimes; a bad setting
    or model spec exits the process with status 2 and a one-line reason on stderr."""
    try:
        settings = settings_type()
        return settings, settings.runtimes.specs(settings.models or default_models())
    except ConfigError as exc:
        reason = exc.message
    except ValidationError as exc:
        reason = describe(exc)
    except SettingsError as exc:  # an environment variable that does not parse (bad JSON)
        reason = str(exc)
    print(f"modelport: configuration error: {reason}", file=sys.stderr, flush=True)
    raise SystemExit(CONFIG_EXIT_CODE)


def run_service(
    settings_type: type[S],
    build: Callable[[S], InferenceServer],
    default_models: Callable[[], list[ModelSpec]],
) -> None:
    """Entry point body of `python -m modelport.<service>`: settings first (nothing serves
    when they are wrong), then the process set-up, then the server."""
    settings, specs = read_settings(settings_type, default_models)
    configure_process(settings)

    if settings.prepare_only:
        status = asyncio.run(prepare(build(settings), specs))
        if status:
            raise SystemExit(status)
        return

    async def main() -> None:
        await serve_forever(build(settings), specs)

    asyncio.run(main())

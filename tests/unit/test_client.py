"""What the Python client and the command line refuse before they connect, and how the
command line reports what went wrong (no server needed)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from modelport import __version__
from modelport.cli import (
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    Formatter,
    _texts,
    _with_input_names,
    generate_timeout,
    main,
    parser,
)
from modelport.client import ModelportClient


def test_a_client_certificate_needs_its_key() -> None:
    with pytest.raises(ValueError, match="both"):
        ModelportClient("127.0.0.1:1", certificate_chain=b"cert")


def test_a_token_goes_over_plaintext_only_when_allowed() -> None:
    with pytest.raises(ValueError, match="plaintext"):
        ModelportClient("127.0.0.1:1", token="secret")
    ModelportClient("127.0.0.1:1", token="secret", allow_insecure_token=True).close()
    ModelportClient("127.0.0.1:1", token="secret", tls=True).close()


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--token", "secret"], "plaintext"),
        (["--header", "no-equals-sign"], "KEY=VALUE"),
        (["--tls-ca", "/nonexistent/ca.pem"], "/nonexistent/ca.pem"),
    ],
)
def test_cli_refuses_connection_flags_it_cannot_use(
    flags: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["models", "--target", "127.0.0.1:1", *flags])
    assert info.value.code == 2
    assert says in capsys.readouterr().err


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `modelport argv`."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"], capsys)[:2] == (0, f"modelport {__version__}\n")


def test_help_shows_every_options_default_and_the_exit_codes() -> None:
    for name, command in subcommands().items():
        for action in command._actions:
            if not action.option_strings or action.default in (None, False, [], argparse.SUPPRESS):
                continue  # a flag, a repeatable option, or one without a default
            shown = Formatter(name)._get_help_string(action) or ""
            assert "default" in shown, (name, action.option_strings, shown)
        assert "exit status: 0 success; 1 the server answered" in command.format_help()
    help_ = " ".join(subcommands()["generate"].format_help().split())
    assert "--timeout TIMEOUT deadline of the call, seconds (default: 30 + 0.25 per new" in help_


def subcommands() -> dict[str, argparse.ArgumentParser]:
    p = parser()
    (sub,) = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["classify", "--top-k", "-1", "hi"], "--top-k: must be 0 or more, not -1"),
        (["embed", "--dimensions", "-1", "hi"], "--dimensions: must be 0 or more, not -1"),
        (["embed", "--timeout", "0", "hi"], "--timeout: must be more than 0"),
        (["embed", "bad \udcff utf8"], "text argument 1 is not valid UTF-8"),
        (["embed"], "no text given"),
        (["classify-image", "/nonexistent/cat.jpg"], "/nonexistent/cat.jpg: No such file"),
        (["classify-image", "/"], "/: Is a directory"),
        (["embed", "--file", "/nonexistent.txt"], "/nonexistent.txt: No such file"),
        (["generate", "--file", "/nonexistent.txt", "also a prompt"], "not both"),
        (["embed", "--target", "http://127.0.0.1:50051", "hi"], "give host:port"),
        (["eval", "x.jsonl", "--model", "m", "--fail-under", "accuracy"], "METRIC=VALUE"),
        (["eval", "x.jsonl", "--model", "m", "--concurrency", "0"], "must be 1 or more"),
        (["rollout", "x.jsonl", "--model", "m", "--to", "2", "--steps", "50,10"], "increasing"),
        (["rollout", "x.jsonl", "--model", "m", "--to", "2", "--steps", "100"], "increasing"),
        (["split", "--model", "m", "1=x"], "expected VERSION=WEIGHT"),
        (["envoy", "--router", "localhost"], "--router: expected ip:port"),
        (["envoy", "--token-file", "/nonexistent/token"], "--token-file: "),
        (["envoy", "--token-file", "/dev/null"], "--token-file: /dev/null is empty"),
    ],
)
def test_bad_arguments_and_files_are_one_line_usage_errors(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(argv, capsys)
    assert code == EXIT_USAGE
    assert says in err
    assert "Traceback" not in err
    assert not out


def test_a_refused_connection_says_to_start_the_suite(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["embed", "--target", "127.0.0.1:1", "hi"], capsys)
    assert code == EXIT_UNREACHABLE
    assert err.startswith("error: UNAVAILABLE: ")
    assert "hint: no Modelport server answered at 127.0.0.1:1" in err
    assert "`make up`" in err
    assert not out
    code, _, err = run(["models", "--json", "--target", "127.0.0.1:1"], capsys)
    assert code == EXIT_UNREACHABLE
    assert json.loads(err)["error"]["code"] == "UNAVAILABLE"


def test_texts_come_from_arguments_stdin_and_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = tmp_path / "texts.txt"
    listed.write_text("from a file\n\nsecond line\n")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"from stdin\n")))
    args = parser().parse_args(["embed", "first", "-", "--file", str(listed)])
    assert _texts(args) == ["first", "from stdin", "from a file", "second line"]


def test_errors_name_the_input_the_user_gave() -> None:
    names = ["cat.jpg", "README.md"]
    assert _with_input_names("images[1]: is not a supported image", names) == (
        "images[1] (README.md): is not a supported image"
    )
    assert _with_input_names("model 'x' is not registered", names) == (
        "model 'x' is not registered"
    )


def test_generate_deadline_fits_the_requested_length() -> None:
    assert generate_timeout(64) < generate_timeout(500)
    assert generate_timeout(0) == generate_timeout(512)

"""What the Python client and the command line refuse before they connect."""

from __future__ import annotations

import pytest

from modelport.cli import main
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

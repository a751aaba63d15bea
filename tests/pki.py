"""Certificates made in the test: a CA, server certificates for loopback and client
certificates naming an identity by subject CN, SAN URI or SAN DNS name."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Issued = tuple[Any, Any]
"""(certificate, private key)."""


def pem(key: Any) -> bytes:
    return key.private_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def issue(
    name: str, issuer: Issued | None, server: bool = False, sans: Sequence[Any] = ()
) -> Issued:
    """A certificate with subject CN `name`, signed by `issuer` (None: a self-signed CA);
    a server one names localhost and 127.0.0.1; `sans` (x509 general names) are added."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    names = list(sans)
    if server:
        names += [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), False)
    cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    return cert, key


def write(out: Path, issued: dict[str, Issued]) -> dict[str, Path]:
    """`<name>.crt` and `<name>.key` PEM files in `out` for each issued certificate."""
    files = {}
    for name, (cert, key) in issued.items():
        files[f"{name}.crt"] = out / f"{name}.crt"
        files[f"{name}.key"] = out / f"{name}.key"
        files[f"{name}.crt"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files[f"{name}.key"].write_bytes(pem(key))
    return files

"""Ed25519 signatures: key pairs as text, sign, verify, fingerprints (no storage here)."""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from dxa_app.errors import UsageError
from dxa_app.i18n import _

#: Text form of a public key: this prefix and the base64 of the 32 raw bytes.
KEY_PREFIX = "ed25519:"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def generate_key_pair() -> tuple[str, str]:
    """Return a new Ed25519 key pair as (private, public) text (base64 of the raw bytes).

    Returns
    -------
    tuple of str
        The private key (base64, 32 bytes) and the public key (``ed25519:<base64>``).
    """
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes_raw()
    return _b64(raw), public_key_of(_b64(raw))


def _private(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(text))


def public_key_of(private: str) -> str:
    """Return the public-key text of a private key given as base64."""
    raw = _private(private).public_key().public_bytes_raw()
    return KEY_PREFIX + _b64(raw)


def parse_public_key(text: str) -> Ed25519PublicKey:
    """Parse a public key written as ``ed25519:<base64 of 32 bytes>``.

    Raises
    ------
    UsageError
        When the text is not such a key.
    """
    body = text.strip()
    body = body.removeprefix(KEY_PREFIX)
    try:
        raw = base64.b64decode(body, validate=True)
        if len(raw) != 32:
            raise ValueError("length")
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, binascii.Error) as exc:
        raise UsageError(
            _("{key} is not an Ed25519 public key.").format(key=text[:60]),
            _("Copy the whole key as printed by 'centre keys' (it starts with ed25519:)."),
        ) from exc


def normalise_public_key(text: str) -> str:
    """Return the canonical text form of a public key (checked)."""
    key = parse_public_key(text)
    return KEY_PREFIX + _b64(key.public_bytes_raw())


def fingerprint(public: str) -> str:
    """Return a short fingerprint (16 hex digits of SHA-256) of a public key, for reading aloud."""
    raw = base64.b64decode(normalise_public_key(public).removeprefix(KEY_PREFIX))
    digest = hashlib.sha256(raw).hexdigest()[:16]
    return " ".join(digest[i : i + 4] for i in range(0, 16, 4))


def sign(private: str, data: bytes) -> str:
    """Return the base64 Ed25519 signature of ``data``."""
    return _b64(_private(private).sign(data))


def verify(public: str, data: bytes, signature: str) -> bool:
    """Return True when ``signature`` (base64) is a valid signature of ``data`` by ``public``."""
    try:
        parse_public_key(public).verify(base64.b64decode(signature, validate=True), data)
    except (InvalidSignature, ValueError, binascii.Error, UsageError):
        return False
    return True

"""Ed25519 key pairs, signatures and the keyed pseudonym hash, kept in the archive settings."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

import sqlite_utils
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from dxa_app.archive import get_setting, set_setting, write_transaction
from dxa_app.archive.db import audit, now_iso
from dxa_app.errors import UsageError
from dxa_app.i18n import _

#: Text form of a public key: this prefix and the base64 of the 32 raw bytes.
KEY_PREFIX = "ed25519:"
SITE_KEY_SETTING = "centre.site_key.{code}"
PSEUDONYM_SECRET_SETTING = "centre.pseudonym_secret.{code}"
CENTRE_KEY_SETTING = "centre.centre_key"
TRUSTED_CENTRE_SETTING = "centre.trusted_centre_key"


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
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return _b64(raw), public_key_of(_b64(raw))


def _private(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(text))


def public_key_of(private: str) -> str:
    """Return the public-key text of a private key given as base64."""
    raw = (
        _private(private)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
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
    return KEY_PREFIX + _b64(
        key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


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


def _stored_pair(db: sqlite_utils.Database, setting: str, what: str, by: str) -> tuple[str, str]:
    with write_transaction(db):
        stored = get_setting(db, setting)
        if stored:
            return str(stored["private"]), str(stored["public"])
        private, public = generate_key_pair()
        set_setting(db, setting, {"private": private, "public": public, "created_at": now_iso()})
        audit(db, "centre_key_created", username=by, entity=what, details={"public_key": public})
    return private, public


def site_key_pair(db: sqlite_utils.Database, code: str, *, by: str = "") -> tuple[str, str]:
    """Return the site's (private, public) key, generating and storing it on first use."""
    return _stored_pair(db, SITE_KEY_SETTING.format(code=code), f"site:{code}", by)


def centre_key_pair(db: sqlite_utils.Database, *, by: str = "") -> tuple[str, str]:
    """Return the knowledge centre's (private, public) key, generated on first use."""
    return _stored_pair(db, CENTRE_KEY_SETTING, "centre", by)


def pseudonym_secret(db: sqlite_utils.Database, code: str) -> bytes:
    """Return the site's secret for the keyed pseudonym hash (32 random bytes, never exported)."""
    key = PSEUDONYM_SECRET_SETTING.format(code=code)
    with write_transaction(db):
        stored = get_setting(db, key)
        if not stored:
            stored = secrets.token_hex(32)
            set_setting(db, key, stored)
    return bytes.fromhex(str(stored))


def pseudonym(secret: bytes, value: str, length: int = 32) -> str:
    """Return HMAC-SHA256(secret, value) as ``length`` hex digits (a stable pseudonym)."""
    return hmac.new(secret, value.encode("utf-8"), hashlib.sha256).hexdigest()[:length]


def trusted_centre_key(db: sqlite_utils.Database) -> str | None:
    """Return the knowledge centre's public key this site trusts (None when none is set)."""
    value = get_setting(db, TRUSTED_CENTRE_SETTING)
    return str(value) if value else None


def set_trusted_centre_key(db: sqlite_utils.Database, public: str, *, by: str = "") -> str:
    """Trust a knowledge-centre public key for installing corrections; return its canonical text."""
    key = normalise_public_key(public)
    with write_transaction(db):
        set_setting(db, TRUSTED_CENTRE_SETTING, key)
        audit(db, "centre_key_trusted", username=by, entity="centre", details={"public_key": key})
    return key

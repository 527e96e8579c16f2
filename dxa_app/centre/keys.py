"""The exchange's keys in the key folder (site and centre key pairs, pseudonym secret, trust)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets

from dxa_app import keystore
from dxa_app.archive import get_setting, write_transaction
from dxa_app.archive.database import Database
from dxa_app.archive.db import audit, now_iso
from dxa_app.archive.seal import archive_id
from dxa_app.signing import (
    KEY_PREFIX,
    fingerprint,
    generate_key_pair,
    normalise_public_key,
    parse_public_key,
    public_key_of,
    sign,
    verify,
)

__all__ = [
    "KEY_PREFIX",
    "centre_key_pair",
    "fingerprint",
    "generate_key_pair",
    "normalise_public_key",
    "parse_public_key",
    "pseudonym",
    "pseudonym_secret",
    "public_key_of",
    "set_trusted_centre_key",
    "sign",
    "site_key_pair",
    "trusted_centre_key",
    "verify",
]
SITE_KEY_SETTING = "centre.site_key.{code}"
PSEUDONYM_SECRET_SETTING = "centre.pseudonym_secret.{code}"
CENTRE_KEY_SETTING = "centre.centre_key"
TRUSTED_CENTRE_SETTING = "centre.trusted_centre_key"


def _key_name(setting: str) -> str:
    """The key-folder name of a settings key ("centre.site_key.OUH" -> "centre-site_key-OUH")."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", setting)


def _from_folder_or_settings(db: Database, setting: str) -> str | None:
    """A secret from the key folder; one still in the archive settings is moved there first."""
    ident = archive_id(db)
    assert ident is not None
    name = _key_name(setting)
    stored = keystore.read_secret(ident, name)
    if stored:
        return stored
    legacy = get_setting(db, setting)
    if not legacy:
        return None
    text = json.dumps(legacy) if isinstance(legacy, dict) else str(legacy)
    stored = keystore.write_secret_once(ident, name, text)
    with write_transaction(db):
        db.execute("DELETE FROM settings WHERE key = ?", [setting])
    return stored


def _stored_pair(db: Database, setting: str, what: str, by: str) -> tuple[str, str]:
    stored = _from_folder_or_settings(db, setting)
    if stored:
        value = json.loads(stored)
        return str(value["private"]), str(value["public"])
    private, public = generate_key_pair()
    ident = archive_id(db)
    assert ident is not None
    text = json.dumps({"private": private, "public": public, "created_at": now_iso()})
    value = json.loads(keystore.write_secret_once(ident, _key_name(setting), text))
    audit(
        db,
        "centre_key_created",
        username=by,
        entity=what,
        details={"public_key": str(value["public"])},
    )
    return str(value["private"]), str(value["public"])


def site_key_pair(db: Database, code: str, *, by: str = "") -> tuple[str, str]:
    """Return the site's (private, public) key from the key folder, generated on first use."""
    return _stored_pair(db, SITE_KEY_SETTING.format(code=code), f"site:{code}", by)


def centre_key_pair(db: Database, *, by: str = "") -> tuple[str, str]:
    """Return the knowledge centre's (private, public) key from the key folder."""
    return _stored_pair(db, CENTRE_KEY_SETTING, "centre", by)


def pseudonym_secret(db: Database, code: str) -> bytes:
    """Return the site's secret for the keyed pseudonym hash (key folder; never exported)."""
    setting = PSEUDONYM_SECRET_SETTING.format(code=code)
    stored = _from_folder_or_settings(db, setting)
    if not stored:
        ident = archive_id(db)
        assert ident is not None
        stored = keystore.write_secret_once(ident, _key_name(setting), secrets.token_hex(32))
    return bytes.fromhex(stored.strip('"'))


def pseudonym(secret: bytes, value: str, length: int = 32) -> str:
    """Return HMAC-SHA256(secret, value) as ``length`` hex digits (a stable pseudonym)."""
    return hmac.new(secret, value.encode("utf-8"), hashlib.sha256).hexdigest()[:length]


def trusted_centre_key(db: Database) -> str | None:
    """Return the knowledge centre's public key this site trusts (key folder; None when none)."""
    value = _from_folder_or_settings(db, TRUSTED_CENTRE_SETTING)
    return value.strip('"') if value else None


def set_trusted_centre_key(db: Database, public: str, *, by: str = "") -> str:
    """Trust a knowledge-centre public key for installing corrections; return its canonical text.

    The trust anchor lives in the key folder, not the archive, so editing the archive file
    cannot make the site trust another centre.
    """
    key = normalise_public_key(public)
    ident = archive_id(db)
    assert ident is not None
    keystore.replace_secret(ident, _key_name(TRUSTED_CENTRE_SETTING), key)
    with write_transaction(db):
        db.execute("DELETE FROM settings WHERE key = ?", [TRUSTED_CENTRE_SETTING])
        audit(db, "centre_key_trusted", username=by, entity="centre", details={"public_key": key})
    return key

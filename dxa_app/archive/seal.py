"""The archive's seal: an Ed25519 key kept outside the archive signs audit entries and sign-offs.

The archive holds only an id (``archive.id``, a random UUID). The private key is the key file
``<id>.archive-seal`` in the user's key folder (:mod:`dxa_app.keystore`), made on the first
sealed write; its public key is what a verifier pins (printed by ``seal-key``). Someone who can
edit the archive file but not the key folder can change rows, hashes and even recompute the
hash chain, but cannot make new valid signatures, so ``verify`` finds the change.
"""

from __future__ import annotations

from functools import cache

from dxa_app import keystore
from dxa_app.archive.database import Database
from dxa_app.signing import generate_key_pair, public_key_of, sign, verify

#: The archive setting that names the archive (its keys are found by this id).
ARCHIVE_ID_KEY = "archive.id"
#: The key file of the seal.
SEAL_KEY = "archive-seal"
#: The key file recording the first audit entry sealed (entries before it predate the seal).
SEALED_FROM = "archive-seal-from"


def archive_id(db: Database, *, create: bool = True) -> str | None:
    """Return the archive's id, giving it one on first use.

    Parameters
    ----------
    db : Database
        The open archive.
    create : bool
        Make an id when there is none (otherwise return None).

    Returns
    -------
    str or None
        The id.
    """
    import json

    row = db.execute("SELECT value FROM settings WHERE key = ?", [ARCHIVE_ID_KEY]).fetchone()
    if row is not None:
        return str(json.loads(row[0]))
    if not create:
        return None
    import uuid  # once, when the archive is created

    new = str(uuid.uuid4())
    db.execute(
        "INSERT OR IGNORE INTO settings (key, value, updated_at) VALUES (?, ?, datetime('now'))",
        [ARCHIVE_ID_KEY, json.dumps(new)],
    )
    row = db.execute("SELECT value FROM settings WHERE key = ?", [ARCHIVE_ID_KEY]).fetchone()
    return str(json.loads(row[0]))


@cache
def _private_key(ident: str) -> str:
    stored = keystore.read_secret(ident, SEAL_KEY)
    if stored:
        return stored
    private, _public = generate_key_pair()
    return keystore.write_secret_once(ident, SEAL_KEY, private)


def seal(db: Database, data: bytes) -> str:
    """Sign ``data`` with the archive's seal key (made on first use); return the signature.

    Parameters
    ----------
    db : Database
        The open archive (inside the write transaction that stores the sealed row).
    data : bytes
        What is sealed.

    Returns
    -------
    str
        The base64 Ed25519 signature.
    """
    ident = archive_id(db)
    assert ident is not None
    return sign(_private_key(ident), data)


def seal_public_key(db: Database) -> str | None:
    """Return the public key of this archive's seal on this machine, or None when absent.

    Parameters
    ----------
    db : Database
        The open archive.

    Returns
    -------
    str or None
        ``ed25519:<base64>``, or None when this machine has no seal key for the archive.
    """
    ident = archive_id(db, create=False)
    if ident is None:
        return None
    stored = keystore.read_secret(ident, SEAL_KEY)
    return public_key_of(stored) if stored else None


#: Key files of other workstations' seal public keys this machine trusts.
TRUSTED_PREFIX = "archive-seal-trusted-"


def pinned_keys(db: Database) -> list[str]:
    """Return the seal public keys this machine pins for the archive: its own and trusted ones.

    A department whose workstations share one archive either shares the key folder
    (``DXA_KEY_DIR`` on a protected share) or registers each workstation's public key with
    ``seal-key --trust KEY`` on the others.

    Parameters
    ----------
    db : Database
        The open archive.

    Returns
    -------
    list of str
        Public keys (``ed25519:...``); empty when this machine has none for the archive.
    """
    ident = archive_id(db, create=False)
    if ident is None:
        return []
    own = seal_public_key(db)
    trusted = [text.strip() for _name, text in keystore.list_secrets(ident, TRUSTED_PREFIX)]
    return ([own] if own else []) + [k for k in trusted if k and k != own]


def trust_seal_key(db: Database, public: str) -> str:
    """Pin another workstation's seal public key for this archive (a key-folder file).

    Parameters
    ----------
    db : Database
        The open archive.
    public : str
        The other workstation's seal public key.

    Returns
    -------
    str
        The canonical key text.
    """
    from dxa_app.signing import fingerprint, normalise_public_key

    key = normalise_public_key(public)
    ident = archive_id(db)
    assert ident is not None
    name = TRUSTED_PREFIX + fingerprint(key).replace(" ", "")
    keystore.replace_secret(ident, name, key)
    return key


def sealed_from(db: Database) -> int | None:
    """Return the id of the first audit entry this machine sealed (from the key folder)."""
    ident = archive_id(db, create=False)
    value = keystore.read_secret(ident, SEALED_FROM) if ident else None
    return int(value) if value and value.isdigit() else None


_NOTED: set[str] = set()


def note_sealed_from(db: Database, audit_id: int) -> None:
    """Record (once) the first sealed audit entry of the archive in the key folder."""
    ident = archive_id(db)
    assert ident is not None
    if ident not in _NOTED:
        keystore.write_secret_once(ident, SEALED_FROM, str(audit_id))
        _NOTED.add(ident)


def check_seal(public: str | list[str], data: bytes, signature: str | None) -> bool:
    """Return whether ``signature`` is the seal of ``data`` by ``public`` (or one of them).

    Parameters
    ----------
    public : str or list of str
        The pinned public key(s).
    data : bytes
        What was sealed.
    signature : str or None
        The stored signature.

    Returns
    -------
    bool
        True for a valid signature.
    """
    keys = [public] if isinstance(public, str) else public
    return bool(signature) and any(verify(k, data, str(signature)) for k in keys)

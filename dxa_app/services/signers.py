"""Trust anchors kept outside the archive: physicians' certificates and workstations' seal keys.

An administrator adds a physician's certificate to the site's trust list (``trust-signer``);
``verify`` checks PAdES signatures against that list only, never against the certificate a
report row carries. ``seal-key`` prints this workstation's seal public key (to pin on another
machine or give to an auditor) and, with ``--trust``, pins another workstation's key.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography import x509

from dxa_app import keystore
from dxa_app.archive.database import Database
from dxa_app.archive.db import audit
from dxa_app.archive.seal import archive_id, pinned_keys, seal_public_key, trust_seal_key
from dxa_app.errors import UsageError
from dxa_app.i18n import _
from dxa_app.services.auth import Permission, Session, acting, record
from dxa_app.signing import fingerprint

#: Key-folder files of the trusted signer certificates.
SIGNER_PREFIX = "trusted-signer-"


def trusted_signer_pems(db: Database) -> list[bytes]:
    """Return the PEM certificates this site trusts for PAdES signatures (from the key folder).

    Parameters
    ----------
    db : Database
        The open archive.

    Returns
    -------
    list of bytes
        The certificates.
    """
    ident = archive_id(db, create=False)
    if ident is None:
        return []
    return [text.encode("ascii") for _n, text in keystore.list_secrets(ident, SIGNER_PREFIX)]


def trust_signer(session: Session, cert_pem: bytes) -> dict[str, Any]:
    """Add a physician's certificate to the site's trust list (administrator); audited.

    Parameters
    ----------
    session : Session
        The acting administrator.
    cert_pem : bytes
        The certificate (PEM).

    Returns
    -------
    dict
        The certificate's subject and SHA-256 fingerprint.

    Raises
    ------
    UsageError
        When the bytes are not a PEM certificate.
    """
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise UsageError(_("This is not a PEM certificate."), "") from exc
    digest = hashlib.sha256(cert.public_bytes(_der())).hexdigest()
    subject = cert.subject.rfc4514_string()
    with acting(session, Permission.SETTINGS) as db:
        ident = archive_id(db)
        assert ident is not None
        keystore.replace_secret(ident, SIGNER_PREFIX + digest[:32], cert_pem.decode("ascii"))
        record(
            db,
            session,
            "trust_signer",
            entity="certificate",
            entity_id=digest[:32],
            details={"subject": subject},
        )
    return {"subject": subject, "sha256": digest}


def _der() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def seal_key(session: Session) -> dict[str, Any]:
    """Return this workstation's seal public key for the archive and the keys it pins.

    Parameters
    ----------
    session : Session
        The logged-in user.

    Returns
    -------
    dict
        ``public_key`` and ``fingerprint`` (None before the first sealed write), ``pinned``.
    """
    with acting(session, Permission.VIEW) as db:
        own = seal_public_key(db)
        if own is None:  # make the key now (a sealed entry) so it can be pinned elsewhere
            record(db, session, "seal_key_shown", entity="archive")
            own = seal_public_key(db)
        pinned = pinned_keys(db)
    return {
        "public_key": own,
        "fingerprint": fingerprint(own) if own else None,
        "pinned": pinned,
    }


def pin_seal_key(session: Session, public_key: str) -> dict[str, Any]:
    """Pin another workstation's seal public key on this machine (administrator); audited.

    Parameters
    ----------
    session : Session
        The acting administrator.
    public_key : str
        The other workstation's seal key (``ed25519:...``, from its ``seal-key``).

    Returns
    -------
    dict
        The pinned key and its fingerprint.
    """
    with acting(session, Permission.SETTINGS) as db:
        key = trust_seal_key(db, public_key)
        audit(
            db,
            "seal_key_trusted",
            username=session.username,
            entity="archive",
            details={"public_key": key},
        )
    return {"public_key": key, "fingerprint": fingerprint(key)}


def trusted_signers(session: Session) -> list[dict[str, Any]]:
    """Return the certificates this site trusts for PAdES signatures (subject and SHA-256).

    Parameters
    ----------
    session : Session
        The logged-in user.

    Returns
    -------
    list of dict
        ``subject`` and ``sha256`` of each trusted certificate, by subject.
    """
    with acting(session, Permission.VIEW) as db:
        pems = trusted_signer_pems(db)
    out = []
    for pem in pems:
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError:
            continue
        out.append(
            {
                "subject": cert.subject.rfc4514_string(),
                "sha256": hashlib.sha256(cert.public_bytes(_der())).hexdigest(),
            }
        )
    return sorted(out, key=lambda c: (c["subject"], c["sha256"]))

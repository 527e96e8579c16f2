"""The signed zip of a site bundle: manifest with SHA-256 per member and an Ed25519 signature."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dxa_app.centre.keys import normalise_public_key, sign, verify
from dxa_app.errors import ImportProblemError, UsageError
from dxa_app.i18n import _

FORMAT = "dxa-centre-bundle"
SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
#: Fixed member time stamp, so the same content gives the same bytes.
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)
#: Upper bound of one member's size when reading (a zip bomb is refused).
MAX_MEMBER_BYTES = 2_000_000_000


class BundleError(ImportProblemError):
    """A bundle or corrections file was refused (damaged, tampered, unknown key, newer schema)."""


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle whose signature and member hashes were checked."""

    path: Path
    sha256: str
    manifest: dict[str, Any]
    members: dict[str, bytes]

    @property
    def site(self) -> str:
        """The site code the bundle was signed for."""
        return str(self.manifest["site"]["code"])

    def json(self, name: str) -> Any:
        """Return one JSON member, parsed."""
        return json.loads(self.members[name].decode("utf-8"))

    def csv_rows(self, name: str) -> list[dict[str, str]]:
        """Return one CSV member as dicts (header row first)."""
        return list(csv.DictReader(io.StringIO(self.members[name].decode("utf-8"), newline="")))


def json_bytes(data: Any) -> bytes:
    """Serialise JSON the way bundles do (UTF-8, sorted keys, two-space indent)."""
    return (json.dumps(data, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode("utf-8")


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """Serialise CSV the way bundles do (UTF-8, comma, ``\\n``, empty cell for None)."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow(["" if v is None else v for v in row])
    return buf.getvalue().encode("utf-8")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_bundle(
    path: Path,
    members: Mapping[str, bytes],
    header: Mapping[str, Any],
    private_key: str,
    public_key: str,
) -> str:
    """Write a signed bundle atomically and return the SHA-256 of the file.

    Parameters
    ----------
    path : Path
        The zip file to write (replaced when it exists).
    members : mapping of str to bytes
        Member name to content.
    header : mapping
        Manifest fields (``site``, ``created_at``, ``counts``...); ``format``,
        ``schema_version``, ``public_key`` and ``members`` are added here.
    private_key, public_key : str
        The signing key pair (see :mod:`dxa_app.centre.keys`).

    Returns
    -------
    str
        The hex SHA-256 of the written file.
    """
    if not path.parent.is_dir():
        raise UsageError(
            _("The folder {folder} does not exist.").format(folder=path.parent),
            _("Create the folder first or choose another path."),
        )
    manifest = {
        **header,
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "public_key": public_key,
        "members": {
            name: {"sha256": _sha256(data), "bytes": len(data)}
            for name, data in sorted(members.items())
        },
    }
    manifest_bytes = json_bytes(manifest)
    return write_signed_zip(path, members, manifest_bytes, sign(private_key, manifest_bytes))


def write_signed_zip(
    path: Path, members: Mapping[str, bytes], manifest_bytes: bytes, signature: str
) -> str:
    """Write the zip (manifest, signature, members) atomically; return the file's SHA-256."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in [(MANIFEST, manifest_bytes), (SIGNATURE, signature.encode("ascii"))] + [
            (n, members[n]) for n in sorted(members)
        ]:
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    data = buf.getvalue()
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return _sha256(data)


def _refused(path: Path, reason: str, remedy: str) -> BundleError:
    return BundleError(
        _("Bundle {name} refused: {reason}").format(name=path.name, reason=reason), remedy
    )


def read_bundle(path: Path, registered_key: Callable[[str], str | None]) -> VerifiedBundle:
    """Open a bundle and check its format, schema, signature and every member's hash.

    Parameters
    ----------
    path : Path
        The bundle file.
    registered_key : callable
        Returns the public key registered for a site code, or None when the site is unknown.

    Returns
    -------
    VerifiedBundle
        The manifest and the member bytes.

    Raises
    ------
    BundleError
        With one message for a damaged or truncated file, a file that is not a bundle, a
        newer schema, an unregistered site or key, a wrong signature, or a changed member.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise _refused(path, _("the file does not exist."), _("Check the path.")) from exc
    damaged = _("the file is damaged or truncated.")
    resend = _("Ask the site to export the bundle again and send the whole file.")
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            infos = zf.infolist()
            if any(i.file_size > MAX_MEMBER_BYTES for i in infos):
                raise _refused(path, _("a member is too large."), resend)
            names = [i.filename for i in infos]
            if MANIFEST not in names or SIGNATURE not in names:
                raise _refused(
                    path,
                    _("it is not a knowledge-centre bundle (no signed manifest)."),
                    _("Give a file written by 'centre export'."),
                )
            contents = {n: zf.read(n) for n in names}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise _refused(path, damaged, resend) from exc
    if len(set(names)) != len(names):
        raise _refused(path, _("a member appears twice."), resend)
    manifest_bytes = contents.pop(MANIFEST)
    signature = contents.pop(SIGNATURE).decode("ascii", "replace").strip()
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
        fmt, version = manifest["format"], int(manifest["schema_version"])
        site = str(manifest["site"]["code"])
        public = str(manifest["public_key"])
        listed: dict[str, Any] = dict(manifest["members"])
    except (ValueError, KeyError, TypeError) as exc:
        raise _refused(path, _("the manifest cannot be read."), resend) from exc
    if fmt != FORMAT:
        raise _refused(
            path,
            _("it is not a knowledge-centre bundle (format {fmt}).").format(fmt=fmt),
            _("Give a file written by 'centre export'."),
        )
    if version > SCHEMA_VERSION:
        raise _refused(
            path,
            _("it has schema version {found}; this program reads up to {known}.").format(
                found=version, known=SCHEMA_VERSION
            ),
            _("Install the newest version of the DXA tool at the centre."),
        )
    registered = registered_key(site)
    if registered is None:
        raise _refused(
            path,
            _("site {site} is not registered at this centre.").format(site=site),
            _("Register the site's public key with 'centre register-site {site} KEY'.").format(
                site=site
            ),
        )
    try:
        same_key = normalise_public_key(public) == normalise_public_key(registered)
    except UsageError:
        same_key = False
    if not same_key or not verify(registered, manifest_bytes, signature):
        raise _refused(
            path,
            _("it is not signed by the key registered for site {site}.").format(site=site),
            _("Check with the site which key it uses ('centre keys'); never import it unsigned."),
        )
    if set(listed) != set(contents):
        raise _refused(path, _("its members do not match the signed manifest."), resend)
    for name, data in contents.items():
        entry = listed[name]
        if not isinstance(entry, dict) or entry.get("sha256") != _sha256(data):
            raise _refused(
                path, _("member {name} was changed after signing.").format(name=name), resend
            )
    return VerifiedBundle(path, _sha256(raw), manifest, contents)

"""The signed zip of a site bundle: manifest with SHA-256 per member and an Ed25519 signature."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from dxa_app.centre.keys import normalise_public_key, sign, verify
from dxa_app.csv_safety import SafeWriter, unescape_cell
from dxa_app.errors import ImportProblemError, UsageError
from dxa_app.fileio import write_owner_only
from dxa_app.i18n import _

FORMAT = "dxa-centre-bundle"
SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
#: Fixed member time stamp, so the same content gives the same bytes.
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)
#: Upper bound of a whole bundle file.
MAX_BUNDLE_BYTES = 512 * 1024 * 1024
#: Upper bound of one member's (signed, decompressed) size.
MAX_MEMBER_BYTES = 1024 * 1024 * 1024
#: Upper bound of the manifest (read before the signature is checked).
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
#: Highest compression ratio accepted for a member larger than _RATIO_FLOOR (real CSV and JSON
#: members compress about 5-20 times; DEFLATE can reach about 1,000: a bomb).
MAX_COMPRESSION_RATIO = 200
_RATIO_FLOOR = 1024 * 1024
#: Deepest JSON nesting accepted in a manifest or corrections file.
MAX_JSON_DEPTH = 64
_CHUNK = 1024 * 1024


class BundleError(ImportProblemError):
    """A bundle or corrections file was refused (damaged, tampered, unknown key, newer schema)."""


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle whose signature and member hashes were checked.

    The members are in ``members``, or (read with ``keep_members=False``) decompressed from
    the verified file's bytes ``raw`` when asked for, a CSV member row by row; ``quoted``
    names the members that hold an apostrophe (an escaped cell may start with one).
    """

    path: Path
    sha256: str
    manifest: dict[str, Any]
    members: dict[str, bytes]
    raw: bytes = b""
    quoted: frozenset[str] = frozenset()

    @property
    def site(self) -> str:
        """The site code the bundle was signed for."""
        return str(self.manifest["site"]["code"])

    def json(self, name: str) -> Any:
        """Return one JSON member, parsed."""
        if name in self.members or not self.raw:
            return json.loads(self.members[name].decode("utf-8"))
        with zipfile.ZipFile(io.BytesIO(self.raw)) as zf:
            return json.loads(zf.read(name).decode("utf-8"))

    def csv_rows(self, name: str) -> list[dict[str, str]]:
        """Return one CSV member as dicts (header row first), formula escapes undone."""
        return list(self.iter_csv_rows(name))

    def iter_csv_rows(self, name: str) -> Iterator[dict[str, str]]:
        """Yield one CSV member's rows as dicts one at a time (see :meth:`csv_rows`)."""
        if name in self.members or not self.raw:
            data = self.members[name]
            # an escaped cell starts with an apostrophe: a member without one needs no unescaping
            yield from _csv_dicts(io.BytesIO(data), b"'" in data)
            return
        with zipfile.ZipFile(io.BytesIO(self.raw)) as zf, zf.open(name) as fh:
            yield from _csv_dicts(fh, name in self.quoted)


def _csv_dicts(binary: IO[bytes], escaped: bool) -> Iterator[dict[str, str]]:
    text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
    for row in csv.DictReader(text):
        if escaped:
            row = {k: unescape_cell(v) if isinstance(v, str) else v for k, v in row.items()}
        yield row


def json_bytes(data: Any) -> bytes:
    """Serialise JSON the way bundles do (UTF-8, sorted keys, two-space indent)."""
    return (json.dumps(data, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode("utf-8")


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """Serialise CSV the way bundles do (UTF-8, comma, ``\\n``, empty cell for None).

    Formula-like text cells are escaped (:func:`dxa_app.csv_safety.escape_cell`);
    :meth:`VerifiedBundle.csv_rows` undoes the escape, so the exchange is lossless.
    """
    buf = io.StringIO(newline="")
    w = SafeWriter(buf, lineterminator="\n")
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
    write_owner_only(path, data)
    return _sha256(data)


def _refused(path: Path, reason: str, remedy: str) -> BundleError:
    return BundleError(
        _("Bundle {name} refused: {reason}").format(name=path.name, reason=reason), remedy
    )


def json_depth_ok(data: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Return whether JSON text nests arrays and objects at most ``max_depth`` deep.

    A cheap scan before parsing, so an over-deep document is refused instead of exhausting
    the parser's recursion (brackets inside strings are skipped).

    Parameters
    ----------
    data : bytes
        The JSON text (UTF-8).
    max_depth : int
        The deepest nesting accepted.

    Returns
    -------
    bool
        True when the nesting is within the limit.
    """
    depth = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > max_depth:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


def loads_bounded(data: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse UTF-8 JSON whose nesting is at most ``max_depth`` deep.

    Parameters
    ----------
    data : bytes
        The JSON text.
    max_depth : int
        The deepest nesting accepted.

    Returns
    -------
    Any
        The parsed value.

    Raises
    ------
    ValueError
        For invalid or over-deep JSON.
    """
    if not json_depth_ok(data, max_depth):
        raise ValueError(f"JSON nested deeper than {max_depth}")
    return json.loads(data.decode("utf-8"))


def _safe_name(name: str) -> bool:
    """Whether a member name is a plain relative path (no absolute path, drive or ``..``)."""
    if not name or name.startswith(("/", "\\")) or "\\" in name or ":" in name:
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """Decompress one member in chunks, refusing more than ``limit`` bytes (no bomb fits)."""
    out = bytearray()
    with zf.open(info) as fh:
        while chunk := fh.read(min(_CHUNK, limit + 1 - len(out))):
            out += chunk
            if len(out) > limit:
                raise _TooLarge(info.filename)
    return bytes(out)


class _TooLarge(Exception):
    """A member decompressed to more than it may."""


def read_bundle(
    path: Path, registered_key: Callable[[str], str | None], *, keep_members: bool = True
) -> VerifiedBundle:
    """Open a bundle: check the signed manifest first, then stream each member within limits.

    Order of checks: the file's size; the zip's directory (unique, plain member names; each
    member's declared size and compression ratio); the manifest (bounded size and nesting),
    its format, schema, site and Ed25519 signature against the registered key; only then are
    the other members decompressed, each in chunks and never beyond the size the signed
    manifest gives, and compared with its signed SHA-256. Memory stays bounded by the
    signed sizes, so a zip bomb is refused before it expands.

    Parameters
    ----------
    path : Path
        The bundle file.
    registered_key : callable
        Returns the public key registered for a site code, or None when the site is unknown.
    keep_members : bool
        Keep every member's bytes (default). False keeps the file's bytes only (members are
        decompressed again when read): one member at a time in memory, not all of them.

    Returns
    -------
    VerifiedBundle
        The manifest and the member bytes.

    Raises
    ------
    BundleError
        With one message for a damaged or truncated file, a file that is not a bundle, an
        unsafe or duplicate member name, a member too large or too compressed, a newer
        schema, an unregistered site or key, a wrong signature, or a changed member.
    """
    damaged = _("the file is damaged or truncated.")
    resend = _("Ask the site to export the bundle again and send the whole file.")
    not_bundle = _("Give a file written by 'centre export'.")
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise _refused(path, _("the file does not exist."), _("Check the path.")) from exc
    if not path.is_file():
        raise _refused(path, _("it is not a regular file."), not_bundle)
    if size > MAX_BUNDLE_BYTES:
        raise _refused(path, _("the file is too large."), resend)
    raw = path.read_bytes()
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            infos = zf.infolist()
            names = [i.filename for i in infos]
            if len(set(names)) != len(names):
                raise _refused(path, _("a member appears twice."), resend)
            if not all(_safe_name(n) for n in names):
                raise _refused(path, _("a member name is not a plain file name."), resend)
            for i in infos:
                ratio = i.file_size / max(i.compress_size, 1)
                if i.file_size > MAX_MEMBER_BYTES or (
                    i.file_size > _RATIO_FLOOR and ratio > MAX_COMPRESSION_RATIO
                ):
                    raise _refused(
                        path,
                        _("member {name} is too large or too compressed.").format(name=i.filename),
                        resend,
                    )
            by_name = {i.filename: i for i in infos}
            if MANIFEST not in by_name or SIGNATURE not in by_name:
                raise _refused(
                    path,
                    _("it is not a knowledge-centre bundle (no signed manifest)."),
                    not_bundle,
                )
            manifest_bytes = _read_member(zf, by_name[MANIFEST], MAX_MANIFEST_BYTES)
            signature = (
                _read_member(zf, by_name[SIGNATURE], 1024).decode("ascii", "replace").strip()
            )
            manifest, listed = _checked_manifest(path, manifest_bytes, signature, registered_key)
            if set(listed) != set(by_name) - {MANIFEST, SIGNATURE}:
                raise _refused(path, _("its members do not match the signed manifest."), resend)
            contents: dict[str, bytes] = {}
            quoted: set[str] = set()
            for name, entry in listed.items():
                limit = int(entry["bytes"]) if isinstance(entry, dict) else -1
                if not 0 <= limit <= MAX_MEMBER_BYTES:
                    raise _refused(path, _("the manifest cannot be read."), resend)
                data = _read_member(zf, by_name[name], limit)
                if entry.get("sha256") != _sha256(data):
                    raise _refused(
                        path,
                        _("member {name} was changed after signing.").format(name=name),
                        resend,
                    )
                if b"'" in data:
                    quoted.add(name)
                if keep_members:
                    contents[name] = data
                del data
    except _TooLarge as exc:
        raise _refused(
            path, _("member {name} is larger than signed.").format(name=exc.args[0]), resend
        ) from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise _refused(path, damaged, resend) from exc
    return VerifiedBundle(
        path,
        _sha256(raw),
        manifest,
        contents,
        b"" if keep_members else raw,
        frozenset(quoted),
    )


def _checked_manifest(
    path: Path,
    manifest_bytes: bytes,
    signature: str,
    registered_key: Callable[[str], str | None],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Parse the manifest and check format, schema, site and signature; return it and members."""
    resend = _("Ask the site to export the bundle again and send the whole file.")
    try:
        manifest = loads_bounded(manifest_bytes)
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
    return manifest, listed

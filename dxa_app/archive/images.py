"""The image store beside the archive: every imported DICOM file, copied and content-addressed.

An import copies each instance into ``<archive>-images/ab/abcdef....dcm`` (``ab`` = the first
two hex digits of the file's SHA-256, the name = the whole SHA-256), so the archive never
depends on the folder or USB stick a file came from. Files are written through a temporary
name and renamed, owner-only (0600, folders 0700), and never changed or removed afterwards:
the same content always has the same name, so a copy that exists is the file. The archive's
``images`` rows name their file by that relative path (``stored_path``).

Backups copy the store beside the backup file (``<backup>-images/``, the same layout), and a
restore checks every file of the backup's store against the SHA-256 its row records before
anything is replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from dxa_app.archive.database import Database
from dxa_app.errors import ImportProblemError
from dxa_app.fileio import NEW_FILE_FLAGS, OWNER_ONLY
from dxa_app.i18n import _

#: The store of ``x.dxa.sqlite`` is the folder ``x.dxa.sqlite-images`` beside it.
STORE_SUFFIX: Final = "-images"
_FOLDER_MODE: Final = 0o700
_CHUNK: Final = 1 << 20


def store_folder_for(archive: Path) -> Path:
    """Return the image store folder of an archive (or backup) file.

    Parameters
    ----------
    archive : Path
        The archive file.

    Returns
    -------
    Path
        ``<archive>-images`` beside it (it may not exist yet).
    """
    return archive.with_name(archive.name + STORE_SUFFIX)


def archive_file(db: Database) -> Path | None:
    """Return the file of an open archive, or None for an in-memory database."""
    row = db.execute("PRAGMA database_list").fetchone()
    path = str(row[2]) if row else ""
    return Path(path) if path else None


def store_folder(db: Database) -> Path | None:
    """Return the image store folder of an open archive (None for an in-memory database)."""
    path = archive_file(db)
    return store_folder_for(path) if path is not None else None


def relative_path(sha256: str) -> str:
    """Return where content with ``sha256`` lives in a store: ``ab/abcdef....dcm``.

    Parameters
    ----------
    sha256 : str
        The SHA-256 of the file, 64 lower-case hex digits.

    Returns
    -------
    str
        The path relative to the store folder, with ``/``.

    Raises
    ------
    ValueError
        When ``sha256`` is not 64 hex digits (never a path outside the store).
    """
    digest = sha256.lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"not a SHA-256: {sha256!r}")
    return f"{digest[:2]}/{digest}.dcm"


def file_digest(path: Path) -> tuple[str, int]:
    """Return the SHA-256 (hex) and size of a file, read in chunks."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _mkdir(folder: Path) -> None:
    """Create ``folder`` and its missing parents, each owner-only (0700)."""
    missing: list[Path] = []
    level = folder
    while not level.exists():
        missing.append(level)
        level = level.parent
    for path in reversed(missing):
        path.mkdir(mode=_FOLDER_MODE, exist_ok=True)


def _copy_hashing(source: Path, tmp: Path) -> tuple[str, int]:
    """Copy ``source`` to a new owner-only ``tmp`` (fsynced); return its SHA-256 and size."""
    h = hashlib.sha256()
    size = 0
    fd = os.open(tmp, NEW_FILE_FLAGS, OWNER_ONLY)
    with os.fdopen(fd, "wb") as out, source.open("rb") as src:
        while chunk := src.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return h.hexdigest(), size


def _link_or_copy(source: Path, dest: Path, sha256: str) -> int:
    """Put the file ``source`` (content ``sha256``) at ``dest``; return its size.

    ``dest`` is written through a temporary name and renamed; the copy is hashed while it
    is written and refused when it is not ``sha256`` (the source changed or is damaged).
    """
    _mkdir(dest.parent)
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")
    try:
        digest, size = _copy_hashing(source, tmp)
        if digest != sha256:
            raise _Mismatch(digest)
        tmp.replace(dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return size


class _Mismatch(Exception):
    """A copy's SHA-256 is not the one expected (the digest found)."""


def put(folder: Path, source: Path, sha256: str) -> tuple[str, int]:
    """Copy an imported file into the store (nothing when its content is there already).

    Parameters
    ----------
    folder : Path
        The store folder (created when missing).
    source : Path
        The file as the reader read it.
    sha256 : str
        The SHA-256 the reader computed for it.

    Returns
    -------
    tuple of (str, int)
        The path relative to the store and the size in bytes.

    Raises
    ------
    ImportProblemError
        When the file changed since it was read, or cannot be copied (disk full, no
        permission): the file's import fails and the rest of the batch goes on.
    """
    rel = relative_path(sha256)
    dest = folder / rel
    try:
        if dest.is_file():
            digest, size = file_digest(dest)
            if digest == sha256:
                return rel, size
        return rel, _link_or_copy(source, dest, sha256)
    except _Mismatch as exc:
        raise ImportProblemError(
            _(
                "{path} changed while it was imported (SHA-256 {found}, read as {expected});"
                " it was not stored."
            ).format(path=source, found=str(exc)[:16], expected=sha256[:16]),
            _("Import the file again once it is no longer being written."),
        ) from exc
    except OSError as exc:
        raise ImportProblemError(
            _("{path} could not be copied into the image store {store}: {error}").format(
                path=source, store=folder, error=exc.strerror or exc
            ),
            _("Check the free space and the permissions of the archive's folder."),
        ) from exc


def put_new_bytes(folder: Path, data: bytes, sha256: str) -> tuple[str, int] | None:
    """Write content that was read and parsed into the store, when it is not there yet.

    Used by the import's readers, so that a file is read once: the bytes that were parsed
    are what is stored (fsynced, owner-only). Nothing is written when the store holds the
    name already; the import's writer then checks that copy as :func:`put` does (and puts
    the file again when the copy is not whole).

    The file is created under its final name, never over an existing one, rather than
    written under a temporary name and renamed: the rename and the failed removal of the
    temporary name were a third of an import's time in the reading processes, and nothing
    relies on the name alone. No archive row names the copy before it is whole and
    fsynced (the reader returns first), and a copy left unfinished by a crash is found
    unequal and replaced (through a temporary name) by the next import of the file. A copy
    that cannot be written is removed, unless another import has replaced it meanwhile.

    Parameters
    ----------
    folder : Path
        The store folder (created when missing).
    data : bytes
        The file's content.
    sha256 : str
        Its SHA-256 (hex), computed from ``data`` by the reader.

    Returns
    -------
    tuple of (str, int) or None
        The path relative to the store and the size, or None when the store held it.

    Raises
    ------
    ImportProblemError
        When it cannot be written (disk full, no permission).
    """
    rel = relative_path(sha256)
    dest = folder / rel
    ours: os.stat_result | None = None
    try:
        try:
            fd = os.open(dest, NEW_FILE_FLAGS, OWNER_ONLY)
        except FileNotFoundError:  # the first file of its folder
            _mkdir(dest.parent)
            fd = os.open(dest, NEW_FILE_FLAGS, OWNER_ONLY)
        with os.fdopen(fd, "wb") as out:
            ours = os.fstat(fd)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except FileExistsError:
        return None
    except OSError as exc:
        if ours is not None:  # never leave a part of it under its name...
            _remove_if_same(dest, ours)  # ...nor remove the whole copy another import put
        raise ImportProblemError(
            _("{path} could not be copied into the image store {store}: {error}").format(
                path=rel, store=folder, error=exc.strerror or exc
            ),
            _("Check the free space and the permissions of the archive's folder."),
        ) from exc
    return rel, len(data)


def _remove_if_same(path: Path, ours: os.stat_result) -> None:
    """Remove ``path`` if it is still the file ``ours`` (not a copy put there since)."""
    with contextlib.suppress(OSError):
        if os.path.samestat(path.stat(), ours):
            path.unlink()


def holds_images(db: Database) -> bool:
    """Return whether the archive holds any image (instance) row."""
    return db.execute("SELECT 1 FROM images LIMIT 1").fetchone() is not None


def imported_whole(db: Database, sha256: str, folder: Path | None) -> bool:
    """Return whether a file with these exact bytes was imported whole already.

    True when an instance with this SHA-256 is in the archive, none of its rows had
    vendor analysis data that was not understood (a newer reader may understand it: such
    a file is read again), and its copy in the image store is there (reading it again
    puts a missing copy back).

    Parameters
    ----------
    db : Database
        The archive.
    sha256 : str
        The SHA-256 (hex) of the file's bytes.
    folder : Path or None
        The archive's image store (None: the archive keeps no copies).

    Returns
    -------
    bool
        Whether reading the file again can add nothing.
    """
    rows = db.execute(
        "SELECT analysis, stored_path FROM images WHERE sha256 = ?", [sha256]
    ).fetchall()
    if not rows:
        return False
    for analysis, stored_path in rows:
        if analysis == "not_understood":
            return False
        if folder is not None and (not stored_path or not (folder / stored_path).is_file()):
            return False
    return True


@dataclass(frozen=True)
class StoredFile:
    """One file an archive's image rows name: where, and the SHA-256 it must have."""

    stored_path: str
    sha256: str


def stored_files(db: Database) -> list[StoredFile]:
    """Return the distinct stored files an archive's image rows name.

    Parameters
    ----------
    db : Database
        The open archive (or a checked copy).

    Returns
    -------
    list of StoredFile
        In path order.
    """
    return [
        StoredFile(str(r[0]), str(r[1]))
        for r in db.execute(
            "SELECT DISTINCT stored_path, sha256 FROM images WHERE stored_path <> ''"
            " ORDER BY stored_path"
        ).fetchall()
    ]


def check_store(folder: Path, files: list[StoredFile]) -> list[str]:
    """Check that every file is in the store with its SHA-256.

    Parameters
    ----------
    folder : Path
        The store folder.
    files : list of StoredFile
        What the archive's rows name.

    Returns
    -------
    list of str
        One problem per missing or changed file (empty when all are there).
    """
    problems: list[str] = []
    for f in files:
        path = folder / f.stored_path
        try:
            if relative_path(f.sha256) != f.stored_path:
                problems.append(f"{f.stored_path}: not named by its SHA-256")
                continue
            digest, _size = file_digest(path)
        except FileNotFoundError:
            problems.append(f"{f.stored_path}: missing")
            continue
        except (OSError, ValueError) as exc:
            problems.append(f"{f.stored_path}: {exc}")
            continue
        if digest != f.sha256:
            problems.append(f"{f.stored_path}: changed (SHA-256 {digest[:16]})")
    return problems


@dataclass(frozen=True)
class StoreCopy:
    """What :func:`copy_files` did.

    The files now in the target store and their bytes, and the files that could not be
    copied (missing or changed in the source store).
    """

    files: int
    bytes: int
    missing: tuple[str, ...] = ()


def copy_files(
    source: Path,
    dest: Path,
    files: list[StoredFile],
    *,
    link_from: Path | None = None,
    verify_links: bool = True,
) -> StoreCopy:
    """Copy stored files from one store folder to another (e.g. into a backup's store).

    A file already in ``dest`` with its SHA-256 is kept. With ``link_from`` (an older
    backup's store, or the archive's own store, on the same disk) a file there of the same
    name is hard-linked instead of copied (after its SHA-256 is checked, unless
    ``verify_links`` is False): content-addressed files never change, so copies share them.
    Every copied file is hashed while it is written and kept only when its SHA-256 is right.

    Parameters
    ----------
    source : Path
        The store to copy from.
    dest : Path
        The store to copy into (created).
    files : list of StoredFile
        The files to copy.
    link_from : Path, optional
        A store whose files may be hard-linked.
    verify_links : bool
        Check a file's SHA-256 before linking it.

    Returns
    -------
    StoreCopy
        The files and bytes now in ``dest``, and the ones missing or changed in ``source``.

    Raises
    ------
    OSError
        When ``dest`` cannot be written.
    """
    _mkdir(dest)
    total = 0
    done = 0
    missing: list[str] = []
    for f in files:
        target = dest / f.stored_path
        if target.is_file() and (not verify_links or file_digest(target)[0] == f.sha256):
            total += target.stat().st_size
            done += 1
            continue
        if link_from is not None:
            older = link_from / f.stored_path
            if older.is_file() and (not verify_links or file_digest(older)[0] == f.sha256):
                _mkdir(target.parent)
                with contextlib.suppress(OSError):  # another disk, or no hard links there
                    os.link(older, target)
                    total += target.stat().st_size
                    done += 1
                    continue
        origin = source / f.stored_path
        if not origin.is_file():
            missing.append(f.stored_path)
            continue
        try:
            total += _link_or_copy(origin, target, f.sha256)
        except _Mismatch:
            missing.append(f.stored_path)
            continue
        done += 1
    return StoreCopy(done, total, tuple(missing))


def walk_store(folder: Path) -> Iterator[Path]:
    """Yield every stored file of a store folder (temporary files left out)."""
    if not folder.is_dir():
        return
    for sub in sorted(folder.iterdir()):
        if sub.is_dir():
            yield from (p for p in sorted(sub.glob("*.dcm")) if not p.name.startswith("."))

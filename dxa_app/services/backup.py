"""Back up and restore the archive: consistent online copies, checked before anything is replaced.

A backup is two things side by side, in the archive's own layout: the archive file
(``name.dxa.sqlite``) and its image store (``name.dxa.sqlite-images/``, every imported DICOM
file by SHA-256, and a manifest). ``backup_archive`` copies the archive with SQLite's online
backup API (a committed state even while an import writes), checks the copy, copies the image
files it names (hard-linking unchanged ones from the previous copy of a ``--folder``), and with
a folder keeps the newest N copies. ``restore_archive`` checks both the file (integrity,
foreign keys, a schema this program knows) and every image file it names (present, SHA-256
right) before anything is replaced, keeps a safety copy of the current archive and its images
beside it, adds the backup's image files to the archive's store, then replaces the content.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dxa_app.archive.backup import (
    FileCheck,
    check_file,
    check_images,
    copy_from,
    copy_images,
    copy_to,
    image_files_of,
    restore_images,
)
from dxa_app.archive.db import ARCHIVE_SUFFIX
from dxa_app.archive.images import copy_files, store_folder_for
from dxa_app.errors import ArchiveError, UsageError
from dxa_app.i18n import _
from dxa_app.services.auth import Permission, Session, acting, record

#: File names of folder backups: ``<stem>-YYYYMMDD-HHMMSS.dxa.sqlite``.
_STAMP = "%Y%m%d-%H%M%S"


@dataclass(frozen=True)
class BackupResult:
    """A written backup and what a folder rotation removed.

    ``images`` and ``image_bytes`` count the image files in the backup's store
    (``images_path``); ``images_missing`` names the files the archive's rows name but its
    store lacked (lost before the backup): the backup is written without them.
    """

    path: str
    bytes: int
    check: FileCheck
    removed: tuple[str, ...] = ()
    images_path: str = ""
    images: int = 0
    image_bytes: int = 0
    images_missing: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "path": self.path,
            "bytes": self.bytes,
            "ok": self.check.ok,
            "problems": list(self.check.problems),
            "removed": list(self.removed),
            "images_path": self.images_path,
            "images": self.images,
            "image_bytes": self.image_bytes,
            "images_missing": list(self.images_missing),
        }


def _stem(archive: Path) -> str:
    name = archive.name
    return name[: -len(ARCHIVE_SUFFIX)] if name.endswith(ARCHIVE_SUFFIX) else archive.stem


def _folder_copies(folder: Path, stem: str) -> list[Path]:
    return sorted(folder.glob(f"{stem}-????????-??????{ARCHIVE_SUFFIX}"))


def _rotate(folder: Path, stem: str, keep: int) -> tuple[str, ...]:
    copies = _folder_copies(folder, stem)
    old = copies[: max(len(copies) - keep, 0)]
    for p in old:
        p.unlink()
        shutil.rmtree(store_folder_for(p), ignore_errors=True)  # links: newer copies keep theirs
    return tuple(str(p) for p in old)


def _discard(dest: Path) -> None:
    dest.unlink(missing_ok=True)
    shutil.rmtree(store_folder_for(dest), ignore_errors=True)


def backup_archive(
    session: Session,
    dest: Path | None = None,
    *,
    folder: Path | None = None,
    keep: int | None = None,
    now: dt.datetime | None = None,
) -> BackupResult:
    """Write a consistent, checked, owner-only copy of the archive; audited.

    Parameters
    ----------
    session : Session
        The acting user (technician or administrator).
    dest : Path, optional
        The copy to write (must not exist, must not be the archive).
    folder : Path, optional
        Instead of ``dest``: write ``<archive>-YYYYMMDD-HHMMSS.dxa.sqlite`` into this folder.
    keep : int, optional
        With ``folder``: keep only the newest ``keep`` copies there.
    now : datetime, optional
        The time stamp of a folder copy (default now, UTC).

    Returns
    -------
    BackupResult
        The copy, its size and check, and the copies rotation removed.

    Raises
    ------
    UsageError
        For a missing or existing destination, the archive itself, or ``keep`` below 1.
    ArchiveError
        When the copy does not pass its check (it is removed).
    """
    if (dest is None) == (folder is None):
        raise UsageError(_("Give a backup file or --folder, not both."), "")
    if keep is not None and keep < 1:
        raise UsageError(_("--keep must be 1 or more."), "")
    archive = Path(session.archive)
    if folder is not None:
        if not folder.is_dir():
            raise UsageError(_("The folder {folder} does not exist.").format(folder=folder), "")
        stamp = (now or dt.datetime.now(dt.UTC)).strftime(_STAMP)
        dest = folder / f"{_stem(archive)}-{stamp}{ARCHIVE_SUFFIX}"
    assert dest is not None
    if dest.resolve() == archive.resolve():
        raise UsageError(_("The backup cannot be the archive itself."), "")
    if dest.exists() or store_folder_for(dest).exists():
        raise UsageError(
            _("{path} exists; a backup never overwrites a file.").format(path=dest),
            _("Choose a new file name, or use --folder."),
        )
    if not dest.parent.is_dir():
        raise UsageError(_("The folder {folder} does not exist.").format(folder=dest.parent), "")
    previous = _folder_copies(folder, _stem(archive)) if folder is not None else []
    link_from = store_folder_for(previous[-1]) if previous else None
    with acting(session, Permission.BACKUP) as db:
        copy_to(db, dest)
        check = check_file(dest)
        if not check.ok:
            _discard(dest)
            raise ArchiveError(
                _("The backup failed its check: {problems}").format(
                    problems="; ".join(check.problems)
                ),
                _("Check the archive with an administrator; nothing was kept."),
            )
        try:
            images, store = copy_images(archive, dest, link_from=link_from)
        except OSError as exc:
            _discard(dest)
            raise ArchiveError(
                _("The image files could not be copied into the backup: {error}").format(
                    error=exc.strerror or exc
                ),
                _("Check the free space and permissions of the backup folder; nothing was kept."),
            ) from exc
        removed = _rotate(folder, _stem(archive), keep) if folder and keep else ()
        record(
            db,
            session,
            "backup",
            entity="archive",
            details={
                "file": str(dest),
                "bytes": dest.stat().st_size,
                "removed": len(removed),
                "images": images.files,
                "image_bytes": images.bytes,
                "images_missing": len(images.missing),
            },
        )
    return BackupResult(
        str(dest),
        dest.stat().st_size,
        check,
        removed,
        str(store),
        images.files,
        images.bytes,
        images.missing,
    )


def safety_copy_pattern(archive: Path) -> str:
    """Return how the safety copy of a restore is named (``<stem>-before-restore-<stamp>...``).

    Parameters
    ----------
    archive : Path
        The archive file.

    Returns
    -------
    str
        The file name pattern, with ``<date>-<time>`` where the time stamp goes.
    """
    return f"{_stem(archive)}-before-restore-<date>-<time>{ARCHIVE_SUFFIX}"


def restore_archive(session: Session, src: Path) -> dict[str, Any]:
    """Replace the archive's content with a checked backup (administrator); audited.

    Both parts of the backup are checked before anything is replaced: the file (integrity,
    foreign keys, a schema this program knows) and every image file it names (present in
    the store beside it, ``<backup>-images``, or already in the archive's own store, with
    the SHA-256 its row records). The current archive is first copied to
    ``<archive>-before-restore-<stamp>.dxa.sqlite`` beside it, its images hard-linked (or
    copied) beside that, so a restore can itself be undone; then the backup's image files
    are added to the archive's store and its content replaces the archive's.

    Parameters
    ----------
    session : Session
        The acting administrator.
    src : Path
        The backup file.

    Returns
    -------
    dict
        The restored file, the safety copy, the check, the image files, and the files that
        were already missing when the backup was made.

    Raises
    ------
    ArchiveError
        When the backup or one of its image files fails its check (nothing is replaced).
    """
    if not src.is_file():
        raise UsageError(_("No backup file {path}.").format(path=src), "")
    check = check_file(src)
    if not check.ok:
        raise ArchiveError(
            _("{path} cannot be restored: {problems}").format(
                path=src, problems="; ".join(check.problems)
            ),
            _("Choose another backup; nothing was replaced."),
        )
    archive = Path(session.archive)
    live_store = store_folder_for(archive)
    images = check_images(src, live_store)
    if not images.ok:
        shown = "; ".join(images.problems[:5])
        more = len(images.problems) - 5
        raise ArchiveError(
            _(
                "{path} cannot be restored: {n} image files are missing or changed ({shown}{more})."
            ).format(
                path=src,
                n=len(images.problems),
                shown=shown,
                more=_(", and {n} more").format(n=more) if more > 0 else "",
            ),
            _(
                "Keep the backup file and its image folder {store} together, or choose another"
                " backup; nothing was replaced."
            ).format(store=store_folder_for(src)),
        )
    stamp = dt.datetime.now(dt.UTC).strftime(_STAMP)
    safety = archive.with_name(f"{_stem(archive)}-before-restore-{stamp}{ARCHIVE_SUFFIX}")
    with acting(session, Permission.RESTORE) as db:
        copy_to(db, safety)
        kept = copy_files(
            live_store,
            store_folder_for(safety),
            image_files_of(safety),
            link_from=live_store,
            verify_links=False,  # the same files: a link shares them, whatever they hold
        )
        added = restore_images(src, live_store, images.files)
        copy_from(db, src)
        record(
            db,
            session,
            "restore",
            entity="archive",
            details={
                "from": str(src),
                "safety_copy": str(safety),
                "images": added.files,
                "images_missing_at_backup": len(images.missing_at_backup),
            },
        )
    return {
        "restored_from": str(src),
        "safety_copy": str(safety),
        "migrations": check.migrations,
        "images": added.files,
        "image_bytes": added.bytes,
        "images_missing_at_backup": list(images.missing_at_backup),
        "safety_copy_images": kept.files,
    }

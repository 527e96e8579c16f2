"""Back up and restore the archive: consistent online copies, checked before anything is replaced.

``backup_archive`` copies the archive with SQLite's online backup API (a committed state even
while an import writes), checks the copy, and with a folder keeps the newest N copies.
``restore_archive`` checks a copy (integrity, foreign keys, a schema this program knows), keeps
a safety copy of the current archive beside it, then replaces the content. Stored images are
kept as references to their source files, so the archive file is the whole backup.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dxa_app.archive.backup import FileCheck, check_file, copy_from, copy_to
from dxa_app.archive.db import ARCHIVE_SUFFIX
from dxa_app.errors import ArchiveError, UsageError
from dxa_app.i18n import _
from dxa_app.services.auth import Permission, Session, acting, record

#: File names of folder backups: ``<stem>-YYYYMMDD-HHMMSS.dxa.sqlite``.
_STAMP = "%Y%m%d-%H%M%S"


@dataclass(frozen=True)
class BackupResult:
    """A written backup and what a folder rotation removed."""

    path: str
    bytes: int
    check: FileCheck
    removed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "path": self.path,
            "bytes": self.bytes,
            "ok": self.check.ok,
            "problems": list(self.check.problems),
            "removed": list(self.removed),
        }


def _stem(archive: Path) -> str:
    name = archive.name
    return name[: -len(ARCHIVE_SUFFIX)] if name.endswith(ARCHIVE_SUFFIX) else archive.stem


def _rotate(folder: Path, stem: str, keep: int) -> tuple[str, ...]:
    copies = sorted(folder.glob(f"{stem}-????????-??????{ARCHIVE_SUFFIX}"))
    old = copies[: max(len(copies) - keep, 0)]
    for p in old:
        p.unlink()
    return tuple(str(p) for p in old)


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
    if dest.exists():
        raise UsageError(
            _("{path} exists; a backup never overwrites a file.").format(path=dest),
            _("Choose a new file name, or use --folder."),
        )
    if not dest.parent.is_dir():
        raise UsageError(_("The folder {folder} does not exist.").format(folder=dest.parent), "")
    with acting(session, Permission.BACKUP) as db:
        copy_to(db, dest)
        check = check_file(dest)
        if not check.ok:
            dest.unlink()
            raise ArchiveError(
                _("The backup failed its check: {problems}").format(
                    problems="; ".join(check.problems)
                ),
                _("Check the archive with an administrator; nothing was kept."),
            )
        removed = _rotate(folder, _stem(archive), keep) if folder and keep else ()
        record(
            db,
            session,
            "backup",
            entity="archive",
            details={"file": str(dest), "bytes": dest.stat().st_size, "removed": len(removed)},
        )
    return BackupResult(str(dest), dest.stat().st_size, check, removed)


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

    The current archive is first copied to ``<archive>-before-restore-<stamp>.dxa.sqlite``
    beside it, so a restore can itself be undone.

    Parameters
    ----------
    session : Session
        The acting administrator.
    src : Path
        The backup file.

    Returns
    -------
    dict
        The restored file, the safety copy and the check.

    Raises
    ------
    ArchiveError
        When the backup fails its check (nothing is replaced).
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
    stamp = dt.datetime.now(dt.UTC).strftime(_STAMP)
    safety = archive.with_name(f"{_stem(archive)}-before-restore-{stamp}{ARCHIVE_SUFFIX}")
    with acting(session, Permission.RESTORE) as db:
        copy_to(db, safety)
        copy_from(db, src)
        record(
            db,
            session,
            "restore",
            entity="archive",
            details={"from": str(src), "safety_copy": str(safety)},
        )
    return {"restored_from": str(src), "safety_copy": str(safety), "migrations": check.migrations}

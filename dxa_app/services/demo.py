"""The demo pipeline: write deterministic synthetic exports, then import them like real ones."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import sqlite_utils

from dxa_app.archive import open_archive
from dxa_app.archive.queries import counts
from dxa_app.demo.write import write_demo
from dxa_app.domain import Role
from dxa_app.progress import CancelToken, Progress, no_progress
from dxa_app.services.importing import import_paths

#: Demo users (demo archives only; the passwords are printed in the README).
DEMO_USERS: tuple[tuple[str, Role, str, str], ...] = (
    ("tekniker", Role.TECHNICIAN, "demo-tekniker", "Demo Tekniker"),
    ("laege", Role.PHYSICIAN, "demo-laege", "Demo Læge"),
    ("center", Role.CENTRE_ANALYST, "demo-center", "Demo Videnscenter"),
    ("admin", Role.ADMIN, "demo-admin", "Demo Admin"),
)
#: The demo's national reference scanner (its scale is the national scale).
DEMO_REFERENCE_SERIAL = "HZA-DEMO-101"


@dataclass(frozen=True)
class DemoResult:
    """What the demo pipeline produced."""

    out_dir: Path
    truth_path: Path
    files_written: int
    archive: Path | None = None
    imported: dict[str, int] | None = None
    counts: dict[str, int] | None = None
    calibration: dict[str, int] | None = None

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict."""
        return {
            "out_dir": str(self.out_dir),
            "truth": str(self.truth_path),
            "files_written": self.files_written,
            "archive": str(self.archive) if self.archive else None,
            "imported": self.imported,
            "counts": self.counts,
            "calibration": self.calibration,
        }


def run_demo(
    out: Path,
    *,
    seed: int,
    archive: Path | None,
    calibrate_demo: bool = True,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> DemoResult:
    """Write the demo files to ``out`` and, unless ``archive`` is None, import them.

    Parameters
    ----------
    out : Path
        Folder for the demo files.
    seed : int
        Random seed.
    archive : Path or None
        The archive to import into (created when missing); None writes files only.
    calibrate_demo : bool
        After the import, add the demo users, fit on the demo reference scanner, approve
        every proposed step as the demo centre analyst and score every study.
    progress : Progress
        Progress callback for both phases.
    cancel : CancelToken, optional
        Cancel token for both phases.

    Returns
    -------
    DemoResult
        Files written, import counts by status and the archive's counts afterwards.
    """
    _, files = write_demo(out, seed, progress=progress, cancel=cancel)
    truth = out / "truth.json"
    if archive is None:
        return DemoResult(out, truth, len(files))
    db = open_archive(archive)
    try:
        sources = [out / name for name in ("dicom", "csv", "apex") if (out / name).is_dir()]
        summary = import_paths(db, sources, progress=progress, cancel=cancel)
        cal = _calibrate_demo(db) if calibrate_demo else None
        c = asdict(counts(db))
    finally:
        db.close()
    return DemoResult(out, truth, len(files), archive, summary.counts, c, cal)


def _calibrate_demo(db: sqlite_utils.Database) -> dict[str, int]:
    """Demo users, a national fit on the reference scanner, approval, scores (idempotent)."""
    from dxa_app.services.calibration import approve_step, calibrate, list_steps
    from dxa_app.services.scoring import rescore
    from dxa_app.services.users import add_user, list_users

    known = {u.username for u in list_users(db)}
    for name, role, password, display in DEMO_USERS:
        if name not in known:
            add_user(db, name, role, password, display_name=display, by="demo")
    calibrate(db, reference=DEMO_REFERENCE_SERIAL, by="center", bootstrap=500)
    approved = 0
    for step in list_steps(db, "proposed"):
        approve_step(db, step.id, user="center", role=Role.CENTRE_ANALYST)
        approved += 1
    scored = rescore(db, by="demo")
    return {
        "steps_approved": approved,
        "studies_scored": scored["studies"],
        "new_score_runs": scored["new_runs"],
    }

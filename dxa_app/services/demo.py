"""The demo pipeline: write deterministic synthetic exports, then import them like real ones."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from dxa_app.archive import get_setting, set_setting, write_transaction
from dxa_app.archive.database import Database
from dxa_app.archive.db import audit
from dxa_app.archive.queries import counts
from dxa_app.archive.steps import step_rows
from dxa_app.archive.users import count_users, insert_user, user_row
from dxa_app.demo.generate import DemoDataset
from dxa_app.demo.write import write_demo
from dxa_app.domain import Role
from dxa_app.errors import UsageError
from dxa_app.i18n import _
from dxa_app.progress import CancelToken, Progress, no_progress
from dxa_app.services.auth import hash_password, opened
from dxa_app.services.importing import import_into

#: Demo users (demo archives only; the passwords are printed in the README).
DEMO_USERS: tuple[tuple[str, Role, str, str], ...] = (
    ("tekniker", Role.TECHNICIAN, "demo-tekniker", "Demo Tekniker"),
    ("laege", Role.PHYSICIAN, "demo-laege", "Demo Læge"),
    ("center", Role.CENTRE_ANALYST, "demo-center", "Demo Videnscenter"),
    ("admin", Role.ADMIN, "demo-admin", "Demo Admin"),
)
#: Who entered the demo questionnaires of the DICOM studies (the demo technician).
DEMO_TECHNICIAN = "tekniker"
#: The archive setting that marks a synthetic demo archive.
DEMO_ARCHIVE_KEY = "demo_archive"
#: The audit name of the demo pipeline's own writes.
DEMO_PIPELINE = "demo"
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

    The archive must be new or an earlier demo archive: synthetic data never goes into an
    archive with real users.

    Parameters
    ----------
    out : Path
        Folder for the demo files.
    seed : int
        Random seed.
    archive : Path or None
        The demo archive to import into (created when missing); None writes files only.
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

    Raises
    ------
    UsageError
        When ``archive`` holds users and is not a demo archive.
    """
    if archive is not None:
        with opened(archive, create=True) as db:
            _claim(db, archive)
    data, files = write_demo(out, seed, progress=progress, cancel=cancel)
    truth = out / "truth.json"
    if archive is None:
        return DemoResult(out, truth, len(files))
    with opened(archive, create=True) as db:
        sources = [out / name for name in ("dicom", "csv", "apex") if (out / name).is_dir()]
        summary = import_into(db, sources, progress=progress, cancel=cancel)
        audit(
            db,
            "import",
            username=DEMO_PIPELINE,
            entity="import_batch",
            entity_id=summary.batch,
            details={"paths": [str(p) for p in sources], "counts": summary.counts},
        )
        _enter_questionnaires(db, data)
        cal = _calibrate_demo(db) if calibrate_demo else None
        c = asdict(counts(db))
    return DemoResult(out, truth, len(files), archive, summary.counts, c, cal)


def _enter_questionnaires(db: Database, data: DemoDataset) -> int:
    """Enter the demo questionnaires the scanner files do not carry (idempotent).

    The generic CSV carries its studies' questionnaires (imported with them); the studies
    that arrive as DICOM get theirs here, as the demo technician would type them.
    """
    from dxa_app.archive.risk import insert_risk_version, latest_risk
    from dxa_app.archive.studies import study_id_for
    from dxa_app.errors import NotFoundError

    added = 0
    with write_transaction(db):
        for records in data.studies.values():
            for rec in records:
                if not rec.risk_factors:
                    continue
                try:
                    study_id = study_id_for(db, rec.study.study_uid)
                except NotFoundError:
                    continue
                if latest_risk(db, study_id) is not None:
                    continue
                new_id = insert_risk_version(
                    db, study_id, dict(rec.risk_factors), source="entered", by=DEMO_TECHNICIAN
                )
                audit(
                    db,
                    "risk_factors_save",
                    username=DEMO_PIPELINE,
                    entity="risk_factor_version",
                    entity_id=new_id or "",
                    details={"study_id": study_id, "demo": True},
                )
                added += 1
    return added


def _claim(db: Database, archive: Path) -> None:
    """Mark a new archive as a demo archive; refuse an archive with real users."""
    if get_setting(db, DEMO_ARCHIVE_KEY):
        return
    if count_users(db):
        raise UsageError(
            _("{path} is not a demo archive: it has users.").format(path=archive),
            _("Write the demo into a new archive file (--archive demo.dxa.sqlite)."),
        )
    set_setting(db, DEMO_ARCHIVE_KEY, True)


def _calibrate_demo(db: Database) -> dict[str, int]:
    """Demo users, a national fit on the reference scanner, approval, scores (idempotent)."""
    from dxa_app.services.calibration import decide_step, run_calibration
    from dxa_app.services.scoring import rescore

    with write_transaction(db):
        for name, role, password, display in DEMO_USERS:
            if user_row(db, name) is None:
                insert_user(db, name, display, str(role), hash_password(password))
                audit(
                    db,
                    "user_add",
                    username=DEMO_PIPELINE,
                    entity="user",
                    entity_id=name,
                    details={"role": str(role)},
                )
    analyst = next(name for name, role, _p, _d in DEMO_USERS if role is Role.CENTRE_ANALYST)
    run_calibration(db, reference=DEMO_REFERENCE_SERIAL, by=analyst, bootstrap=500)
    approved = 0
    for step in step_rows(db, "proposed"):
        decide_step(db, step.id, approve=True, by=analyst)
        approved += 1
    scored = rescore(db, by=DEMO_PIPELINE)
    return {
        "steps_approved": approved,
        "studies_scored": scored["studies"],
        "new_score_runs": scored["new_runs"],
    }

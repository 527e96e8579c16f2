"""The demo pipeline: write deterministic synthetic exports, then import them like real ones."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from dxa_app.archive import open_archive
from dxa_app.archive.queries import counts
from dxa_app.demo.write import write_demo
from dxa_app.progress import CancelToken, Progress, no_progress
from dxa_app.services.importing import import_paths


@dataclass(frozen=True)
class DemoResult:
    """What the demo pipeline produced."""

    out_dir: Path
    truth_path: Path
    files_written: int
    archive: Path | None = None
    imported: dict[str, int] | None = None
    counts: dict[str, int] | None = None

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict."""
        return {
            "out_dir": str(self.out_dir),
            "truth": str(self.truth_path),
            "files_written": self.files_written,
            "archive": str(self.archive) if self.archive else None,
            "imported": self.imported,
            "counts": self.counts,
        }


def run_demo(
    out: Path,
    *,
    seed: int,
    archive: Path | None,
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
        c = asdict(counts(db))
    finally:
        db.close()
    return DemoResult(out, truth, len(files), archive, summary.counts, c)

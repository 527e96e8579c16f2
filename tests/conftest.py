"""Shared fixtures: English messages, offscreen Qt, isolated user folders, generated demo data."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["DXA_LANG"] = "en"
os.environ["DXA_NO_DIALOGS"] = "1"
_HOME = tempfile.mkdtemp(prefix="dxa-test-home-")
os.environ["XDG_DATA_HOME"] = str(Path(_HOME) / "data")
os.environ["XDG_CONFIG_HOME"] = str(Path(_HOME) / "config")
os.environ["DXA_ARCHIVE"] = str(Path(_HOME) / "default.dxa.sqlite")
# One key folder for the whole run (xdist workers and subprocesses included): archives copied
# from the session's demo archive are sealed by the key of the worker that built it.
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID") or str(os.getpid())
os.environ["DXA_KEY_DIR"] = str(Path(tempfile.gettempdir()) / f"dxa-test-keys-{_RUN}")

import pytest  # noqa: E402

DEMO_SEED = 2026


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo files written once per test session (read-only for tests)."""
    from dxa_app.demo.write import write_demo

    out = tmp_path_factory.mktemp("demo-files")
    write_demo(out, DEMO_SEED)
    return out


@pytest.fixture(scope="session")
def demo_archive_master(demo_files: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo files imported once into an archive (copy it before changing it)."""
    from dxa_app.archive import open_archive
    from dxa_app.services.importing import import_into

    path = tmp_path_factory.mktemp("demo-archive") / "demo.dxa.sqlite"
    db = open_archive(path)
    summary = import_into(db, [demo_files])
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    assert summary.counts["failed"] == 0, summary.to_dict()
    return path


@pytest.fixture
def demo_archive(demo_archive_master: Path, tmp_path: Path) -> Iterator[Path]:
    """A private copy of the imported demo archive."""
    dest = tmp_path / "demo.dxa.sqlite"
    shutil.copy(demo_archive_master, dest)
    yield dest

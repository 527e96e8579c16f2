"""Shared fixtures: English messages, offscreen Qt, isolated user folders, generated demo data.

The suite runs in parallel (pytest-xdist, ``make test``). What is expensive to build (the demo
files and archives) is built once per test session, by whichever worker needs it first, under a
file lock in the session's shared temporary folder; tests read those artefacts and copy them
before they write. Every worker has its own temporary folders, user folders and servers.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
from filelock import FileLock  # noqa: E402

DEMO_SEED = 2026
ROOT = Path(__file__).resolve().parent.parent

#: Test files handed out first under xdist, longest first: the PyInstaller bundle build takes
#: about 3 minutes on one core, so it starts at once on one worker while the other worker runs
#: the rest of the suite (``--dist loadfile --no-loadscope-reorder`` keeps this order).
RUN_FIRST = ("tests/test_bundle.py", "tests/test_demo.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put the longest files first (every worker sorts the same way, as xdist requires)."""

    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return RUN_FIRST.index(path) if path in RUN_FIRST else len(RUN_FIRST)

    items.sort(key=rank)  # stable: the order inside a file and among the rest is kept


@pytest.fixture(autouse=True)
def _collect_garbage_as_gc_would() -> Iterator[None]:
    """After each test, collect what is due while the GUI keeps gc on its own thread.

    The GUI switches Python's automatic collection off and collects on its thread from a
    timer (``dxa_app.gui.tasks.collect_garbage_on_gui_thread``); a test that runs no event
    loop in the same process would otherwise never collect.
    """
    yield
    tasks = sys.modules.get("dxa_app.gui.tasks")
    if tasks is not None and not gc.isenabled():
        tasks.collect_due_garbage()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove this process's throw-away user folder."""
    shutil.rmtree(_HOME, ignore_errors=True)


def _shared_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's temporary folder that every xdist worker sees (the base one without)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def build_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """Run ``build(folder)`` once per test session and return the folder.

    Under xdist the first worker to ask builds while the others wait on a file lock, then all
    of them use the same folder: treat it as read-only (copy what you change). A build that
    failed is retried by the next worker that asks, so each worker reports the failure.
    """
    shared = _shared_tmp(tmp_path_factory)
    folder = shared / name
    done = shared / f"{name}.done"
    with FileLock(str(shared / f"{name}.lock")):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


def _run_demo_cli(folder: Path) -> None:
    """Run the headless demo pipeline as ``make run`` does (write, import, calibrate)."""
    r = subprocess.run(
        [
            sys.executable,
            "main.py",
            "--archive",
            str(folder / "demo.dxa.sqlite"),
            "demo",
            "--out",
            str(folder / "files"),
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if r.returncode != 0:
        pytest.fail(
            f"`main.py demo` exited with {r.returncode}:\n{r.stderr[-5000:]}", pytrace=False
        )
    (folder / "stdout.json").write_text(r.stdout, encoding="utf-8")


@pytest.fixture(scope="session")
def real_mdbtools() -> None:
    """Debian's mdbtools (mdb-tables, mdb-export): a test that uses them fails without them."""
    missing = [tool for tool in ("mdb-tables", "mdb-export") if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found: install the Debian package mdbtools "
            "(scripts/install-system-packages.sh installs it)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def demo_cli_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real run of ``main.py --archive A demo --out F --json`` per session (read-only).

    The folder holds ``files/`` (the demo exports), ``demo.dxa.sqlite`` (imported, calibrated,
    scored, with the demo users) and ``stdout.json`` (what the command printed).
    """
    return build_once(tmp_path_factory, "demo-cli", _run_demo_cli)


@pytest.fixture(scope="session")
def demo_cli_output(demo_cli_run: Path) -> dict[str, Any]:
    """The JSON that ``main.py demo --json`` printed."""
    out: dict[str, Any] = json.loads((demo_cli_run / "stdout.json").read_text(encoding="utf-8"))
    return out


@pytest.fixture(scope="session")
def demo_files(demo_cli_run: Path) -> Path:
    """The demo files (seed 2026) written once per test session (read-only for tests)."""
    return demo_cli_run / "files"


@pytest.fixture(scope="session")
def demo_calibrated_master(demo_cli_run: Path) -> Path:
    """The demo archive as ``make run`` leaves it: calibrated, scored, demo users (copy it)."""
    return demo_cli_run / "demo.dxa.sqlite"


@pytest.fixture(scope="session")
def demo_archive_master(demo_files: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo files imported once into an archive (copy it before changing it)."""

    def build(folder: Path) -> None:
        from dxa_app.archive import open_archive
        from dxa_app.services.importing import import_into

        db = open_archive(folder / "demo.dxa.sqlite")
        summary = import_into(db, [demo_files])
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        assert summary.counts["failed"] == 0, summary.to_dict()

    return build_once(tmp_path_factory, "demo-archive", build) / "demo.dxa.sqlite"


def copy_archive(src: Path, dest: Path) -> Path:
    """Copy an archive file and its image store beside it (the stored files hard-linked)."""
    shutil.copy(src, dest)
    store = src.with_name(src.name + "-images")
    if store.is_dir():
        shutil.copytree(store, dest.with_name(dest.name + "-images"), copy_function=os.link)
    return dest


@pytest.fixture
def demo_archive(demo_archive_master: Path, tmp_path: Path) -> Iterator[Path]:
    """A private copy of the imported demo archive, with its image store."""
    yield copy_archive(demo_archive_master, tmp_path / "demo.dxa.sqlite")

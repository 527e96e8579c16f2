"""The app under a real X server (Xvfb): each demo user logs in and walks every workspace.

At 1366x768 and 1920x1080, in Danish and in English: a screenshot of every page (and of the
About box, the log-in refusal, an error dialog and the lock page) in ``artifacts/screens/``;
the run fails on internal codes, messages left in English on a Danish screen, and labels or
buttons Qt can tell are clipped (see :mod:`tests.gui.xvfb_screens`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from dxa_app.services.demo import DEMO_USERS
from tests.conftest import copy_archive

pytestmark = [pytest.mark.gui, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screens"
SIZES = "1366x768,1920x1080"


@pytest.fixture(scope="module")
def xvfb() -> Iterator[str]:
    """A private Xvfb display (the number chosen by Xvfb itself)."""
    xvfb_bin = shutil.which("Xvfb")
    if xvfb_bin is None:
        pytest.fail("Xvfb is not installed: run scripts/install-system-packages.sh")
    read, write = os.pipe()
    proc = subprocess.Popen(
        [xvfb_bin, "-displayfd", str(write), "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as fh:
        display = fh.readline().strip()
    if not display:
        proc.kill()
        proc.wait()
        pytest.fail(f"Xvfb exited (code {proc.returncode}) without opening a display")
    try:
        yield f":{display}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def demo_with_users(demo_calibrated_master: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's calibrated demo archive (demo users, steps, scores)."""
    path = tmp_path_factory.mktemp("xvfb") / "demo.sqlite"
    return copy_archive(demo_calibrated_master, path)  # with its image store


@pytest.fixture(scope="module")
def english_ids(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The catalogue's English messages, in a JSON file for the walk."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "update_catalogue", ROOT / "scripts" / "update_catalogue.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    path = tmp_path_factory.mktemp("ids") / "ids.json"
    path.write_text(json.dumps(sorted({str(m.id) for m in mod.extract() if m.id})), "utf-8")
    return path


@pytest.fixture(scope="module")
def screens() -> Path:
    """The screenshot folder, emptied once for the module."""
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.mark.parametrize("lang", ["da", "en"])
def test_every_workspace_is_drawn_under_xvfb(
    xvfb: str, demo_with_users: Path, english_ids: Path, screens: Path, lang: str
) -> None:
    from PIL import Image

    env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb"}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.gui.xvfb_screens",
            str(demo_with_users),
            str(screens),
            lang,
            SIZES,
            str(english_ids),
            *(f"{name}:{password}" for name, _role, password, _display in DEMO_USERS),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    problems = json.loads((screens / f"{lang}-problems.json").read_text("utf-8"))
    assert problems["codes"] == [], problems["codes"]
    assert problems["untranslated"] == [], problems["untranslated"]
    assert problems["clipped"] == [], problems["clipped"]
    for size in SIZES.split(","):
        shots = sorted(screens.glob(f"{lang}-{size}-*.png"))
        names = {shot.stem.split("-", 3)[3] for shot in shots}
        for expected in ("patients", "technician", "physician", "centre", "admin"):
            assert any(n.startswith(expected) for n in names), (expected, sorted(names))
        assert {"about", "login", "error", "lock"} <= names, sorted(names)
        settings = {"settings-pacs", "settings-receiver", "settings-backup", "settings-lock"}
        assert settings <= names, sorted(names)
        for shot in shots:
            with Image.open(shot) as im:
                colours = im.convert("RGB").getcolors(maxcolors=1 << 16)
                assert colours is None or len(colours) > 30, shot  # not a blank screen
                grey = im.convert("L")
                dark = sum(grey.histogram()[:160])
                assert dark > 0.002 * im.width * im.height, shot  # text and lines are drawn


def test_the_clip_check_sees_a_label_too_narrow_for_its_text(qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

    from tests.gui.xvfb_screens import clipped

    root = QWidget()
    qtbot.addWidget(root)
    layout = QVBoxLayout(root)
    cut = QLabel("Ventetid i dage for hver undersøgelse")
    cut.setFixedWidth(40)
    wrapped = QLabel("Ventetid i dage for hver undersøgelse")
    wrapped.setWordWrap(True)
    wrapped.setFixedWidth(40)
    layout.addWidget(cut)
    layout.addWidget(wrapped)
    root.show()
    qtbot.waitExposed(root)
    found = clipped(root)
    assert len(found) == 1 and "Ventetid" in found[0]

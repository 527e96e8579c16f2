"""The app under a real X server (Xvfb): each demo user logs in; a screenshot of every workspace.

The first user's window is also drawn locked (the lock page instead of the workspaces).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dxa_app.services.demo import DEMO_USERS

pytestmark = [pytest.mark.gui, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screens"


@pytest.fixture(scope="module")
def xvfb() -> Iterator[str]:
    """A private Xvfb display (the number chosen by Xvfb itself)."""
    xvfb_bin = shutil.which("Xvfb")
    if xvfb_bin is None:
        pytest.fail("Xvfb is not installed: run scripts/install-system-packages.sh")
    read, write = os.pipe()
    proc = subprocess.Popen(
        [xvfb_bin, "-displayfd", str(write), "-screen", "0", "1280x860x24", "-nolisten", "tcp"],
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
    shutil.copy(demo_calibrated_master, path)
    return path


def test_every_workspace_is_drawn_under_xvfb(xvfb: str, demo_with_users: Path) -> None:
    from PIL import Image

    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb", "DXA_LANG": "da"}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.gui.xvfb_screens",
            str(demo_with_users),
            str(ARTIFACTS),
            *(f"{name}:{password}" for name, _role, password, _display in DEMO_USERS),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    shots = sorted(ARTIFACTS.glob("*.png"))
    names = sorted(shot.stem.split("-", 1)[1] for shot in shots)
    assert names == ["admin", "centre", "lock", "patients", "physician", "technician"], r.stdout
    for shot in shots:
        with Image.open(shot) as im:
            colours = im.convert("RGB").getcolors(maxcolors=1 << 16)
            assert colours is None or len(colours) > 30, shot  # not a blank screen
            grey = im.convert("L")
            dark = sum(grey.histogram()[:160])
            assert dark > 0.002 * im.width * im.height, shot  # text and lines are drawn

"""The core (calibration/, reports/, dxa_app outside gui) never imports Qt."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import dxa_app

ROOT = Path(__file__).resolve().parent.parent


def _core_modules() -> list[str]:
    names = ["calibration", "reports"]
    for m in pkgutil.walk_packages(dxa_app.__path__, "dxa_app."):
        if not m.name.startswith("dxa_app.gui") and m.name != "dxa_app.__main__":
            names.append(m.name)
    return names


def test_importing_every_core_module_loads_no_qt() -> None:
    mods = _core_modules()
    assert "dxa_app.archive.db" in mods and "dxa_app.cli" in mods
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        "import dxa_app.cli as c; c.build_parser()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6'))\n"
        "print(','.join(bad))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"Qt loaded by the core: {r.stdout}"


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    r = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "The core never imports Qt KEPT" in r.stdout

"""Build the PyInstaller bundle (one folder, two executables) and run the frozen programs."""

from __future__ import annotations

import gettext
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import dxa_app
from dxa_app.about import component_distributions

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "pyinstaller.spec"

# the build alone takes about 4 minutes on a busy core; its subprocess has its own guard
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run PyInstaller on pyinstaller.spec into a temporary dist/work folder.

    Its work folder and its cache (PYINSTALLER_CONFIG_DIR) are in this session's temporary
    folder, so no other build on the machine shares them. Under xdist this file is handed
    out first (tests/conftest.py): the build runs beside the rest of the suite.
    """
    tmp = tmp_path_factory.mktemp("bundle")
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(tmp / "dist"),
            "--workpath",
            str(tmp / "build"),
            str(SPEC),
        ],
        cwd=ROOT,
        env={**os.environ, "PYINSTALLER_CONFIG_DIR": str(tmp / "config")},
        capture_output=True,
        text=True,
        timeout=1800,  # a hang guard: the build takes about 3 minutes on an idle core
        check=False,
    )
    elapsed = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr[-5000:]
    folder = tmp / "dist" / "dxa"
    # PyInstaller links some libraries twice (symlinks): count each file once
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())
    print(f"bundle built in {elapsed:.1f} s, {size / 2**20:.0f} MiB")
    return folder


def _run(
    exe: Path, *args: str, tmp: Path, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        DXA_NO_DIALOGS="1",
        DXA_SETTINGS_DIR=str(tmp / "settings"),
        DXA_ARCHIVE=str(tmp / "default.dxa.sqlite"),
    )
    if password is not None:
        env["DXA_PASSWORD"] = password
    return subprocess.run(
        [str(exe), *args],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _archived_modules(exe: Path) -> set[str]:
    """The Python modules in an executable's archive (its PYZ), as PyInstaller reads them."""
    from PyInstaller.archive.readers import CArchiveReader

    reader = CArchiveReader(str(exe))
    [pyz] = [name for name in reader.toc if name.endswith(".pyz")]
    return set(reader.open_embedded_archive(pyz).toc)


def test_bundle_layout(bundle: Path) -> None:
    exe_suffix = ".exe" if sys.platform == "win32" else ""
    assert (bundle / f"dxa{exe_suffix}").is_file()
    assert (bundle / f"dxa-cli{exe_suffix}").is_file()
    internal = bundle / "_internal"
    for src in (ROOT / "resources").rglob("*"):
        # a .mo beside its .po is a runtime cache that other tests may write at any moment
        if src.is_file() and "__pycache__" not in src.parts and src.suffix != ".mo":
            assert (internal / "resources" / src.relative_to(ROOT / "resources")).is_file(), src
    # the bundle carries its own compiled catalogue (an installed folder is read-only)
    for po in (ROOT / "resources" / "locale").glob("*.po"):
        mo = internal / "resources" / "locale" / f"{po.stem}.mo"
        with mo.open("rb") as fh:
            catalogue = gettext.GNUTranslations(fh)
        with po.open("rb") as fh:
            source = read_po(fh, locale=po.stem)
        translated = {
            m.id: m.string
            for m in source
            if isinstance(m.id, str) and m.id and m.string and not m.fuzzy
        }
        assert translated, po
        for msgid, msgstr in list(translated.items())[:50]:
            assert catalogue.gettext(msgid) == msgstr, msgid
    # one analysis feeds both programs; the command line's archive holds no Qt module
    for exe, with_qt in (("dxa", True), ("dxa-cli", False)):
        modules = _archived_modules(bundle / f"{exe}{exe_suffix}")
        assert "dxa_app.cli" in modules and "dxa_app.services.importing" in modules, exe
        # the records the domain hands out on first use (dxa_app.domain.__getattr__)
        assert {"dxa_app.domain.records", "dxa_app.domain.summaries"} <= modules, exe
        qt = {m for m in modules if m.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph")}
        assert bool(qt) == with_qt and ("dxa_app.gui.main_window" in modules) == with_qt, exe
    # the About box's components carry their metadata: their declared licences show frozen
    bundled = {p.name.split("-")[0].lower().replace("_", "-") for p in internal.glob("*.dist-info")}
    for dist in component_distributions():
        assert dist.lower().replace("_", "-") in bundled, dist


def test_frozen_cli_version(bundle: Path, tmp_path: Path) -> None:
    proc = _run(bundle / "dxa-cli", "--version", tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert dxa_app.__version__ in proc.stdout


def test_frozen_cli_demo(bundle: Path, tmp_path: Path) -> None:
    archive = tmp_path / "demo.dxa.sqlite"
    proc = _run(
        bundle / "dxa-cli",
        "--archive",
        str(archive),
        "demo",
        "--out",
        str(tmp_path / "demo"),
        tmp=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "demo").is_dir()
    assert archive.is_file()
    # the frozen app writes a report: reportlab's fonts and the catalogue are in the bundle;
    # the demo user logs in (its demo-only password from the environment)
    pdf = tmp_path / "svar.pdf"
    proc = _run(
        bundle / "dxa-cli",
        "--archive",
        str(archive),
        "--user",
        "tekniker",
        "report",
        "1",
        "--out",
        str(pdf),
        "--lang",
        "da",
        "--level",
        "B",
        tmp=tmp_path,
        password="demo-tekniker",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert pdf.read_bytes().startswith(b"%PDF")


def test_frozen_gui_screenshot(bundle: Path, tmp_path: Path) -> None:
    png = tmp_path / "window.png"
    proc = _run(bundle / "dxa", "--screenshot", str(png), tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert png.stat().st_size > 1000

"""Every workspace and every report in Danish and English: no codes, no wrong language.

Nothing left in English on a Danish screen, no internal code on any screen, no Danish
sentence in an English report and no English one in a Danish report (issue 16).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from dxa_app.gui.main_window import MainWindow
from dxa_app.gui.qt_locale import install_qt_language
from dxa_app.i18n import set_language
from dxa_app.services import reporting
from dxa_app.services.auth import log_in
from dxa_app.services.demo import DEMO_USERS
from tests.gui.screen_texts import code_like, untranslated, visible_texts, walk
from tests.gui.technician_fixtures import query

pytestmark = [
    pytest.mark.gui,
    pytest.mark.slow,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]


@pytest.fixture(scope="module")
def english_ids() -> set[str]:
    import importlib.util

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location(
        "update_catalogue", root / "scripts" / "update_catalogue.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return {str(m.id) for m in mod.extract() if m.id}


@pytest.fixture
def archive(demo_calibrated_master: Path, tmp_path: Path) -> Path:
    path = tmp_path / "demo.dxa.sqlite"
    shutil.copy(demo_calibrated_master, path)
    images = Path(f"{demo_calibrated_master}-images")
    if images.exists():
        shutil.copytree(images, Path(f"{path}-images"))
    return path


@pytest.mark.parametrize("lang", ["da", "en"])
@pytest.mark.parametrize("user", [u[0] for u in DEMO_USERS])
def test_every_workspace_speaks_the_users_language(
    qtbot: QtBot, settings: object, archive: Path, english_ids: set[str], lang: str, user: str
) -> None:
    password = next(p for name, _r, p, _d in DEMO_USERS if name == user)
    set_language(lang)
    install_qt_language(lang)
    try:
        window = MainWindow(settings, login=lambda path, _w: log_in(path, user, password))  # type: ignore[arg-type]
        qtbot.addWidget(window)
        window.resize(1366, 768)
        assert window.open_archive(archive)
        window.show()
        qtbot.waitExposed(window)
        app = QApplication.instance()
        assert isinstance(app, QApplication)

        def busy() -> bool:
            return any(getattr(w, "busy", lambda: False)() for w in window.workspaces.values())

        pages: dict[str, list[str]] = {}
        walk(
            window, window.tabs, app, busy, lambda name: pages.update({name: visible_texts(window)})
        )
        assert len(pages) >= 2
        texts = [t for shown in pages.values() for t in shown]
        codes = code_like(texts, lang)
        assert not codes, sorted(set(codes))
        if lang == "da":
            left = untranslated(texts, english_ids)
            assert not left, sorted(set(left))
    finally:
        install_qt_language("en")
        set_language("en")


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return " ".join(out.split())


#: Words that only an English sentence has, and only a Danish one (the demo's free-text
#: indications are Danish data and say none of these).
ENGLISH_WORDS = re.compile(r"\b(the|and|women|aged|with|PROVISIONAL|not published)\b")
DANISH_WORDS = re.compile(r"\b(og|ikke|forbehold|anbefales|overvej)\b", re.IGNORECASE)


@pytest.mark.parametrize("gui_lang", ["da", "en"])
def test_reports_are_in_the_reports_language(archive: Path, tmp_path: Path, gui_lang: str) -> None:
    """A Danish report from an English screen and the other way round; level A and B."""
    session = log_in(archive, "laege", "demo-laege")
    with_vfa = query(archive, "SELECT DISTINCT study_id FROM vfa_readings LIMIT 1", [])
    studies = [int(str(r["study_id"])) for r in with_vfa] + [5]
    report_lang = "en" if gui_lang == "da" else "da"
    set_language(gui_lang)
    try:
        for study in studies:
            for level in ("A", "B"):
                _v, pdf = reporting.open_report(session, study, lang=report_lang, level=level)
                text = _pdf_text(pdf, tmp_path)
                assert not code_like([text]), code_like([text])
                wrong = DANISH_WORDS if report_lang == "en" else ENGLISH_WORDS
                assert not wrong.findall(text), (study, level, wrong.findall(text), text)
    finally:
        set_language("en")

"""Every report message is extractable by Babel, translated by the test catalogue, and pure."""

from __future__ import annotations

import ast
import string
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reports.danish import DA

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "reports"


def _messages() -> set[str]:
    from babel.messages.extract import extract_from_dir

    return {
        message
        for _f, _l, message, _c, _ctx in extract_from_dir(
            str(PACKAGE), method_map=[("**.py", "python")], keywords={"_": None}
        )
        if isinstance(message, str) and message
    }


def _fields(text: str) -> set[str]:
    return {f[1] for f in string.Formatter().parse(text) if f[1] is not None}


def _translate_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_"
    ]


def test_every_translate_call_is_a_literal() -> None:
    count = 0
    for path in sorted(PACKAGE.glob("*.py")):
        for call in _translate_calls(ast.parse(path.read_text(encoding="utf-8"))):
            count += 1
            where = f"{path.name}:{call.lineno}"
            assert len(call.args) == 1 and not call.keywords, where
            arg = call.args[0]
            assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), (
                f"{where}: _() needs one literal string (no f-string, no variable)"
            )
    assert count > 150


def test_every_message_has_a_danish_test_translation() -> None:
    messages = _messages()
    assert len(messages) > 150
    missing = sorted(messages - DA.keys())
    assert not missing, "add to tests/reports/danish.py:\n" + "\n".join(missing)
    unused = sorted(DA.keys() - messages)
    assert not unused, "no longer used:\n" + "\n".join(unused)


@pytest.mark.parametrize("message", sorted(DA))
def test_placeholders_survive(message: str) -> None:
    assert _fields(message) == _fields(DA[message])


def test_reports_imports_neither_the_app_nor_qt() -> None:
    code = (
        "import sys\n"
        "import reports.pdf, reports.charts, reports.rules, reports.vfa, reports.model\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('dxa_app', 'calibration', 'PySide6', 'shiboken6')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    )
    assert out.stdout.strip() == ""


def test_light_modules_do_not_import_reportlab() -> None:
    code = (
        "import sys\n"
        "import reports.rules, reports.vfa, reports.model, reports.labels\n"
        "print('reportlab' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    )
    assert out.stdout.strip() == "False"


def test_fill_po_seeds_a_catalogue(tmp_path: Path) -> None:
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    from tests.reports.danish import fill_po

    po = tmp_path / "da.po"
    cat = Catalog(locale="da")
    cat.add("DXA report")
    cat.add("patients", "patienter")
    cat.add("Only in the app")
    with po.open("wb") as fh:
        write_po(fh, cat)
    assert fill_po(po) == 1
    with po.open("rb") as fh:
        back = {str(m.id): m.string for m in read_po(fh, locale="da") if m.id}
    assert back == {"DXA report": "DXA-svar", "patients": "patienter", "Only in the app": ""}

"""The one gettext catalogue: every user-visible message has a Danish translation."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from dxa_app import i18n

ROOT = Path(__file__).resolve().parent.parent


def _load_update_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "update_catalogue", ROOT / "scripts" / "update_catalogue.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_message_has_a_danish_translation() -> None:
    from babel.messages.pofile import read_po

    template = _load_update_script().extract()
    ids = {str(m.id) for m in template if m.id}
    assert len(ids) > 30  # the extraction really found the messages
    with (ROOT / "resources" / "locale" / "da.po").open("rb") as fh:
        catalog = read_po(fh, locale="da")
    translated = {str(m.id) for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(ids - translated)
    assert not missing, "run scripts/update_catalogue.py and translate:\n" + "\n".join(missing)


def test_placeholders_survive_translation() -> None:
    import string

    template = _load_update_script().extract()
    da = i18n.translator("da")
    for m in template:
        if not m.id:
            continue
        src = {f[1] for f in string.Formatter().parse(str(m.id)) if f[1]}
        dst = {f[1] for f in string.Formatter().parse(da(str(m.id))) if f[1]}
        assert src == dst, m.id


def test_language_switch_and_translator() -> None:
    try:
        i18n.set_language("da")
        assert i18n._("patients") == "patienter"
        i18n.set_language("en")
        assert i18n._("patients") == "patients"
        assert i18n.translator("da")("studies") == "undersøgelser"
    finally:
        i18n.set_language("en")
    with pytest.raises(ValueError, match="unknown language"):
        i18n.set_language("sv")

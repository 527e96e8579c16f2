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
    template = _load_update_script().extract()
    ids = {m.id for m in template if m.id}
    assert len(ids) > 30  # the extraction really found the messages
    da = i18n.translator("da")
    missing = sorted(str(i) for i in ids if da(str(i)) == i and str(i) not in _SAME_IN_DANISH)
    assert not missing, "run scripts/update_catalogue.py and translate:\n" + "\n".join(missing)


#: Messages that are spelled the same in Danish.
_SAME_IN_DANISH = {"{prog}: {message}", "  {status}: {path}: {reason}"}


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

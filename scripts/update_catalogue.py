"""Extract every translatable message and merge it into resources/locale/da.po."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dxa_app", "calibration", "reports")
#: ``_("...")`` everywhere, plus the help text of ``@command(name, help)``.
KEYWORDS = {"_": None, "translate": None, "command": (2,)}


def extract() -> Catalog:
    """Return a catalogue of every message found in the source packages."""
    cat = Catalog(project="dxa", locale=None)
    for pkg in PACKAGES:
        for filename, lineno, message, _comments, _ctx in extract_from_dir(
            str(ROOT / pkg), method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            if isinstance(message, str) and message:
                cat.add(message, locations=[(f"{pkg}/{filename}", lineno)])
    return cat


def _keep_unextracted(catalog: Catalog) -> None:
    """Keep a message the extractor cannot see but the source still names as a literal.

    Babel does not look into f-strings (``f"{_('Licences')}:"`` on Python 3.11), so such a
    message would be dropped as obsolete with its translation.
    """
    source = "\n".join(
        path.read_text(encoding="utf-8") for pkg in PACKAGES for path in (ROOT / pkg).rglob("*.py")
    )
    for msgid, message in list(catalog.obsolete.items()):
        if isinstance(msgid, str) and (
            f"_({msgid!r})" in source or f"_({json.dumps(msgid, ensure_ascii=False)})" in source
        ):
            catalog[msgid] = message


def main() -> int:
    """Merge the extracted messages into da.po; print how many still need a translation."""
    po = ROOT / "resources" / "locale" / "da.po"
    template = extract()
    if po.exists():
        with po.open("rb") as fh:
            catalog = read_po(fh, locale="da")
        catalog.update(template, no_fuzzy_matching=True)
        _keep_unextracted(catalog)
        catalog.obsolete.clear()
    else:
        catalog = Catalog(project="dxa", locale="da")
        for m in template:
            if m.id:
                catalog.add(m.id, locations=m.locations)
    po.parent.mkdir(parents=True, exist_ok=True)
    with po.open("wb") as fh:
        write_po(fh, catalog, width=100, sort_output=True, omit_header=False)
    missing = [m.id for m in catalog if m.id and not m.string]
    print(f"{po}: {len(catalog)} messages, {len(missing)} without a Danish translation")
    for m in missing:
        print(f"  {m!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Append Danish translations (a JSON object msgid -> msgstr) to resources/locale/da.po.

Usage: python scripts/add_translations.py FILE.json

Only messages not yet in da.po are appended (at the end, so that merges stay small); run
``scripts/update_catalogue.py`` to sort and refresh the locations when convenient.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def main(argv: list[str]) -> int:
    """Append the new translations of ``argv[0]``; print how many were added."""
    po = ROOT / "resources" / "locale" / "da.po"
    new: dict[str, str] = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    with po.open("rb") as fh:
        known = {str(m.id): m for m in read_po(fh, locale="da") if m.id}
    lines: list[str] = []
    for msgid, msgstr in new.items():
        old = known.get(msgid)
        if old is not None and old.string:
            continue
        if old is not None:
            print(f"already in da.po without a translation, edit it by hand: {msgid!r}")
            continue
        flag = "#, python-brace-format\n" if "{" in msgid else ""
        lines.append(f"\n{flag}msgid {_quote(msgid)}\nmsgstr {_quote(msgstr)}\n")
    with po.open("a", encoding="utf-8") as fh:
        fh.writelines(lines)
    print(f"{len(lines)} translations added")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Fill Danish translations into resources/locale/da.po from a JSON file {English: Danish}."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    """Apply every JSON file named on the command line; print what is still missing."""
    po = ROOT / "resources" / "locale" / "da.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale="da")
    for name in argv:
        mapping = json.loads(Path(name).read_text(encoding="utf-8"))
        for message in catalog:
            if message.id and message.id in mapping:
                message.string = mapping[message.id]
    with po.open("wb") as fh:
        write_po(fh, catalog, width=100, sort_output=True)
    missing = [m.id for m in catalog if m.id and not m.string]
    print(f"{len(missing)} messages without Danish")
    for m in missing:
        print(f"  {m!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

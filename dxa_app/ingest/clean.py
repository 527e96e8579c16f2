"""Invisible control characters removed from every text a reader returns, with a note."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from functools import cache
from typing import Any, Final

from dxa_app.domain import ImportNote, ParsedSource
from dxa_app.i18n import _
from dxa_app.ingest.cells import strip_controls

__all__ = ["clean_source"]

#: Text kept exactly: where the file is (the archive copies it from this path), and the
#: identity as the source sent it (stored and sent on unchanged: architecture rule 11).
_KEPT: Final = frozenset({"file_path", "source_identity"})
#: Values that hold no text of a reader's (numbers, dates, the domain's own codes).
_NO_TEXT: Final = (int, float, type(None), dt.date, enum.Enum)


@cache
def _text_fields(cls: type) -> tuple[str, ...]:
    """The fields of a record class whose text is cleaned (all but the kept ones)."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.name not in _KEPT)


def _clean(value: Any, where: str, removed: dict[str, set[str]]) -> Any:
    """Return ``value`` with clean text; record the removed characters by field."""
    if isinstance(value, str):
        text, chars = strip_controls(value)
        if not chars:
            return value
        removed.setdefault(where, set()).update(chars)
        return text
    if isinstance(value, tuple):
        items = tuple(_clean(v, where, removed) for v in value)
        same = all(a is b for a, b in zip(items, value, strict=True))
        return value if same else items
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes: dict[str, Any] = {}
        for name in _text_fields(type(value)):
            old = getattr(value, name)
            if isinstance(old, _NO_TEXT):
                continue
            new = _clean(old, f"{where}.{name}" if where else name, removed)
            if new is not old:
                changes[name] = new
        return dataclasses.replace(value, **changes) if changes else value
    return value


def clean_source(parsed: ParsedSource) -> ParsedSource:
    """Return a parsed source whose text holds no NUL, control or bidirectional characters.

    NUL and other C0 controls (but tab and line ends), DEL and the bidirectional
    formatting characters (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) only hide
    or reorder text on screen; they are removed from names, identifiers and every other
    text, and a note per field names what was removed. The file path and the identity as
    the source sent it (``source_identity``, written unchanged into what is sent to PACS)
    are kept as they are.

    Parameters
    ----------
    parsed : ParsedSource
        What a reader made of one source.

    Returns
    -------
    ParsedSource
        The same source (unchanged when it was clean), with a warning per cleaned field.
    """
    removed: dict[str, set[str]] = {}
    records = {
        name: _clean(getattr(parsed, name), "", removed)
        for name in ("studies", "phantom_scans", "certificates", "vfa_readings")
    }
    if not removed:
        return parsed
    notes = tuple(
        ImportNote(
            _("{field}: invisible control characters ({chars}) were removed from the text.").format(
                field=field, chars=", ".join(sorted(chars))
            )
        )
        for field, chars in sorted(removed.items())
    )
    return dataclasses.replace(parsed, notes=parsed.notes + notes, **records)

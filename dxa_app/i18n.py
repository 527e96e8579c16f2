"""One gettext catalogue (Danish, English) used by the CLI, the GUI and the PDF reports."""

from __future__ import annotations

import contextlib
import gettext
import io
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

from dxa_app.resources import resource_path

LANGUAGES: tuple[str, ...] = ("da", "en")
DEFAULT_LANGUAGE = "da"
DOMAIN = "dxa"

_current: list[str] = [os.environ.get("DXA_LANG", DEFAULT_LANGUAGE)]
if _current[0] not in LANGUAGES:
    _current[0] = DEFAULT_LANGUAGE


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """Return the translations of one language from ``resources/locale/<lang>.po``.

    The .po file is the source; a compiled ``<lang>.mo`` beside it is a cache, rebuilt
    whenever the .po file is newer (loading .mo with the standard library is much faster
    than parsing .po). Where the folder is read-only the .po is parsed every time.

    Parameters
    ----------
    lang : str
        ``"da"`` or ``"en"``.

    Returns
    -------
    gettext.NullTranslations
        The catalogue; English (the source language) falls back to the message itself.
    """
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    po = resource_path("locale", f"{lang}.po")
    if not po.exists():
        return gettext.NullTranslations()
    mo = po.with_suffix(".mo")
    try:
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            with mo.open("rb") as fh:
                return gettext.GNUTranslations(fh)
    except (OSError, ValueError):  # a damaged cache: fall back to the .po
        pass
    return _compile(po, mo, lang)


def _compile(po: Path, mo: Path, lang: str) -> gettext.NullTranslations:
    from babel.messages.mofile import write_mo  # deferred: only needed when the .po changed
    from babel.messages.pofile import read_po

    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    for message in list(catalog):
        if message.fuzzy and message.id:
            message.string = ""  # fuzzy entries are not translations
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    data = buffer.getvalue()
    tmp = mo.with_name(f".{mo.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(mo)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return gettext.GNUTranslations(io.BytesIO(data))


def set_language(lang: str) -> None:
    """Switch the language used by :func:`_` for the whole process.

    Parameters
    ----------
    lang : str
        ``"da"`` or ``"en"``.
    """
    translations(lang)  # validates and loads
    _current[0] = lang


def current_language() -> str:
    """Return the language code in use."""
    return _current[0]


def _(message: str) -> str:
    """Translate a user-visible message into the current language."""
    return translations(_current[0]).gettext(message)


def translator(lang: str) -> Callable[[str], str]:
    """Return a translate function bound to one language (for reports in another language).

    Parameters
    ----------
    lang : str
        ``"da"`` or ``"en"``.

    Returns
    -------
    Callable[[str], str]
        A function that translates one message.
    """
    return translations(lang).gettext

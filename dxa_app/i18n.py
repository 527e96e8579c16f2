"""One gettext catalogue (Danish, English) used by the CLI, the GUI and the PDF reports."""

from __future__ import annotations

import gettext
import os
from collections.abc import Callable
from functools import cache

from dxa_app.resources import resource_path

LANGUAGES: tuple[str, ...] = ("da", "en")
DEFAULT_LANGUAGE = "da"
DOMAIN = "dxa"

_current: list[str] = [os.environ.get("DXA_LANG", DEFAULT_LANGUAGE)]
if _current[0] not in LANGUAGES:
    _current[0] = DEFAULT_LANGUAGE


class _PoTranslations(gettext.NullTranslations):
    """gettext translations read straight from a .po file (no compile step, works frozen)."""

    def __init__(self, messages: dict[str, str]) -> None:
        super().__init__()
        self._messages = messages

    def gettext(self, message: str) -> str:
        return self._messages.get(message) or message


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """Return the translations of one language, read once from ``resources/locale/<lang>.po``.

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
    path = resource_path("locale", f"{lang}.po")
    if not path.exists():
        return gettext.NullTranslations()
    from babel.messages.pofile import read_po  # deferred: only needed once per language

    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    messages = {
        str(m.id): str(m.string)
        for m in catalog
        if m.id and isinstance(m.id, str) and m.string and not m.fuzzy
    }
    return _PoTranslations(messages)


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

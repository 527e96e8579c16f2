"""What the product is: version, manufacturer, intended use and the licences of its parts.

One home for the facts the About box (and anyone else) shows; Qt-free, translated at call time.
The manufacturer and the intended use (Danish and English) are read from ``resources/about.json``
(bundled; a department edits it), with the project's own statement as the default. The licence
of each open-source part is read from its installed package metadata; the table below is the
fallback for a frozen bundle without metadata.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from dxa_app.i18n import _, current_language
from dxa_app.resources import resource_path

log = logging.getLogger(__name__)

#: The manufacturer when ``resources/about.json`` names none: the project team, honestly.
DEFAULT_MANUFACTURER = "DXA-kalibreringsprojektet (udviklingsversion)"

#: The open-source components shipped with the application: (distribution, fallback licence).
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("Python", "PSF-2.0"),
    ("PySide6 (Qt)", "LGPL-3.0"),
    ("pyqtgraph", "MIT"),
    ("pydicom", "MIT"),
    ("highdicom", "MIT"),
    ("pynetdicom", "MIT"),
    ("numpy", "BSD-3-Clause"),
    ("scipy", "BSD-3-Clause"),
    ("reportlab", "BSD-3-Clause"),
    ("SQLite", "Public domain"),
    ("platformdirs", "MIT"),
    ("Babel", "BSD-3-Clause"),
    ("pyhanko", "MIT"),
    ("cryptography", "Apache-2.0 OR BSD-3-Clause"),
)

#: The installed distribution behind a component name, when it differs.
_DISTRIBUTIONS = {"PySide6 (Qt)": "PySide6-Essentials"}


def component_distributions() -> list[str]:
    """Return the installed distributions whose metadata the About box reads.

    The bundle build copies their metadata (``pyinstaller.spec``), so a frozen application
    shows the licences the packages declare, not the fallback table.

    Returns
    -------
    list of str
        Distribution names (Python and SQLite, which are not distributions, left out).
    """
    return [_DISTRIBUTIONS.get(n, n) for n, _licence in COMPONENTS if n not in ("Python", "SQLite")]


@dataclass(frozen=True)
class Component:
    """An open-source part of the application and its licence."""

    name: str
    version: str
    licence: str


@dataclass(frozen=True)
class ProductFacts:
    """What the About box shows, in the current language.

    ``intended_use`` and ``limits`` are in the current language; ``other_uses`` holds the
    intended use in the other languages, ``(language code, text)``, so both Danish and English
    are always shown.
    """

    name: str
    version: str
    manufacturer: str
    manufacturer_address: str
    status: str
    intended_use: str
    limits: str
    other_uses: tuple[tuple[str, str], ...]
    licence: str
    components: tuple[Component, ...]


def _texts(value: object) -> dict[str, str]:
    """Return a ``{"da": ..., "en": ...}`` entry of about.json as a dict of strings."""
    if isinstance(value, dict):
        return {str(k): str(v).strip() for k, v in value.items() if str(v).strip()}
    return {}


def about_config() -> dict[str, Any]:
    """Return ``resources/about.json`` (an empty dict when it is missing or unreadable).

    Returns
    -------
    dict
        ``manufacturer`` (``name``, ``address``, ``contact``), ``intended_use`` and
        ``limits`` (each ``{"da": ..., "en": ...}``).
    """
    path = resource_path("about.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def _licence_from_metadata(distribution: str) -> str:
    """Return the licence an installed distribution declares ('' when it declares none).

    The SPDX ``License-Expression`` first, then a short ``License`` field, then the
    ``License ::`` classifiers.
    """
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        meta = metadata(distribution)
    except PackageNotFoundError:
        return ""
    expression = str(meta["License-Expression"] or "").strip()
    if expression:
        return expression
    field = str(meta["License"] or "").strip()
    if field and "\n" not in field and len(field) <= 60 and "copyright" not in field.lower():
        return field  # a name, not the licence's whole text
    classifiers = [
        c.split("::")[-1].strip()
        for c in meta.get_all("Classifier") or []
        if c.startswith("License ::")
    ]
    return " / ".join(classifiers)


def _installed_version(name: str) -> str:
    """Return the installed version of a component ('' when it cannot be told)."""
    import platform
    import sqlite3
    from importlib.metadata import PackageNotFoundError, version

    if name == "Python":
        return platform.python_version()
    if name == "SQLite":
        return sqlite3.sqlite_version
    try:
        return version(_DISTRIBUTIONS.get(name, name))
    except PackageNotFoundError:  # a frozen bundle may lack the metadata
        return ""


def _installed_licence(name: str, fallback: str) -> str:
    """Return a component's licence from its package metadata, else ``fallback``."""
    if name in ("Python", "SQLite"):
        return fallback
    return _licence_from_metadata(_DISTRIBUTIONS.get(name, name)) or fallback


def components() -> tuple[Component, ...]:
    """Return the open-source components with their installed version and licence.

    The licence is the one the installed package declares (its metadata); a frozen bundle
    without the metadata shows the licence of :data:`COMPONENTS`.

    Returns
    -------
    tuple of Component
        In the order of :data:`COMPONENTS`.
    """
    return tuple(
        Component(name, _installed_version(name), _installed_licence(name, lic))
        for name, lic in COMPONENTS
    )


def product_facts() -> ProductFacts:
    """Return the version, manufacturer, intended use and licences, in the current language.

    Returns
    -------
    ProductFacts
        The facts for the About box.
    """
    import dxa_app

    config = about_config()
    maker = config.get("manufacturer")
    maker = maker if isinstance(maker, dict) else {}
    uses = _texts(config.get("intended_use"))
    limits = _texts(config.get("limits"))
    lang = current_language()
    use = uses.get(lang) or uses.get("en") or ""
    address = ", ".join(
        str(maker.get(k, "")).strip()
        for k in ("address", "contact")
        if str(maker.get(k, "")).strip()
    )
    return ProductFacts(
        name=_("DXA bone density"),
        version=str(dxa_app.__version__),
        manufacturer=str(maker.get("name", "")).strip() or DEFAULT_MANUFACTURER,
        manufacturer_address=address,
        status=_(
            "Made by the project team as a development version: not CE-marked as a medical device."
        ),
        intended_use=use,
        limits=limits.get(lang) or limits.get("en") or "",
        other_uses=tuple((code, text) for code, text in sorted(uses.items()) if code != lang),
        licence=_("The application: licence of the manufacturer (the project team)."),
        components=components(),
    )

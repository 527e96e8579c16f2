"""What the product is: version, manufacturer, intended use and the licences of its parts.

One home for the facts the About box (and anyone else) shows; Qt-free, translated at call time.
"""

from __future__ import annotations

from dataclasses import dataclass

from dxa_app.i18n import _

#: The open-source components shipped with the application: (distribution, licence).
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
    ("sqlite-utils", "Apache-2.0"),
    ("SQLite", "Public domain"),
    ("platformdirs", "MIT"),
    ("Babel", "BSD-3-Clause"),
    ("pyhanko", "MIT"),
    ("cryptography", "Apache-2.0 OR BSD-3-Clause"),
)

#: The installed distribution behind a component name, when it differs.
_DISTRIBUTIONS = {"PySide6 (Qt)": "PySide6-Essentials"}


@dataclass(frozen=True)
class Component:
    """An open-source part of the application and its licence."""

    name: str
    version: str
    licence: str


@dataclass(frozen=True)
class ProductFacts:
    """What the About box shows, translated in the current language."""

    name: str
    version: str
    manufacturer: str
    intended_use: str
    limits: str
    licence: str
    components: tuple[Component, ...]


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


def components() -> tuple[Component, ...]:
    """Return the open-source components with their installed version and licence.

    Returns
    -------
    tuple of Component
        In the order of :data:`COMPONENTS`.
    """
    return tuple(Component(name, _installed_version(name), lic) for name, lic in COMPONENTS)


def product_facts() -> ProductFacts:
    """Return the version, manufacturer, intended use and licences, in the current language.

    Returns
    -------
    ProductFacts
        The facts for the About box.
    """
    import dxa_app

    return ProductFacts(
        name=_("DXA bone density"),
        version=str(dxa_app.__version__),
        manufacturer=_(
            "The Danish DXA harmonisation project, on behalf of the national DXA knowledge"
            " centre. Development version: not CE-marked as a medical device."
        ),
        intended_use=_(
            "Reads bone density measurements from Hologic and GE Lunar DXA scanners, harmonises"
            " them onto one national scale, calculates T- and Z-scores and the WHO/ISCD"
            " category, and prepares the DXA report that a physician reviews, edits and signs."
            " For use by trained DXA staff in adults."
        ),
        limits=_(
            "The program does not make a diagnosis on its own: the physician decides. Children"
            " need paediatric references, which the program does not have."
        ),
        licence=_("The application: proprietary licence of the manufacturer."),
        components=components(),
    )

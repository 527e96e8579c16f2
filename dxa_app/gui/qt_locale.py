"""Qt's own texts and number formats in the application's language.

Qt's standard buttons, file dialogs and context menus ("Close", "Open", "Cancel") come from
the ``qtbase_<lang>.qm`` catalogue that PySide6 ships in its translations folder
(:class:`QLibraryInfo` ``TranslationsPath``). :func:`install_qt_language` loads it for
Danish and sets the default :class:`QLocale` (decimal comma in spin boxes); English is
Qt's source language and needs no catalogue.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

#: The Qt catalogues loaded for a language other than English, in order.
QT_CATALOGUES: tuple[str, ...] = ("qtbase",)

_installed: list[QTranslator] = []


def qt_locale(lang: str) -> QLocale:
    """Return the QLocale of one of the application's languages (Danish or English)."""
    if lang == "da":
        return QLocale(QLocale.Language.Danish, QLocale.Country.Denmark)
    return QLocale(QLocale.Language.English, QLocale.Country.UnitedKingdom)


def install_qt_language(lang: str) -> bool:
    """Load Qt's own translations for ``lang`` into the running application.

    Parameters
    ----------
    lang : str
        ``"da"`` or ``"en"``.

    Returns
    -------
    bool
        True when Qt's texts are now in ``lang`` (always for English; for Danish when the
        catalogue was found), False when the catalogue is missing or there is no application.
    """
    app = QCoreApplication.instance()
    QLocale.setDefault(qt_locale(lang))
    if app is None:
        return False
    while _installed:
        app.removeTranslator(_installed.pop())
    if lang == "en":
        return True
    folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    loaded = False
    for name in QT_CATALOGUES:
        translator = QTranslator(app)
        if translator.load(f"{name}_{lang}", folder):
            app.installTranslator(translator)
            _installed.append(translator)
            loaded = True
    return loaded

"""The Qt desktop interface (PySide6); the only package of the application that imports Qt.

Modules
-------
app
    ``main()``: creates the QApplication, installs the excepthook, opens the main window.
main_window
    ``MainWindow``: menus, patient and study tables, status bar, language switch.
models
    ``PatientTableModel`` and ``StudyTableModel`` over plain lists of domain summaries.
dialogs
    The friendly error dialog (with "Copy details") and the switch that turns dialogs off
    for tests (``DXA_NO_DIALOGS=1``).
settings
    ``QSettings`` for UI state only (geometry, last archive, language); ``DXA_SETTINGS_DIR``
    redirects it to a folder (tests).

Data reaches the GUI only through :mod:`dxa_app.services`; errors arrive as
:class:`dxa_app.errors.DxaError` and are shown with :func:`dialogs.show_error`.
"""

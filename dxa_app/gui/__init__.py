"""The Qt desktop interface (PySide6); the only package of the application that imports Qt.

Modules
-------
app
    ``main()``: creates the QApplication, installs the excepthook, opens the main window.
main_window
    ``MainWindow``: menus, the Patients tab, the workspace tabs the user's permissions allow.
login
    The log-in dialog and the first-run dialog (the first user is the administrator).
workspace
    ``Workspace``: the one base of every workspace and panel (session, tasks, errors, status).
technician, physician, centre, admin
    The workspaces; the centre's tabs are ``centre_scanners``, ``centre_fits`` and
    ``centre_uniformity``; the technician's panels ``qc_panel``, ``study_panel``,
    ``vfa_panel`` and ``precision_wizard``.
table_model
    ``ObjectTableModel``: the one read-only table model, declared by its columns; the tables
    are in ``models`` (patients, studies) and the ``*_models`` modules.
labels, common, pacs_form
    Translated labels and colours, the table view, the PACS address form.
tasks
    ``run_task``: services off the GUI thread with progress and cancel.
dialogs
    The friendly error dialog (with "Copy details") and the switch that turns dialogs off
    for tests (``DXA_NO_DIALOGS=1``).
settings
    ``QSettings`` for UI state only (geometry, last archive, language); ``DXA_SETTINGS_DIR``
    redirects it to a folder (tests).
qt_fixes
    Work-arounds for bugs of the Qt binding, applied on import.

Data reaches the GUI only through :mod:`dxa_app.services`, called with the logged-in user's
:class:`~dxa_app.services.auth.Session`; errors arrive as :class:`dxa_app.errors.DxaError`
and are shown with :func:`dialogs.show_error`.
"""

from dxa_app.gui import qt_fixes

qt_fixes.apply()

"""The main window: the Patients browser and the workspaces the user's role allows, in tabs.

All data comes through :mod:`dxa_app.services` with the logged-in user's
:class:`~dxa_app.services.auth.Session`; a :class:`DxaError` from a service is shown with the
friendly error dialog. Without a session the window shows no patient data. Window geometry,
the last archive and the language are remembered in QSettings (UI state only). Which
workspace tabs a user sees follows from the role's permissions, decided in one place:
:func:`workspace_permissions`.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QByteArray,
    QItemSelection,
    QSettings,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

import dxa_app
from dxa_app.domain import PatientSummary, StudySummary
from dxa_app.errors import DxaError
from dxa_app.gui import settings as ui_settings
from dxa_app.gui.common import read_only_table
from dxa_app.gui.dialogs import show_error
from dxa_app.gui.labels import role_label
from dxa_app.gui.models import ObjectRole, PatientTableModel, SortRole, StudyTableModel
from dxa_app.i18n import LANGUAGES, _, current_language, set_language

if TYPE_CHECKING:  # the services are imported when first used: the window shows first
    from dxa_app.services.auth import Permission, Session

log = logging.getLogger(__name__)

#: Asks who logs in to an archive (a modal dialog in the application); None: cancelled.
LoginFunction = Callable[[Path, QWidget], "Session | None"]

#: Where each workspace class lives (imported lazily: pyqtgraph and QtPdf are heavy).
WORKSPACE_CLASSES: dict[str, tuple[str, str]] = {
    "technician": ("dxa_app.gui.technician", "TechnicianWorkspace"),
    "physician": ("dxa_app.gui.physician", "PhysicianWorkspace"),
    "centre": ("dxa_app.gui.centre", "CentreWorkspace"),
    "admin": ("dxa_app.gui.admin", "AdminWorkspace"),
}


def workspace_permissions() -> dict[str, tuple[Permission, ...]]:
    """Return the workspace keys, in tab order, each with the permissions that show it.

    The one place that decides the tabs: a user sees a workspace when the role has any of
    its permissions (the services check each action again). Technician: import or
    acknowledge QC. Physician: sign reports. Centre: approve calibration steps or run the
    knowledge centre. Administration: manage users or settings.
    """
    from dxa_app.services.auth import Permission

    return {
        "technician": (Permission.IMPORT, Permission.QC_ACK),
        "physician": (Permission.SIGN,),
        "centre": (Permission.APPROVE, Permission.CENTRE),
        "admin": (Permission.USERS, Permission.SETTINGS),
    }


def workspace_title(key: str) -> str:
    """Return the translated tab title of a workspace."""
    titles = {
        "patients": _("Patients"),
        "technician": _("Technician"),
        "physician": _("Physician"),
        "centre": _("Centre"),
        "admin": _("Administration"),
    }
    return titles.get(key, key)


def allowed_workspaces(session: Session | None) -> list[str]:
    """Return the workspace keys a session may see, in tab order (none without a session)."""
    if session is None:
        return []
    return [
        key
        for key, needs in workspace_permissions().items()
        if any(session.may(permission) for permission in needs)
    ]


def make_workspace(key: str, session: Session) -> QWidget:
    """Build one workspace; a placeholder label when its module is not installed."""
    module_name, class_name = WORKSPACE_CLASSES[key]
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, class_name)
    except (ImportError, AttributeError) as exc:
        log.warning("workspace %s is not available: %s", key, exc)
        label = QLabel(_("This workspace is not available in this version."))
        label.setObjectName(f"placeholder_{key}")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        return label
    widget = cls(session)
    assert isinstance(widget, QWidget)
    return widget


#: Language names shown in the Language menu, each in its own language (never translated).
LANGUAGE_NAMES: dict[str, str] = {"da": "Dansk", "en": "English"}


def app_version() -> str:
    """Return the installed version of the application."""
    return str(dxa_app.__version__)


def _proxy(source: PatientTableModel | StudyTableModel) -> QSortFilterProxyModel:
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(source)
    proxy.setSortRole(SortRole)
    proxy.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    proxy.setSortLocaleAware(True)
    return proxy


class MainWindow(QMainWindow):
    """The application's main window.

    Parameters
    ----------
    settings : QSettings, optional
        Where UI state is remembered; defaults to :func:`settings.make_settings`
        (tests pass an INI file under a temporary folder).
    parent : QWidget, optional
        Parent widget (normally none).
    session : Session, optional
        Who is logged in; its archive is opened at once and its role decides the
        workspace tabs. Tests pass a session instead of going through the log-in dialog.
    login : callable, optional
        ``login(archive, window) -> Session | None``, asked when an archive is opened
        without a matching session (the application passes the log-in dialog). Without
        it, such an archive is opened without a user: no patient data, no workspaces.
    """

    def __init__(
        self,
        settings: QSettings | None = None,
        parent: QWidget | None = None,
        *,
        session: Session | None = None,
        login: LoginFunction | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else ui_settings.make_settings()
        self.archive_path: Path | None = None
        self.session: Session | None = None
        self.login = login
        self.workspaces: dict[str, QWidget] = {}
        self.selected_patient: PatientSummary | None = None
        self._n_patients = 0
        self._n_studies = 0

        self.patient_model = PatientTableModel(parent=self)
        self.study_model = StudyTableModel(parent=self)
        self.patient_proxy = _proxy(self.patient_model)
        self.patient_proxy.setParent(self)
        self.study_proxy = _proxy(self.study_model)
        self.study_proxy.setParent(self)

        self.patient_view = read_only_table(self.patient_proxy, sortable=True)
        self.patient_view.setObjectName("patientTable")
        self.study_view = read_only_table(self.study_proxy, sortable=True)
        self.study_view.setObjectName("studyTable")
        self.patient_view.sortByColumn(PatientTableModel.COL_NAME, Qt.SortOrder.AscendingOrder)
        self.study_view.sortByColumn(StudyTableModel.COL_DATE, Qt.SortOrder.DescendingOrder)
        self.patient_view.selectionModel().selectionChanged.connect(self._on_patient_selection)

        self.patients_title = QLabel()
        self.studies_title = QLabel()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.patients_title)
        left_layout.addWidget(self.patient_view)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.studies_title)
        right_layout.addWidget(self.study_view)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.study_view.doubleClicked.connect(lambda _index: self.open_selected_study())
        self.tabs = QTabWidget()
        self.tabs.setObjectName("workspaceTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.splitter, "")
        self.setCentralWidget(self.tabs)

        self.status_label = QLabel()
        self.status_label.setObjectName("statusLabel")
        self.statusBar().addPermanentWidget(self.status_label, 1)
        self.user_label = QLabel()
        self.user_label.setObjectName("userLabel")
        self.statusBar().addPermanentWidget(self.user_label)

        self._create_actions()
        self._create_menus()
        self.resize(1100, 650)
        self._restore_state()
        self.retranslate()
        if session is not None:
            self.session = session
            self.open_archive(session.archive)

    # -- construction -------------------------------------------------------------------
    def _create_actions(self) -> None:
        self.open_action = QAction(self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self.choose_archive)
        self.new_action = QAction(self)
        self.new_action.setShortcut(QKeySequence.StandardKey.New)
        self.new_action.triggered.connect(self.choose_new_archive)
        self.logout_action = QAction(self)
        self.logout_action.triggered.connect(self.log_out)
        self.quit_action = QAction(self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)
        self.show_all_action = QAction(self)
        self.show_all_action.triggered.connect(self.show_all_studies)
        self.language_group = QActionGroup(self)
        self.language_group.setExclusive(True)
        self.language_actions: dict[str, QAction] = {}
        for lang in LANGUAGES:
            action = QAction(LANGUAGE_NAMES.get(lang, lang), self)
            action.setCheckable(True)
            action.setData(lang)
            action.triggered.connect(lambda _checked=False, code=lang: self.set_language(code))
            self.language_group.addAction(action)
            self.language_actions[lang] = action
        self.about_action = QAction(self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)

    def _create_menus(self) -> None:
        bar = self.menuBar()
        self.file_menu = QMenu(self)
        self.file_menu.addAction(self.open_action)
        self.file_menu.addAction(self.new_action)
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.logout_action)
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.quit_action)
        self.view_menu = QMenu(self)
        self.view_menu.addAction(self.show_all_action)
        self.view_menu.addSeparator()
        self.language_menu = QMenu(self)
        for action in self.language_actions.values():
            self.language_menu.addAction(action)
        self.view_menu.addMenu(self.language_menu)
        self.help_menu = QMenu(self)
        self.help_menu.addAction(self.about_action)
        bar.addMenu(self.file_menu)
        bar.addMenu(self.view_menu)
        bar.addMenu(self.help_menu)

    # -- translation --------------------------------------------------------------------
    def base_title(self) -> str:
        """Return the translated application title (without the archive name)."""
        return _("DXA bone density")

    def retranslate(self) -> None:
        """Re-set every visible text in the current language (after a language switch)."""
        title = self.base_title()
        if self.archive_path is not None:
            title = f"{title} — {self.archive_path.name}"
        self.setWindowTitle(title)
        self.file_menu.setTitle(_("&File"))
        self.open_action.setText(_("&Open archive..."))
        self.new_action.setText(_("&New archive..."))
        self.logout_action.setText(_("Log &out"))
        self.logout_action.setEnabled(self.session is not None)
        self.quit_action.setText(_("&Quit"))
        self.view_menu.setTitle(_("&View"))
        self.show_all_action.setText(_("Show &all studies"))
        self.language_menu.setTitle(_("&Language"))
        self.help_menu.setTitle(_("&Help"))
        self.about_action.setText(_("&About..."))
        lang = current_language()
        if lang in self.language_actions:
            self.language_actions[lang].setChecked(True)
        self.patients_title.setText(_("Patients"))
        self._update_studies_title()
        self._update_status()
        self.patient_model.retranslate()
        self.study_model.retranslate()
        self.tabs.setTabText(0, workspace_title("patients"))
        for key, widget in self.workspaces.items():
            self.tabs.setTabText(self.tabs.indexOf(widget), workspace_title(key))
            retranslate = getattr(widget, "retranslate", None)
            if callable(retranslate):
                retranslate()

    def set_language(self, lang: str) -> None:
        """Switch the language of the whole application, remember it, retranslate."""
        set_language(lang)
        self.settings.setValue(ui_settings.KEY_LANGUAGE, lang)
        self.retranslate()

    def _update_studies_title(self) -> None:
        p = self.selected_patient
        if p is None:
            self.studies_title.setText(_("All studies"))
        else:
            self.studies_title.setText(
                _("Studies of {name} ({id})").format(name=p.name, id=p.identifier)
            )

    def _update_status(self) -> None:
        if self.session is None:
            self.user_label.setText(_("Not logged in"))
        else:
            self.user_label.setText(
                _("User: {name} ({role})").format(
                    name=self.session.display_name, role=role_label(self.session.role)
                )
            )
        if self.archive_path is None:
            self.status_label.setText(_("No archive open"))
            return
        if self.session is None:
            self.status_label.setText(
                _("Archive: {path} — log in to see its patients").format(path=self.archive_path)
            )
            return
        self.status_label.setText(
            _("Archive: {path} — {patients} patients, {studies} studies").format(
                path=self.archive_path,
                patients=self._n_patients,
                studies=self._n_studies,
            )
        )

    # -- archive ------------------------------------------------------------------------
    def open_archive(self, path: str | Path, *, create: bool = False) -> bool:
        """Open an archive: ask who logs in (unless the session is for it), show its lists.

        Parameters
        ----------
        path : str or Path
            An existing archive file (or, with ``create``, a new one: the first-run dialog
            creates it together with its administrator).
        create : bool
            The file may not exist yet (File > New archive).

        Returns
        -------
        bool
            True when the archive was opened; False when the log-in was cancelled or a
            :class:`DxaError` was shown to the user (the previous archive stays open).
        """
        p = Path(path)
        session = self.session if self._same_archive(self.session, p) else None
        if session is None:
            if not (create and not p.exists()) and not self._is_archive(p):
                return False
            if self.login is not None:
                session = self.login(p, self)
                if session is None:  # log-in cancelled: the previous archive stays open
                    return False
            elif create:
                return False  # a new archive needs its administrator: only the dialog makes one
        if session is not None and not self._load_lists(session):
            return False
        self.archive_path = p
        self.selected_patient = None
        self.patient_view.clearSelection()
        self.settings.setValue(ui_settings.KEY_LAST_ARCHIVE, str(p.resolve()))
        self.set_session(session)
        return True

    def _is_archive(self, p: Path) -> bool:
        try:
            from dxa_app.services.auth import has_users  # deferred: keeps the first window fast

            has_users(p)
        except DxaError as exc:
            show_error(exc, self)
            return False
        return True

    @staticmethod
    def _same_archive(session: Session | None, path: Path) -> bool:
        if session is None:
            return False
        try:
            return Path(session.archive).resolve() == path.resolve()
        except OSError:
            return False

    def _load_lists(self, session: Session) -> bool:
        try:
            from dxa_app.services import browse  # deferred: keeps the first window fast

            counts = browse.archive_counts(session)
            patients = browse.patients(session)
            studies = browse.studies(session)
        except DxaError as exc:
            show_error(exc, self)
            return False
        self._n_patients = counts.patients
        self._n_studies = counts.studies
        self.patient_model.set_rows(patients)
        self.study_model.set_rows(studies)
        self.patient_view.resizeColumnsToContents()
        self.study_view.resizeColumnsToContents()
        return True

    def _clear_lists(self) -> None:
        self._n_patients = self._n_studies = 0
        self.selected_patient = None
        self.patient_model.set_rows([])
        self.study_model.set_rows([])

    def reload_archive(self) -> None:
        """Re-read the patients and studies of the open archive (after an import)."""
        if self.session is None:
            return
        selected = self.selected_patient.id if self.selected_patient else None
        if self._load_lists(self.session):
            self.selected_patient = None
            if selected is not None:
                self.select_patient(selected)
            self._update_status()

    # -- session and workspaces -----------------------------------------------------------
    def set_session(self, session: Session | None) -> None:
        """Make ``session`` the logged-in user and show the workspaces its role allows."""
        for widget in self.workspaces.values():
            self.tabs.removeTab(self.tabs.indexOf(widget))
            widget.deleteLater()
        self.workspaces = {}
        self.session = session
        if session is None:
            self._clear_lists()
        else:
            for key in allowed_workspaces(session):
                widget = make_workspace(key, session)
                self.workspaces[key] = widget
                self.tabs.addTab(widget, workspace_title(key))
                changed = getattr(widget, "archive_changed", None)
                if changed is not None:
                    changed.connect(self.reload_archive)
            for widget in self.workspaces.values():
                refresh = getattr(widget, "refresh", None)
                if callable(refresh):
                    refresh()
        self.retranslate()

    def workspace_titles(self) -> list[str]:
        """Return the titles of the tabs shown, in order (Patients first)."""
        return [self.tabs.tabText(i) for i in range(self.tabs.count())]

    def log_out(self) -> None:
        """Log the user out (audited): the workspaces close; log in again if possible."""
        session = self.session
        if session is None:
            return
        try:
            from dxa_app.services.auth import log_out

            log_out(session)
        except DxaError as exc:
            show_error(exc, self)
        self.set_session(None)
        if self.login is not None and self.archive_path is not None:
            again = self.login(self.archive_path, self)
            if again is not None and self._load_lists(again):
                self.set_session(again)

    def open_selected_study(self) -> bool:
        """Open the study selected in the Patients tab in the user's workspace."""
        rows = self.study_view.selectionModel().selectedRows()
        if not rows:
            return False
        study = self.study_proxy.data(rows[0], ObjectRole)
        if not isinstance(study, StudySummary):
            return False
        return self.open_study(study.id)

    def open_study(self, study_id: int) -> bool:
        """Show a study in the technician workspace, or else the physician workspace."""
        for key, method in (("technician", "show_study"), ("physician", "select_study")):
            widget = self.workspaces.get(key)
            call = getattr(widget, method, None) if widget is not None else None
            if callable(call):
                result = call(study_id)
                if result is False:
                    return False
                assert widget is not None
                self.tabs.setCurrentWidget(widget)
                return True
        return False

    def choose_archive(self) -> None:
        """Ask for an archive file (File > Open archive...) and open it."""
        start = str(self.archive_path.parent) if self.archive_path else ""
        path, _selected = QFileDialog.getOpenFileName(
            self,
            _("Open archive"),
            start,
            _("DXA archives (*.sqlite);;All files (*)"),
        )
        if path:
            self.open_archive(path)

    def choose_new_archive(self) -> None:
        """Ask for a new archive file (File > New archive...), create it and open it."""
        path, _selected = QFileDialog.getSaveFileName(
            self,
            _("New archive"),
            "",
            _("DXA archives (*.sqlite);;All files (*)"),
        )
        if path:
            self.create_archive(Path(path))

    def create_archive(self, path: Path) -> bool:
        """Open a new archive at ``path``; the first-run dialog creates it and its administrator."""
        return self.open_archive(path, create=True)

    def reload_studies(self) -> None:
        """Reload the study table for the selected patient (or all studies)."""
        if self.session is None:
            self.study_model.set_rows([])
            return
        patient_id = self.selected_patient.id if self.selected_patient else None
        try:
            from dxa_app.services import browse

            rows = browse.studies(self.session, patient_id)
        except DxaError as exc:
            show_error(exc, self)
            return
        self.study_model.set_rows(rows)

    def show_all_studies(self) -> None:
        """Clear the patient selection and list every study in the archive."""
        self.patient_view.clearSelection()
        if self.selected_patient is not None:  # the selection signal did not fire
            self._select_patient(None)

    def select_patient(self, patient_id: int | None) -> None:
        """Select a patient by archive id in the patients table (None: show all studies)."""
        if patient_id is None:
            self.show_all_studies()
            return
        for row in range(self.patient_model.rowCount()):
            if self.patient_model.row_at(row).id == patient_id:
                index = self.patient_proxy.mapFromSource(self.patient_model.index(row, 0))
                self.patient_view.selectRow(index.row())
                return

    def _on_patient_selection(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.patient_view.selectionModel().selectedRows()
        patient: PatientSummary | None = None
        if rows:
            value = self.patient_proxy.data(rows[0], ObjectRole)
            patient = value if isinstance(value, PatientSummary) else None
        self._select_patient(patient)

    def _select_patient(self, patient: PatientSummary | None) -> None:
        self.selected_patient = patient
        self.reload_studies()
        self._update_studies_title()

    # -- help ---------------------------------------------------------------------------
    def about_text(self) -> str:
        """Return the text of the About box."""
        return "<p><b>{name}</b> {version}</p><p>{rule}</p>".format(
            name=self.base_title(),
            version=app_version(),
            rule=_("WHO/ISCD categories, classified on the printed one-decimal T-score."),
        )

    def make_about_box(self) -> QMessageBox:
        """Build the About box (not shown; :meth:`show_about` runs it modally)."""
        box = QMessageBox(self)
        box.setWindowTitle(_("About {name}").format(name=self.base_title()))
        box.setIcon(QMessageBox.Icon.Information)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(self.about_text())
        box.setStandardButtons(QMessageBox.StandardButton.Close)
        return box

    def show_about(self) -> None:
        """Show the About box (Help > About...)."""
        box = self.make_about_box()
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # -- state --------------------------------------------------------------------------

    def _restore_state(self) -> None:
        geometry = self.settings.value(ui_settings.KEY_GEOMETRY)
        if isinstance(geometry, QByteArray | bytes):
            self.restoreGeometry(QByteArray(geometry))
        splitter = self.settings.value(ui_settings.KEY_SPLITTER)
        if isinstance(splitter, QByteArray | bytes):
            self.splitter.restoreState(QByteArray(splitter))

    def save_state(self) -> None:
        """Remember geometry and splitter position in QSettings."""
        self.settings.setValue(ui_settings.KEY_GEOMETRY, self.saveGeometry())
        self.settings.setValue(ui_settings.KEY_SPLITTER, self.splitter.saveState())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Save the UI state when the window closes."""
        self.save_state()
        super().closeEvent(event)

"""The main window: the Patients browser and the workspaces the user's role allows, in tabs.

All data comes through :mod:`dxa_app.services` with the logged-in user's
:class:`~dxa_app.services.auth.Session`; a :class:`DxaError` from a service is shown with the
friendly error dialog. Without a session the window shows no patient data. Window geometry,
the last archive and the language are remembered in QSettings (UI state only). Which
workspace tabs a user sees follows from the role's permissions, decided in one place:
:func:`workspace_permissions`.

The window locks after the idle time stored in the archive (File > Lock screen at once): the
workspaces leave the window, a lock page takes their place until the user's password is
typed again. File > Back up and Restore from backup run the backup services.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import (
    QByteArray,
    QItemSelection,
    QModelIndex,
    QSettings,
    Qt,
    QTimer,
)
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

import dxa_app
from dxa_app.domain import PatientSummary, Role, StudySummary
from dxa_app.errors import DxaError
from dxa_app.gui import settings as ui_settings
from dxa_app.gui.common import EmptyHint, read_only_table
from dxa_app.gui.dialogs import show_error
from dxa_app.gui.idle import MINUTE_MS, IdleWatcher
from dxa_app.gui.labels import role_label
from dxa_app.gui.models import ObjectRole, PatientTableModel, StudyTableModel
from dxa_app.gui.qt_locale import install_qt_language
from dxa_app.gui.table_model import PageFetch
from dxa_app.i18n import LANGUAGES, _, current_language, set_language

if TYPE_CHECKING:  # the services are imported when first used: the window shows first
    from dxa_app.gui.archive_tasks import ArchiveTasks
    from dxa_app.gui.lock import LockPage
    from dxa_app.gui.settings_dialog import SettingsDialog
    from dxa_app.gui.tasks import TaskHandle
    from dxa_app.services.auth import Permission, Session

log = logging.getLogger(__name__)

#: Asks who logs in to an archive (a modal dialog in the application); None: cancelled.
LoginFunction = Callable[[Path, QWidget], "Session | None"]

Row = TypeVar("Row")

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


#: The suffix of a new archive file.
ARCHIVE_SUFFIX = ".dxa.sqlite"


def archive_path(path: Path) -> Path:
    """Return ``path`` with the archive suffix when it has no ``.sqlite`` ending."""
    if path.name.lower().endswith(".sqlite"):
        return path
    return path.with_name(path.name + ARCHIVE_SUFFIX)


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


#: The workspace each role opens on after the log-in (the Patients tab when it has none).
HOME_WORKSPACE: dict[Role, str] = {
    Role.TECHNICIAN: "technician",
    Role.PHYSICIAN: "physician",
    Role.CENTRE_ANALYST: "centre",
    Role.ADMIN: "admin",
}


def home_workspace(session: Session | None) -> str:
    """Return the key of the workspace a user starts on: their role's own, else "patients"."""
    if session is None:
        return "patients"
    key = HOME_WORKSPACE.get(session.role, "patients")
    return key if key in allowed_workspaces(session) else "patients"


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


#: The idle time before the window locks when the archive's setting cannot be read.
DEFAULT_LOCK_MINUTES = 10

#: Language names shown in the Language menu, each in its own language (never translated).
LANGUAGE_NAMES: dict[str, str] = {"da": "Dansk", "en": "English"}


def app_version() -> str:
    """Return the installed version of the application."""
    return str(dxa_app.__version__)


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
    lock_after_ms : int, optional
        Lock after this many milliseconds without input instead of the archive's setting
        (:func:`dxa_app.services.settings.lock_minutes`); tests use a few milliseconds.
    """

    def __init__(
        self,
        settings: QSettings | None = None,
        parent: QWidget | None = None,
        *,
        session: Session | None = None,
        login: LoginFunction | None = None,
        lock_after_ms: int | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else ui_settings.make_settings()
        self.archive_path: Path | None = None
        self.session: Session | None = None
        self.login = login
        self.workspaces: dict[str, QWidget] = {}
        #: Overrides the archive's idle time (milliseconds); None: the archive's setting.
        self.lock_after_ms = lock_after_ms
        #: The idle time in use while someone is logged in (milliseconds).
        self.lock_timeout_ms = DEFAULT_LOCK_MINUTES * MINUTE_MS
        self.idle_watcher = IdleWatcher(self)
        self.idle_watcher.idle.connect(self.lock)
        #: The page shown instead of the workspaces while the window is locked.
        self.lock_page: LockPage | None = None
        self._hidden_windows: list[QWidget] = []
        #: Backup and restore for the logged-in user (None without a session).
        self.archive_tasks: ArchiveTasks | None = None
        self.selected_patient: PatientSummary | None = None
        self._n_patients = 0
        self._n_studies = 0

        self.patient_model = PatientTableModel(parent=self)
        self.study_model = StudyTableModel(parent=self)
        #: The patient search in force (CPR/ID or words of the name), applied in the archive.
        self._search_text = ""

        self.patient_view = read_only_table(self.patient_model, sortable=True)
        self.patient_view.setObjectName("patientTable")
        self.study_view = read_only_table(self.study_model, sortable=True)
        self.study_view.setObjectName("studyTable")
        self.patient_view.sortByColumn(PatientTableModel.COL_NAME, Qt.SortOrder.AscendingOrder)
        self.study_view.sortByColumn(StudyTableModel.COL_DATE, Qt.SortOrder.DescendingOrder)
        self.patient_view.selectionModel().selectionChanged.connect(self._on_patient_selection)

        self.patient_hint = EmptyHint(self.patient_view)
        self.study_hint = EmptyHint(self.study_view)
        self.patients_title = QLabel()
        self.studies_title = QLabel()
        self.patient_search = QLineEdit()
        self.patient_search.setObjectName("patientSearch")
        self.patient_search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(250)  # search once typing pauses
        self._search_timer.timeout.connect(self.search_patients)
        self.patient_search.textChanged.connect(lambda _text: self._search_timer.start())
        self.patient_search.returnPressed.connect(self.search_patients)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.patients_title)
        left_layout.addWidget(self.patient_search)
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
        self.lock_action = QAction(self)
        self.lock_action.setObjectName("lockAction")
        self.lock_action.setShortcut(QKeySequence("Ctrl+L"))
        self.lock_action.triggered.connect(self.lock)
        self.backup_action = QAction(self)
        self.backup_action.triggered.connect(self.choose_backup)
        self.restore_action = QAction(self)
        self.restore_action.triggered.connect(self.choose_restore)
        #: The administrator's settings (PACS, receiver, backup, screen lock) in one dialog.
        self.settings_action = QAction(self)
        self.settings_action.setObjectName("settingsAction")
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.settings_action.triggered.connect(self.open_settings)
        self.settings_dialog: SettingsDialog | None = None
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
        self.file_menu.addAction(self.backup_action)
        self.file_menu.addAction(self.restore_action)
        self.file_menu.addAction(self.settings_action)
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.lock_action)
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
        self.lock_action.setText(_("&Lock screen"))
        self.backup_action.setText(_("&Backup…"))
        self.restore_action.setText(_("&Restore from backup…"))
        self.settings_action.setText(_("&Settings…"))
        self.update_actions()
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
        self.patient_search.setPlaceholderText(_("Search: CPR number or name"))
        self._update_studies_title()
        self._update_hints()
        self._update_status()
        self.patient_model.retranslate()
        self.study_model.retranslate()
        self.tabs.setTabText(0, workspace_title("patients"))
        for key, widget in self.workspaces.items():
            self.tabs.setTabText(self.tabs.indexOf(widget), workspace_title(key))
            retranslate = getattr(widget, "retranslate", None)
            if callable(retranslate):
                retranslate()
        if self.lock_page is not None:
            self.lock_page.retranslate()

    def update_actions(self) -> None:
        """Enable the menu actions the state allows (locked: only log out, quit, language)."""
        session, locked = self.session, self.locked
        unlocked_session = session is not None and not locked
        self.open_action.setEnabled(not locked)
        self.new_action.setEnabled(not locked)
        self.show_all_action.setEnabled(not locked)
        self.logout_action.setEnabled(session is not None)
        self.lock_action.setEnabled(unlocked_session)
        tasks = self.archive_tasks
        self.backup_action.setEnabled(
            unlocked_session and tasks is not None and tasks.may_back_up()
        )
        self.restore_action.setEnabled(
            unlocked_session and tasks is not None and tasks.may_restore()
        )
        self.settings_action.setVisible(self.may_change_settings())
        self.settings_action.setEnabled(unlocked_session and self.may_change_settings())

    def may_change_settings(self) -> bool:
        """Return whether the logged-in role may change the settings (administrators)."""
        if self.session is None:  # before log-in: the services are not loaded yet
            return False
        from dxa_app.services.auth import Permission

        return self.session.may(Permission.SETTINGS)

    def open_settings(self) -> SettingsDialog | None:
        """Open the settings dialog (File > Settings…; administrators; non-blocking).

        Returns
        -------
        SettingsDialog or None
            The open dialog (None for a role without the settings, or when locked).
        """
        session = self.session
        if session is None or self.locked or not self.may_change_settings():
            return None
        from dxa_app.gui.settings_dialog import SettingsDialog

        if self.settings_dialog is not None:
            self.settings_dialog.raise_()
            self.settings_dialog.activateWindow()
            return self.settings_dialog
        dialog = SettingsDialog(session, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.lock_page.lock_minutes_changed.connect(self.set_lock_minutes)

        def restore() -> None:
            dialog.close()
            self.choose_restore()

        dialog.backup_page.restore_requested.connect(restore)
        dialog.finished.connect(self._settings_closed)
        self.settings_dialog = dialog
        dialog.open()
        return dialog

    def _settings_closed(self, _result: int) -> None:
        self.settings_dialog = None
        admin = self.workspaces.get("admin")  # it shows the same settings: show what is stored
        refresh = getattr(admin, "refresh", None)
        if callable(refresh) and not self.locked:
            refresh()

    def set_language(self, lang: str) -> None:
        """Switch the language of the whole application, remember it, retranslate."""
        set_language(lang)
        install_qt_language(lang)
        self.settings.setValue(ui_settings.KEY_LANGUAGE, lang)
        self.retranslate()

    def _update_hints(self) -> None:
        """Say on the empty lists what to do first (open an archive, import scans)."""
        session = self.session
        if session is None:
            first = _(
                "No archive is open. Open the department's archive with File > Open archive,"
                " or make a new one with File > New archive."
            )
        else:
            from dxa_app.services.auth import Permission

            if session.may(Permission.IMPORT):
                first = _(
                    "No patients yet. Import the scanners' export files on the Technician tab,"
                    " under Import (drop files or folders there)."
                )
            else:
                first = _(
                    "No patients yet. A technician imports the scanners' export files;"
                    " the patients and their studies appear here."
                )
        if session is not None and self.patient_search.text().strip():
            first = _("No patient matches “{text}”. Check the CPR number or the spelling.").format(
                text=self.patient_search.text().strip()
            )
        self.patient_hint.set_text(first)
        if self.selected_patient is not None:
            self.study_hint.set_text(_("This patient has no studies."))
        else:
            self.study_hint.set_text("" if session is None else first)

    def search_patients(self) -> None:
        """Show the patients whose CPR number or name matches the search box (all: empty)."""
        self.set_patient_search(self.patient_search.text())

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
        """Count the archive and show the first page of patients and of studies."""
        try:
            from dxa_app.services import browse  # deferred: keeps the first window fast

            counts = browse.archive_counts(session)
            self.patient_model.set_source(self._patient_fetch(session))
            self.study_model.set_source(self._study_fetch(session, None))
        except DxaError as exc:
            show_error(exc, self)
            return False
        self._n_patients = counts.patients
        self._n_studies = counts.studies
        self.patient_view.resizeColumnsToContents()
        self.study_view.resizeColumnsToContents()
        return True

    def _patient_fetch(self, session: Session) -> PageFetch[PatientSummary]:
        """Return the patient list's page fetch (for the current search)."""
        from dxa_app.services import browse

        search = self._search_text

        def fetch(offset: int, limit: int, key: str, descending: bool) -> list[PatientSummary]:
            return browse.patients(
                session,
                search=search,
                sort=key or "name",
                descending=descending,
                offset=offset,
                limit=limit,
            )

        return self._shown_errors(fetch)

    def _study_fetch(self, session: Session, patient_id: int | None) -> PageFetch[StudySummary]:
        """Return the study list's page fetch (one patient's, or every study)."""
        from dxa_app.services import browse

        def fetch(offset: int, limit: int, key: str, descending: bool) -> list[StudySummary]:
            return browse.studies(
                session,
                patient_id,
                sort=key or "date",
                descending=descending,
                offset=offset,
                limit=limit,
            )

        return self._shown_errors(fetch)

    def _shown_errors(self, fetch: PageFetch[Row]) -> PageFetch[Row]:
        """Wrap a page fetch so that a later page's error is shown (and no rows come).

        On a worker thread (a header click's sort in the background) the error is raised, and
        the task shows it on the GUI thread.
        """
        first = True

        def guarded(offset: int, limit: int, key: str, descending: bool) -> Sequence[Row]:
            nonlocal first
            if first:  # the first page's error goes to the caller (it keeps the old lists)
                first = False
                return fetch(offset, limit, key, descending)
            if threading.current_thread() is not threading.main_thread():
                return fetch(offset, limit, key, descending)  # a sort's task shows the error
            try:
                return fetch(offset, limit, key, descending)
            except DxaError as exc:
                show_error(exc, self)
                return []

        return guarded

    def set_patient_search(self, text: str) -> None:
        """List only the patients whose CPR/ID or name matches ``text``; one match is selected.

        Parameters
        ----------
        text : str
            The search; empty lists every patient.
        """
        self._search_timer.stop()
        if self.patient_search.text() != text:
            self.patient_search.blockSignals(True)
            self.patient_search.setText(text)
            self.patient_search.blockSignals(False)
        self._search_text = text.strip()
        if self.session is None:
            return
        try:
            self.patient_model.set_source(self._patient_fetch(self.session))
        except DxaError as exc:
            show_error(exc, self)
            return
        rows = self.patient_model.rowCount()
        if self._search_text and rows == 1 and not self.patient_model.canFetchMore(QModelIndex()):
            self.select_patient(self.patient_model.row_at(0).id)  # found: show their studies
        elif self.selected_patient is not None:
            self._select_patient(None)
        self._update_hints()

    def _clear_lists(self) -> None:
        self._n_patients = self._n_studies = 0
        self.selected_patient = None
        self.patient_model.set_source(None)
        self.study_model.set_source(None)

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
        self._leave_lock()
        self.idle_watcher.stop()
        for widget in self.workspaces.values():
            self.tabs.removeTab(self.tabs.indexOf(widget))
            widget.deleteLater()
        self.workspaces = {}
        self._set_archive_tasks(session)
        self.session = session
        if self.patient_search.text() or self._search_text:  # a new user starts with everyone
            self.patient_search.blockSignals(True)
            self.patient_search.clear()
            self.patient_search.blockSignals(False)
            self._search_text = ""
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
                lock_changed = getattr(widget, "lock_minutes_changed", None)
                if lock_changed is not None:
                    lock_changed.connect(self.set_lock_minutes)
            for widget in self.workspaces.values():
                refresh = getattr(widget, "refresh", None)
                if callable(refresh):
                    refresh()
            home = self.workspaces.get(home_workspace(session))
            self.tabs.setCurrentWidget(home if home is not None else self.splitter)
            self.lock_timeout_ms = self._read_lock_timeout(session)
            self.idle_watcher.start(self.lock_timeout_ms)
        self.retranslate()

    def _set_archive_tasks(self, session: Session | None) -> None:
        if self.archive_tasks is not None:
            self.statusBar().removeWidget(self.archive_tasks)
            self.archive_tasks.deleteLater()
            self.archive_tasks = None
        if session is None:
            return
        from dxa_app.gui.archive_tasks import ArchiveTasks  # the backup service, when needed

        tasks = ArchiveTasks(session, self)
        tasks.restored.connect(self._after_restore)
        self.statusBar().insertPermanentWidget(1, tasks)
        tasks.show()
        self.archive_tasks = tasks

    # -- screen lock --------------------------------------------------------------------
    def _read_lock_timeout(self, session: Session) -> int:
        """Return the idle time before locking, in ms (the archive's setting, or the default)."""
        if self.lock_after_ms is not None:
            return max(int(self.lock_after_ms), 1)
        try:
            from dxa_app.services.settings import lock_minutes

            return lock_minutes(session) * MINUTE_MS
        except DxaError as exc:  # the lock still works, with the default time
            log.warning("cannot read the lock time: %s", exc.message)
            return DEFAULT_LOCK_MINUTES * MINUTE_MS

    def set_lock_minutes(self, minutes: int) -> None:
        """Use a new idle time at once (the administrator just stored it in the archive)."""
        if self.lock_after_ms is None:
            self.lock_timeout_ms = max(int(minutes), 1) * MINUTE_MS
            if self.idle_watcher.active:
                self.idle_watcher.start(self.lock_timeout_ms)

    @property
    def locked(self) -> bool:
        """Whether the lock page shows instead of the workspaces."""
        return self.lock_page is not None

    def lock(self) -> bool:
        """Lock the window now: the workspaces leave it, the lock page asks for the password.

        Dialogs and other windows of the application are closed (a modal one is cancelled)
        or hidden until the window is unlocked, so no patient data stay on the screen.

        Returns
        -------
        bool
            True when the window is locked now (False without a session).
        """
        session = self.session
        if session is None:
            return False
        if self.lock_page is not None:
            return True
        from dxa_app.gui.lock import LockPage

        self.idle_watcher.stop()
        self._hide_other_windows()
        page = LockPage(session)
        page.unlocked.connect(self.unlock)
        page.log_out_requested.connect(self.log_out)
        taken = self.takeCentralWidget()  # the workspaces leave the window
        assert taken is self.tabs
        self.lock_page = page
        self.setCentralWidget(page)
        page.show()
        page.password_edit.setFocus()
        self.update_actions()
        return True

    def unlock(self, session: Session) -> None:
        """Show the workspaces again after the password was re-entered (``session``: the check).

        Parameters
        ----------
        session : Session
            The session the lock page's log-in made; when the user's role or name changed
            since the log-in, the workspaces are made anew for it.
        """
        if self.lock_page is None:
            return
        old = self.session
        self._leave_lock()
        if old is None or old.user != session.user:
            self._release_hidden_windows(show=False)
            self.set_session(session)
            self.reload_archive()
            return
        self._release_hidden_windows(show=True)
        # read again: an administrator may have changed it on another workstation meanwhile
        self.lock_timeout_ms = self._read_lock_timeout(session)
        self.idle_watcher.start(self.lock_timeout_ms)
        self.update_actions()

    def _leave_lock(self) -> None:
        """Put the workspaces back in the window (no-op when not locked)."""
        page = self.lock_page
        if page is None:
            return
        self.takeCentralWidget()
        page.deleteLater()
        self.lock_page = None
        self.setCentralWidget(self.tabs)
        self.tabs.show()

    def _hide_other_windows(self) -> None:
        """Cancel the window's modal dialogs and hide its other windows until unlocked."""
        self._hidden_windows = []
        for widget in QApplication.topLevelWidgets():
            if widget is self or not widget.isVisible():
                continue
            owner = widget.parentWidget()
            while owner is not None and owner is not self:
                owner = owner.parentWidget()
            modal = widget.isModal() or (
                isinstance(widget, QDialog)
                and widget.windowModality() != Qt.WindowModality.NonModal
            )
            if owner is None and not (modal and widget.parentWidget() is None):
                continue  # another main window's
            if modal and isinstance(widget, QDialog):
                widget.reject()
            elif modal or widget.windowType() == Qt.WindowType.Popup:
                widget.close()
            else:
                widget.hide()
                self._hidden_windows.append(widget)

    def _release_hidden_windows(self, *, show: bool) -> None:
        """Show the windows hidden by the lock again (``show``), or close them."""
        windows, self._hidden_windows = self._hidden_windows, []
        for window in windows:
            with contextlib.suppress(RuntimeError):  # deleted with its workspace meanwhile
                if show:
                    window.show()
                else:
                    window.close()

    def workspace_titles(self) -> list[str]:
        """Return the titles of the tabs shown, in order (Patients first)."""
        return [self.tabs.tabText(i) for i in range(self.tabs.count())]

    def log_out(self) -> None:
        """Log the user out (audited): the workspaces close; log in again if possible."""
        session = self.session
        if session is None:
            return
        self._release_hidden_windows(show=False)
        try:
            from dxa_app.services.auth import log_out

            log_out(session)
        except DxaError as exc:
            show_error(exc, self)
        self.set_session(None)
        self._log_in_again()

    def _log_in_again(self) -> None:
        """Ask who logs in to the open archive now (when the window has a log-in step)."""
        if self.login is not None and self.archive_path is not None:
            again = self.login(self.archive_path, self)
            if again is not None and self._load_lists(again):
                self.set_session(again)

    def open_selected_study(self) -> bool:
        """Open the study selected in the Patients tab in the user's workspace."""
        rows = self.study_view.selectionModel().selectedRows()
        if not rows:
            return False
        study = self.study_model.data(rows[0], ObjectRole)
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

    # -- backup and restore ---------------------------------------------------------------
    def choose_backup(self) -> None:
        """Ask where to write a backup (File > Backup...) and write it off the GUI thread."""
        if self.archive_path is None or self.archive_tasks is None:
            return
        stem = self.archive_path.name.split(".", 1)[0]
        suggested = self.archive_path.with_name(f"{stem}-backup.dxa.sqlite")
        path, _selected = QFileDialog.getSaveFileName(
            self,
            _("Back up the archive"),
            str(suggested),
            _("DXA archives (*.sqlite);;All files (*)"),
        )
        if path:
            self.backup_to(Path(path))

    def backup_to(self, dest: Path) -> TaskHandle | None:
        """Write a checked backup of the archive to ``dest`` (the backup service, audited).

        Parameters
        ----------
        dest : Path
            The new file; the service refuses an existing one, shown as an error.

        Returns
        -------
        TaskHandle or None
            The running task (None without a session).
        """
        if self.archive_tasks is None or self.locked:
            return None
        return self.archive_tasks.backup(dest)

    def choose_restore(self) -> None:
        """Ask for a backup file (File > Restore from backup...), then confirm the restore."""
        if self.archive_path is None or self.archive_tasks is None:
            return
        path, _selected = QFileDialog.getOpenFileName(
            self,
            _("Restore from backup"),
            str(self.archive_path.parent),
            _("DXA archives (*.sqlite);;All files (*)"),
        )
        if path:
            self.ask_restore(Path(path))

    def restore_question(self, src: Path) -> str:
        """Return the confirmation text of a restore: what is replaced and the safety copy."""
        from dxa_app.services.backup import safety_copy_pattern

        archive = self.archive_path or Path()
        return _(
            "Replace everything in the archive {archive} with the backup {src}?\n\n"
            "Before anything is replaced, the current archive is kept as a safety copy in"
            " {folder}, named {name}, so the restore can be undone."
        ).format(
            archive=archive.name, src=src, folder=archive.parent, name=safety_copy_pattern(archive)
        )

    def ask_restore(self, src: Path) -> QMessageBox:
        """Ask (non-blocking) whether to restore from ``src``; Yes restores.

        Parameters
        ----------
        src : Path
            The backup file.

        Returns
        -------
        QMessageBox
            The open question (tests press its Yes button).
        """
        box = QMessageBox(self)
        box.setObjectName("restoreQuestion")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(_("Restore from backup"))
        box.setText(self.restore_question(src))
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.button(QMessageBox.StandardButton.Yes).setText(_("Restore"))
        box.button(QMessageBox.StandardButton.No).setText(_("Cancel"))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        yes = box.button(QMessageBox.StandardButton.Yes)

        def answered(_result: int) -> None:
            if box.clickedButton() is yes:
                self.restore_from(src)

        box.finished.connect(answered)
        box.open()
        return box

    def restore_from(self, src: Path) -> TaskHandle | None:
        """Replace the archive with the backup ``src`` (administrator; the service checks).

        Parameters
        ----------
        src : Path
            The backup file; the window reloads once it is restored.

        Returns
        -------
        TaskHandle or None
            The running task (None without a session).
        """
        if self.archive_tasks is None or self.locked:
            return None
        return self.archive_tasks.restore(src)

    def _after_restore(self, _result: Any) -> None:
        """Show the restored archive: its lists and every workspace made anew."""
        session = self.session
        if session is None:
            return
        message = self.archive_tasks.status_text if self.archive_tasks is not None else ""
        if self._load_lists(session):
            self.selected_patient = None
            self.set_session(session)
        else:  # the restored archive does not know this user any more
            self.set_session(None)
            self._log_in_again()
            return
        if self.archive_tasks is not None:
            self.archive_tasks.set_status(message)
        self._update_status()

    def create_archive(self, path: Path) -> bool:
        """Open a new archive at ``path``; the first-run dialog creates it and its administrator.

        A name typed without the archive suffix gets ``.dxa.sqlite`` (the open dialog's filter
        would hide the file otherwise).
        """
        return self.open_archive(archive_path(path), create=True)

    def reload_studies(self) -> None:
        """Reload the study table for the selected patient (or all studies)."""
        if self.session is None:
            self.study_model.set_source(None)
            return
        patient_id = self.selected_patient.id if self.selected_patient else None
        try:
            self.study_model.set_source(self._study_fetch(self.session, patient_id))
        except DxaError as exc:
            show_error(exc, self)

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
        row = self.patient_model.fetch_until(lambda p: p.id == patient_id)
        if row is not None:
            self.patient_view.selectRow(row)

    def _on_patient_selection(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.patient_view.selectionModel().selectedRows()
        patient: PatientSummary | None = None
        if rows:
            value = self.patient_model.data(rows[0], ObjectRole)
            patient = value if isinstance(value, PatientSummary) else None
        self._select_patient(patient)

    def _select_patient(self, patient: PatientSummary | None) -> None:
        self.selected_patient = patient
        self.reload_studies()
        self._update_studies_title()
        self._update_hints()

    # -- help ---------------------------------------------------------------------------
    def about_text(self) -> str:
        """Return the text of the About box: version, manufacturer, intended use, licences."""
        from html import escape

        from dxa_app.about import product_facts

        facts = product_facts()
        parts = ", ".join(
            escape(
                f"{c.name} {c.version} ({c.licence})" if c.version else f"{c.name} ({c.licence})"
            )
            for c in facts.components
        )
        rows = [
            f"<p><b>{escape(facts.name)}</b> "
            + escape(_("version {version}").format(version=facts.version))
            + "</p>",
            f"<p><b>{escape(_('Manufacturer'))}:</b> {escape(facts.manufacturer)}"
            + (f"<br>{escape(facts.manufacturer_address)}" if facts.manufacturer_address else "")
            + f"<br>{escape(facts.status)}</p>",
            f"<p><b>{escape(_('Intended use'))}:</b> {escape(facts.intended_use)}"
            f" {escape(facts.limits)}</p>",
            *(
                f"<p><small><i>{escape(LANGUAGE_NAMES.get(code, code))}:</i>"
                f" {escape(text)}</small></p>"
                for code, text in facts.other_uses
            ),
            "<p>"
            + escape(_("WHO/ISCD categories, classified on the printed one-decimal T-score."))
            + "</p>",
            f"<p><b>{escape(_('Licences'))}:</b> {escape(facts.licence)} "
            + escape(_("Open-source parts:"))
            + f" <small>{parts}</small></p>",
        ]
        return "".join(rows)

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
        """Save the UI state when the window closes; stop watching the idle time."""
        self.save_state()
        self.idle_watcher.stop()
        super().closeEvent(event)

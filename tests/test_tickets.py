"""`dxa login`: one password log-in leaves a ticket for the next commands of the same terminal."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from dxa_app import keystore
from dxa_app.archive import open_archive
from dxa_app.archive.db import audit_details
from dxa_app.archive.seal import archive_id
from dxa_app.archive.store import store_parsed
from dxa_app.cli import ExitCode, main
from dxa_app.domain import Role
from dxa_app.errors import PermissionDeniedError
from dxa_app.services import tickets, users
from dxa_app.services.tickets import IDLE_MINUTES, MAX_HOURS, close_ticket, open_ticket, resume
from tests.factories import parsed, study_record
from tests.sessions import PASSWORD, ensure_user, session_as

T0 = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.UTC)
TERMINAL = "4242-1234567"


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "tickets.dxa.sqlite"
    ensure_user(path, "tekla", Role.TECHNICIAN)
    ensure_user(path, "doc", Role.PHYSICIAN)
    return path


def _ident(path: Path) -> str:
    db = open_archive(path)
    try:
        ident = archive_id(db)
        assert ident is not None
        return ident
    finally:
        db.close()


def _ticket_file(path: Path, terminal: str = TERMINAL) -> Path:
    return keystore.key_dir() / f"{_ident(path)}.ticket-{terminal}"


def test_a_ticket_acts_as_its_user_without_the_password(archive: Path) -> None:
    session, ticket = open_ticket(archive, "tekla", PASSWORD, TERMINAL, now=T0)
    assert ticket.ends_at() == T0 + dt.timedelta(minutes=IDLE_MINUTES)
    resumed = resume(archive, TERMINAL, now=T0 + dt.timedelta(minutes=5))
    assert resumed is not None
    assert (
        (resumed.username, resumed.role)
        == ("tekla", Role.TECHNICIAN)
        == (
            session.username,
            session.role,
        )
    )
    assert resume(archive, TERMINAL, "tekla", now=T0 + dt.timedelta(minutes=6)) is not None
    # the ticket is in the user's key folder, owner-only, and not in the archive
    path = _ticket_file(archive)
    assert path.is_file() and path.parent == keystore.key_dir()
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().strip() not in archive.read_bytes()
    db = open_archive(archive)
    try:
        (opened,) = audit_details(db, "ticket_opened")
        assert opened["terminal"] == TERMINAL
    finally:
        db.close()


def test_a_ticket_is_only_for_its_terminal_its_user_and_its_archive(
    archive: Path, tmp_path: Path
) -> None:
    open_ticket(archive, "tekla", PASSWORD, TERMINAL, now=T0)
    at = T0 + dt.timedelta(minutes=1)
    assert resume(archive, "4242-999", now=at) is None  # another terminal (a reused pid)
    assert resume(archive, TERMINAL, "doc", now=at) is None  # the command names someone else
    other = tmp_path / "other.dxa.sqlite"
    ensure_user(other, "tekla", Role.TECHNICIAN)
    assert resume(other, TERMINAL, now=at) is None  # another archive, same user name
    assert resume(archive, TERMINAL, now=at) is not None  # ... and the ticket still holds


def test_a_ticket_ends_when_idle_and_after_its_hours(archive: Path) -> None:
    open_ticket(archive, "tekla", PASSWORD, TERMINAL, now=T0)
    step = dt.timedelta(minutes=IDLE_MINUTES - 1)
    at = T0
    while at + step < T0 + dt.timedelta(hours=MAX_HOURS):  # used often: it holds for hours
        at += step
        assert resume(archive, TERMINAL, now=at) is not None, at
    assert resume(archive, TERMINAL, now=T0 + dt.timedelta(hours=MAX_HOURS)) is None
    assert not _ticket_file(archive).exists()  # an ended ticket is removed

    open_ticket(archive, "tekla", PASSWORD, TERMINAL, now=T0)
    late = T0 + dt.timedelta(minutes=IDLE_MINUTES, seconds=1)
    assert resume(archive, TERMINAL, now=late) is None  # left unused too long
    assert resume(archive, TERMINAL, now=T0 + dt.timedelta(minutes=1)) is None  # gone for good


def test_a_new_password_or_deactivation_ends_a_ticket(archive: Path) -> None:
    admin = session_as(archive, Role.ADMIN, "admin")
    open_ticket(archive, "tekla", PASSWORD, TERMINAL, now=T0)
    users.reset_password(admin, "tekla", "another-password-2")
    assert resume(archive, TERMINAL, now=T0 + dt.timedelta(minutes=1)) is None

    open_ticket(archive, "doc", PASSWORD, TERMINAL, now=T0)
    users.set_active(admin, "doc", False)
    assert resume(archive, TERMINAL, now=T0 + dt.timedelta(minutes=1)) is None


def test_a_role_change_applies_to_a_ticket_at_once(archive: Path) -> None:
    admin = session_as(archive, Role.ADMIN, "admin")
    open_ticket(archive, "tekla", PASSWORD, TERMINAL, now=T0)
    users.change_role(admin, "tekla", Role.PHYSICIAN)
    resumed = resume(archive, TERMINAL, now=T0 + dt.timedelta(minutes=1))
    assert resumed is not None and resumed.role is Role.PHYSICIAN


def test_an_edited_ticket_is_refused(archive: Path) -> None:
    open_ticket(archive, "tekla", PASSWORD, TERMINAL, now=T0)
    path = _ticket_file(archive)
    body, mac = path.read_text().strip().rsplit(".", 1)
    data = json.loads(base64.b64decode(body))
    data["user"] = "doc"  # someone who can write the file, trying to act as another user
    forged = base64.b64encode(json.dumps(data, sort_keys=True).encode()).decode()
    path.write_text(f"{forged}.{mac}\n")
    assert resume(archive, TERMINAL, now=T0 + dt.timedelta(minutes=1)) is None
    path.write_text("not a ticket\n")
    assert resume(archive, TERMINAL, now=T0 + dt.timedelta(minutes=1)) is None


def test_a_wrong_password_leaves_no_ticket(archive: Path) -> None:
    with pytest.raises(PermissionDeniedError):
        open_ticket(archive, "tekla", "wrong-password", TERMINAL, now=T0)
    assert not _ticket_file(archive).exists()
    assert resume(archive, TERMINAL, now=T0) is None


def test_logout_ends_the_ticket_and_is_audited(archive: Path) -> None:
    open_ticket(archive, "tekla", PASSWORD, TERMINAL, now=T0)
    assert close_ticket(archive, TERMINAL) == "tekla"
    assert resume(archive, TERMINAL, now=T0 + dt.timedelta(minutes=1)) is None
    assert close_ticket(archive, TERMINAL) is None
    db = open_archive(archive)
    try:
        assert [d["terminal"] for d in audit_details(db, "ticket_closed")] == [TERMINAL]
    finally:
        db.close()


def test_the_terminal_is_the_parent_process_with_its_start_time() -> None:
    terminal = tickets.current_terminal()
    assert terminal.split("-")[0] == str(os.getppid())
    if sys.platform.startswith("linux"):
        assert terminal.count("-") == 1 and terminal.split("-")[1].isdigit()


def test_cli_login_then_commands_without_password_then_logout(
    archive: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = open_archive(archive)
    store_parsed(db, parsed(study_record(1)))
    db.close()
    for name in ("DXA_USER", "DXA_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    a = ["--archive", str(archive)]
    assert main([*a, "studies"]) == ExitCode.USAGE  # no ticket, no user: a log-in is asked for
    assert "dxa login" in capsys.readouterr().err
    monkeypatch.setenv("DXA_PASSWORD", "wrong-password")
    assert main([*a, "--user", "doc", "login"]) != ExitCode.OK
    capsys.readouterr()
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    assert main([*a, "--user", "doc", "login"]) == ExitCode.OK
    assert "Logged in as doc (physician)" in capsys.readouterr().out
    monkeypatch.delenv("DXA_PASSWORD")
    assert main([*a, "studies", "--json"]) == ExitCode.OK  # no password: the ticket
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert main([*a, "logout"]) == ExitCode.OK
    assert "doc has ended" in capsys.readouterr().out
    assert main([*a, "studies"]) == ExitCode.USAGE
    assert main([*a, "logout"]) == ExitCode.OK
    assert "not logged in" in capsys.readouterr().out


def test_signing_on_a_ticket_asks_for_the_password(
    archive: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dxa_app.cli import login_password

    monkeypatch.delenv("DXA_USER", raising=False)
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    a = ["--archive", str(archive)]
    assert main([*a, "--user", "doc", "login"]) == ExitCode.OK
    capsys.readouterr()
    import argparse

    args = argparse.Namespace(archive=str(archive), user=None)
    from dxa_app.cli import login

    assert login(args).username == "doc"
    assert not hasattr(args, "login_password")  # the ticket did not need it ...
    monkeypatch.setenv("DXA_PASSWORD", "typed-again")
    assert login_password(args) == "typed-again"  # ... so signing asks for it now


def test_a_ticket_that_cannot_be_refreshed_still_acts_and_ends_on_time(
    archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_ticket(archive, "tekla", PASSWORD, TERMINAL, now=T0)

    def full_disk(*_a: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keystore, "replace_secret", full_disk)
    resumed = resume(archive, TERMINAL, now=T0 + dt.timedelta(minutes=10))
    assert resumed is not None and resumed.username == "tekla"
    # not refreshed: it ends when the last written idle time passes
    assert resume(archive, TERMINAL, now=T0 + dt.timedelta(minutes=IDLE_MINUTES + 1)) is None

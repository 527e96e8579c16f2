"""Receiving DICOM over the network (loopback only): C-ECHO, C-STORE, dcmtk storescu, the CLI."""

from __future__ import annotations

import dataclasses
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from dxa_app.archive import open_archive
from dxa_app.archive.queries import counts
from dxa_app.dicom_net import (
    STATUS_SUCCESS,
    DicomNetError,
    StorageServer,
    echo,
    instance_file_name,
    send_files,
)
from dxa_app.domain import ImportOutcome, Manufacturer, Role, ScannerIdentity, StudyRecord
from dxa_app.errors import PermissionDeniedError, UsageError
from dxa_app.ingest import dicom_ge as ge
from dxa_app.ingest import dicom_hologic as hologic
from dxa_app.progress import CancelToken
from dxa_app.services.receiving import allow_caller, receive
from tests.child import child
from tests.factories import SCANNER, patient, study_record
from tests.sessions import PASSWORD, ensure_user, session_as

ROOT = Path(__file__).resolve().parent.parent
AET = "DXATEST"
#: The calling AE titles the tests' scanners use (registered with the receiver).
CALLERS = ("SCANNER", "SCU", "CTSCU")
TIMEOUT = 15.0
#: Seconds for a receiver process to start listening (imports and a log-in; busy machine).
START_TIMEOUT = 120.0
STORESCU = Path("/usr/bin/storescu")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class Receiver:
    archive: Path
    incoming: Path
    port: int
    outcomes: queue.Queue[ImportOutcome]

    def next_outcome(self) -> ImportOutcome:
        return self.outcomes.get(timeout=TIMEOUT)

    def counts(self) -> tuple[int, int]:
        db = open_archive(self.archive)
        try:
            c = counts(db)
            return c.studies, c.scans
        finally:
            db.close()

    def log(self) -> list[tuple[str, str]]:
        db = open_archive(self.archive)
        try:
            rows = db.execute("SELECT path, status FROM import_log ORDER BY id").fetchall()
            return [(str(p), str(s)) for p, s in rows]
        finally:
            db.close()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    """The receive service running in a thread on a fresh archive and a free port."""
    archive = tmp_path / "recv.dxa.sqlite"
    incoming = tmp_path / "incoming"
    outcomes: queue.Queue[ImportOutcome] = queue.Queue()
    ready: queue.Queue[tuple[str, int]] = queue.Queue()
    errors: list[BaseException] = []
    stop = CancelToken()
    session = session_as(archive, Role.TECHNICIAN, "tech")
    admin = session_as(archive, Role.ADMIN, "admin")
    for caller in CALLERS:
        allow_caller(admin, caller)

    def run() -> None:
        try:
            receive(
                session,
                host="127.0.0.1",
                port=0,
                ae_title=AET,
                incoming=incoming,
                on_outcome=outcomes.put,
                stop=stop,
                on_ready=ready.put,
            )
        except BaseException as exc:  # surfaced by the fixture
            errors.append(exc)
            ready.put(("", -1))

    thread = threading.Thread(target=run, name="receiver", daemon=True)
    thread.start()
    try:
        _host, port = ready.get(timeout=TIMEOUT)
        assert not errors, errors
        yield Receiver(archive, incoming, port, outcomes)
    finally:
        stop.cancel()
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "receiver did not stop"
    assert not errors, errors


def _hologic_file(folder: Path, n: int = 1) -> Path:
    rec = study_record(n, uid=f"1.2.826.0.1.3680043.8.498.77{n}")
    return _write_hologic(folder / f"hologic{n}.dcm", rec, n)


def _write_hologic(path: Path, rec: StudyRecord, n: int) -> Path:
    from dxa_app.demo.dicom_writers import write_hologic_scan

    scan = dataclasses.replace(rec.scans[0], source_key="")
    return write_hologic_scan(
        path,
        SCANNER,
        rec.patient,
        rec.study,
        scan,
        series_uid=f"1.2.826.0.1.3680043.8.498.88{n}",
        sop_instance_uid=f"1.2.826.0.1.3680043.8.498.99{n}",
    )


def _ge_sr_file(folder: Path, n: int = 5) -> Path:
    from dxa_app.demo.dicom_writers import write_ge_sr

    rec = study_record(n, uid=f"1.2.826.0.1.3680043.8.498.77{n}", pat=patient(n))
    scanner = ScannerIdentity(Manufacturer.GE_LUNAR, "Lunar iDXA", "GE-TEST-9", "enCORE 18")
    return write_ge_sr(
        folder / f"ge{n}.dcm",
        scanner,
        rec.patient,
        rec.study,
        rec.scans,
        series_uid=f"1.2.826.0.1.3680043.8.498.88{n}",
        sop_instance_uid=f"1.2.826.0.1.3680043.8.498.99{n}",
    )


def _ct_file(folder: Path) -> Path:
    """A tiny CT image from another manufacturer: valid DICOM, not a DXA export."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.2")
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.Manufacturer = "Siemens Healthineers"
    ds.PatientName = "Test^CT"
    ds.PatientID = "CT-1"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Rows = ds.Columns = 2
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = b"\0" * 8
    path = folder / "ct.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


# --- dicom_net on its own -----------------------------------------------------------------


def test_instance_file_name_is_safe() -> None:
    assert instance_file_name("1.2.3") == "1.2.3.dcm"
    assert "/" not in instance_file_name("../x/y")
    assert instance_file_name("").startswith("unnamed-")
    assert instance_file_name("9" * 300).startswith("unnamed-")


def test_storage_server_writes_part10_and_reports_write_failure(tmp_path: Path) -> None:
    seen: list[Path] = []

    def on_file(path: Path) -> int:
        seen.append(path)
        return STATUS_SUCCESS

    src = _hologic_file(tmp_path / "src")
    with StorageServer(AET, tmp_path / "in", on_file, port=0) as server:
        host, port = server.address
        assert port > 0
        [(_, status)] = send_files(host, port, AET, "SCU", [src])
        assert status == STATUS_SUCCESS
        [written] = seen
        data = written.read_bytes()
        assert data[128:132] == b"DICM"
        assert written.name == "1.2.826.0.1.3680043.8.498.991.dcm"
        # the incoming folder vanished: the write fails -> "out of resources"
        (tmp_path / "in" / written.name).unlink()
        (tmp_path / "in").rmdir()
        [(_, status)] = send_files(host, port, AET, "SCU", [src])
        assert status == 0xA700
    assert not echo(host, port, AET, "SCU", timeout=2)  # shut down: nothing answers


def test_wrong_called_ae_is_rejected(tmp_path: Path) -> None:
    with StorageServer(AET, tmp_path / "in", port=0) as server:
        host, port = server.address
        assert echo(host, port, AET, "SCU")
        assert not echo(host, port, "OTHER", "SCU")
        with pytest.raises(DicomNetError):
            send_files(host, port, "OTHER", "SCU", [_hologic_file(tmp_path)])


# --- the receive service ------------------------------------------------------------------


@pytest.mark.slow
def test_echo(receiver: Receiver) -> None:
    assert echo("127.0.0.1", receiver.port, AET, "SCANNER")


@pytest.mark.slow
def test_store_hologic_and_ge_then_duplicate(receiver: Receiver, tmp_path: Path) -> None:
    files = [_hologic_file(tmp_path / "src"), _ge_sr_file(tmp_path / "src")]
    t0 = time.perf_counter()
    results = send_files("127.0.0.1", receiver.port, AET, "SCANNER", files)
    per_instance = (time.perf_counter() - t0) / len(files)
    print(f"C-STORE + import: {per_instance * 1000:.0f} ms per instance")
    assert [s for _, s in results] == [STATUS_SUCCESS, STATUS_SUCCESS]
    got = [receiver.next_outcome() for _ in files]
    assert [str(o.status) for o in got] == ["imported", "imported"], got
    assert [o.reader for o in got] == [hologic.READER_NAME, ge.READER_NAME]
    assert all(Path(o.path).parent == receiver.incoming for o in got)
    assert receiver.counts() == (2, 2)

    [(_, status)] = send_files("127.0.0.1", receiver.port, AET, "SCANNER", files[:1])
    assert status == STATUS_SUCCESS
    assert str(receiver.next_outcome().status) == "duplicate"
    assert receiver.counts() == (2, 2)
    assert [s for _, s in receiver.log()] == ["imported", "imported", "duplicate"]


@pytest.mark.slow
def test_store_with_dcmtk_storescu(receiver: Receiver, tmp_path: Path) -> None:
    assert STORESCU.exists(), "dcmtk storescu is required (apt-get install dcmtk)"
    src = _hologic_file(tmp_path / "src", 3)
    proc = subprocess.run(
        [str(STORESCU), "-aet", "SCU", "-aec", AET, "127.0.0.1", str(receiver.port), str(src)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert str(receiver.next_outcome().status) == "imported"
    assert receiver.counts() == (1, 1)


@pytest.mark.slow
def test_non_dxa_instance_is_accepted_but_skipped(receiver: Receiver, tmp_path: Path) -> None:
    ct = _ct_file(tmp_path)
    [(_, status)] = send_files("127.0.0.1", receiver.port, AET, "CTSCU", [ct])
    assert status == STATUS_SUCCESS
    outcome = receiver.next_outcome()
    assert str(outcome.status) == "skipped"
    assert receiver.log() == [(outcome.path, "skipped")]
    assert receiver.counts() == (0, 0)
    assert (receiver.incoming / Path(outcome.path).name).is_file()


# --- the CLI ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_cli_receive_echo_store_and_stop(tmp_path: Path, sig: signal.Signals) -> None:
    archive = tmp_path / "cli.dxa.sqlite"
    port = free_port()
    src = _hologic_file(tmp_path / "src", 4)
    ensure_user(archive, "tech", Role.TECHNICIAN)
    allow_caller(session_as(archive, Role.ADMIN, "admin"), "SCANNER")
    env = {
        **os.environ,
        "DXA_LANG": "en",
        "PYTHONUNBUFFERED": "1",
        "DXA_USER": "tech",
        "DXA_PASSWORD": PASSWORD,
    }
    with child(
        [
            *(sys.executable, "main.py", "receive", "--archive", str(archive)),
            *("--port", str(port), "--ae-title", AET, "--host", "127.0.0.1"),
        ],
        cwd=ROOT,
        env=env,
    ) as proc:
        line = proc.line("stderr", START_TIMEOUT)  # once the receiver listens (or exits)
        assert f"127.0.0.1:{port}" in line, proc.printed()
        assert echo("127.0.0.1", port, AET, "SCANNER")
        [(_, status)] = send_files("127.0.0.1", port, AET, "SCANNER", [src])
        assert status == STATUS_SUCCESS
        first = proc.line("stdout", TIMEOUT)
        assert first.startswith("imported: "), first
        assert first.strip().endswith(".dcm")
        out, err = proc.stop(sig, TIMEOUT)
    assert proc.proc.returncode == 0, err
    assert (
        "Received 1 files: imported 1, imported with analysis data not understood 0,"
        " duplicates 0, skipped 0, failed 0." in out
    ), out
    assert (tmp_path / "cli-incoming" / "1.2.826.0.1.3680043.8.498.994.dcm").is_file()
    db = open_archive(archive)
    try:
        assert counts(db).studies == 1
    finally:
        db.close()


def test_cli_receive_json_lines(tmp_path: Path) -> None:
    """--json prints one JSON object per file and a summary line (stops on SIGTERM)."""
    import json

    archive = tmp_path / "j.dxa.sqlite"
    ensure_user(archive, "tech", Role.TECHNICIAN)
    allow_caller(session_as(archive, Role.ADMIN, "admin"), "SCANNER")
    port = free_port()
    with child(
        [
            *(sys.executable, "main.py", "receive", "--json", "--archive", str(archive)),
            *("--port", str(port), "--ae-title", AET, "--incoming", str(tmp_path / "in")),
        ],
        cwd=ROOT,
        env={**os.environ, "DXA_LANG": "en", "DXA_USER": "tech", "DXA_PASSWORD": PASSWORD},
    ) as proc:
        assert "Listening" in proc.line("stderr", START_TIMEOUT), proc.printed()
        ct = _ct_file(tmp_path)
        [(_, status)] = send_files("127.0.0.1", port, AET, "SCANNER", [ct])
        assert status == STATUS_SUCCESS
        row = json.loads(proc.line("stdout", TIMEOUT))
        assert row["status"] == "skipped"
        out, err = proc.stop(signal.SIGTERM, TIMEOUT)
    assert proc.proc.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["counts"]["skipped"] == 1


def test_default_incoming_folder() -> None:
    from dxa_app.cli.net_commands import default_incoming

    assert default_incoming(Path("/d/archive.dxa.sqlite")) == Path("/d/archive-incoming")
    assert default_incoming(Path("/d/x.db")) == Path("/d/x-incoming")


def test_unknown_calling_ae_is_refused_and_audited(receiver: Receiver, tmp_path: Path) -> None:
    """Only registered scanners may send; a stranger is rejected and the refusal is logged."""
    src = _hologic_file(tmp_path / "src", 5)
    assert not echo("127.0.0.1", receiver.port, AET, "STRANGER", timeout=5)
    with pytest.raises(DicomNetError):
        send_files("127.0.0.1", receiver.port, AET, "STRANGER", [src])
    [(_, status)] = send_files("127.0.0.1", receiver.port, AET, "SCANNER", [src])
    assert status == STATUS_SUCCESS
    assert receiver.outcomes.get(timeout=TIMEOUT).status == "imported"
    assert receiver.counts()[0] == 1
    db = open_archive(receiver.archive)
    try:
        refused = list(db.query("SELECT * FROM audit_log WHERE action = 'receive_refused'"))
    finally:
        db.close()
    assert len(refused) == 2 and {r["entity_id"] for r in refused} == {"STRANGER"}
    assert all(r["username"] == "tech" for r in refused)


def test_receiver_needs_a_registered_scanner(tmp_path: Path) -> None:
    archive = tmp_path / "none.dxa.sqlite"
    tech = session_as(archive, Role.TECHNICIAN, "tech")
    with pytest.raises(UsageError, match="No scanner may send yet"):
        receive(tech, host="127.0.0.1", port=0, ae_title=AET, incoming=tmp_path / "in")
    with pytest.raises(PermissionDeniedError):  # registering a scanner is the administrator's
        allow_caller(tech, "SCANNER")
    with pytest.raises(UsageError):
        allow_caller(session_as(archive, Role.ADMIN, "admin"), "X" * 17)

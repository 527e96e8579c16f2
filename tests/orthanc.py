"""A session-scoped pytest fixture that runs a private Orthanc (free ports, temporary storage).

Use it from a test module with ``pytest_plugins = ("tests.orthanc",)``. PYTEST_DONT_REWRITE:
this module may be imported before pytest registers it as a plugin (``--doctest-modules``
collects it), so it has no bare asserts and opts out of assertion rewriting.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = ["ORTHANC", "Orthanc", "orthanc", "start_orthanc"]

#: The Debian package's binary (CI: ``apt-get install orthanc``).
ORTHANC = Path("/usr/sbin/Orthanc")
AET = "ORTHANC"
HOST = "127.0.0.1"
START_TIMEOUT = 60.0  # a hang guard: Orthanc answers within about 1 s when idle
START_ATTEMPTS = 3
STOP_TIMEOUT = 15.0  # a graceful stop takes ~3.7 s
POLL = 0.05


@dataclass(frozen=True)
class Orthanc:
    """A running Orthanc: DICOM at ``host:dicom_port`` (AE ``aet``), REST at ``http_port``."""

    host: str
    dicom_port: int
    http_port: int
    aet: str
    folder: Path

    @property
    def url(self) -> str:
        """Base URL of the REST API."""
        return f"http://{self.host}:{self.http_port}"

    def rest_bytes(self, path: str, data: bytes | None = None, timeout: float = 10.0) -> bytes:
        """GET ``path`` (or POST ``data`` to it) and return the raw body."""
        req = urllib.request.Request(self.url + path, data=data, method="POST" if data else "GET")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return bytes(resp.read())

    def rest(self, path: str, data: bytes | str | None = None) -> Any:
        """GET ``path`` (or POST ``data``) and decode the JSON answer."""
        body = data.encode() if isinstance(data, str) else data
        return json.loads(self.rest_bytes(path, body))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _config(folder: Path, http_port: int, dicom_port: int) -> dict[str, Any]:
    storage = folder / "db"
    return {
        "Name": "DxaTestOrthanc",
        "StorageDirectory": str(storage),
        "IndexDirectory": str(storage),
        "Plugins": [],
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "OrthancExplorerEnabled": False,
        "WebDavEnabled": False,
        "DicomAet": AET,
        "DicomPort": dicom_port,
        "DicomCheckCalledAet": True,
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True,
        "DefaultEncoding": "Utf8",
        "SaveJobs": False,
    }


def _log_tail(folder: Path, lines: int = 30) -> str:
    logs = sorted(folder.glob("*.log*"), key=lambda p: p.stat().st_mtime)
    if not logs:
        return "(no Orthanc log)"
    text = logs[-1].read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def _launch(folder: Path) -> tuple[subprocess.Popen[bytes], Orthanc] | None:
    """Start Orthanc on two free ports; None when it exited while starting (a port clash)."""
    http_port = _free_port()
    dicom_port = _free_port()
    while dicom_port == http_port:
        dicom_port = _free_port()
    server = Orthanc(HOST, dicom_port, http_port, AET, folder)
    config = folder / "orthanc.json"
    config.write_text(json.dumps(_config(folder, server.http_port, server.dicom_port), indent=1))
    with (folder / "stdout.txt").open("wb") as out:
        proc = subprocess.Popen(
            [str(ORTHANC), f"--logdir={folder}", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            return None
        try:
            if server.rest("/system").get("DicomAet") == AET:
                return proc, server
        except (OSError, ValueError):  # not listening yet (URLError is an OSError)
            pass
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail(
                f"Orthanc did not answer on {server.url} within {START_TIMEOUT} s:\n"
                + _log_tail(folder),
                pytrace=False,
            )
        time.sleep(POLL)


@contextlib.contextmanager
def start_orthanc(folder: Path) -> Iterator[Orthanc]:
    """Run Orthanc with a fresh configuration in ``folder`` until the block ends.

    Fails (never skips) when Orthanc is missing or does not answer within the start timeout
    (a guard against a hang, generous for a busy machine). The ports are free ones chosen at
    start; when another process takes one first (parallel test workers) Orthanc exits at
    once and is started again on new ports, up to :data:`START_ATTEMPTS` times.
    """
    if not ORTHANC.exists():
        pytest.fail(
            f"{ORTHANC} is missing: apt-get install orthanc (CI installs it)", pytrace=False
        )
    folder.mkdir(parents=True, exist_ok=True)
    for _attempt in range(START_ATTEMPTS):
        started = _launch(folder)
        if started is not None:
            break
    else:
        pytest.fail(
            f"Orthanc exited while starting, {START_ATTEMPTS} times:\n" + _log_tail(folder),
            pytrace=False,
        )
    proc, server = started
    try:
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    """A private Orthanc for the whole session (its ~3.7 s shutdown is paid once)."""
    with start_orthanc(tmp_path_factory.mktemp("orthanc")) as server:
        yield server

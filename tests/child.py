"""A child process for tests whose output is read line by line, every wait with a deadline.

``proc.stdout.readline()`` on a plain ``Popen`` waits for ever when the child stalls without
exiting, and a child that fills the pipe the test does not read (stderr while the test waits
on stdout) stalls for ever too. Here both pipes are drained by threads into queues, every
wait has a deadline, and the child runs in its own process group so that stopping it also
stops what it started (a fork server, reading processes) that would hold the pipes open.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import pytest


class Child:
    """A running child process with deadline-bound line reads (use :func:`child`)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self._lines: dict[str, queue.Queue[str | None]] = {}
        self._seen: dict[str, list[str]] = {}
        self._readers: list[threading.Thread] = []
        for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            assert stream is not None
            self._lines[name] = queue.Queue()
            self._seen[name] = []
            reader = threading.Thread(
                target=self._drain, args=(name, stream), name=f"child-{name}", daemon=True
            )
            reader.start()
            self._readers.append(reader)

    def _drain(self, name: str, stream: IO[str]) -> None:
        with stream:  # closed at the end of file
            for line in stream:
                self._seen[name].append(line)
                self._lines[name].put(line)
        self._lines[name].put(None)  # end of file

    def printed(self) -> str:
        """Return what the child printed so far on both streams (for a failure message)."""
        return (
            f"--- stdout:\n{''.join(self._seen['stdout'])[-4000:]}"
            f"--- stderr:\n{''.join(self._seen['stderr'])[-4000:]}"
        )

    def line(self, stream: str, timeout: float) -> str:
        """Return the next line the child prints on ``stream`` ("stdout" or "stderr").

        Fails the test when none comes within ``timeout`` seconds or the stream ended.
        """
        try:
            got = self._lines[stream].get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no line on {stream} within {timeout} s\n{self.printed()}")
        if got is None:
            self._lines[stream].put(None)
            pytest.fail(
                f"{stream} ended (exit code {self.proc.poll()}) before a line\n{self.printed()}"
            )
        return got

    def stop(self, sig: int, timeout: float) -> tuple[str, str]:
        """Send ``sig``, wait for the exit; return the rest of (stdout, stderr).

        Fails the test when the child has not ended within ``timeout`` seconds.
        """
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the child did not end within {timeout} s of {sig}\n{self.printed()}")
        deadline = time.monotonic() + timeout
        for reader in self._readers:
            reader.join(max(0.0, deadline - time.monotonic()))
        return self._rest("stdout"), self._rest("stderr")

    def _rest(self, stream: str) -> str:
        out: list[str] = []
        while True:
            try:
                got = self._lines[stream].get_nowait()
            except queue.Empty:
                break
            if got is None:
                break
            out.append(got)
        return "".join(out)

    def kill(self) -> None:
        """Kill the child's whole process group (it and what it started) if still running."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        for reader in self._readers:
            reader.join(10)


@contextlib.contextmanager
def child(args: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None) -> Iterator[Child]:
    """Start ``args`` in its own process group; kill the group when the block ends."""
    proc = subprocess.Popen(
        list(args),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    running = Child(proc)
    try:
        yield running
    finally:
        running.kill()

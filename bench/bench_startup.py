"""Print start-up figures: the first shown window vs a bare QMainWindow, and two commands.

``scores STUDY`` and ``info`` (``python main.py --archive A ...`` with DXA_USER/DXA_PASSWORD,
the real log-in) are timed against a bare ``python -c pass``, product / yardstick / ratio,
median of 7 after one warm-up (byte code written, as an installed app has it), the bare start
and the commands run in turns so that a neighbour's load weighs on both; the windows are timed
one after the other (median of 7 each). The log-in's scrypt key derivation (about 0.1 s, the
password hashing cost, kept) is part of every command; the figure without it is the same
command as a user whose hash has a cheap cost. The yardstick's ``site`` runs this checkout's
editable-install hook, which imports pathlib and a few more (the commands need them too); the
interpreter without ``site`` (``python -S -c pass``) is printed beside it, nearer what an
installed app's bare start costs.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BARE = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(["bare"])
w = QMainWindow(); w.resize(1024, 700); w.show()
def shown():
    print("shown", flush=True)
    app.quit()
QTimer.singleShot(0, shown)
app.exec()
"""

OURS = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(["dxa"])
from dxa_app.gui.main_window import MainWindow
w = MainWindow()
w.show()
def shown():
    print("shown", flush=True)
    if len(sys.argv) > 1:  # as the app does: the archive loads right after the first show
        w.open_archive(sys.argv[1])
        print("archive", flush=True)
    app.quit()
QTimer.singleShot(0, shown)
app.exec()
"""


def _time(code: str, *args: str, runs: int = 7, marker: str = "shown") -> float:
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        "DXA_NO_DIALOGS": "1",
    }
    times = []
    for i in range(runs + 1):  # the first run writes the byte code, as an installed app has it
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(marker):
                if i:
                    times.append(time.perf_counter() - t0)
                break
        proc.wait()
    return statistics.median(times)


def _command_archive(folder: Path) -> Path:
    """An archive with one scored study, a user with the product's scrypt cost and a cheap one."""
    sys.path.insert(0, str(ROOT))
    from dxa_app.archive import open_archive, write_transaction
    from dxa_app.archive.store import store_parsed
    from dxa_app.archive.users import insert_user
    from dxa_app.services.auth import hash_password
    from dxa_app.services.scoring import score_study
    from tests.factories import parsed, study_record

    path = folder / "startup.dxa.sqlite"
    db = open_archive(path)
    try:
        with write_transaction(db):
            insert_user(db, "bench", "Bench", "admin", hash_password("bench-password"))
            insert_user(db, "cheap", "Cheap", "physician", hash_password("bench-password", n=2))
        store_parsed(db, parsed(study_record(1)))
        score_study(db, 1)
    finally:
        db.close()
    return path


def _env(user: str | None) -> dict[str, str]:
    """The commands' environment: a user and password unless None (a ticket logs in)."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in _OURS},
        "DXA_LANG": "en",
        "DXA_KEY_DIR": os.environ.get("BENCH_KEY_DIR", ""),
    }
    if user is not None:
        env |= {"DXA_USER": user, "DXA_PASSWORD": "bench-password"}
    return env


#: Variables of ours (and byte-code writing) not passed on from the bench's environment.
_OURS = ("PYTHONDONTWRITEBYTECODE", "DXA_USER", "DXA_PASSWORD", "DXA_KEY_DIR")


def _time_alternating(commands: list[tuple[list[str], str | None]], runs: int = 7) -> list[float]:
    """Median seconds of each command, run in turns (so a neighbour's load hits all alike)."""
    times: list[list[float]] = [[] for _ in commands]
    for i in range(runs + 1):
        for k, (args, user) in enumerate(commands):
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, *args],
                cwd=ROOT,
                env=_env(user),
                check=True,
                stdout=subprocess.DEVNULL,
            )
            if i:  # the first round writes the byte code
                times[k].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def _own_packages() -> set[str]:
    """The top-level packages of this repository (our code, not part of any floor)."""
    return {p.parent.name for p in ROOT.glob("*/__init__.py")} | {"main", "__main__"}


def _import_lines(args: list[str], user: str) -> list[str]:
    """The modules ``python -X importtime ARGS`` imports, in import order."""
    env = _env(user)
    err = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    return [
        line.rsplit("|", 1)[1].strip()
        for line in err.splitlines()
        if line.startswith("import time:") and not line.endswith("imported package")
    ]


def _imported(args: list[str], user: str) -> tuple[list[str], list[str]]:
    """The standard-library and the third-party modules a command imports, in import order.

    Read from ``-X importtime`` of a real run, so the list holds exactly what it imported;
    what a bare ``python -c pass`` imports already (the site's start) is left out.
    """
    bare = set(_import_lines(["-c", "pass"], user))
    ours = _own_packages()
    stdlib: list[str] = []
    third: list[str] = []
    for name in _import_lines(["main.py", *args], user):
        top = name.partition(".")[0]
        if top in ours or name in bare or top.startswith("__editable__"):
            continue
        if top in sys.stdlib_module_names or top in sys.builtin_module_names:
            stdlib.append(name)
        else:
            third.append(name)
    return stdlib, third


def _import_all(names: list[str]) -> list[str]:
    """Python code importing ``names`` in order (one that cannot be imported alone is skipped)."""
    code = f"import importlib\nfor n in {names!r}:\n"
    return ["-c", code + "    try: importlib.import_module(n)\n    except Exception: pass\n"]


def commands(folder: Path) -> None:
    """Print ``scores STUDY`` and ``info``: product, yardstick (``python -c pass``), ratio.

    Also the floor under the product: the same Python importing only the standard-library
    modules the command imports, and then the third-party packages too (the log-in's
    password hashing and our own code excluded).
    """
    archive = _command_archive(folder)
    os.environ["BENCH_KEY_DIR"] = str(folder / "keys")  # the tickets and keys of this run
    bare_args: list[str] = ["-c", "pass"]
    for name, cmd in (("scores 1", ["scores", "1"]), ("info", ["info"])):
        args = ["--archive", str(archive), *cmd]
        bare, with_login, cheap = _time_alternating(
            [(bare_args, "bench"), (["main.py", *args], "bench"), (["main.py", *args], "cheap")]
        )
        subprocess.run(  # 'dxa login' once: this process is the commands' terminal
            [sys.executable, "main.py", "--archive", str(archive), "--user", "bench", "login"],
            cwd=ROOT,
            env=_env(None),
            input="bench-password\n",
            text=True,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        bare_ticket, ticket = _time_alternating([(bare_args, None), (["main.py", *args], None)])
        subprocess.run(  # the timings with a password must not find the ticket
            [sys.executable, "main.py", "--archive", str(archive), "logout"],
            cwd=ROOT,
            env=_env(None),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(
            f"yardstick: bare python -c pass {1000 * bare:6.1f} ms; {1000 * bare_ticket:6.1f} ms"
            " beside the runs after 'dxa login' (median of 7, run in turns with the command)"
        )
        print(
            f"{name:<9} {1000 * with_login:6.1f} ms, ratio {with_login / bare:4.1f}x (target <= 3);"
            f" after 'dxa login' (a ticket, no password) {1000 * ticket:6.1f} ms,"
            f" ratio {ticket / bare_ticket:4.1f}x; a user with a cheap password hash"
            f" {1000 * cheap:6.1f} ms, ratio {cheap / bare:4.1f}x"
        )
        stdlib, third = _imported(args, "cheap")
        bare_floor, floor, both, no_site = _time_alternating(
            [
                (bare_args, "cheap"),
                (_import_all(stdlib), "cheap"),
                (_import_all(stdlib + third), "cheap"),
                (["-S", *bare_args], "cheap"),
            ]
        )
        packages = sorted({n.partition(".")[0] for n in third})
        print(
            f"  floor: its {len(stdlib)} standard-library modules alone {1000 * floor:6.1f} ms"
            f" ({floor / bare_floor:3.1f}x); with its {len(third)} third-party modules"
            f" ({', '.join(packages)}) {1000 * both:6.1f} ms ({both / bare_floor:3.1f}x)"
        )
        print(  # the yardstick's site runs this checkout's editable-install hook (pathlib...)
            f"  the interpreter alone (python -S -c pass: no site, no editable-install hook)"
            f" {1000 * no_site:6.1f} ms; the yardstick beside it {1000 * bare_floor:6.1f} ms,"
            f" {bare_floor / no_site:3.1f}x (an installed app's bare start is nearer the first)"
        )


def main() -> None:
    """Median of 7 runs each; with the demo archive opened when one is given as argv[1]."""
    archive = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] != "--commands" else ""
    with tempfile.TemporaryDirectory() as tmp:
        commands(Path(tmp))
    if "--commands" in sys.argv:
        return
    bare = _time(BARE)
    ours = _time(OURS, *([archive] if archive else []))
    print(f"bare QMainWindow first shown: {1000 * bare:7.1f} ms (median of 7)")
    print(f"our main window first shown:  {1000 * ours:7.1f} ms (median of 7)")
    print(f"ratio: {ours / bare:.2f} (target <= 2)")
    if archive:
        loaded = _time(OURS, archive, marker="archive")
        print(f"... and the demo archive's patient and study lists loaded: {1000 * loaded:7.1f} ms")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()

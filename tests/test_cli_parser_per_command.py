"""A command builds only its own parser: the same result as the whole parser, less to load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dxa_app.cli import COMMAND_MODULES, build_parser, command_named, registered_commands


def test_the_command_module_table_names_every_registered_command_and_its_module() -> None:
    registry = registered_commands()
    assert {name: cmd.configure.__module__ for name, cmd in registry.items()} == {
        name: f"dxa_app.cli.{module}" for name, module in COMMAND_MODULES.items()
    }


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["scores", "1"], "scores"),
        (["--archive", "a.sqlite", "--user", "bob", "scores", "1"], "scores"),
        (["--archive=a.sqlite", "--debug", "--lang", "da", "info"], "info"),
        (["--lang=en", "send-hl7", "--help"], "send-hl7"),
        ([], None),
        (["--help"], None),
        (["-h", "scores"], None),
        (["--version"], None),
        (["--arch", "a.sqlite", "scores"], None),  # an abbreviation: the whole parser decides
        (["scoers", "1"], None),  # a typo: the whole parser lists the commands
        (["--archive", "scores", "info"], "info"),  # "scores" is the archive's path here
    ],
)
def test_the_command_is_named_only_when_sure(argv: list[str], named: str | None) -> None:
    assert command_named(argv) == named


@pytest.mark.parametrize(
    "argv",
    [
        ["--archive", "a.sqlite", "scores", "7", "--json"],
        ["--lang", "da", "info"],
        ["--user", "ann", "studies", "--patient", "5"],
        ["import", "x.dcm", "y.dcm"],
        ["report", "3", "--out", "r.pdf", "--level", "A"],
        ["centre", "--help-not-an-option-of-the-top"],
    ],
)
def test_a_command_parses_alike_with_its_own_parser_and_the_whole_one(argv: list[str]) -> None:
    def parsed(command: str | None) -> object:
        try:
            return vars(build_parser(command).parse_args(argv))
        except Exception as exc:  # the same error either way
            return type(exc).__name__, str(exc)

    assert parsed(command_named(argv)) == parsed(None)


def _probe(code: str) -> object:
    """Run ``code`` in a new Python process; return the JSON its last line printed."""
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_scores_loads_only_its_own_command_module() -> None:
    probe = (
        "import json, sys\n"
        "from dxa_app.cli import build_parser, command_named\n"
        "build_parser(command_named(['scores', '1']))\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('dxa_app.cli.'))))\n"
    )
    assert _probe(probe) == ["dxa_app.cli.calibration_commands"]


def test_help_names_the_default_archive_found_only_when_help_is_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dxa_app.cli import main

    monkeypatch.setenv("DXA_ARCHIVE", str(tmp_path / "ward.dxa.sqlite"))
    assert main(["scores", "--help"]) == 0
    assert "ward.dxa.sqlite" in capsys.readouterr().out.replace("\n", "")
    assert main(["--help"]) == 0
    assert "ward.dxa.sqlite" in capsys.readouterr().out.replace("\n", "")


def test_a_command_given_its_archive_does_not_look_up_the_per_user_folder() -> None:
    probe = (
        "import json, sys\n"
        "from dxa_app.cli import build_parser, command_named\n"
        "argv = ['--archive', 'a.sqlite', 'scores', '1']\n"
        "build_parser(command_named(argv)).parse_args(argv)\n"
        "print(json.dumps('platformdirs' in sys.modules))\n"
    )
    assert _probe(probe) is False


@pytest.mark.parametrize("columns", [None, "120", "0", "-5", "wide", ""])
def test_the_help_width_is_what_shutil_finds(
    columns: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from dxa_app.cli import terminal_columns

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert terminal_columns() == shutil.get_terminal_size().columns

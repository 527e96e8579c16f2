"""The domain's records are handed out lazily: all reachable as before, built only when used."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import dxa_app.domain as domain
from dxa_app.archive import open_archive, write_transaction
from dxa_app.archive.store import store_parsed
from dxa_app.archive.users import insert_user
from dxa_app.services.auth import hash_password
from tests.factories import parsed, study_record

ROOT = Path(__file__).resolve().parents[1]
RECORD_MODULES = ("dxa_app.domain.records", "dxa_app.domain.summaries")


def _defined_in(module_name: str) -> set[str]:
    module = importlib.import_module(module_name)
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module_name
    }


def test_every_record_is_reachable_from_the_domain_and_nothing_else_is_lazy() -> None:
    defined = {name: m for m in RECORD_MODULES for name in _defined_in(m)}
    assert {name: f"dxa_app.domain.{m}" for name, m in domain.RECORDS.items()} == defined
    for name, module_name in defined.items():
        assert getattr(domain, name) is getattr(importlib.import_module(module_name), name)


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchRecord"):
        domain.NoSuchRecord  # noqa: B018
    with pytest.raises(ImportError):
        exec("from dxa_app.domain import NoSuchRecord", {})


def test_a_record_crosses_processes_by_pickle_unchanged() -> None:
    # the import's reading processes send their parsed sources to the writer by pickle
    source = parsed(study_record(3))
    again = pickle.loads(pickle.dumps(source))
    assert again == source and type(again) is domain.ParsedSource


_PROBE = """
import json, sys
import dxa_app.domain
from dxa_app.domain import Region, Role, Sex
loaded = lambda: sorted(m for m in sys.modules if m.startswith("dxa_app.domain."))
first = loaded()
from dxa_app.domain import StudyRecord
second = loaded()
dxa_app.domain.StudySummary
print(json.dumps([first, second, loaded(), StudyRecord.__module__]))
"""


def test_the_enums_come_without_the_records_and_each_module_loads_when_first_asked() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    first, second, third, module = json.loads(out.stdout.strip().splitlines()[-1])
    assert first == []
    assert second == ["dxa_app.domain.records"]
    assert third == ["dxa_app.domain.records", "dxa_app.domain.summaries"]
    assert module == "dxa_app.domain.records"


_RUN = """
import atexit, json, runpy, sys
def report():
    mods = ("dxa_app.domain.records", "dxa_app.domain.summaries", "dxa_app.archive.store")
    print("LOADED " + json.dumps([m for m in mods if m in sys.modules]), file=sys.stderr)
atexit.register(report)
sys.argv = ["main.py", *sys.argv[1:]]
runpy.run_path("main.py", run_name="__main__")
"""


@pytest.mark.parametrize(
    ("command", "expected"),
    [(["scores", "1"], []), (["info"], ["dxa_app.domain.summaries"])],
)
def test_scores_and_info_run_without_building_the_import_records(
    tmp_path: Path, command: list[str], expected: list[str]
) -> None:
    archive = tmp_path / "a.dxa.sqlite"
    db = open_archive(archive)
    try:
        with write_transaction(db):
            insert_user(db, "tech", "Tech", "admin", hash_password("pw-for-test", n=2))
        store_parsed(db, parsed(study_record(1)))
    finally:
        db.close()
    env = {
        **os.environ,
        "DXA_USER": "tech",
        "DXA_PASSWORD": "pw-for-test",
        "DXA_LANG": "en",
        "DXA_KEY_DIR": str(tmp_path / "keys"),
    }
    out = subprocess.run(
        [sys.executable, "-c", _RUN, "--archive", str(archive), *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    if command[0] == "scores":
        assert "L1-L4" in out.stdout  # it really scored the study
    else:
        assert any(x.split() == ["studies", "1"] for x in out.stdout.splitlines())
    line = next(x for x in out.stderr.splitlines() if x.startswith("LOADED "))
    assert json.loads(line.removeprefix("LOADED ")) == expected

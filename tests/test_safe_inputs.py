"""Bounded, safe inputs: special files, links, deep DICOM, size limits, implausible values, text."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pydicom import dcmread

from dxa_app.archive import open_archive
from dxa_app.archive.database import Database
from dxa_app.demo import apex_writers, dicom_writers
from dxa_app.demo.generate import DemoDataset, generate
from dxa_app.domain import ImportNote, ImportOutcome, ImportStatus
from dxa_app.errors import ImportProblemError
from dxa_app.ingest.apex_mdb import read_folder
from dxa_app.ingest.cells import decode
from dxa_app.ingest.dicom_common import load_dataset
from dxa_app.ingest.files import max_sequence_depth, open_regular
from dxa_app.ingest.generic_csv import read as read_csv
from dxa_app.ingest.plausibility import plausible_ranges
from dxa_app.ingest.registry import read_head
from dxa_app.resources import resource_path
from dxa_app.services.importing import import_into
from tests.test_ingest_robustness import _data_counts, _write_fixtures

ROOT = Path(__file__).resolve().parent.parent
SEED = 2026
UID_ROOT = "1.2.826.0.1.3680043.8.498.78"
MAGIC = "# dxa-generic-csv v1 patient_results\n"
PATIENT_HEADER = (
    "site,manufacturer,model,serial,patient_id,patient_name,study_date,scan_type,side,"
    "acquired_at,region,bmd_g_cm2,operator"
)
ROW = (
    "OUH,HOLOGIC,Horizon A,301234,0101501234,Søs Ærø,2024-03-05,ap_spine,,2024-03-05T09:41,"
    "L1,0.912,jk"
)


def _csv(path: Path, *rows: list[str]) -> Path:
    """A generic CSV file of the rows (cells by PATIENT_HEADER), in UTF-8."""
    lines = [PATIENT_HEADER, *(",".join(r) for r in rows)]
    path.write_text(MAGIC + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def _row(**cells: str) -> list[str]:
    """ROW with some cells changed."""
    header = PATIENT_HEADER.split(",")
    out = ROW.split(",")
    for column, value in cells.items():
        out[header.index(column)] = value
    return out


@pytest.fixture(scope="module")
def data() -> DemoDataset:
    return generate(SEED)


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory, data: DemoDataset) -> dict[str, Path]:
    """One pristine file per kind (read-only), as tests/test_ingest_robustness.py writes."""
    return _write_fixtures(tmp_path_factory.mktemp("safe-fixtures"), data)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    conn = open_archive(tmp_path / "a.sqlite")
    yield conn
    conn.close()


def _by_name(outcomes: tuple[ImportOutcome, ...]) -> dict[str, ImportOutcome]:
    return {Path(o.path).name: o for o in outcomes}


def _copy(src: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(src.read_bytes())
    return dest


# --------------------------------------------------------------------------------------
# 1. special files and links
# --------------------------------------------------------------------------------------


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A folder with a short path (a socket's path may hold at most about 100 bytes)."""
    with tempfile.TemporaryDirectory(prefix="dxa-") as tmp:
        yield Path(tmp)


def test_special_files_in_a_folder_are_skipped_unopened(
    fixtures: dict[str, Path], db: Database, short_dir: Path
) -> None:
    folder = short_dir / "in"
    folder.mkdir()
    os.mkfifo(folder / "a_pipe.dcm")  # opened for reading, it would wait for a writer
    (folder / "b_zero.dcm").symlink_to("/dev/zero")  # read whole, it would never end
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(folder / "c_socket.dcm"))
    good = _copy(fixtures["hologic_xml"], folder / "d_good.dcm")
    try:
        summary = import_into(db, [folder])
    finally:
        sock.close()
    by_name = _by_name(summary.outcomes)
    for name, kind in (
        ("a_pipe.dcm", "a named pipe (FIFO)"),
        ("b_zero.dcm", "a character device"),
        ("c_socket.dcm", "a socket"),
    ):
        outcome = by_name[name]
        assert outcome.status is ImportStatus.SKIPPED, outcome
        assert str(folder / name) in outcome.reason and kind in outcome.reason, outcome.reason
        assert "not opened" in outcome.reason
    assert by_name[good.name].status is ImportStatus.IMPORTED
    logged = {
        Path(r["path"]).name: r["status"]
        for r in db.query("SELECT path, status FROM import_log WHERE batch = ?", [summary.batch])
    }
    assert logged["a_pipe.dcm"] == "skipped"


def test_special_files_named_directly_are_skipped(db: Database, tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    summary = import_into(db, [pipe, Path("/dev/null")])
    by_path = {o.path: o for o in summary.outcomes}
    pipe_out, null_out = by_path[str(pipe)], by_path["/dev/null"]
    assert pipe_out.status is ImportStatus.SKIPPED and "FIFO" in pipe_out.reason
    assert null_out.status is ImportStatus.SKIPPED and "/dev/null" in null_out.reason
    with pytest.raises(ImportProblemError, match="not a regular file"):
        read_head(pipe)  # opened without waiting, refused before anything is read
    with pytest.raises(ImportProblemError, match="character device"):
        open_regular(Path("/dev/zero"))


def test_links_are_followed_to_files_never_into_loops(
    fixtures: dict[str, Path], db: Database, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    elsewhere = _copy(fixtures["hologic_xml"], tmp_path / "elsewhere" / "scan.dcm")
    (folder / "sub").mkdir(parents=True)
    _copy(fixtures["ge_sr"], folder / "sub" / "sr.dcm")
    (folder / "a_link.dcm").symlink_to(elsewhere)
    (folder / "b_loop1.dcm").symlink_to(folder / "b_loop2.dcm")
    (folder / "b_loop2.dcm").symlink_to(folder / "b_loop1.dcm")
    (folder / "c_dangling.dcm").symlink_to(tmp_path / "gone.dcm")
    (folder / "d_up").symlink_to(folder)  # a folder link: walking it would never end
    (folder / "e_elsewhere").symlink_to(elsewhere.parent)

    by_name = _by_name(import_into(db, [folder]).outcomes)
    assert set(by_name) == {
        "a_link.dcm",
        "b_loop1.dcm",
        "b_loop2.dcm",
        "c_dangling.dcm",
        "d_up",
        "e_elsewhere",
        "sr.dcm",
    }
    assert by_name["a_link.dcm"].status is ImportStatus.IMPORTED
    assert by_name["sr.dcm"].status is ImportStatus.IMPORTED
    for name in ("b_loop1.dcm", "c_dangling.dcm"):
        outcome = by_name[name]
        assert outcome.status is ImportStatus.FAILED
        assert str(folder / name) in outcome.reason and "link" in outcome.reason
    for name in ("d_up", "e_elsewhere"):
        outcome = by_name[name]
        assert outcome.status is ImportStatus.SKIPPED
        assert "link to a folder" in outcome.reason and str(folder / name) in outcome.reason

    # a link to a folder named directly is walked like the folder
    again = import_into(db, [folder / "e_elsewhere"]).outcomes
    assert [(Path(o.path).name, o.status) for o in again] == [("scan.dcm", ImportStatus.DUPLICATE)]


# --------------------------------------------------------------------------------------
# 2. deeply nested DICOM sequences
# --------------------------------------------------------------------------------------

_SQ = b"\x40\x00\x30\xa7SQ\x00\x00\xff\xff\xff\xff"  # (0040,A730) ContentSequence, undefined
_ITEM = b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
_ITEM_END = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
_SEQ_END = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"


def _nested(depth: int, *, defined: bool = False) -> bytes:
    """``depth`` ContentSequences, each in the only item of the one around it.

    Of undefined length (with delimiters, as pydicom writes them), or of defined length.
    """
    if not defined:
        return (_SQ + _ITEM) * depth + (_ITEM_END + _SEQ_END) * depth
    inner = b""
    for _level in range(depth):
        item = _ITEM[:4] + len(inner).to_bytes(4, "little") + inner
        inner = _SQ[:8] + len(item).to_bytes(4, "little") + item
    return inner


def _deep_copy_of(source: Path, target: Path, depth: int, *, defined: bool = False) -> Path:
    """A valid DICOM file with a chain of ``depth`` nested sequences at its end."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes() + _nested(depth, defined=defined))
    return target


@pytest.mark.parametrize("defined", [False, True], ids=("undefined_length", "defined_length"))
def test_nesting_up_to_the_limit_loads_one_deeper_is_refused_before_parsing(
    fixtures: dict[str, Path], tmp_path: Path, defined: bool
) -> None:
    limit = max_sequence_depth()
    ok = _deep_copy_of(fixtures["hologic_xml"], tmp_path / "ok.dcm", limit, defined=defined)
    ds = load_dataset(ok, [])
    item = ds
    for _level in range(limit):
        item = item.ContentSequence[0]
    assert "ContentSequence" not in item
    deep = _deep_copy_of(fixtures["hologic_xml"], tmp_path / "deep.dcm", limit + 1, defined=defined)
    with pytest.raises(ImportProblemError, match=f"nested more than {limit} levels deep"):
        load_dataset(deep, [])


def test_deeply_nested_dicom_fails_alone_and_later_files_import(
    fixtures: dict[str, Path], db: Database, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    # 500 levels: pydicom would recurse past Python's limit (RecursionError)
    after_pixels = _deep_copy_of(fixtures["hologic_xml"], folder / "a_deep.dcm", 500)
    alone = folder / "b_only_sequences.dcm"
    meta = fixtures["ge_sr"].read_bytes()
    start = 132 + 12 + int.from_bytes(meta[140:144], "little")  # the file meta group's end
    alone.write_bytes(meta[:start] + _nested(500))
    good = [
        _copy(fixtures["hologic_text"], folder / "c_good.dcm"),
        _copy(fixtures["ge_sr"], folder / "d_good.dcm"),
    ]
    by_name = _by_name(import_into(db, [folder]).outcomes)
    for path in (after_pixels, alone):
        outcome = by_name[path.name]
        assert outcome.status is ImportStatus.FAILED, outcome
        assert str(path) in outcome.reason and "nested more than" in outcome.reason
    for path in good:
        assert by_name[path.name].status is ImportStatus.IMPORTED, by_name[path.name]


# --------------------------------------------------------------------------------------
# 3. size limits: refused without being read
# --------------------------------------------------------------------------------------

_BIG = 3 * 2**30


def _sparse(path: Path, head: bytes) -> Path:
    with path.open("wb") as fh:
        fh.write(head)
        fh.truncate(_BIG)
    return path


def test_huge_files_are_refused_in_bounded_memory(tmp_path: Path) -> None:
    """3 GB (sparse) files of each format: refused by size; the process stays under 200 MB."""
    folder = tmp_path / "in"
    folder.mkdir()
    _sparse(folder / "big.dcm", bytes(128) + b"DICM")
    _sparse(folder / "big.csv", b"# dxa-generic-csv v1 patient_results\n")
    _sparse(folder / "PatScan.mdb", b"\x00\x01\x00\x00Standard Jet DB\x00")
    _sparse(folder / "zeros.bin", b"")
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from dxa_app.archive import open_archive\n"
        "from dxa_app.services.importing import import_into\n"
        f"db = open_archive(Path({str(tmp_path / 'a.sqlite')!r}))\n"
        f"summary = import_into(db, [Path({str(folder)!r})])\n"
        "print(json.dumps([[o.path, str(o.status), o.reason] for o in summary.outcomes]))\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "print(hwm.split()[1])\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    outcomes_json, peak_kib = r.stdout.strip().splitlines()
    outcomes = {Path(p).name: (status, reason) for p, status, reason in json.loads(outcomes_json)}
    assert outcomes["big.dcm"][0] == "failed"
    assert "big.dcm is too large to import: 3072 MiB" in outcomes["big.dcm"][1]
    assert "the limit for DICOM files is 64 MiB" in outcomes["big.dcm"][1]
    assert outcomes["big.csv"] == (
        "failed",
        "big.csv is too large to import: 3072 MiB; the limit for generic CSV files is 256 MiB.",
    )
    assert outcomes["PatScan.mdb"][0] == "failed"
    assert "the limit for APEX databases (.mdb) is 2048 MiB" in outcomes["PatScan.mdb"][1]
    assert outcomes["zeros.bin"][0] == "skipped"  # only its first bytes were read
    # VmHWM: this process's own peak resident memory
    assert int(peak_kib) < 200 * 1024, f"peak RSS {int(peak_kib) // 1024} MiB"


def test_a_csv_line_longer_than_the_limit_is_refused(tmp_path: Path) -> None:
    path = _csv(tmp_path / "long.csv", ["x" * (2 << 20)])
    with pytest.raises(ImportProblemError, match=r"long.csv, line 3: the line is longer than"):
        read_csv(path)


# --------------------------------------------------------------------------------------
# 4. implausible measurements
# --------------------------------------------------------------------------------------


def test_plausibility_limits_are_versioned_data_with_a_source_note() -> None:
    data = json.loads(
        resource_path("ingest", "plausible_measurements.json").read_text(encoding="utf-8")
    )
    assert data["version"] and "product limits, not clinical reference" in data["status"]
    bmd = plausible_ranges()["bmd_g_cm2"]
    assert (bmd.low, bmd.high) == (0.05, 3.0)


def _csv_with_bmd(path: Path, bmd: str) -> Path:
    return _csv(path, _row(bmd_g_cm2=bmd))


@pytest.mark.parametrize(
    ("bmd", "problem"),
    [
        ("-1", "-1 is outside the plausible range 0.05 – 3 g/cm²"),
        ("99", "99 is outside the plausible range"),
        ("-5", "-5 is outside the plausible range"),
        ("1e308", "1e308 is outside the plausible range"),
        ("0.04", "0.04 is outside the plausible range"),
        ("NaN", "'NaN' is not a number"),
        ("inf", "'inf' is not a number"),
        ("-Infinity", "'-Infinity' is not a number"),
    ],
)
def test_implausible_bmd_in_a_generic_csv_fails_the_file(
    bmd: str, problem: str, db: Database, tmp_path: Path
) -> None:
    path = _csv_with_bmd(tmp_path / "r.csv", bmd)
    before = _data_counts(db)
    (outcome,) = import_into(db, [path]).outcomes
    assert outcome.status is ImportStatus.FAILED
    assert outcome.reason.startswith("r.csv, line 3, column 'bmd_g_cm2': " + problem), (
        outcome.reason
    )
    assert _data_counts(db) == before


def test_plausible_bmd_at_the_limits_is_stored_as_given(db: Database, tmp_path: Path) -> None:
    for n, bmd in enumerate(("0.05", "3.0")):
        (outcome,) = import_into(db, [_csv_with_bmd(tmp_path / f"r{n}.csv", bmd)]).outcomes
        assert outcome.status in (ImportStatus.IMPORTED, ImportStatus.DUPLICATE), outcome
    stored = {r["bmd_g_cm2"] for r in db.query("SELECT bmd_g_cm2 FROM region_results")}
    assert stored == {0.05}  # the second file is the same scan: nothing new is stored


def _apex_folder(folder: Path, data: DemoDataset) -> Path:
    scanner = next(s for s in data.scanners if s.export == "hologic_xml")
    studies = [
        s for s in data.studies[scanner.key] if any(sc.scan_type == "ap_spine" for sc in s.scans)
    ][:2]
    return apex_writers.write_apex_folder(
        folder, scanner=scanner.identity, studies=studies, qc_scans=[]
    )


def _set_apex_cell(path: Path, column: str, value: str) -> int:
    """Set ``column`` of the first data row of an APEX table file; return that line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index(column)] = value
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 2


def test_implausible_apex_bmd_fails_that_scan_and_minus_one_stays_missing(
    data: DemoDataset, tmp_path: Path
) -> None:
    """Issue 13: a bad cell fails its scan with a note naming where and why, never the source."""
    folder = _apex_folder(tmp_path / "apex", data)
    line = _set_apex_cell(folder / "Spine.csv", "L1_BMD", "-1")
    parsed = read_folder(folder)
    l1 = [r for rec in parsed.studies for s in rec.scans for r in s.results if r.region == "L1"]
    assert any(r.bmd_g_cm2 is None for r in l1)  # APEX's -1 is "no value"
    scans_before = sum(len(rec.scans) for rec in parsed.studies)
    for value, problem in (("99", "is outside"), ("-5", "is outside"), ("NaN", "is not a")):
        _set_apex_cell(folder / "Spine.csv", "L1_BMD", value)
        parsed = read_folder(folder)
        shown = f"'{value}'" if value == "NaN" else value
        where = f"Spine.csv, line {line}, column 'L1_BMD': {shown} {problem}"
        notes = [n.message for n in parsed.notes if where in n.message]
        assert len(notes) == 1, [n.message for n in parsed.notes]
        assert "was not imported" in notes[0]
        # that one scan is left out; every other scan of the source still imports
        assert sum(len(rec.scans) for rec in parsed.studies) == scans_before - 1
        values = [r.bmd_g_cm2 for rec in parsed.studies for s in rec.scans for r in s.results]
        assert all(v is None or 0.05 <= v <= 3.0 for v in values)


def _hologic_with(
    data: DemoDataset, path: Path, bmd: float, uid: str, name: str | None = None
) -> Path:
    scanner = next(s for s in data.scanners if s.export == "hologic_xml")
    rec = data.studies[scanner.key][0]
    scan = rec.scans[0]
    results = tuple(replace(r, bmd_g_cm2=bmd) if i == 0 else r for i, r in enumerate(scan.results))
    patient = rec.patient if name is None else replace(rec.patient, name=name)
    return dicom_writers.write_hologic_scan(
        path,
        scanner.identity,
        patient,
        rec.study,
        replace(scan, results=results),
        series_uid=f"{UID_ROOT}.1{uid}",
        sop_instance_uid=f"{UID_ROOT}.2{uid}",
    )


@pytest.mark.parametrize(
    ("bmd", "problem"),
    [
        (99.0, "99 is outside"),
        (-5.0, "-5 is outside"),
        (1e308, "1e+308 is outside"),
        (math.nan, "'nan' is not a finite number"),
    ],
)
def test_implausible_bmd_in_hologic_dicom_fails_the_file(
    bmd: float, problem: str, data: DemoDataset, db: Database, tmp_path: Path
) -> None:
    path = _hologic_with(data, tmp_path / "h.dcm", bmd, "1")
    (outcome,) = import_into(db, [path]).outcomes
    assert outcome.status is ImportStatus.FAILED
    assert str(path) in outcome.reason and "(row 1), bmd_g_cm2: " + problem in outcome.reason
    assert db.execute("SELECT count(*) FROM region_results").fetchone()[0] == 0


def test_nan_bmd_in_a_ge_sr_fails_the_file(
    fixtures: dict[str, Path], db: Database, tmp_path: Path
) -> None:
    ds = dcmread(fixtures["ge_sr"])
    region = ds.ContentSequence[0].ContentSequence
    num = next(
        item
        for container in region
        if container.ValueType == "CONTAINER"
        for item in container.ContentSequence
        if item.ValueType == "NUM" and item.ConceptNameCodeSequence[0].CodeMeaning == "BMD"
    )
    num.MeasuredValueSequence[0].FloatingPointValue = math.nan
    path = tmp_path / "sr.dcm"
    ds.save_as(path, enforce_file_format=True)
    (outcome,) = import_into(db, [path]).outcomes
    assert outcome.status is ImportStatus.FAILED
    assert "BMD: 'nan' is not a finite number" in outcome.reason and str(path) in outcome.reason
    assert db.execute("SELECT count(*) FROM region_results").fetchone()[0] == 0


# --------------------------------------------------------------------------------------
# 5. invisible control characters
# --------------------------------------------------------------------------------------

_HIDDEN = "\x00\u202e\u2066\u200f"


def test_control_and_bidi_characters_are_removed_from_csv_text_with_a_note(
    db: Database, tmp_path: Path
) -> None:
    path = _csv(
        tmp_path / "r.csv", _row(patient_name=f"Søs{_HIDDEN} Ærø\u202d", operator="ab\u202ec")
    )
    (outcome,) = import_into(db, [path]).outcomes
    assert outcome.status is ImportStatus.IMPORTED
    assert [r["name"] for r in db.query("SELECT name FROM patients")] == ["Søs Ærø"]
    assert [r["operator"] for r in db.query("SELECT operator FROM scans")] == ["abc"]
    messages = [n.message for n in outcome.notes]
    assert (
        "r.csv, column 'patient_name': invisible control characters (U+0000, U+200F, U+202D,"
        " U+202E, U+2066) were removed from the text on line 3."
    ) in messages
    assert any("column 'operator'" in m for m in messages)


def test_control_and_bidi_characters_are_removed_from_dicom_text_with_a_note(
    data: DemoDataset, db: Database, tmp_path: Path
) -> None:
    path = _hologic_with(data, tmp_path / "h.dcm", 0.9, "2", name="Søs\u202eÆrø")
    ds = dcmread(path)
    ds.InstitutionName = "Hvidovre\x00 Hospital"
    ds.save_as(path, enforce_file_format=True)
    (outcome,) = import_into(db, [path]).outcomes
    assert outcome.status is ImportStatus.IMPORTED, outcome
    assert [r["name"] for r in db.query("SELECT name FROM patients")] == ["SøsÆrø"]
    messages = [n.message for n in outcome.notes]
    assert (
        "patient.name: invisible control characters (U+202E) were removed from the text."
        in messages
    )
    assert any(m.startswith("scanner.institution_name:") for m in messages), messages


# --------------------------------------------------------------------------------------
# 6. one Windows-1252 line in a UTF-8 file
# --------------------------------------------------------------------------------------


def test_a_windows_1252_line_in_a_utf8_file_is_decoded_on_its_own(tmp_path: Path) -> None:
    lines = [
        ",".join(_row(patient_name=name, patient_id=f"01015012{n}4"))
        for n, name in enumerate(("Søren Ærø", "Åse Østergård", "Bjørn Læsø"))
    ]
    text = MAGIC + PATIENT_HEADER + "\n"
    raw = (
        text.encode()
        + (lines[0] + "\n").encode("utf-8")
        + (lines[1] + "\n").encode("cp1252")  # line 4: pasted from an old Windows program
        + (lines[2] + "\n").encode("utf-8")
    )
    path = tmp_path / "mixed.csv"
    path.write_bytes(raw)
    parsed = read_csv(path)
    assert sorted(s.patient.name for s in parsed.studies) == [
        "Bjørn Læsø",
        "Søren Ærø",
        "Åse Østergård",
    ]
    assert [n.message for n in parsed.notes] == [
        "mixed.csv: line 4 is not UTF-8 like the rest of the file; it was read as"
        " Windows-1252 (check the letters æ, ø, å there)."
    ]
    notes: list[ImportNote] = []
    assert decode("f.csv", "Ø\n".encode() + "Æ\n".encode("cp1252"), notes) == "Ø\nÆ\n"


def test_a_whole_windows_1252_file_keeps_its_one_note(tmp_path: Path) -> None:
    notes: list[ImportNote] = []
    assert decode("f.csv", "a\nSøs\nÆble\n".encode("cp1252"), notes) == "a\nSøs\nÆble\n"
    assert [n.message for n in notes] == [
        "f.csv is not UTF-8; it was read as Windows-1252 (check the letters æ, ø, å)."
    ]

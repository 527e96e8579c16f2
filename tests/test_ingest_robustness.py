"""Robustness of the readers and the import: mutated, foreign, broken and mixed-up input."""

from __future__ import annotations

import random
import shutil
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian

from dxa_app.archive import open_archive
from dxa_app.archive.database import Database
from dxa_app.demo import csv_writers, dicom_writers
from dxa_app.demo.generate import SITES, DemoDataset, generate
from dxa_app.domain import ImportOutcome, ImportStatus, ParsedSource
from dxa_app.errors import ImportProblemError
from dxa_app.ingest.registry import reader_for
from dxa_app.services.importing import import_file, import_into

SEED = 2026
UID_ROOT = "1.2.826.0.1.3680043.8.498.77"

#: Fixture kinds: one file of each shape our writers produce.
DICOM_KINDS = ("hologic_xml", "hologic_text", "hologic_vfa", "ge_sr", "ge_cr")
CSV_KINDS = ("csv_patient_results", "csv_phantom_scans", "csv_certificates", "csv_vfa")
KINDS = DICOM_KINDS + CSV_KINDS

#: Tables that the import log and housekeeping write to (not data).
_NOT_DATA = frozenset({"import_log", "audit_log", "migrations", "settings"})

#: The archive keeps the new patient row of a study that belongs to another patient
#: (archive/store.py commits ensure_patient before the ownership check); see
#: test_conflicting_patient_leaves_no_rows.
_OTHER_PATIENT = "belongs to another patient in the archive"

Mutation = tuple[str, int, bytes]


# --------------------------------------------------------------------------------------
# fixtures written by our own writers
# --------------------------------------------------------------------------------------


def _write_fixtures(out: Path, data: DemoDataset) -> dict[str, Path]:
    by_export = {s.export: s for s in data.scanners}
    files: dict[str, Path] = {}
    for n, fmt in enumerate(("xml", "text")):
        s = by_export["hologic_xml" if fmt == "xml" else "hologic_text"]
        rec = data.studies[s.key][0]
        files[f"hologic_{fmt}"] = dicom_writers.write_hologic_scan(
            out / f"hologic_{fmt}.dcm",
            s.identity,
            rec.patient,
            rec.study,
            rec.scans[0],
            series_uid=f"{UID_ROOT}.1{n}",
            sop_instance_uid=f"{UID_ROOT}.2{n}",
            analysis_format="xml" if fmt == "xml" else "text",
        )
    s = by_export["hologic_xml"]
    rec = data.studies[s.key][0]
    files["hologic_vfa"] = dicom_writers.write_hologic_vfa_image(
        out / "hologic_vfa.dcm",
        s.identity,
        rec.patient,
        rec.study,
        series_uid=f"{UID_ROOT}.13",
        sop_instance_uid=f"{UID_ROOT}.23",
        acquired_at=rec.scans[0].acquired_at,
    )
    s = by_export["ge_sr"]
    rec = data.studies[s.key][0]
    files["ge_sr"] = dicom_writers.write_ge_sr(
        out / "ge_sr.dcm",
        s.identity,
        rec.patient,
        rec.study,
        rec.scans,
        series_uid=f"{UID_ROOT}.14",
        sop_instance_uid=f"{UID_ROOT}.24",
    )
    files["ge_cr"] = dicom_writers.write_ge_image(
        out / "ge_cr.dcm",
        s.identity,
        rec.patient,
        rec.study,
        protocol_name="Left Femur",
        series_uid=f"{UID_ROOT}.15",
        sop_instance_uid=f"{UID_ROOT}.25",
        acquired_at=rec.scans[0].acquired_at,
    )
    s = by_export["csv"]
    files["csv_patient_results"] = csv_writers.write_patient_results(
        out / "patient_results.csv", SITES[s.site], data.studies[s.key][:2]
    )
    files["csv_phantom_scans"] = csv_writers.write_phantom_scans(
        out / "phantom_scans.csv", None, data.phantom_scans[:3], danish_excel=True
    )
    files["csv_certificates"] = csv_writers.write_phantom_certificates(
        out / "phantom_certificates.csv", data.certificates
    )
    files["csv_vfa"] = csv_writers.write_vfa_readings(
        out / "vfa_readings.csv", data.vfa_readings[:2]
    )
    return files


@pytest.fixture(scope="module")
def fixture_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One pristine file per kind (read-only)."""
    return _write_fixtures(tmp_path_factory.mktemp("robust-fixtures"), generate(SEED))


@pytest.fixture(scope="module")
def mutant_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where mutants are written (one file per kind, overwritten per mutant)."""
    return tmp_path_factory.mktemp("robust-mutants")


# --------------------------------------------------------------------------------------
# mutation
# --------------------------------------------------------------------------------------


def _hot_end(data: bytes) -> int:
    """End of the structured part: DICOM header up to the pixel data, or the whole file."""
    pixels = data.find(b"\xe0\x7f\x10\x00")
    return len(data) if pixels < 0 else pixels + 12


def apply_mutations(data: bytes, mutations: list[Mutation]) -> bytes:
    """Apply (operation, position, payload) edits; positions wrap around the data."""
    out = bytearray(data)
    for op, pos, payload in mutations:
        if not out:
            break
        i = pos % len(out)
        if op == "flip":
            out[i] ^= 1 << (payload[0] % 8 if payload else 0)
        elif op == "set":
            out[i] = payload[0] if payload else 0
        elif op == "insert":
            out[i:i] = payload
        elif op == "delete":
            del out[i : i + max(1, len(payload))]
        elif op == "truncate":
            del out[i:]
        else:
            raise ValueError(op)
    return bytes(out)


def seeded_mutations(data: bytes, rng: random.Random) -> list[Mutation]:
    """1-4 random edits, 85 % of them in the structured part of the file."""
    hot = _hot_end(data)
    mutations: list[Mutation] = []
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(("flip", "set", "insert", "delete", "truncate"))
        pos = rng.randrange(hot) if rng.random() < 0.85 else rng.randrange(max(1, len(data)))
        if op == "set":
            payload = bytes([rng.choice((0x00, 0xFF, 0x7F, 0x80, 0x22, 0x0A, rng.randrange(256)))])
        else:
            payload = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        mutations.append((op, pos, payload))
    return mutations


def read_or_refuse(path: Path) -> str:
    """Sniff and read ``path``: 'parsed', 'unclaimed' or 'refused'; anything else raises."""
    reader = reader_for(path)
    if reader is None:
        return "unclaimed"
    try:
        parsed = reader.read(path)
    except ImportProblemError as exc:
        assert exc.message.strip(), "an ImportProblemError without a message"
        return "refused"
    assert isinstance(parsed, ParsedSource)
    return "parsed"


def _describe(kind: str, seed: int, mutations: list[Mutation], exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1]
    edits = ", ".join(f"{op}@{pos}:{payload.hex()}" for op, pos, payload in mutations)
    return (
        f"{kind} seed={seed} [{edits}]: {type(exc).__name__}: {exc} "
        f"({Path(where.filename).name}:{where.lineno})"
    )


# --------------------------------------------------------------------------------------
# 1. fuzzing the readers
# --------------------------------------------------------------------------------------

MUTANTS_PER_KIND = 300


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_seeded_mutants_are_parsed_or_refused(
    kind: str, fixture_files: dict[str, Path], mutant_dir: Path
) -> None:
    source = fixture_files[kind]
    data = source.read_bytes()
    assert read_or_refuse(source) == "parsed"
    target = mutant_dir / f"seeded_{source.name}"
    failures: list[str] = []
    outcomes: dict[str, int] = {}
    for seed in range(MUTANTS_PER_KIND):
        mutations = seeded_mutations(data, random.Random(f"{kind}:{seed}"))
        target.write_bytes(apply_mutations(data, mutations))
        try:
            result = read_or_refuse(target)
        except Exception as exc:  # any other exception escaping the reader is the bug
            failures.append(_describe(kind, seed, mutations, exc))
            continue
        outcomes[result] = outcomes.get(result, 0) + 1
    assert not failures, "\n".join(failures[:20])
    assert outcomes.get("refused", 0) > 0, outcomes  # the mutations really broke files


_OPS = st.sampled_from(("flip", "set", "insert", "delete", "truncate"))
_MUTATIONS = st.lists(
    st.tuples(_OPS, st.integers(0, 1 << 20), st.binary(min_size=1, max_size=8)),
    min_size=1,
    max_size=4,
)


@given(kind=st.sampled_from(KINDS), mutations=_MUTATIONS, hot=st.booleans())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_hypothesis_mutants_are_parsed_or_refused(
    fixture_files: dict[str, Path],
    mutant_dir: Path,
    kind: str,
    mutations: list[Mutation],
    hot: bool,
) -> None:
    data = fixture_files[kind].read_bytes()
    if hot:  # keep the edits in the header / text part
        end = _hot_end(data)
        mutations = [(op, pos % end, payload) for op, pos, payload in mutations]
    target = mutant_dir / f"hyp_{fixture_files[kind].name}"
    target.write_bytes(apply_mutations(data, mutations))
    assert read_or_refuse(target) in ("parsed", "unclaimed", "refused")


def _data_counts(db: Database) -> dict[str, int]:
    names = [
        str(r[0])
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    ]
    return {
        n: int(db.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0])
        for n in sorted(names)
        if n not in _NOT_DATA
    }


IMPORT_MUTANTS_PER_KIND = 40


@pytest.mark.slow
def test_mutants_through_import_file_never_raise_or_leave_rows(
    fixture_files: dict[str, Path], demo_archive: Path, tmp_path: Path
) -> None:
    db = open_archive(demo_archive)
    failures: list[str] = []
    leaks: list[str] = []
    statuses: dict[str, int] = {}
    for kind in KINDS:
        data = fixture_files[kind].read_bytes()
        for seed in range(IMPORT_MUTANTS_PER_KIND):
            mutations = seeded_mutations(data, random.Random(f"import:{kind}:{seed}"))
            # a new name per mutant: the archive remembers files by path
            target = tmp_path / f"{kind}_{seed:03d}{fixture_files[kind].suffix}"
            target.write_bytes(apply_mutations(data, mutations))
            before = _data_counts(db)
            try:
                outcome = import_file(db, target, "robustness")
            except Exception as exc:  # import_file must never raise for a bad file
                failures.append(_describe(kind, seed, mutations, exc))
                continue
            statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
            after = _data_counts(db)
            changed = {t: (before[t], after[t]) for t in after if before.get(t) != after[t]}
            if outcome.status in (ImportStatus.FAILED, ImportStatus.SKIPPED):
                assert outcome.reason, f"{kind} seed={seed}: {outcome.status} without a reason"
                if changed:
                    leaks.append(f"{kind} seed={seed} {outcome.status}: {outcome.reason} {changed}")
            elif outcome.status is ImportStatus.DUPLICATE:
                # a mutated model/serial may add a scanner (and its site); nothing else
                changed = {t: v for t, v in changed.items() if t not in ("scanners", "sites")}
                if changed:
                    leaks.append(f"{kind} seed={seed} duplicate: {changed}")
    db.close()
    assert not failures, "\n".join(failures[:20])
    assert not leaks, "\n".join(leaks[:20])
    assert statuses.get(ImportStatus.FAILED, 0) > 0, statuses


# --------------------------------------------------------------------------------------
# 2. bad input through import_into
# --------------------------------------------------------------------------------------


def _foreign_dicom(
    path: Path, *, manufacturer: str, modality: str, sop_class: str, uid: str
) -> Path:
    """A tiny, valid DICOM instance of another kind (a CT slice, a mammogram...)."""
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID(f"{UID_ROOT}.9{uid}")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.Manufacturer = manufacturer
    ds.ManufacturerModelName = "Some Scanner"
    ds.DeviceSerialNumber = "SN-1"
    ds.PatientID = "0101501234"
    ds.PatientName = "Testperson^Søs"
    ds.StudyInstanceUID = f"{UID_ROOT}.8{uid}"
    ds.SeriesInstanceUID = f"{UID_ROOT}.7{uid}"
    ds.StudyDate = "20250101"
    ds.Rows = 4
    ds.Columns = 4
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelData = bytes(32)
    ds.save_as(path, enforce_file_format=True)
    return path


CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MAMMOGRAM = "1.2.840.10008.5.1.4.1.1.1.2"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def _csv_line(path: Path, line: int, edit: Callable[[list[str]], list[str]]) -> None:
    """Rewrite the cells of one physical line (1-based) of a comma-separated file."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    cells = lines[line - 1].rstrip("\r\n").split(",")
    lines[line - 1] = ",".join(edit(cells)) + "\r\n"
    path.write_text("".join(lines), encoding="utf-8")


def _bmd_garbage(cells: list[str]) -> list[str]:
    cells[25] = "0.9.1"  # bmd_g_cm2
    return cells


def _extra_value(cells: list[str]) -> list[str]:
    # one value more than the header has columns; the trailing optional columns (risk factors,
    # issue 17) are often blank, so the extra value is put after the last one
    return [*cells, "extra"]


def _open_quote(cells: list[str]) -> list[str]:
    cells[2] = '"' + cells[2]
    return cells


def _make_case(name: str, fx: dict[str, Path], folder: Path) -> Path:
    """Write the bad input ``name`` into ``folder``."""
    folder.mkdir()
    if name == "not_dicom_with_dcm_name":
        path = folder / "scan.dcm"
        path.write_bytes(b"PK\x03\x04 this is a zip file, not DICOM " * 8)
    elif name == "truncated_dicom":
        path = folder / "truncated.dcm"
        data = fx["hologic_xml"].read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif name == "empty_file":
        path = folder / "empty.dcm"
        path.write_bytes(b"")
    elif name == "siemens_ct":
        path = _foreign_dicom(
            folder / "ct.dcm",
            manufacturer="SIEMENS",
            modality="CT",
            sop_class=CT_IMAGE,
            uid="1",
        )
    elif name == "ge_ct":
        path = _foreign_dicom(
            folder / "ct.dcm",
            manufacturer="GE MEDICAL SYSTEMS",
            modality="CT",
            sop_class=CT_IMAGE,
            uid="2",
        )
    elif name == "ge_ct_dose_screen":
        path = _foreign_dicom(
            folder / "dose.dcm",
            manufacturer="GE MEDICAL SYSTEMS",
            modality="CT",
            sop_class=SECONDARY_CAPTURE,
            uid="3",
        )
    elif name == "hologic_mammogram":
        path = _foreign_dicom(
            folder / "mg.dcm",
            manufacturer="HOLOGIC, Inc.",
            modality="MG",
            sop_class=MAMMOGRAM,
            uid="4",
        )
    elif name == "hologic_without_patient_id":
        path = folder / "no_patient_id.dcm"
        ds = dcmread(fx["hologic_xml"])
        del ds.PatientID
        ds.save_as(path, enforce_file_format=True)
    else:
        path = folder / "patient_results.csv"
        shutil.copy(fx["csv_patient_results"], path)
        edit = {"csv_bad_number": _bmd_garbage, "csv_extra_value": _extra_value}.get(name)
        _csv_line(path, 5, edit or _open_quote)
    return path


#: case -> (accepted statuses, words the reason must hold (case-insensitive)).
BAD_INPUT: dict[str, tuple[frozenset[ImportStatus], tuple[str, ...]]] = {
    "not_dicom_with_dcm_name": (
        frozenset({ImportStatus.SKIPPED, ImportStatus.FAILED}),
        ("not a DXA export",),
    ),
    "truncated_dicom": (frozenset({ImportStatus.FAILED}), ("truncated",)),
    "empty_file": (
        frozenset({ImportStatus.SKIPPED, ImportStatus.FAILED}),
        ("not a DXA export",),
    ),
    "siemens_ct": (frozenset({ImportStatus.SKIPPED}), ("CT", "SIEMENS", "not a DXA export")),
    "ge_ct": (
        frozenset({ImportStatus.SKIPPED}),
        ("CT", "GE MEDICAL SYSTEMS", "not a DXA export"),
    ),
    "ge_ct_dose_screen": (frozenset({ImportStatus.SKIPPED}), ("CT", "not a DXA export")),
    "hologic_mammogram": (frozenset({ImportStatus.SKIPPED}), ("MG", "not a DXA export")),
    "hologic_without_patient_id": (frozenset({ImportStatus.FAILED}), ("PatientID", "missing")),
    "csv_bad_number": (
        frozenset({ImportStatus.FAILED}),
        ("line 5", "bmd_g_cm2", "'0.9.1' is not a number"),
    ),
    "csv_extra_value": (frozenset({ImportStatus.FAILED}), ("line 5", "values but the header has")),
    "csv_open_quote": (frozenset({ImportStatus.FAILED}), ("line 5", "not valid CSV")),
}


def _only(outcomes: tuple[ImportOutcome, ...]) -> ImportOutcome:
    assert len(outcomes) == 1, outcomes
    return outcomes[0]


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_reported_in_plain_words(
    case: str, fixture_files: dict[str, Path], demo_archive: Path, tmp_path: Path
) -> None:
    path = _make_case(case, fixture_files, tmp_path / "in")
    statuses, words = BAD_INPUT[case]
    db = open_archive(demo_archive)
    before = _data_counts(db)
    outcome = _only(import_into(db, [path.parent]).outcomes)
    assert outcome.path == str(path)
    assert outcome.status in statuses, outcome
    for word in words:
        assert word.lower() in outcome.reason.lower(), (word, outcome.reason)
    assert "Traceback" not in outcome.reason
    assert _data_counts(db) == before, "a refused file left rows behind"
    again = _only(import_into(db, [path.parent]).outcomes)
    assert (again.status, again.reason) == (outcome.status, outcome.reason)
    db.close()


@pytest.mark.parametrize(
    ("case", "word"), [("empty_file", "empty"), ("not_dicom_with_dcm_name", "DICOM")]
)
def test_unclaimed_reason_says_what_is_wrong(
    case: str, word: str, fixture_files: dict[str, Path], tmp_path: Path
) -> None:
    path = _make_case(case, fixture_files, tmp_path / "in")
    db = open_archive(tmp_path / "a.sqlite")
    outcome = _only(import_into(db, [path]).outcomes)
    db.close()
    assert word.lower() in outcome.reason.lower(), outcome.reason


def test_readers_refuse_foreign_dicom_when_asked_directly(
    fixture_files: dict[str, Path], tmp_path: Path
) -> None:
    from dxa_app.ingest.dicom_ge import READER as GE_READER
    from dxa_app.ingest.dicom_hologic import READER as HOLOGIC_READER

    ge_ct = _make_case("ge_ct", fixture_files, tmp_path / "ge")
    mammo = _make_case("hologic_mammogram", fixture_files, tmp_path / "mg")
    assert reader_for(ge_ct) is None and reader_for(mammo) is None
    with pytest.raises(ImportProblemError, match=r"CT from GE MEDICAL SYSTEMS, not a DXA export"):
        GE_READER.read(ge_ct)
    with pytest.raises(ImportProblemError, match=r"MG from HOLOGIC, Inc\., not a DXA export"):
        HOLOGIC_READER.read(mammo)


def test_csv_open_quote_names_the_line_it_starts_on(
    fixture_files: dict[str, Path], tmp_path: Path
) -> None:
    from dxa_app.ingest.generic_csv import read

    path = _make_case("csv_open_quote", fixture_files, tmp_path / "in")
    with pytest.raises(ImportProblemError, match=r"line 5: the line is not valid CSV"):
        read(path)


def test_conflicting_patient_leaves_no_rows(
    fixture_files: dict[str, Path], demo_archive: Path, tmp_path: Path
) -> None:
    path = tmp_path / "other_patient.dcm"
    ds = dcmread(fixture_files["hologic_xml"])  # its study is in the demo archive
    ds.PatientID = "0101011234"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = UID(f"{UID_ROOT}.61")
    ds.save_as(path, enforce_file_format=True)
    db = open_archive(demo_archive)
    before = _data_counts(db)
    outcome = _only(import_into(db, [path]).outcomes)
    after = _data_counts(db)
    db.close()
    assert outcome.status is ImportStatus.FAILED and _OTHER_PATIENT in outcome.reason
    assert after == before


def _copy_some_demo_files(demo_files: Path, dest: Path) -> list[Path]:
    """The first study of every DICOM scanner plus the certificate CSV."""
    chosen: list[Path] = []
    for scanner_dir in sorted((demo_files / "dicom").glob("*/*")):
        study_dir = sorted(p for p in scanner_dir.iterdir() if p.is_dir())[0]
        chosen += sorted(study_dir.glob("*.dcm"))
    chosen.append(demo_files / "csv" / "phantom_certificates.csv")
    out = []
    for src in chosen:
        target = dest / src.relative_to(demo_files)
        target.parent.mkdir(parents=True, exist_ok=True)
        out.append(Path(shutil.copy(src, target)))
    return out


def test_folder_of_demo_files_and_junk(demo_files: Path, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    good = _copy_some_demo_files(demo_files, folder)
    rng = random.Random(SEED)
    junk = {
        folder / "notes.txt": b"Husk at kalibrere scanneren mandag.\n",
        folder / "dicom" / "picture.jpg": bytes(rng.randrange(256) for _ in range(3000)),
        folder / "README": b"Exported from the DXA scanner by the technician.\n",
        folder / "dicom" / "zero.dcm": b"",
    }
    for path, content in junk.items():
        path.write_bytes(content)

    mixed = open_archive(tmp_path / "mixed.sqlite")
    summary = import_into(mixed, [folder])
    by_path = {Path(o.path): o for o in summary.outcomes}
    assert set(by_path) == set(good) | set(junk)
    for path in good:
        assert by_path[path].status is ImportStatus.IMPORTED, by_path[path]
    for path in junk:
        assert by_path[path].status in (ImportStatus.SKIPPED, ImportStatus.FAILED)
        assert by_path[path].reason, by_path[path]
    problems = {o.path for o in summary.outcomes if o.status is not ImportStatus.IMPORTED}
    assert problems == {str(p) for p in junk}

    clean = open_archive(tmp_path / "clean.sqlite")
    import_into(clean, good)
    assert _data_counts(mixed) == _data_counts(clean), "junk left rows behind"

    before = _data_counts(mixed)
    again = import_into(mixed, [folder])
    assert _data_counts(mixed) == before
    assert {Path(o.path): o.status for o in again.outcomes} == {
        **{p: ImportStatus.DUPLICATE for p in good},
        **{p: by_path[p].status for p in junk},
    }
    mixed.close()
    clean.close()

"""Time our import of many small DXA DICOM files against a bare pydicom read loop."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

from pydicom import dcmread

from dxa_app.archive import open_archive
from dxa_app.demo import dicom_writers
from dxa_app.demo.generate import generate
from dxa_app.domain import IdType, PatientIdentity, ScanType, Sex, Side, StudyInfo
from dxa_app.services.importing import import_into

UID_ROOT = "1.2.826.0.1.3680043.8.498.55"


def write_files(out: Path, n_files: int, seed: int = 2026) -> list[Path]:
    """Write ``n_files`` DICOM files: Hologic scans, GE SRs and GE images, about 3 per study.

    Patients and studies come from the demo data, given new UIDs and identifiers per study
    so that every study is new to the archive.
    """
    data = generate(seed)
    dicom_scanners = [s for s in data.scanners if s.export != "csv"]
    templates = [(s, rec) for s in dicom_scanners for rec in data.studies[s.key] if rec.scans]
    files: list[Path] = []
    study_no = 0
    while len(files) < n_files:
        scanner, rec = templates[study_no % len(templates)]
        study_no += 1
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=study_no % 20000)
        patient = PatientIdentity(
            f"{birth:%d%m%y}-{study_no % 10000:04d}",
            IdType.CPR,
            f"Bench Patient{study_no}",
            birth,
            Sex.FEMALE if study_no % 3 else Sex.MALE,
        )
        study = dataclasses.replace(rec.study, study_uid=f"{UID_ROOT}.{study_no}")
        folder = out / f"{study_no // 1000:03d}" / f"s{study_no}"

        def uid(kind: int, n: int, _study: StudyInfo = study) -> str:
            return f"{_study.study_uid}.{kind}.{n}"

        if scanner.export in ("hologic_xml", "hologic_text"):
            fmt = "xml" if scanner.export == "hologic_xml" else "text"
            for n, scan in enumerate(rec.scans, start=1):
                files.append(
                    dicom_writers.write_hologic_scan(
                        folder / f"{n:02d}.dcm",
                        scanner.identity,
                        patient,
                        study,
                        scan,
                        series_uid=uid(1, n),
                        sop_instance_uid=uid(2, n),
                        analysis_format="xml" if fmt == "xml" else "text",
                    )
                )
        else:
            files.append(
                dicom_writers.write_ge_sr(
                    folder / "00_sr.dcm",
                    scanner.identity,
                    patient,
                    study,
                    rec.scans,
                    series_uid=uid(1, 0),
                    sop_instance_uid=uid(2, 0),
                )
            )
            for n, scan in enumerate(rec.scans, start=1):
                protocol = (
                    "AP Spine"
                    if scan.scan_type is ScanType.AP_SPINE
                    else ("Left Femur" if scan.side is Side.LEFT else "Right Femur")
                )
                files.append(
                    dicom_writers.write_ge_image(
                        folder / f"{n:02d}_image.dcm",
                        scanner.identity,
                        patient,
                        study,
                        protocol_name=protocol,
                        series_uid=uid(1, n),
                        sop_instance_uid=uid(2, n),
                        acquired_at=scan.acquired_at,
                    )
                )
    for extra in files[n_files:]:
        extra.unlink()
    return files[:n_files]


def _maxrss_mb() -> float:
    """Peak resident memory of this process so far, in MB (ru_maxrss is KB on Linux)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def bare_loop(files: Sequence[Path]) -> float:
    """Seconds for ``dcmread(p, stop_before_pixels=True)`` over every file."""
    t0 = time.perf_counter()
    for p in files:
        dcmread(p, stop_before_pixels=True)
    return time.perf_counter() - t0


def our_import(folder: Path, archive: Path, *, trace: bool) -> tuple[float, dict[str, int], int]:
    """Seconds, status counts and tracemalloc peak (bytes; 0 when not traced) of import_into."""
    db = open_archive(archive)
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    summary = import_into(db, [folder])
    seconds = time.perf_counter() - t0
    peak = 0
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    db.close()
    return seconds, summary.counts, peak


def main(argv: Sequence[str] | None = None) -> None:
    """Write the files, run both loops and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=20_000, help="number of files (20000)")
    parser.add_argument(
        "--no-trace",
        action="store_true",
        help="skip the second, tracemalloc-traced import (it runs about 2x slower)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dxa-bench-") as tmp:
        folder = Path(tmp) / "files"
        t0 = time.perf_counter()
        files = write_files(folder, args.files)
        size_mb = sum(p.stat().st_size for p in files) / 1e6
        print(f"wrote {len(files)} files ({size_mb:.1f} MB) in {time.perf_counter() - t0:.1f} s")
        rss_start = _maxrss_mb()

        bare = bare_loop(files)
        rss_bare = _maxrss_mb()
        ours, counts, _ = our_import(folder, Path(tmp) / "bench.sqlite", trace=False)
        rss_ours = _maxrss_mb()

        bare_rate = len(files) / bare
        our_rate = len(files) / ours
        print(f"bare dcmread loop : {bare:8.2f} s  {bare_rate:8.0f} files/s")
        print(f"our import_into  : {ours:8.2f} s  {our_rate:8.0f} files/s  {counts}")
        print(f"ratio ours/bare   : {our_rate / bare_rate:8.3f}  (target >= 0.8)")
        print(
            f"peak RSS (ru_maxrss): after writing {rss_start:.0f} MB, after bare loop "
            f"{rss_bare:.0f} MB, after our import {rss_ours:.0f} MB"
        )
        if not args.no_trace:
            traced, _, peak = our_import(folder, Path(tmp) / "traced.sqlite", trace=True)
            print(
                f"tracemalloc peak of our import: {peak / 1e6:.1f} MB "
                f"(traced run {traced:.1f} s, into a fresh archive)"
            )


if __name__ == "__main__":
    main()

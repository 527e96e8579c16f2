"""Time our import of many small DXA DICOM files against a bare pydicom read loop."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
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


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its ended children (the reading processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def bare_loop(files: Sequence[Path]) -> tuple[float, float]:
    """Wall and CPU seconds for ``dcmread(p, stop_before_pixels=True)`` over every file."""
    c0, t0 = _cpu_seconds(), time.perf_counter()
    for p in files:
        dcmread(p, stop_before_pixels=True)
    return time.perf_counter() - t0, _cpu_seconds() - c0


def our_import(
    folder: Path, archive: Path, *, trace: bool, workers: int | None = None
) -> tuple[float, float, dict[str, int], int]:
    """Wall and CPU seconds, status counts and tracemalloc peak (bytes; 0 untraced)."""
    db = open_archive(archive)
    if trace:
        tracemalloc.start()
    c0, t0 = _cpu_seconds(), time.perf_counter()
    summary = import_into(db, [folder], workers=workers)
    seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    peak = 0
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    db.close()
    return seconds, cpu, summary.counts, peak


def _one_size(tmp: Path, n_files: int, workers: int | None) -> None:
    """Write ``n_files``, time the bare loop and our import side by side, print the ratios."""
    folder = tmp / f"files-{n_files}"
    t0 = time.perf_counter()
    files = write_files(folder, n_files)
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    print(f"\n{len(files)} files ({size_mb:.1f} MB) written in {time.perf_counter() - t0:.1f} s")
    bare, bare_cpu = bare_loop(files)
    ours, ours_cpu, counts, _ = our_import(
        folder, tmp / f"bench-{n_files}.sqlite", trace=False, workers=workers
    )
    again, _, again_counts, _ = our_import(
        folder, tmp / f"bench-{n_files}.sqlite", trace=False, workers=workers
    )
    n = len(files)
    print(f"  yardstick, bare dcmread loop : {bare:7.2f} s  {n / bare:7.0f} files/s")
    print(f"  product, import_into         : {ours:7.2f} s  {n / ours:7.0f} files/s  {counts}")
    print(f"  ratio (goal >= 0.5x)         : {bare / ours:7.3f}x")
    print(
        f"  per core (CPU s)             : yardstick {bare_cpu:.2f}, product {ours_cpu:.2f}"
        f" -> {bare_cpu / ours_cpu:.3f}x per core; {ours_cpu / n * 1000:.1f} ms CPU per file"
    )
    print(
        f"  re-import (no-op)            : {again:7.2f} s  "
        f"duplicate {again_counts.get('duplicate', 0)}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Write the files, run both loops at each size and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--files",
        type=int,
        nargs="+",
        default=[1_000, 4_000],
        help="numbers of files (default: 1000 4000)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="reading processes (default: one per core)"
    )
    parser.add_argument(
        "--trace",
        type=int,
        default=0,
        metavar="N",
        help="also import N files traced by tracemalloc for the peak memory (slow)",
    )
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="dxa-bench-") as tmp:
        for n_files in args.files:
            _one_size(Path(tmp), n_files, args.workers)
        print(f"peak RSS (ru_maxrss) of the importing process: {_maxrss_mb():.0f} MB")
        if args.trace:
            folder = Path(tmp) / "traced"
            write_files(folder, args.trace)
            traced, _, _, peak = our_import(
                folder, Path(tmp) / "traced.sqlite", trace=True, workers=args.workers
            )
            print(
                f"tracemalloc peak of importing {args.trace} files: {peak / 1e6:.1f} MB "
                f"(traced run {traced:.1f} s, into a fresh archive)"
            )


if __name__ == "__main__":
    main()

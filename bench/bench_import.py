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


def _own_cpu_seconds() -> float:
    """CPU seconds of this process alone (the one writer)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


@dataclasses.dataclass
class Run:
    """One import: wall and CPU seconds (all, and the writing process's own)."""

    seconds: float
    cpu: float
    writer_cpu: float
    counts: dict[str, int]
    peak: int


def our_import(folder: Path, archive: Path, *, trace: bool, workers: int | None = None) -> Run:
    """Import ``folder`` into ``archive``; the figures, with tracemalloc's peak if ``trace``."""
    db = open_archive(archive)
    if trace:
        tracemalloc.start()
    c0, w0, t0 = _cpu_seconds(), _own_cpu_seconds(), time.perf_counter()
    summary = import_into(db, [folder], workers=workers)
    seconds = time.perf_counter() - t0
    cpu, writer = _cpu_seconds() - c0, _own_cpu_seconds() - w0
    peak = 0
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    db.close()
    return Run(seconds, cpu, writer, summary.counts, peak)


def projected_seconds(run: Run, cores: int) -> float:
    """Wall seconds the same work would take on ``cores`` idle cores (a projection).

    The reading processes share the cores with the one writer: the import takes at least
    the writer's own CPU time, and at least all CPU time spread over every core.
    """
    return max(run.writer_cpu, run.cpu / cores)


def _one_size(tmp: Path, n_files: int, workers: int | None) -> None:
    """Write ``n_files``, time the bare loop and our import side by side, print the ratios."""
    folder = tmp / f"files-{n_files}"
    t0 = time.perf_counter()
    files = write_files(folder, n_files)
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    print(f"\n{len(files)} files ({size_mb:.1f} MB) written in {time.perf_counter() - t0:.1f} s")
    bare, bare_cpu = bare_loop(files)
    run = our_import(folder, tmp / f"bench-{n_files}.sqlite", trace=False, workers=workers)
    again = our_import(folder, tmp / f"bench-{n_files}.sqlite", trace=False, workers=workers)
    n = len(files)
    print(f"  yardstick, bare dcmread loop : {bare:7.2f} s  {n / bare:7.0f} files/s")
    print(
        f"  product, import_into         : {run.seconds:7.2f} s  {n / run.seconds:7.0f} files/s"
        f"  {run.counts}"
    )
    print(f"  ratio (goal >= 0.5x)         : {bare / run.seconds:7.3f}x")
    reader_cpu = run.cpu - run.writer_cpu
    print(
        f"  per core (CPU s)             : yardstick {bare_cpu:.2f}, product {run.cpu:.2f}"
        f" -> {bare_cpu / run.cpu:.3f}x per core; {run.cpu / n * 1000:.1f} ms CPU per file"
        f" ({reader_cpu / n * 1000:.1f} reading, {run.writer_cpu / n * 1000:.1f} writing)"
    )
    for cores in (2, 4):
        projected = projected_seconds(run, cores)
        print(
            f"  projected on {cores} idle cores   : {projected:7.2f} s"
            f"  ratio {bare_cpu / projected:.3f}x (from the CPU seconds above)"
        )
    print(
        f"  re-import (no-op)            : {again.seconds:7.2f} s  "
        f"duplicate {again.counts.get('duplicate', 0)}"
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
            traced = our_import(
                folder, Path(tmp) / "traced.sqlite", trace=True, workers=args.workers
            )
            print(
                f"tracemalloc peak of importing {args.trace} files: {traced.peak / 1e6:.1f} MB "
                f"(traced run {traced.seconds:.1f} s, into a fresh archive)"
            )


if __name__ == "__main__":
    main()

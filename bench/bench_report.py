"""Print report rendering speed: one two-page Level B report with charts, and batches."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_MS = 150.0
RUNS = 30


def _pages(pdf: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as fh:
        fh.write(pdf)
        fh.flush()
        try:
            info = subprocess.run(["pdfinfo", fh.name], capture_output=True, text=True).stdout
        except FileNotFoundError:
            return "?"
    for line in info.splitlines():
        if line.startswith("Pages:"):
            return line.split()[1]
    return "?"


def main() -> None:
    """Time the import, the first render, the median of 30 renders and two batch sizes."""
    t0 = time.perf_counter()
    from reports.pdf import render_pdf

    import_s = time.perf_counter() - t0
    from tests.reports.danish import danish
    from tests.reports.sample import two_page_level_b

    data = two_page_level_b("da")
    t0 = time.perf_counter()
    first = render_pdf(data, danish)
    first_s = time.perf_counter() - t0
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        render_pdf(data, danish)
        times.append(time.perf_counter() - t0)
    median_ms = 1000 * statistics.median(times)
    print(f"import reports.pdf (reportlab): {1000 * import_s:.0f} ms")
    print(
        f"Level B report with charts: {_pages(first)} pages, {len(first) / 1024:.0f} KiB; "
        f"first render {1000 * first_s:.0f} ms"
    )
    print(
        f"median of {RUNS} renders: {median_ms:.1f} ms (target <= {TARGET_MS:.0f} ms: "
        f"{'met' if median_ms <= TARGET_MS else 'NOT met'}); "
        f"min {1000 * min(times):.1f} ms, max {1000 * max(times):.1f} ms"
    )
    per_report = {}
    for n in (100, 1000):
        batch = [two_page_level_b("da", f"DXA-2025-{i:06d}") for i in range(n)]
        t0 = time.perf_counter()
        total_bytes = sum(len(render_pdf(d, danish)) for d in batch)
        elapsed = time.perf_counter() - t0
        per_report[n] = 1000 * elapsed / n
        print(
            f"batch of {n:>5} reports: {elapsed:6.1f} s, {per_report[n]:.1f} ms per report, "
            f"{total_bytes / 2**20:.1f} MiB"
        )
    ratio = per_report[1000] / per_report[100]
    print(f"per-report time 1000 vs 100: x{ratio:.2f} (1.00 = linear)")


if __name__ == "__main__":
    main()

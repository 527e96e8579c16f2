"""Print how long the demo takes to write, to import (files per second) and to query."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from dxa_app.archive import open_archive
from dxa_app.archive.queries import counts, list_patients, list_studies
from dxa_app.demo.write import write_demo
from dxa_app.services.importing import import_into


def main() -> None:
    """Run the benchmark and print the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "files"
        t0 = time.perf_counter()
        _, files = write_demo(out, 2026)
        t1 = time.perf_counter()
        db = open_archive(Path(tmp) / "bench.sqlite")
        summary = import_into(db, [out])
        t2 = time.perf_counter()
        again = import_into(db, [out])
        t3 = time.perf_counter()
        list_patients(db)
        list_studies(db)
        t4 = time.perf_counter()
        c = counts(db)
        print(f"write demo:      {t1 - t0:6.2f} s  ({len(files)} files)")
        print(
            f"import:          {t2 - t1:6.2f} s  ({len(files) / (t2 - t1):.0f} files/s) "
            f"{summary.counts}"
        )
        print(f"re-import:       {t3 - t2:6.2f} s  {again.counts}")
        print(
            f"list patients+studies: {1000 * (t4 - t3):6.1f} ms  "
            f"({c.patients} patients, {c.studies} studies)"
        )


if __name__ == "__main__":
    main()

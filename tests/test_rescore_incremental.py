"""Rescore only what changed: a new step on one scanner recomputes that scanner's studies."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from dxa_app.archive import open_archive
from dxa_app.archive.steps import mark_approved, propose_step, step_by_id
from dxa_app.archive.store import store_parsed
from dxa_app.services.scoring import rescore
from tests.factories import SCANNER, parsed, study_record

OTHER = replace(SCANNER, serial="TEST-002")


def test_rescore_recomputes_only_the_changed_scanners_studies(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "a.sqlite")
    try:
        records = [study_record(n) for n in range(1, 7)]
        records = [replace(r, scanner=OTHER) if n % 2 else r for n, r in enumerate(records)]
        store_parsed(db, parsed(*records))
        first = rescore(db)
        assert first == {
            "studies": 6,
            "new_runs": 6,
            "unchanged": 0,
            "recomputed": 6,
            "score_rows": 30,
            "diagnosis_rows": 6,
        }
        n_scores = db.execute("SELECT count(*) FROM scores").fetchone()[0]
        assert rescore(db) == {
            "studies": 6,
            "new_runs": 0,
            "unchanged": 6,
            "recomputed": 0,
            "score_rows": 0,
            "diagnosis_rows": 0,
        }
        assert db.execute("SELECT count(*) FROM scores").fetchone()[0] == n_scores

        # a study imported since is scored; the others are left alone
        store_parsed(db, parsed(study_record(7)))
        assert rescore(db) == {
            "studies": 7,
            "new_runs": 1,
            "unchanged": 6,
            "recomputed": 1,
            "score_rows": 5,
            "diagnosis_rows": 1,
        }

        # an approved step on the first scanner: its four studies only, new runs for them
        scanner = db.execute(
            "SELECT id FROM scanners WHERE serial = ?", [SCANNER.serial]
        ).fetchone()[0]
        step = propose_step(
            db,
            scanner_id=scanner,
            region="all",
            kind="scanner",
            intercept=0.01,
            slope=1.0,
            valid_from=dt.date(2020, 1, 1).isoformat(),
            method="ols",
            dataset="test",
            n=10,
            provenance={},
            by="test",
        )
        assert step is not None
        mark_approved(db, step_by_id(db, step), "test")
        db.conn.commit()
        result = rescore(db)
        assert (result["new_runs"], result["unchanged"], result["recomputed"]) == (4, 3, 4)
        assert result["score_rows"] == 20  # 4 studies x 5 regions, each value moved
        assert rescore(db)["recomputed"] == 0
    finally:
        db.close()

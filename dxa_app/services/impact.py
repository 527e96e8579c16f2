"""What a calibration change would do before it is made: scanners, regions, changed diagnoses.

Approving or retiring a step, or installing published corrections, re-expresses every study of
the scanners concerned on the next rescore. Before such an action the user sees how many stored
diagnoses would change category: the change is applied inside a transaction, every affected
study is scored on the new chain, and the transaction is rolled back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dxa_app.archive import write_transaction
from dxa_app.archive.database import Database
from dxa_app.archive.studies import stored_categories, study_ids_on_scanners
from dxa_app.services.scoring import compute_study_scores


@dataclass(frozen=True)
class ChangePreview:
    """What a calibration change would change."""

    scanners: tuple[str, ...]
    regions: tuple[str, ...]
    studies: int
    category_changes: int
    transitions: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "scanners": list(self.scanners),
            "regions": list(self.regions),
            "studies": self.studies,
            "category_changes": self.category_changes,
            "transitions": dict(self.transitions),
        }


class _Rollback(Exception):
    """Undo the simulated change."""


#: ``apply(db)`` makes the change and returns (scanner ids, serials, regions) it concerns.
Apply = Callable[[Database], tuple[set[int], set[str], set[str]]]


def simulate(db: Database, apply: Apply) -> ChangePreview:
    """Apply a change in a transaction, score the affected studies, roll back; return the impact.

    Parameters
    ----------
    db : Database
        The open archive.
    apply : callable
        Makes the change (inside the transaction) and returns what it concerns.

    Returns
    -------
    ChangePreview
        Scanners, regions, affected studies, and how many stored diagnoses (or, for a study
        never scored, the current ones) would change category on rescore.
    """
    found: list[ChangePreview] = []
    try:
        with write_transaction(db):
            scanner_ids, serials, regions = apply(db)
            ids = study_ids_on_scanners(db, scanner_ids)
            before = stored_categories(db, ids)
            missing = [i for i in ids if i not in before]
            after: dict[int, str] = {}
            for sid in before:  # a study never scored has no diagnosis to change
                diagnosis = compute_study_scores(db, sid).diagnosis
                after[sid] = "none" if diagnosis is None else str(diagnosis.category)
            found.append(_preview(serials, regions, ids, before, after, missing))
            raise _Rollback
    except _Rollback:
        pass
    return found[0]


def _preview(
    serials: set[str],
    regions: set[str],
    ids: list[int],
    before: dict[int, str],
    after: dict[int, str],
    missing: list[int],
) -> ChangePreview:
    changes: Counter[str] = Counter()
    for sid in ids:
        if sid in missing:
            continue
        if before[sid] != after[sid]:
            changes[f"{before[sid]} -> {after[sid]}"] += 1
    return ChangePreview(
        tuple(sorted(serials)),
        tuple(sorted(regions)),
        len(ids),
        sum(changes.values()),
        dict(sorted(changes.items())),
    )

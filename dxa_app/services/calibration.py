"""Use cases of the calibration chain: QC status, fitting and proposing steps, approving them.

The chain of a scanner and region on a date is ``drift -> scanner -> national`` (each linear,
composed to ``a + b * raw``; see ../shared/design/ARCHITECTURE.md section 3):

- **drift**: proposed from daily phantom QC when CUSUM confirms a shift; multiplicative
  (``baseline / mean after the shift``) from the estimated start date. It applies to every
  region of the scanner (a detector or calibration change moves them all); the knowledge
  centre should confirm the hip with in-vivo data or a femur phantom before approving.
- **scanner**, spine (L1-L4, single vertebrae): from the travelling European Spine Phantom
  round, an OLS of every individual measured vertebra on its certified value, ``m = a + b*c``;
  the step maps a reading to the certified ("ESP-true") scale: ``(x - a) / b``.
- **national**, spine: from ESP-true to the national scale, which is the reference scanner's
  scale (the reference tables are in Hologic units): the reference scanner's own ESP line.
  So the reference scanner's spine values pass through unchanged.
- **scanner**, hip (total hip, trochanter, intertrochanter) and femoral neck (and Ward's):
  from in-vivo pairs (the same patient on the reference scanner and on this scanner within
  60 days, same hip side), a Deming regression ``ref = a + b * this`` (delta from the two
  scanners' precision studies when both exist, else 1). A spine phantom does not calibrate
  the hip, so without in-vivo pairs there is no hip step and the hip is not harmonised.

Only approved steps are used; every step keeps its provenance (data set, fit, n, CI, who
proposed and approved it, when).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from calibration.chain import inverse_line_covariance
from calibration.fits import IN_VIVO_MAX_DAYS, LinearFit, ols
from calibration.qc import BaselineError, QcAnalysis, analyse, extend
from dxa_app.archive import get_setting, set_setting, write_transaction
from dxa_app.archive.database import Database
from dxa_app.archive.db import audit, now_iso
from dxa_app.archive.qc import (
    BaselineStart,
    QcScanner,
    add_baseline_start,
    archive_identity,
    baseline_starts,
    pending_drift_steps,
    phantom_scan_mark,
    qc_first_reading,
    qc_scanners,
    qc_scanners_since,
    scanner_qc_series,
)
from dxa_app.archive.scale import SCALES, NationalScale, add_scale, current_scale
from dxa_app.archive.scanners import scanner_ids_by_serial
from dxa_app.archive.steps import (
    GROUPS,
    KIND_ORDER,
    REFERENCE_SCANNER_KEY,
    Step,
    approved_chain,
    mark_approved,
    mark_retired,
    propose_step,
    region_group,
    step_by_id,
    step_rows,
)
from dxa_app.centre.national import PairedPatient, PairSet, fit_in_vivo_steps
from dxa_app.errors import NotFoundError, UsageError
from dxa_app.i18n import _
from dxa_app.services.auth import Permission, Session, acting, confirm_password, record

if TYPE_CHECKING:
    from dxa_app.services.impact import ChangePreview

__all__ = [
    "GROUPS",
    "KIND_ORDER",
    "NO_QC_TODAY",
    "REFERENCE_SCANNER_KEY",
    "CalibrationRun",
    "FitSummary",
    "NationalScale",
    "QcSegment",
    "ScannerQc",
    "Step",
    "approve_steps",
    "calibrate",
    "chain_for",
    "current_qc",
    "iter_qc",
    "list_steps",
    "national_scale",
    "preview_decision",
    "qc_status",
    "reference_serial",
    "region_group",
    "retire_steps",
    "set_national_scale",
    "start_new_baseline",
]

EARLIEST = "1900-01-01"

#: The region whose in-vivo pairs fit each group.
GROUP_FIT_REGION = {"spine": "L1-L4", "total_hip": "total_hip", "femoral_neck": "femoral_neck"}


# --- QC ------------------------------------------------------------------------------------

#: Why a baseline segment starts: the first scans, or a restart (see archive.qc).
SEGMENT_REASONS = ("first", "on_demand", "service", "drift_correction", "software_change")
#: The status of a scanner whose latest QC scan is not from today.
NO_QC_TODAY = "no QC today"


@dataclass(frozen=True)
class QcSegment:
    """One baseline segment of a scanner's daily-QC series: its baseline, then control.

    ``start``/``stop`` index the whole series (``stop`` exclusive); ``analysis`` is None
    while the segment has fewer scans than the baseline needs, or when the baseline is
    unusable (``problem`` says why).
    """

    start: int
    stop: int
    kind: str
    reason: str
    started: str
    analysis: QcAnalysis | None
    problem: str = ""
    by: str = ""

    @property
    def n(self) -> int:
        """Return the number of QC scans in the segment."""
        return self.stop - self.start

    def to_dict(self, dates: Sequence[str]) -> dict[str, Any]:
        """Return a JSON-ready summary (dates of the first and last scans, baseline)."""
        a = self.analysis
        return {
            "kind": self.kind,
            "reason": self.reason,
            "by": self.by,
            "started": self.started,
            "first": dates[self.start] if self.n else None,
            "last": dates[self.stop - 1] if self.n else None,
            "n_scans": self.n,
            "baseline": None
            if a is None
            else {
                "mean": a.baseline.mean,
                "sd": a.baseline.sd,
                "n": a.baseline.n,
                "lower": a.baseline.lower,
                "upper": a.baseline.upper,
            },
            "status": None if a is None else a.status,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class ScannerQc:
    """The daily-QC status of one scanner: its series, cut into baseline segments.

    ``dates``, ``values`` and ``phantom_scan_ids`` hold the whole series; ``segments`` the
    baselines (a new one after an approved drift correction, a software change, a service
    visit or a request). The rules run in the current (last) segment only; earlier segments
    keep their alarms as history.
    """

    scanner_id: int
    serial: str
    model: str
    site: str
    n_scans: int
    first: str | None
    last: str | None
    segments: tuple[QcSegment, ...] = ()
    dates: tuple[str, ...] = ()
    values: tuple[float, ...] = ()
    phantom_scan_ids: tuple[int, ...] = ()
    today: str = ""
    n_baseline: int = 20
    pending_drift: tuple[dict[str, Any], ...] = ()
    times: tuple[str, ...] = ()

    @property
    def current(self) -> QcSegment | None:
        """Return the current baseline segment (None without QC scans)."""
        return self.segments[-1] if self.segments else None

    @property
    def analysis(self) -> QcAnalysis | None:
        """Return the analysis of the current segment (None while its baseline is not ready)."""
        seg = self.current
        return None if seg is None else seg.analysis

    @property
    def problem(self) -> str:
        """Return why the current baseline is unusable ("" when it is not)."""
        seg = self.current
        return "" if seg is None else seg.problem

    @property
    def status(self) -> str:
        """Status of the latest QC scan in the current baseline segment.

        "reject" when a reject rule fired on the latest scan or the CUSUM is still in alarm;
        "warning" when only a warning rule fired on it; "ok" otherwise; earlier alarms stay in
        the history. Without control limits: "no baseline" (too few scans so far),
        "baseline in progress" (a new baseline after a restart, see :attr:`baseline_progress`)
        or "baseline unusable" (e.g. all baseline scans identical, see :attr:`problem`).
        """
        seg = self.current
        a = self.analysis
        if seg is None or a is None:
            if self.problem:
                return "baseline unusable"
            if seg is not None and seg.kind != "first":
                return "baseline in progress"
            return "no baseline"
        last = len(self.values) - 1
        on_last = [h for h in a.hits if h.index == last]
        if any(h.severity == "reject" for h in on_last) or (
            seg.n > a.baseline.n and a.in_alarm_at_end()
        ):
            return "reject"
        return "warning" if on_last else "ok"

    @property
    def days_since_last(self) -> int | None:
        """Return the days from the latest QC scan to today (None without scans)."""
        if not self.last or not self.today:
            return None
        return (dt.date.fromisoformat(self.today) - dt.date.fromisoformat(self.last)).days

    @property
    def today_status(self) -> str:
        """Today's status: :attr:`status` if the latest QC scan is today's, else "no QC today".

        "No QC today" is its own state: a result from an older day says nothing about today.
        """
        days = self.days_since_last
        if days is not None and days > 0:
            return NO_QC_TODAY
        return self.status

    @property
    def baseline_progress(self) -> tuple[int, int]:
        """Return (scans so far, scans needed) of the current baseline."""
        seg = self.current
        return (0 if seg is None else min(seg.n, self.n_baseline), self.n_baseline)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary: status, baseline, rules fired, CUSUM, drift proposal."""
        out: dict[str, Any] = {
            "scanner_id": self.scanner_id,
            "serial": self.serial,
            "model": self.model,
            "site": self.site,
            "n_scans": self.n_scans,
            "first": self.first,
            "last": self.last,
            "status": self.status,
            "today_status": self.today_status,
            "days_since_last_qc": self.days_since_last,
            "history_status": self.analysis.status if self.analysis is not None else None,
            "problem": self.problem,
            "baseline_progress": list(self.baseline_progress),
            "segments": [s.to_dict(self.dates) for s in self.segments],
            "pending_drift_steps": [
                {"id": p["id"], "valid_from": p["valid_from"], "factor": p["slope"]}
                for p in self.pending_drift
            ],
        }
        a = self.analysis
        if a is not None:
            out["baseline"] = {
                "mean": a.baseline.mean,
                "sd": a.baseline.sd,
                "n": a.baseline.n,
                "lower": a.baseline.lower,
                "upper": a.baseline.upper,
            }
            hits = [h for s in self.segments if s.analysis for h in s.analysis.hits]
            out["rules_fired"] = [
                {
                    "date": self.dates[h.index],
                    "rule": h.rule,
                    "severity": h.severity,
                    "value": self.values[h.index],
                }
                for h in hits
            ]
            out["cusum"] = {
                "k": a.cusum.k,
                "h": a.cusum.h,
                "alarms": [self.dates[i] for i in a.cusum.alarms],
                "in_alarm_now": a.in_alarm_at_end(),
                "max_c_plus": max(a.cusum.c_plus, default=0.0),
                "max_c_minus": max(a.cusum.c_minus, default=0.0),
            }
            summary: dict[str, dict[str, Any]] = {}
            for h in a.hits:
                entry = summary.setdefault(
                    h.rule,
                    {
                        "rule": h.rule,
                        "severity": h.severity,
                        "first": self.dates[h.index],
                        "last": self.dates[h.index],
                        "count": 0,
                    },
                )
                entry["last"] = self.dates[h.index]
                entry["count"] += 1
            out["rules_summary"] = list(summary.values())
            out["drift_proposal"] = self.drift_proposal()
        return out

    def drift_proposal(self) -> dict[str, Any] | None:
        """Return the current segment's drift proposal with its dates and evidence, or None.

        ``model`` says which correction the data chose: ``"step"`` (a constant ``factor`` from
        ``start``) or ``"ramp"`` (a slow drift: factor 1 on ``start``, the last day at the old
        level, changing by ``per_day`` a day to ``ramp_end``, the last QC scan fitted, held
        after it; ``factor`` is its value on ``ramp_end``).
        """
        a = self.analysis
        p = None if a is None else a.proposal
        if a is None or p is None:
            return None
        out: dict[str, Any] = {
            "model": p.model,
            "start": self.dates[p.start_index],
            "factor": p.factor,
            "per_day": p.per_day,
            "ramp_end": None,
            "n_after": p.n_after,
            "baseline_mean": a.baseline.mean,
            "qc_last": self.times[-1] if self.times else self.dates[-1],
            "residual_sd_step": p.sd_step,
            "residual_sd_ramp": p.sd_ramp,
            "factor_var": p.factor_var,
        }
        if p.model == "ramp" and p.anchor_day is not None and p.end_day is not None:
            start = dt.date.fromordinal(int(p.anchor_day)).isoformat()
            end = dt.date.fromordinal(int(p.end_day)).isoformat()
            out.update(start=start, ramp_end=end)
            out["evidence"] = _(
                "CUSUM still in alarm at the latest scan ({last}). A slow drift fits better than"
                " a step (residual SD {sd_ramp:.4f} against {sd_step:.4f} g/cm²): from {start}"
                " the values rise by {pct:+.3f} % a day, {total:+.2f} % by {end}; corrected as"
                " a ramp, held after {end}."
            ).format(
                last=self.dates[-1],
                sd_ramp=p.sd_ramp or 0.0,
                sd_step=p.sd_step or 0.0,
                start=start,
                pct=-100 * p.per_day,
                total=100 * (1 / p.factor - 1),
                end=end,
            )
            return out
        out["evidence"] = _(
            "CUSUM still in alarm at the latest scan ({last}); the {n} scans from {start}"
            " average {pct:+.2f} % against the baseline {mean:.4f} g/cm²."
        ).format(
            last=self.dates[-1],
            n=p.n_after,
            start=self.dates[p.start_index],
            pct=100 * (1 / p.factor - 1),
            mean=a.baseline.mean,
        )
        if p.sd_ramp is not None:
            out["evidence"] += " " + _(
                "A step fits better than a slow drift (residual SD {sd_step:.4f} against"
                " {sd_ramp:.4f} g/cm²)."
            ).format(sd_step=p.sd_step or 0.0, sd_ramp=p.sd_ramp)
        return out


def _no_spread(n_baseline: int) -> str:
    """Why a segment has no control limits: its baseline scans are all identical."""
    return _(
        "The {n} baseline scans have no spread (SD 0): no control limits can be"
        " set. Check the phantom export, then take a new baseline."
    ).format(n=n_baseline)


#: The proleptic Gregorian ordinal of 1970-01-01 (numpy's day 0).
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _ordinals(times: Sequence[str]) -> npt.NDArray[np.int64]:
    """Return the date ordinals of ISO timestamps (as ``date.toordinal``, vectorised)."""
    days = np.array([t[:10] for t in times], dtype="datetime64[D]").astype(np.int64)
    return days + _EPOCH_ORDINAL


def _cuts(
    times: Sequence[str], starts: Sequence[BaselineStart]
) -> list[tuple[int, BaselineStart | None]]:
    """Return where each baseline segment starts in the series, and the restart behind it."""
    cuts: list[tuple[int, BaselineStart | None]] = [(0, None)]
    for restart in starts:  # oldest first
        i = next(
            (
                j
                for j, t in enumerate(times)
                if (t > restart.after if restart.strict else t >= restart.after)
            ),
            len(times),
        )
        if i == 0:
            continue  # a restart before the first scan: the series starts fresh anyway
        if i == cuts[-1][0]:
            cuts[-1] = (i, restart)  # two restarts before the same scan: the later one names it
        elif i > cuts[-1][0]:
            cuts.append((i, restart))
    return cuts


def _segment(
    times: Sequence[str],
    values: Sequence[float],
    i: int,
    stop: int,
    b: BaselineStart | None,
    *,
    n_baseline: int,
    k: float,
    h: float,
    analyse_it: bool = True,
    rules: bool = True,
) -> QcSegment:
    analysis = None
    problem = ""
    if stop - i >= n_baseline and analyse_it:
        try:
            segment_times = times[i:stop]
            analysis = analyse(
                days=lambda: _ordinals(segment_times),
                values=values[i:stop],
                n_baseline=n_baseline,
                k=k,
                h=h,
                allow_nonstandard=True,
                offset=i,
                rules=rules,
            )
        except BaselineError:
            # this scanner's baseline is unusable; the other scanners are still analysed
            problem = _no_spread(n_baseline)
    return _with_analysis(times, i, stop, b, analysis, problem)


def _with_analysis(
    times: Sequence[str],
    i: int,
    stop: int,
    b: BaselineStart | None,
    analysis: QcAnalysis | None,
    problem: str,
) -> QcSegment:
    started = (b.after if b is not None else (times[0] if times else ""))[:10]
    return QcSegment(
        i,
        stop,
        "first" if b is None else b.kind,
        "" if b is None else b.reason,
        started,
        analysis,
        problem,
        "" if b is None else b.by,
    )


def _segments(
    times: Sequence[str],
    values: Sequence[float],
    starts: Sequence[BaselineStart],
    *,
    n_baseline: int,
    k: float,
    h: float,
    drift_only: bool = False,
) -> tuple[QcSegment, ...]:
    """Cut a series into baseline segments and analyse each.

    With ``drift_only`` only the current (last) segment is analysed, without the Westgard
    rules: what a drift proposal needs (:meth:`ScannerQc.drift_proposal`), nothing more.
    """
    cuts = _cuts(times, starts)
    return tuple(
        _segment(
            times,
            values,
            i,
            cuts[n + 1][0] if n + 1 < len(cuts) else len(times),
            b,
            n_baseline=n_baseline,
            k=k,
            h=h,
            analyse_it=not drift_only or n + 1 == len(cuts),
            rules=not drift_only,
        )
        for n, (i, b) in enumerate(cuts)
    )


def _grown(
    old: ScannerQc, new_rows: Sequence[tuple[int, str, float]], starts: Sequence[BaselineStart]
) -> ScannerQc | None:
    """Return ``old`` with readings appended after its last one, or None to analyse afresh.

    Only the current segment changes: its rules and CUSUM go on over the new readings
    (:func:`calibration.qc.extend`). None when a reading does not come after the series'
    last one (in time, then id) or the new readings move a segment boundary.
    """
    last = (old.times[-1], old.phantom_scan_ids[-1])
    if not old.segments or any((t, i) <= last for i, t, _v in new_rows):
        return None
    rows = sorted(new_rows, key=lambda r: (r[1], r[0]))
    times = old.times + tuple(r[1] for r in rows)
    cuts = _cuts(times, starts)
    if cuts != _cuts(old.times, starts):
        return None
    values = old.values + tuple(r[2] for r in rows)
    seg = old.segments[-1]
    stop = len(times)
    if seg.analysis is not None:
        segment_times = times[seg.start : stop]
        analysis = extend(
            seg.analysis, values[seg.start : stop], seg.n, days=lambda: _ordinals(segment_times)
        )
        current = _with_analysis(times, seg.start, stop, cuts[-1][1], analysis, seg.problem)
    elif seg.problem:  # the same unusable baseline scans
        current = _with_analysis(times, seg.start, stop, cuts[-1][1], None, seg.problem)
    else:
        current = _segment(
            times, values, seg.start, stop, cuts[-1][1], n_baseline=old.n_baseline, k=0.5, h=5.0
        )
    dates = old.dates + tuple(t[:10] for t in times[len(old.times) :])
    return replace(
        old,
        n_scans=len(values),
        last=dates[-1],
        segments=(*old.segments[:-1], current),
        dates=dates,
        values=values,
        phantom_scan_ids=old.phantom_scan_ids + tuple(r[0] for r in rows),
        times=times,
    )


def _check_qc_parameters(n_baseline: int, k: float, h: float) -> None:
    if n_baseline < 10:
        raise UsageError(
            _("A QC baseline needs at least 10 scans (15-25 recommended), not {n}.").format(
                n=n_baseline
            ),
            _("Choose --baseline between 15 and 25."),
        )
    if k <= 0 or h <= 0:
        raise UsageError(_("CUSUM k and h must be positive."), "")


def _qc_order(q: ScannerQc, site_code: str | None) -> tuple[Any, ...]:
    """Sort like the SQL ``ORDER BY site code, serial, acquired_at, id`` (no site first)."""
    return (site_code is not None, site_code or "", q.serial, q.times[0], q.phantom_scan_ids[0])


def _qc_inputs(db: Database, scanner_id: int) -> tuple[Any, ...]:
    """Return what the analysis of a scanner reads besides its series (restarts, proposals)."""
    return (
        tuple(baseline_starts(db, scanner_id)),
        tuple(pending_drift_steps(db, scanner_id)),
    )


def _analyse_scanner(
    db: Database,
    scanner: QcScanner,
    inputs: tuple[Any, ...],
    *,
    n_baseline: int,
    k: float,
    h: float,
    region: str,
    day: str,
) -> ScannerQc | None:
    """Analyse one scanner's series, read from SQL on its own (None without readings)."""
    rows = scanner_qc_series(db, scanner.scanner_id, region)
    if not rows:
        return None
    ids, times, values = (tuple(c) for c in zip(*rows, strict=True))
    dates = tuple(t[:10] for t in times)
    starts, pending = inputs
    segments = _segments(times, values, starts, n_baseline=n_baseline, k=k, h=h)
    return ScannerQc(
        scanner.scanner_id,
        scanner.serial,
        scanner.model,
        scanner.site_code or "",
        len(values),
        dates[0],
        dates[-1],
        segments,
        dates,
        values,
        ids,
        day,
        n_baseline,
        pending,
        times,
    )


def _ordered_qc_scanners(db: Database, region: str) -> list[QcScanner]:
    """The scanners with daily QC by site and serial (the analysis' order)."""
    scanners = qc_scanners(db)
    count = Counter((s.site_code, s.serial) for s in scanners)

    def order(s: QcScanner) -> tuple[Any, ...]:
        # site and serial; the first reading only breaks a tie (as the series' SQL order)
        tie = qc_first_reading(db, s.scanner_id, region) if count[s.site_code, s.serial] > 1 else 0
        return (s.site_code is not None, s.site_code or "", s.serial, tie)

    return sorted(scanners, key=order)


def _drift_candidates(db: Database, n_baseline: int) -> Iterator[ScannerQc]:
    """Yield the QC of each scanner with a drift proposal, just its current segment analysed.

    The same series, cuts and current-segment analysis as :func:`iter_qc` (so the same
    :meth:`ScannerQc.drift_proposal`) without the Westgard rules, the earlier segments,
    the phantom scan ids or the drift steps awaiting a decision: not for display.
    """
    _check_qc_parameters(n_baseline, 0.5, 5.0)
    for scanner in _ordered_qc_scanners(db, "total"):
        rows = scanner_qc_series(db, scanner.scanner_id, "total")
        if not rows:
            continue
        _ids, times, values = (tuple(c) for c in zip(*rows, strict=True))
        starts = baseline_starts(db, scanner.scanner_id)
        segments = _segments(
            times, values, starts, n_baseline=n_baseline, k=0.5, h=5.0, drift_only=True
        )
        current = segments[-1].analysis
        if current is None or current.proposal is None:
            continue  # no drift proposal (see ScannerQc.drift_proposal)
        dates = tuple(t[:10] for t in times)
        yield ScannerQc(
            scanner.scanner_id,
            scanner.serial,
            scanner.model,
            scanner.site_code or "",
            len(values),
            dates[0],
            dates[-1],
            segments,
            dates,
            values,
            (),
            "",
            n_baseline,
            (),
            times,
        )


def iter_qc(
    db: Database,
    *,
    n_baseline: int = 20,
    k: float = 0.5,
    h: float = 5.0,
    region: str = "total",
    today: dt.date | None = None,
) -> Iterator[ScannerQc]:
    """Analyse the scanners' daily QC one scanner at a time (see :func:`analyse_qc`).

    Only one scanner's series is read from the archive and held at a time, so a caller that
    keeps only what it needs of each result (a drift proposal, the alarms) uses memory that
    does not grow with the number of scanners. By site and serial.

    Parameters
    ----------
    db : Database
        The archive.
    n_baseline : int
        How many first scans make the baseline (15-25 recommended).
    k, h : float
        CUSUM reference value and decision interval, in SD units.
    region : str
        The phantom region analysed (default the total).
    today : datetime.date, optional
        The day "today" means (default: the computer's date).

    Yields
    ------
    ScannerQc
        One per scanner that has QC scans.

    Raises
    ------
    UsageError
        When the baseline is shorter than 10 scans or k/h are not positive.
    """
    _check_qc_parameters(n_baseline, k, h)
    day = (today or dt.date.today()).isoformat()
    for scanner in _ordered_qc_scanners(db, region):
        q = _analyse_scanner(
            db,
            scanner,
            _qc_inputs(db, scanner.scanner_id),
            n_baseline=n_baseline,
            k=k,
            h=h,
            region=region,
            day=day,
        )
        if q is not None:
            yield q


def analyse_qc(
    db: Database,
    *,
    n_baseline: int = 20,
    k: float = 0.5,
    h: float = 5.0,
    region: str = "total",
    today: dt.date | None = None,
) -> list[ScannerQc]:
    """Analyse every scanner's daily phantom QC series (baseline, Westgard, CUSUM, drift).

    Each series is cut into baseline segments (:func:`dxa_app.archive.qc.baseline_starts`):
    the first ``n_baseline`` scans of a segment form its baseline and the rules run on the
    scans after it only. A scanner whose baseline is unusable gets its own message; the
    others are analysed as usual. Each scanner's series is read on its own; to keep only
    part of each result, iterate :func:`iter_qc` instead.

    Parameters
    ----------
    db : Database
        The archive.
    n_baseline : int
        How many first scans make the baseline (15-25 recommended).
    k, h : float
        CUSUM reference value and decision interval, in SD units.
    region : str
        The phantom region analysed (default the total).
    today : datetime.date, optional
        The day "today" means (default: the computer's date).

    Returns
    -------
    list of ScannerQc
        One per scanner that has QC scans, by site and serial.

    Raises
    ------
    UsageError
        When the baseline is shorter than 10 scans or k/h are not positive.
    """
    return list(iter_qc(db, n_baseline=n_baseline, k=k, h=h, region=region, today=today))


#: Scanners whose QC analyses the status cache keeps between looks (each holds its whole
#: series, about 1 MB for ten years of daily QC); an archive with more (the centre's, a
#: nation's scanners) analyses every scanner on each look, one at a time, as before.
QC_CACHE_MAX_SCANNERS: Final = 150


class _QcStatusCache:
    """Every scanner's QC analysis with the default parameters, kept per archive file.

    An entry is reused while its scanner's inputs are unchanged: no daily-QC scan of it
    newer than the cache's mark (phantom scans are append-only with rising ids, see
    :func:`dxa_app.archive.qc.phantom_scan_mark`), the same baseline restarts (requests,
    approved drift corrections, software changes), the same drift steps awaiting a decision,
    and the same serial, model and site. New QC scans after the series' last one extend
    the entry (the rules and CUSUM go on over them, :func:`calibration.qc.extend`); any
    other change analyses that scanner alone again.
    Acknowledgements are not inputs of the analysis (they are matched to its alarms when
    shown).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._archive: tuple[str, str] = ("", "")
        self._mark: tuple[int, str] = (0, "")
        self._entries: dict[int, tuple[tuple[Any, ...], ScannerQc | None]] = {}

    def get(self, db: Database, today: dt.date | None = None) -> list[ScannerQc]:
        day = (today or dt.date.today()).isoformat()
        archive = archive_identity(db)
        mark = phantom_scan_mark(db)  # before the series are read: a later scan is caught
        with self._lock:
            entries = dict(self._entries) if archive == self._archive else {}
            since = self._mark
        if entries and (since[0] > mark[0] or phantom_scan_mark(db, since[0]) != since):
            entries = {}  # not the series the cache saw (e.g. an older copy restored)
        changed = qc_scanners_since(db, since[0]) if entries else set()
        fresh: dict[int, tuple[tuple[Any, ...], ScannerQc | None]] = {}
        out: list[tuple[tuple[Any, ...], ScannerQc]] = []
        for s in qc_scanners(db):
            inputs = _qc_inputs(db, s.scanner_id)
            key = (s, inputs)
            hit = entries.get(s.scanner_id)
            q: ScannerQc | None = None
            fresh_needed = True
            if hit is not None and hit[0] == key:
                q, fresh_needed = hit[1], False
                if s.scanner_id in changed:  # new QC scans only: the analysis goes on over them
                    new = scanner_qc_series(db, s.scanner_id, "total", since[0])
                    if new:
                        q = None if q is None else _grown(q, new, inputs[0])
                        fresh_needed = q is None
            if fresh_needed:
                q = _analyse_scanner(
                    db, s, inputs, n_baseline=20, k=0.5, h=5.0, region="total", day=day
                )
            fresh[s.scanner_id] = (key, q)
            if q is not None:
                out.append(
                    (_qc_order(q, s.site_code), q if q.today == day else replace(q, today=day))
                )
        if len(fresh) > QC_CACHE_MAX_SCANNERS:  # a nation's archive: memory, not time, wins
            fresh = {}
        with self._lock:
            self._archive, self._mark, self._entries = archive, mark, fresh
        out.sort(key=lambda r: r[0])
        return [q for _key, q in out]


_QC_CACHE = _QcStatusCache()


def current_qc(
    db: Database,
    *,
    n_baseline: int = 20,
    k: float = 0.5,
    h: float = 5.0,
    region: str = "total",
    today: dt.date | None = None,
) -> list[ScannerQc]:
    """Return :func:`analyse_qc`'s result, analysing only the scanners whose inputs changed.

    With the default parameters each scanner's analysis is kept (per archive file) and
    reused until a QC scan arrives for it, its baseline restarts (a request, an approved
    drift correction, a software change) or a drift step of it is proposed or decided;
    other parameters are analysed afresh.

    Parameters
    ----------
    db : Database
        The archive.
    n_baseline : int
        How many first scans make the baseline.
    k, h : float
        CUSUM reference value and decision interval, in SD units.
    region : str
        The phantom region analysed.
    today : datetime.date, optional
        The day "today" means (default: the computer's date).

    Returns
    -------
    list of ScannerQc
        One per scanner that has QC scans, by site and serial.
    """
    if (n_baseline, k, h, region) != (20, 0.5, 5.0, "total"):
        return analyse_qc(db, n_baseline=n_baseline, k=k, h=h, region=region, today=today)
    return _QC_CACHE.get(db, today)


def start_new_baseline(
    session: Session,
    serial: str,
    *,
    reason: str,
    starts: dt.date | None = None,
    service_visit: bool = False,
) -> ScannerQc:
    """Start a new QC baseline for a scanner (technician or centre analyst); audited.

    The next ``n_baseline`` QC scans from ``starts`` (default: now) form the new baseline;
    the earlier scans stay as history. An approved drift correction and a software change
    restart the baseline by themselves; this is for a service visit or any other reason.

    Parameters
    ----------
    session : Session
        The acting technician or centre analyst.
    serial : str
        The scanner's serial.
    reason : str
        Why (required; stored and audited).
    starts : datetime.date, optional
        The first day of the new baseline (default: from now on).
    service_visit : bool
        Record it as a service visit (else "on demand").

    Returns
    -------
    ScannerQc
        The scanner's QC afterwards.

    Raises
    ------
    UsageError
        Without a reason.
    NotFoundError
        When no scanner has that serial.
    """
    why = _require_reason(reason)
    with acting(session, Permission.QC_BASELINE) as db:
        ids = scanner_ids_by_serial(db)
        if serial not in ids:
            raise NotFoundError(_("No scanner with serial {serial}.").format(serial=serial), "")
        at = starts.isoformat() if starts is not None else now_iso()
        kind = "service" if service_visit else "on_demand"
        with write_transaction(db):
            row = add_baseline_start(
                db, ids[serial], starts_at=at, kind=kind, reason=why, by=session.username
            )
            record(
                db,
                session,
                "qc_new_baseline",
                entity="scanner",
                entity_id=serial,
                details={"starts_at": at, "kind": kind, "reason": why, "row": row},
            )
        found = [q for q in current_qc(db) if q.scanner_id == ids[serial]]
    return found[0] if found else ScannerQc(ids[serial], serial, "", "", 0, None, None)


# --- steps ---------------------------------------------------------------------------------


#: The approved steps that apply to a scanner, region and date (see archive.steps).
chain_for = approved_chain


def list_steps(session: Session, status: str | None = None) -> list[Step]:
    """Return the calibration steps (optionally of one status), newest first.

    Parameters
    ----------
    session : Session
        The logged-in user.
    status : str, optional
        ``proposed``, ``approved`` or ``retired``.

    Returns
    -------
    list of Step
        The steps.
    """
    with acting(session, Permission.VIEW) as db:
        return step_rows(db, status)


def decide_step(db: Database, step_id: int, *, approve: bool, by: str) -> Step:
    """Approve a proposed step or retire a step, and audit it (no role check: see callers).

    Approving a step retires an earlier approved step of the same scanner, region, kind and
    start date, so the chain stays unambiguous; raw values are never touched.

    Parameters
    ----------
    db : Database
        The open archive.
    step_id : int
        The step.
    approve : bool
        Approve (True) or retire (False).
    by : str
        Who decides (stored with the step and in the audit log).

    Returns
    -------
    Step
        The step afterwards.

    Raises
    ------
    UsageError
        When approving a step that is not proposed.
    """
    with write_transaction(db):
        step = step_by_id(db, step_id)
        if approve:
            if step.status != "proposed":
                raise UsageError(
                    _("Step {id} is {status}; only a proposed step can be approved.").format(
                        id=step_id, status=step.status
                    ),
                    "",
                )
            mark_approved(db, step, by)
            audit(
                db,
                "calibration_approve",
                username=by,
                entity="calibration_step",
                entity_id=step_id,
                details={"serial": step.serial, "region": step.region, "kind": step.kind},
            )
        elif step.status != "retired":
            mark_retired(db, step_id)
            audit(
                db, "calibration_retire", username=by, entity="calibration_step", entity_id=step_id
            )
        return step_by_id(db, step_id)


def _require_reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise UsageError(
            _("Say why (a reason is stored with the decision)."),
            _("Give it with --reason, or in the dialog."),
        )
    return text


def _decision_apply(
    step_ids: Sequence[int], approve: bool
) -> Callable[[Database], tuple[set[int], set[str], set[str]]]:
    def apply(db: Database) -> tuple[set[int], set[str], set[str]]:
        scanners: set[int] = set()
        serials: set[str] = set()
        regions: set[str] = set()
        for i in step_ids:
            step = step_by_id(db, i)
            if approve and step.status == "proposed":
                mark_approved(db, step, "preview")
            elif not approve and step.status != "retired":
                mark_retired(db, i)
            scanners.add(step.scanner_id)
            serials.add(step.serial)
            regions.add(step.region)
        return scanners, serials, regions

    return apply


def preview_decision(session: Session, step_ids: Sequence[int], *, approve: bool) -> ChangePreview:
    """Return what approving (or retiring) steps would change, without changing anything.

    Parameters
    ----------
    session : Session
        The centre analyst about to decide.
    step_ids : sequence of int
        The steps.
    approve : bool
        Approve (True) or retire (False).

    Returns
    -------
    ChangePreview
        Scanners, regions, affected studies, and how many stored diagnoses would change
        category on rescore (see :mod:`dxa_app.services.impact`).
    """
    from dxa_app.services.impact import simulate

    with acting(session, Permission.APPROVE) as db:
        return simulate(db, _decision_apply(step_ids, approve))


def _decide_all(
    session: Session,
    step_ids: Sequence[int],
    *,
    approve: bool,
    password: str,
    reason: str,
    reviewed: bool = False,
) -> list[Step]:
    from dxa_app.services.impact import simulate

    why = _require_reason(reason)
    with acting(session, Permission.APPROVE) as db:
        confirm_password(db, session, password)
        flagged = [step_by_id(db, i) for i in step_ids]
        flagged = [s for s in flagged if s.needs_review]
        if approve and flagged and not reviewed:
            raise UsageError(
                _("Step {ids} needs review before approval: {why}").format(
                    ids=", ".join(str(s.id) for s in flagged), why=flagged[0].needs_review
                ),
                _("Look at the pairs first; then approve with --reviewed (or tick 'reviewed')."),
            )
        impact = simulate(db, _decision_apply(step_ids, approve))
        with write_transaction(db):
            done = [decide_step(db, i, approve=approve, by=session.username) for i in step_ids]
            record(
                db,
                session,
                "calibration_decision",
                entity="calibration_step",
                entity_id=",".join(str(i) for i in step_ids),
                details={
                    "approve": approve,
                    "reason": why,
                    "impact": impact.to_dict(),
                    "reviewed": [s.id for s in flagged] if approve and flagged else [],
                },
            )
        return done


def approve_steps(
    session: Session,
    step_ids: Sequence[int],
    *,
    password: str,
    reason: str,
    reviewed: bool = False,
) -> list[Step]:
    """Approve proposed steps (centre analyst; password typed again, a reason); audited.

    The impact (scanners, regions, diagnoses that would change category) is computed first
    and stored with the decision; show it to the user beforehand with
    :func:`preview_decision`.

    Parameters
    ----------
    session : Session
        The acting centre analyst.
    step_ids : sequence of int
        The steps.
    password : str
        The analyst's password, typed again.
    reason : str
        Why (stored in the audit log).
    reviewed : bool
        The analyst has reviewed the steps flagged "needs review" (an in-vivo slope outside
        0.85-1.15); without it such a step is refused.

    Returns
    -------
    list of Step
        The steps afterwards.

    Raises
    ------
    PermissionDeniedError
        Unless the user is a centre analyst and the password is right.
    UsageError
        Without a reason, when a step is not proposed, or a flagged step is not reviewed
        (nothing is approved then).
    """
    return _decide_all(
        session, step_ids, approve=True, password=password, reason=reason, reviewed=reviewed
    )


def retire_steps(
    session: Session, step_ids: Sequence[int], *, password: str, reason: str
) -> list[Step]:
    """Retire steps (centre analyst; password typed again, a reason); audited.

    Parameters
    ----------
    session : Session
        The acting centre analyst.
    step_ids : sequence of int
        The steps.
    password : str
        The analyst's password, typed again.
    reason : str
        Why (stored in the audit log).

    Returns
    -------
    list of Step
        The steps afterwards.
    """
    return _decide_all(session, step_ids, approve=False, password=password, reason=reason)


# --- fitting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitSummary:
    """One fit made by :func:`calibrate`, with the step it proposed (if any)."""

    serial: str
    group: str
    kind: str
    dataset: str
    fit: LinearFit
    step_id: int | None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "serial": self.serial,
            "group": self.group,
            "kind": self.kind,
            "dataset": self.dataset,
            "fit": self.fit.to_dict(),
            "proposed_step": self.step_id,
            **self.extra,
        }


def reference_scanner(db: Database, serial: str | None = None) -> int:
    """Return (and with ``serial``, set) the national reference scanner.

    Raises
    ------
    UsageError
        When none is set and none is given.
    """
    ids = scanner_ids_by_serial(db)
    if serial is not None:
        if serial not in ids:
            raise NotFoundError(_("No scanner with serial {serial}.").format(serial=serial), "")
        set_setting(db, REFERENCE_SCANNER_KEY, serial)
        return ids[serial]
    stored = get_setting(db, REFERENCE_SCANNER_KEY)
    if stored is None or stored not in ids:
        raise UsageError(
            _("No national reference scanner is set."),
            _("Name it once with --reference SERIAL (its scale is the national scale)."),
        )
    return ids[str(stored)]


def _fit_travelling(db: Database, ref_id: int, by: str, scale: NationalScale) -> list[FitSummary]:
    rows = list(
        db.query(
            "SELECT ps.scanner_id, sc.serial, cr.name AS round, ps.acquired_at, ph.id AS ph_id,"
            " pr.region, pr.bmd_g_cm2 AS measured, cv.bmd_g_cm2 AS certified,"
            " cv.certificate_ref FROM phantom_scans ps"
            " JOIN phantom_results pr ON pr.phantom_scan_id = ps.id"
            " JOIN scanners sc ON sc.id = ps.scanner_id"
            " JOIN phantoms ph ON ph.id = ps.phantom_id"
            " JOIN calibration_rounds cr ON cr.id = ps.round_id"
            " JOIN phantom_certified_values cv ON cv.phantom_id = ph.id AND cv.region = pr.region"
            " WHERE ps.purpose = 'travelling' AND pr.region <> 'total'"
            " ORDER BY ps.scanner_id, ps.acquired_at"
        )
    )
    by_scanner: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_scanner[r["scanner_id"]].append(r)
    fits: dict[int, tuple[LinearFit, list[dict[str, Any]]]] = {}
    for scanner_id, items in by_scanner.items():
        x = np.array([r["certified"] for r in items])
        y = np.array([r["measured"] for r in items])
        if len(items) < 3 or len(set(x.tolist())) < 2:
            continue
        fits[scanner_id] = (ols(x, y), items)
    out: list[FitSummary] = []
    ref = fits.get(ref_id)
    for scanner_id, (fit, items) in fits.items():
        serial = items[0]["serial"]
        dataset = f"travelling:{items[0]['round']}"
        day = str(items[0]["acquired_at"])[:10]
        prov = {
            "fit": fit.to_dict(),
            "round": items[0]["round"],
            "certificate": items[0]["certificate_ref"],
            "n_readings": len(items),
            "n_scans": len({r["acquired_at"] for r in items}),
            "round_date": day,
            "model": "measured = intercept + slope * certified (OLS, every vertebra reading)",
        }
        step_id = propose_step(
            db,
            scanner_id=scanner_id,
            region="spine",
            kind="scanner",
            intercept=-fit.intercept / fit.slope,
            slope=1.0 / fit.slope,
            valid_from=EARLIEST,
            method="ols-esp",
            dataset=dataset,
            n=len(items),
            provenance=prov,
            by=by,
            covariance=inverse_line_covariance(fit.intercept, fit.slope, *_ols_covariance(fit)),
        )
        out.append(FitSummary(serial, "spine", "scanner", dataset, fit, step_id))
        if scale.scale == "esp":
            # the phantom's certified scale is the national spine scale: an identity step
            esp_prov = {
                "national_scale": scale.to_dict(),
                "model": "ESP-true is the national spine scale (ESP-certified scale)",
            }
            esp_id = propose_step(
                db,
                scanner_id=scanner_id,
                region="spine",
                kind="national",
                intercept=0.0,
                slope=1.0,
                valid_from=EARLIEST,
                method="esp-certified",
                dataset=f"{dataset}:scale=v{scale.version}:esp",
                n=len(items),
                provenance=esp_prov,
                by=by,
                covariance=(0.0, 0.0, 0.0),
            )
            identity = LinearFit(
                "identity", 0.0, 1.0, (0.0, 0.0), (1.0, 1.0), 0.0, len(items), 0.95
            )
            out.append(FitSummary(serial, "spine", "national", dataset, identity, esp_id))
        elif ref is not None:
            rfit = ref[0]
            nat_prov = {
                "reference_scanner": ref[1][0]["serial"],
                "reference_fit": rfit.to_dict(),
                "model": "ESP-true -> national (reference scanner) scale",
                "national_scale": scale.to_dict(),
            }
            nat_id = propose_step(
                db,
                scanner_id=scanner_id,
                region="spine",
                kind="national",
                intercept=rfit.intercept,
                slope=rfit.slope,
                valid_from=EARLIEST,
                method="esp-reference-line",
                dataset=f"{dataset}:reference={ref[1][0]['serial']}"
                + (f":scale=v{scale.version}" if scale.version else ""),
                n=len(ref[1]),
                provenance=nat_prov,
                by=by,
                covariance=_ols_covariance(rfit),
            )
            out.append(FitSummary(serial, "spine", "national", dataset, rfit, nat_id))
    return out


def _ols_covariance(fit: LinearFit) -> tuple[float, float, float]:
    x = fit.extra
    return (
        float(x.get("intercept_se", 0.0)) ** 2,
        float(x.get("slope_se", 0.0)) ** 2,
        float(x.get("intercept_slope_cov", 0.0)),
    )


def _drift_corrected(db: Database, scanner_id: int, region: str, on: str, raw: float) -> float:
    for step in chain_for(db, scanner_id, region, on):
        if step.kind == "drift":
            raw = step.intercept + step.slope * raw
    return raw


def in_vivo_pairs(db: Database, ref_id: int, other_id: int, region: str) -> list[PairedPatient]:
    """Return per patient and hip side the scans on this scanner and on the reference.

    Every scan of the patient's region and side on one scanner that lies within 60 days of a
    scan on the other scanner counts, so repeated scans (with repositioning, or a second
    visit) are averaged by the fit rather than dropped; values are drift-corrected first.

    Returns
    -------
    list of PairedPatient
        The patients (labelled by archive id) with both scanners' scans.
    """
    rows = db.query(
        "SELECT st.patient_id, st.study_date, s.side, s.scanner_id, rr.bmd_g_cm2"
        " FROM region_results rr JOIN scans s ON s.id = rr.scan_id"
        " JOIN studies st ON st.id = s.study_id"
        " WHERE rr.region = ? AND rr.bmd_g_cm2 IS NOT NULL AND s.scanner_id IN (?, ?)"
        " AND NOT EXISTS (SELECT 1 FROM region_results v WHERE v.scan_id = s.id"
        "   AND v.included = 0) ORDER BY st.study_date, s.id",
        [region, ref_id, other_id],
    )
    by_patient: dict[tuple[int, str | None], dict[int, list[tuple[str, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for r in rows:
        value = _drift_corrected(db, r["scanner_id"], region, r["study_date"], r["bmd_g_cm2"])
        by_patient[(r["patient_id"], r["side"])][r["scanner_id"]].append((r["study_date"], value))
    out: list[PairedPatient] = []
    for (patient, _side), scans in by_patient.items():
        if ref_id not in scans or other_id not in scans:
            continue
        ref_used, other_used = paired_scans(scans[ref_id], scans[other_id], IN_VIVO_MAX_DAYS)
        if ref_used and other_used:
            out.append(PairedPatient(tuple(other_used), tuple(ref_used), str(patient)))
    return out


def paired_scans(
    a: Sequence[tuple[str, float]], b: Sequence[tuple[str, float]], max_days: int
) -> tuple[list[float], list[float]]:
    """Return the values of ``a`` and of ``b`` that lie within ``max_days`` of the other.

    Parameters
    ----------
    a, b : sequence of (ISO date, value)
        One patient's scans of one region and side on two scanners.
    max_days : int
        The largest gap between the two scanners' scans.

    Returns
    -------
    tuple of list of float
        The values of ``a`` and of ``b`` that have a partner on the other scanner.
    """

    def near(day: str, others: Sequence[tuple[str, float]]) -> bool:
        d = dt.date.fromisoformat(day[:10])
        return any(abs((d - dt.date.fromisoformat(o[:10])).days) <= max_days for o, _v in others)

    return [v for d, v in a if near(d, b)], [v for d, v in b if near(d, a)]


def _fit_in_vivo(
    db: Database,
    anchor_id: int,
    by: str,
    scale: NationalScale,
    *,
    bootstrap: int,
    seed: int,
) -> list[FitSummary]:
    def pairs_for(other_id: int, region: str) -> PairSet:
        return PairSet.of(in_vivo_pairs(db, anchor_id, other_id, region))

    def pairs_between(this_id: int, via_id: int, region: str) -> PairSet:
        return PairSet.of(in_vivo_pairs(db, via_id, this_id, region))

    fits = fit_in_vivo_steps(
        db,
        ref_id=anchor_id,
        others=sorted(i for i in scanner_ids_by_serial(db).values() if i != anchor_id),
        pairs_for=pairs_for,
        dataset_prefix="in-vivo" + (f":scale=v{scale.version}" if scale.version else ""),
        model="reference = intercept + slope * this scanner (Deming)",
        by=by,
        bootstrap=bootstrap,
        seed=seed,
        pairs_between=pairs_between,
    )
    return [
        FitSummary(f.serial, f.group, "scanner", f.dataset, f.fit, f.step_id, dict(f.extra))
        for f in fits
    ]


def hip_anchor_id(db: Database, ref_id: int) -> int:
    """Return the scanner the hip is calibrated onto: the scale's hip anchor, else the reference.

    Raises
    ------
    NotFoundError
        When the ESP scale names a hip anchor this archive does not know.
    """
    scale = current_scale(db)
    if scale.scale != "esp" or not scale.hip_anchor:
        return ref_id
    ids = scanner_ids_by_serial(db)
    if scale.hip_anchor not in ids:
        raise NotFoundError(
            _("The national scale's hip anchor {serial} is not in this archive.").format(
                serial=scale.hip_anchor
            ),
            _("Set the scale again with a scanner of this archive."),
        )
    return ids[scale.hip_anchor]


def _propose_drift(db: Database, by: str, n_baseline: int) -> list[dict[str, Any]]:
    out = []
    for q in _drift_candidates(db, n_baseline):  # one scanner at a time
        p = q.drift_proposal()
        if p is None:
            continue
        # a baseline taken after an earlier correction sits on the drifted level: the new
        # factor multiplies the correction that applied when this segment began
        before = [s for s in chain_for(db, q.scanner_id, "all", p["start"]) if s.kind == "drift"]
        earlier = before[0].slope if before else 1.0
        earlier_var = before[0].var_slope if before else 0.0
        # var(e * f) = f^2 var(e) + e^2 var(f); a ramp's variance is the one on its end day
        factor_var = p["factor"] ** 2 * earlier_var + earlier**2 * float(p["factor_var"] or 0.0)
        prov = {
            **p,
            "segment_started": q.current.started if q.current else None,
            "segment_factor": p["factor"],
            "earlier_correction": {"step": before[0].step_id, "factor": earlier}
            if before
            else None,
            "note": "applies to every region; confirm the hip in vivo or with a femur phantom",
        }
        ramp = p["model"] == "ramp"
        step_id = propose_step(
            db,
            scanner_id=q.scanner_id,
            region="all",
            kind="drift",
            intercept=0.0,
            # a ramp is 1 on its start and changes by per_day; a step is the factor
            slope=earlier * (1.0 if ramp else p["factor"]),
            valid_from=p["start"],
            method="qc-cusum-ramp" if ramp else "qc-cusum",
            dataset=f"daily-qc:{q.serial}",
            n=p["n_after"],
            provenance=prov,
            by=by,
            per_day=earlier * p["per_day"] if ramp else 0.0,
            ramp_end=p["ramp_end"] if ramp else None,
            covariance=(0.0, factor_var, 0.0),
        )
        out.append(
            {
                "serial": q.serial,
                "model": p["model"],
                "start": p["start"],
                "factor": earlier * p["factor"],
                "per_day": earlier * p["per_day"],
                "ramp_end": p["ramp_end"],
                "proposed_step": step_id,
                "evidence": p["evidence"],
            }
        )
    return out


@dataclass(frozen=True)
class CalibrationRun:
    """What :func:`calibrate` fitted and proposed."""

    reference_serial: str
    drift: list[dict[str, Any]]
    fits: list[FitSummary]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "reference_scanner": self.reference_serial,
            "drift": self.drift,
            "fits": [f.to_dict() for f in self.fits],
        }


def run_calibration(
    db: Database,
    *,
    reference: str | None = None,
    by: str = "",
    n_baseline: int = 20,
    bootstrap: int = 2000,
    seed: int = 0,
) -> CalibrationRun:
    """Fit drift (QC), the travelling round and the in-vivo sets; propose the steps.

    Approved drift steps are applied to the in-vivo values before fitting, so approve the
    drift steps first and run ``calibrate`` again for in-vivo fits on corrected values.

    Parameters
    ----------
    db : Database
        The archive.
    reference : str, optional
        Serial of the national reference scanner (stored; needed the first time).
    by : str
        Who runs the fit (provenance).
    n_baseline : int
        QC baseline length.
    bootstrap, seed : int
        Deming bootstrap resamples and seed.

    Returns
    -------
    CalibrationRun
        The fits and the ids of the steps proposed (None where an identical step exists).
    """
    ref_id = reference_scanner(db, reference)
    ref_serial = {v: k for k, v in scanner_ids_by_serial(db).items()}[ref_id]
    scale = current_scale(db)
    with write_transaction(db):
        drift = _propose_drift(db, by, n_baseline)
        fits = _fit_travelling(db, ref_id, by, scale) + _fit_in_vivo(
            db, hip_anchor_id(db, ref_id), by, scale, bootstrap=bootstrap, seed=seed
        )
        audit(
            db,
            "calibrate",
            username=by,
            entity="calibration",
            details={"reference": ref_serial, "fits": len(fits), "drift": len(drift)},
        )
    return CalibrationRun(ref_serial, drift, fits)


def steps_for_display(steps: Sequence[Step]) -> list[dict[str, Any]]:
    """Return steps as short dicts (id, serial, region, kind, a, b, status, dataset, n)."""
    return [
        {
            "id": s.id,
            "serial": s.serial,
            "region": s.region,
            "kind": s.kind,
            "intercept": s.intercept,
            "slope": s.slope,
            "per_day": s.per_day,
            "ramp_end": s.ramp_end,
            "valid_from": s.valid_from,
            "status": s.status,
            "dataset": s.dataset,
            "n": s.n,
            "needs_review": s.needs_review,
        }
        for s in steps
    ]


def calibrate(
    session: Session,
    *,
    reference: str | None = None,
    n_baseline: int = 20,
    bootstrap: int = 2000,
    seed: int = 0,
) -> CalibrationRun:
    """Fit drift (QC), the travelling round and the in-vivo sets and propose steps; audited.

    Parameters
    ----------
    session : Session
        The acting user (technician or centre analyst); proposed steps still need approval.
    reference : str, optional
        Serial of the national reference scanner (stored; needed the first time).
    n_baseline : int
        QC baseline length.
    bootstrap, seed : int
        Deming bootstrap resamples and seed.

    Returns
    -------
    CalibrationRun
        The fits and the ids of the steps proposed.
    """
    with acting(session, Permission.CALIBRATE) as db:
        return run_calibration(
            db,
            reference=reference,
            by=session.username,
            n_baseline=n_baseline,
            bootstrap=bootstrap,
            seed=seed,
        )


def qc_status(
    session: Session,
    *,
    n_baseline: int = 20,
    k: float = 0.5,
    h: float = 5.0,
    region: str = "total",
) -> list[ScannerQc]:
    """Analyse every scanner's daily phantom QC (see :func:`analyse_qc`).

    Parameters
    ----------
    session : Session
        The logged-in user.
    n_baseline : int
        How many first scans make the baseline.
    k, h : float
        CUSUM reference value and decision interval, in SD units.
    region : str
        The phantom region analysed.

    Returns
    -------
    list of ScannerQc
        One per scanner that has QC scans.
    """
    with acting(session, Permission.VIEW) as db:
        return current_qc(db, n_baseline=n_baseline, k=k, h=h, region=region)


def reference_serial(session: Session) -> str | None:
    """Return the serial of the national reference scanner, or None when none is set.

    Parameters
    ----------
    session : Session
        The logged-in user.

    Returns
    -------
    str or None
        The serial.
    """
    with acting(session, Permission.VIEW) as db:
        value = get_setting(db, REFERENCE_SCANNER_KEY)
    return None if value is None else str(value)


# --- the national scale ------------------------------------------------------------------------


def national_scale(session: Session) -> NationalScale:
    """Return the national scale in force (see :class:`dxa_app.archive.scale.NationalScale`).

    Parameters
    ----------
    session : Session
        The logged-in user.

    Returns
    -------
    NationalScale
        Version, scale, reference scanner and hip anchor.
    """
    with acting(session, Permission.VIEW) as db:
        return current_scale(db)


def set_national_scale(
    session: Session,
    scale: str,
    *,
    hip_anchor: str | None = None,
    password: str,
    reason: str,
) -> NationalScale:
    """Choose the national scale, a new version of the centre setting (password, reason).

    ``"reference"`` keeps today's scale: the reference scanner's, for every region.
    ``"esp"`` puts the spine on the European Spine Phantom's certified scale (every scanner
    through its own ESP line; the next ``calibrate`` proposes identity national steps) and the
    hip on the scale of ``hip_anchor`` (default: the reference scanner), an ESP-calibrated
    scanner onto which every other hip is calibrated in vivo, directly or through an in-vivo
    chain. Steps fitted for the previous version stay as they are until the new ones are
    approved; the scale travels in the published corrections and is named in the report
    footer.

    Parameters
    ----------
    session : Session
        The acting centre analyst.
    scale : str
        ``"reference"`` or ``"esp"``.
    hip_anchor : str, optional
        Serial of the hip anchor (ESP scale only).
    password : str
        The analyst's password, typed again.
    reason : str
        Why (stored with the version and audited).

    Returns
    -------
    NationalScale
        The scale now in force.

    Raises
    ------
    UsageError
        For an unknown scale, a hip anchor on the reference scale, or no reason.
    NotFoundError
        When the hip anchor is not a scanner of this archive.
    """
    why = _require_reason(reason)
    if scale not in SCALES:
        raise UsageError(
            _("Unknown national scale {scale}.").format(scale=scale),
            _("Choose 'reference' or 'esp'."),
        )
    if scale == "reference" and hip_anchor:
        raise UsageError(
            _("The reference-scanner scale has no separate hip anchor."),
            _("Give --hip-anchor only with the ESP scale."),
        )
    with acting(session, Permission.CENTRE) as db:
        confirm_password(db, session, password)
        if hip_anchor and hip_anchor not in scanner_ids_by_serial(db):
            raise NotFoundError(_("No scanner with serial {serial}.").format(serial=hip_anchor), "")
        with write_transaction(db):
            new = add_scale(
                db, scale=scale, hip_anchor=hip_anchor or "", by=session.username, reason=why
            )
            record(
                db,
                session,
                "national_scale",
                entity="national_scale",
                entity_id=new.version,
                details=new.to_dict(),
            )
        return new

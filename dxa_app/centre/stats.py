"""Centre statistics per site and month (VFA use, QC alarms) and the ESP spread; CSV and plot."""

from __future__ import annotations

import importlib.util
import io
import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dxa_app.archive.database import Database
from dxa_app.csv_safety import SafeDictWriter
from dxa_app.errors import UsageError
from dxa_app.i18n import _

#: ``chain(scanner_id, region, date)`` -> (a, b) of the approved chain on that date.
ChainFn = Callable[[int, str, str], tuple[float, float]]

CSV_COLUMNS = (
    "section",
    "site",
    "month",
    "round",
    "region",
    "studies",
    "studies_with_vfa",
    "studies_without_vfa",
    "vfa_grade_0",
    "vfa_grade_1",
    "vfa_grade_2",
    "vfa_grade_3",
    "vfa_not_evaluable",
    "qc_scans",
    "qc_warnings",
    "qc_rejects",
    "qc_cusum_alarms",
    "esp_scanners",
    "esp_raw_mean",
    "esp_raw_sd",
    "esp_raw_cv_pct",
    "esp_raw_range",
    "esp_harmonised_mean",
    "esp_harmonised_sd",
    "esp_harmonised_cv_pct",
    "esp_harmonised_range",
)


@dataclass(frozen=True)
class QcSeries:
    """One scanner's daily-QC dates and the alarms raised on them."""

    site: str
    serial: str
    dates: tuple[str, ...]
    alarms: tuple[tuple[int, str], ...]  # (index into dates, "warning" | "reject" | "cusum")


@dataclass(frozen=True)
class CentreStats:
    """Rows per site and month, and the ESP spread per round and vertebra."""

    site_months: list[dict[str, Any]]
    esp: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"site_months": self.site_months, "esp_spread": self.esp}


def _spread(values: Sequence[float]) -> dict[str, float | None]:
    if len(values) < 2:
        return {"mean": None, "sd": None, "cv_pct": None, "range": None}
    mean = statistics.fmean(values)
    sd = statistics.stdev(values)
    return {
        "mean": mean,
        "sd": sd,
        "cv_pct": 100.0 * sd / mean if mean else None,
        "range": max(values) - min(values),
    }


def centre_statistics(db: Database, qc: Sequence[QcSeries], chain: ChainFn) -> CentreStats:
    """Compute the centre statistics.

    Parameters
    ----------
    db : Database
        The centre archive.
    qc : sequence of QcSeries
        Every scanner's daily QC and alarms (from ``qc_status``).
    chain : callable
        The approved chain of a scanner, region and date, as (a, b).

    Returns
    -------
    CentreStats
        Per site and month: studies with and without VFA, vertebra findings by grade, QC
        scans, warnings, rejects and CUSUM alarms; per travelling round and ESP vertebra: the
        spread of the per-scanner means across scanners, raw and harmonised.
    """
    rows: dict[tuple[str, str], dict[str, Any]] = {}

    def row(site: str, month: str) -> dict[str, Any]:
        if (site, month) not in rows:
            rows[(site, month)] = {
                "site": site,
                "month": month,
                **{
                    k: 0
                    for k in (
                        "studies",
                        "studies_with_vfa",
                        "studies_without_vfa",
                        "vfa_grade_0",
                        "vfa_grade_1",
                        "vfa_grade_2",
                        "vfa_grade_3",
                        "vfa_not_evaluable",
                        "qc_scans",
                        "qc_warnings",
                        "qc_rejects",
                        "qc_cusum_alarms",
                    )
                },
            }
        return rows[(site, month)]

    for r in db.query("SELECT * FROM centre_vfa_counts"):
        out = row(r["site_code"], r["month"])
        out["studies"] += r["studies"]
        out["studies_with_vfa"] += r["studies_with_vfa"]
        out["studies_without_vfa"] += r["studies_without_vfa"]
        for g in range(4):
            out[f"vfa_grade_{g}"] += r[f"grade_{g}"]
        out["vfa_not_evaluable"] += r["not_evaluable"]
    key = {"warning": "qc_warnings", "reject": "qc_rejects", "cusum": "qc_cusum_alarms"}
    for s in qc:
        for d in s.dates:
            row(s.site, d[:7])["qc_scans"] += 1
        for index, severity in s.alarms:
            row(s.site, s.dates[index][:7])[key[severity]] += 1
    site_months = [rows[k] for k in sorted(rows)]
    return CentreStats(site_months, _esp_spread(db, chain))


def _esp_spread(db: Database, chain: ChainFn) -> list[dict[str, Any]]:
    per: dict[tuple[str, str], dict[int, list[tuple[float, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    month: dict[str, str] = {}
    cache: dict[tuple[int, str], tuple[float, float]] = {}
    for round_name, scanner_id, acquired, region, bmd in db.execute(
        "SELECT cr.name, ps.scanner_id, ps.acquired_at, pr.region, pr.bmd_g_cm2"
        " FROM phantom_scans ps JOIN phantom_results pr ON pr.phantom_scan_id = ps.id"
        " JOIN calibration_rounds cr ON cr.id = ps.round_id JOIN phantoms ph"
        " ON ph.id = ps.phantom_id WHERE ps.purpose = 'travelling' AND ph.kind = 'ESP'"
        " AND pr.region <> 'total' ORDER BY ps.acquired_at"
    ).fetchall():
        day = str(acquired)[:10]
        ck = (int(scanner_id), day)
        if ck not in cache:
            cache[ck] = chain(int(scanner_id), "L1-L4", day)
        a, b = cache[ck]
        per[(str(round_name), str(region))][int(scanner_id)].append(
            (float(bmd), a + b * float(bmd))
        )
        month.setdefault(str(round_name), day[:7])
    out = []
    for (round_name, region), by_scanner in sorted(per.items()):
        raw = [statistics.fmean(v[0] for v in vals) for vals in by_scanner.values()]
        harm = [statistics.fmean(v[1] for v in vals) for vals in by_scanner.values()]
        r, h = _spread(raw), _spread(harm)
        out.append(
            {
                "round": round_name,
                "month": month[round_name],
                "region": region,
                "scanners": len(by_scanner),
                **{f"raw_{k}": v for k, v in r.items()},
                **{f"harmonised_{k}": v for k, v in h.items()},
            }
        )
    return out


def stats_csv(stats: CentreStats) -> str:
    """Return the statistics as one CSV (section ``site_month`` or ``esp_spread`` per row).

    Text cells that a spreadsheet would run as a formula (a site named ``=HYPERLINK(...)``)
    are escaped with a leading ``'`` (:func:`dxa_app.csv_safety.escape_cell`).
    """
    buf = io.StringIO(newline="")
    w = SafeDictWriter(buf, CSV_COLUMNS, lineterminator="\n", restval="")
    w.writeheader()
    for r in stats.site_months:
        w.writerow({"section": "site_month", **r})
    for e in stats.esp:
        w.writerow(
            {
                "section": "esp_spread",
                "site": "ALL",
                "month": e["month"],
                "round": e["round"],
                "region": e["region"],
                "esp_scanners": e["scanners"],
                **{
                    f"esp_{kind}_{k}": "" if e[f"{kind}_{k}"] is None else f"{e[f'{kind}_{k}']:.6g}"
                    for kind in ("raw", "harmonised")
                    for k in ("mean", "sd", "cv_pct", "range")
                },
            }
        )
    return buf.getvalue()


def _bar_chart(
    x: float,
    y: float,
    title: str,
    categories: list[str],
    series: list[list[float]],
    names: list[str],
) -> list[Any]:
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Rect, String
    from reportlab.lib import colors

    palette = [colors.HexColor("#1f77b4"), colors.HexColor("#ff7f0e"), colors.HexColor("#d62728")]
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = x + 40, y + 40, 440, 150
    chart.data = [tuple(s) for s in series] if categories else [(0.0,)]
    chart.categoryAxis.categoryNames = categories or ["-"]
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontSize = 7
    for i in range(len(series)):
        chart.bars[i].fillColor = palette[i % len(palette)]
    items: list[Any] = [chart, String(x + 40, y + 200, title, fontSize=10)]
    for i, name in enumerate(names):
        items.append(Rect(x + 500, y + 170 - 14 * i, 8, 8, fillColor=palette[i % len(palette)]))
        items.append(String(x + 512, y + 171 - 14 * i, name, fontSize=8))
    return items


def stats_drawing(stats: CentreStats) -> Any:
    """Return a reportlab Drawing: VFA use and QC alarms per site, ESP spread raw vs harmonised."""
    from reportlab.graphics.shapes import Drawing

    sites = sorted({r["site"] for r in stats.site_months})
    total: dict[str, dict[str, int]] = {s: defaultdict(int) for s in sites}
    for r in stats.site_months:
        for k in ("studies_with_vfa", "studies_without_vfa", "qc_warnings", "qc_rejects"):
            total[r["site"]][k] += int(r[k])
    latest = [e for e in stats.esp if stats.esp and e["round"] == stats.esp[-1]["round"]]
    drawing = Drawing(620, 720)
    for item in _bar_chart(
        0,
        480,
        _("VFA use per site (studies)"),
        sites,
        [
            [float(total[s]["studies_with_vfa"]) for s in sites],
            [float(total[s]["studies_without_vfa"]) for s in sites],
        ],
        [_("with VFA"), _("without VFA")],
    ):
        drawing.add(item)
    for item in _bar_chart(
        0,
        240,
        _("Daily-QC alarms per site"),
        sites,
        [
            [float(total[s]["qc_warnings"]) for s in sites],
            [float(total[s]["qc_rejects"]) for s in sites],
        ],
        [_("warnings"), _("rejects")],
    ):
        drawing.add(item)
    for item in _bar_chart(
        0,
        0,
        _("ESP spread across scanners, CV % ({round})").format(
            round=latest[0]["round"] if latest else "-"
        ),
        [str(e["region"]) for e in latest],
        [
            [float(e["raw_cv_pct"] or 0.0) for e in latest],
            [float(e["harmonised_cv_pct"] or 0.0) for e in latest],
        ],
        [_("raw"), _("harmonised")],
    ):
        drawing.add(item)
    return drawing


def png_available() -> bool:
    """Return True when reportlab can write PNG (needs rl_renderPM or rlPyCairo)."""
    return any(importlib.util.find_spec(m) for m in ("_rl_renderPM", "rlPyCairo"))


def save_plot(stats: CentreStats, path: Path) -> Path:
    """Write the statistics plot as SVG, PDF or PNG (by the file suffix) and return the path.

    Raises
    ------
    UsageError
        For another suffix, or PNG when no reportlab raster backend is installed.
    """
    suffix = path.suffix.lower()
    drawing = stats_drawing(stats)
    if suffix == ".svg":
        from reportlab.graphics import renderSVG

        renderSVG.drawToFile(drawing, str(path))
    elif suffix == ".pdf":
        from reportlab.graphics import renderPDF

        renderPDF.drawToFile(drawing, str(path), _("DXA knowledge-centre statistics"))
    elif suffix == ".png":
        if not png_available():
            raise UsageError(
                _("PNG plots need the rl_renderPM or rlPyCairo package, which is not installed."),
                _("Write the plot as .svg or .pdf instead (e.g. --plot stats.svg)."),
            )
        from reportlab.graphics import renderPM

        renderPM.drawToFile(drawing, str(path), fmt="PNG", dpi=100)
    else:
        raise UsageError(
            _("Unknown plot format {suffix}.").format(suffix=suffix or "-"),
            _("Name the plot file .svg, .pdf or .png."),
        )
    return path

"""Centre statistics: VFA use per site and month, QC alarms, ESP spread; CSV and plots."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dxa_app.archive import open_archive
from dxa_app.centre.stats import png_available
from dxa_app.errors import UsageError
from dxa_app.services.centre import centre_stats
from tests.test_centre_exchange import (  # noqa: F401  (module fixture)
    Exchange,
    centre_analyst,
    exchange,
)


def test_stats_per_site_and_month(exchange: Exchange, tmp_path: Path) -> None:  # noqa: F811
    site = open_archive(exchange.site)
    try:
        vfa = {
            r["code"]: (r["studies"], r["with_vfa"])
            for r in site.query(
                "SELECT si.code, count(*) AS studies, sum(EXISTS (SELECT 1 FROM vfa_readings v"
                " WHERE v.study_id = st.id)) AS with_vfa FROM studies st JOIN scanners sc"
                " ON sc.id = st.scanner_id JOIN sites si ON si.id = sc.site_id GROUP BY si.code"
            )
        }
    finally:
        site.close()
    ana = centre_analyst(exchange.centre)
    stats = centre_stats(ana, csv_path=tmp_path / "s.csv", plot_path=tmp_path / "s.svg")
    centre_stats(ana, plot_path=tmp_path / "s.pdf")
    if not png_available():
        with pytest.raises(UsageError, match="rl_renderPM"):
            centre_stats(ana, plot_path=tmp_path / "s.png")
    for code, (studies, with_vfa) in vfa.items():
        rows = [r for r in stats.site_months if r["site"] == code]
        assert sum(r["studies"] for r in rows) == studies
        assert sum(r["studies_with_vfa"] for r in rows) == with_vfa > 0
        assert sum(r["studies_without_vfa"] for r in rows) == studies - with_vfa
        assert sum(r["qc_scans"] for r in rows) > 0
    # the demo's Discovery W step shift fires QC alarms in its last month
    assert max(r["qc_rejects"] for r in stats.site_months) > 10
    assert len(stats.esp) == 3
    for e in stats.esp:
        assert e["scanners"] == 4
        assert e["harmonised_cv_pct"] < e["raw_cv_pct"] / 10
    with (tmp_path / "s.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["section"] for r in rows} == {"site_month", "esp_spread"}
    assert len(rows) == len(stats.site_months) + len(stats.esp)
    assert (tmp_path / "s.svg").read_bytes().lstrip().startswith(b"<?xml")
    assert (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF")

"""Report charts with reportlab.graphics: BMD-versus-age curve, BMD trend, scan image."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from reportlab.graphics.shapes import Circle, Drawing, Group, Line, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.platypus import Image

from reports.fonts import BOLD, REGULAR, register_fonts
from reports.labels import Translate, fmt_bmd, fmt_date, fmt_decimal, region_label
from reports.model import AgeCurve, Trend

_AXIS = colors.HexColor("#444444")
_GRID = colors.HexColor("#DDDDDD")
_MEAN = colors.HexColor("#1F4E79")
_PATIENT = colors.HexColor("#C00000")
_NORMAL_BAND = colors.HexColor("#E2F0D9")
_LOW_BAND = colors.HexColor("#FFF2CC")
_OSTEO_BAND = colors.HexColor("#F8CBAD")
_LSC_BAND = colors.HexColor("#DDEBF7")

_LEFT, _RIGHT, _BOTTOM, _TOP = 40.0, 10.0, 30.0, 22.0


def _nice_step(span: float, target: int = 5) -> float:
    raw = span / max(target, 1)
    if raw <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    for mult in (1.0, 2.0, 5.0, 10.0):
        if raw <= mult * power:
            return mult * power
    return 10.0 * power


def _ticks(low: float, high: float, target: int = 5) -> list[float]:
    step = _nice_step(high - low, target)
    first = math.ceil(low / step - 1e-9) * step
    out: list[float] = []
    value = first
    while value <= high + 1e-9:
        out.append(round(value, 10))
        value += step
    return out


class _Frame:
    """Maps data coordinates to drawing coordinates inside the plot area."""

    def __init__(
        self, width: float, height: float, x: tuple[float, float], y: tuple[float, float]
    ) -> None:
        self.x0, self.x1 = x
        self.y0, self.y1 = y
        self.left, self.bottom = _LEFT, _BOTTOM
        self.w = width - _LEFT - _RIGHT
        self.h = height - _BOTTOM - _TOP

    def px(self, x: float) -> float:
        return self.left + (x - self.x0) / (self.x1 - self.x0) * self.w

    def py(self, y: float) -> float:
        return self.bottom + (y - self.y0) / (self.y1 - self.y0) * self.h

    def clip_y(self, y: float) -> float:
        return min(max(y, self.y0), self.y1)

    def band(self, low: float, high: float, color: colors.Color) -> Rect:
        lo, hi = self.clip_y(low), self.clip_y(high)
        return Rect(
            self.left,
            self.py(lo),
            self.w,
            max(self.py(hi) - self.py(lo), 0.0),
            fillColor=color,
            strokeColor=None,
        )

    def hline(self, y: float, color: colors.Color, dash: Sequence[float] | None = None) -> Line:
        line = Line(self.left, self.py(y), self.left + self.w, self.py(y))
        line.strokeColor = color
        line.strokeWidth = 0.6
        if dash:
            line.strokeDashArray = list(dash)
        return line


def _text(
    x: float,
    y: float,
    text: str,
    size: float = 6.5,
    anchor: str = "start",
    bold: bool = False,
    color: colors.Color = _AXIS,
) -> String:
    return String(
        x,
        y,
        text,
        fontName=BOLD if bold else REGULAR,
        fontSize=size,
        textAnchor=anchor,
        fillColor=color,
    )


def _title(text: str, width: float, height: float) -> String:
    """Chart title in bold, shrunk until it fits the drawing width."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    size = 7.5
    while size > 5.0 and stringWidth(text, BOLD, size) > width - 4:
        size -= 0.25
    return _text(2, height - 10, text, size=size, bold=True)


def _axes(
    drawing: Drawing,
    frame: _Frame,
    y_ticks: list[float],
    y_label: str,
    x_label: str,
    lang: str,
) -> None:
    step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 0.1
    places = max(1, min(3, -math.floor(math.log10(step) + 1e-9)))
    for value in y_ticks:
        y = frame.py(value)
        grid = Line(frame.left, y, frame.left + frame.w, y, strokeColor=_GRID, strokeWidth=0.3)
        drawing.add(grid)
        drawing.add(_text(frame.left - 3, y - 2, fmt_decimal(value, places, lang), anchor="end"))
    box = Rect(frame.left, frame.bottom, frame.w, frame.h, fillColor=None, strokeColor=_AXIS)
    box.strokeWidth = 0.6
    drawing.add(box)
    drawing.add(_text(frame.left + frame.w / 2, 4, x_label, anchor="middle"))
    label = _text(0, 0, y_label, anchor="middle")
    group = Group(label)
    group.translate(9, frame.bottom + frame.h / 2)
    group.rotate(90)
    drawing.add(group)


def age_curve_drawing(
    curve: AgeCurve,
    translate: Translate,
    *,
    lang: str = "en",
    width: float = 250.0,
    height: float = 170.0,
) -> Drawing:
    """Draw BMD versus age: reference mean +-1 SD, T-score bands and the patient's point.

    The bands (T >= -1.0, -1.0 > T > -2.5, T <= -2.5) are drawn when the curve carries the
    young-adult mean and SD.

    Parameters
    ----------
    curve : AgeCurve
        Reference points (age, mean, sd) and the patient's age and harmonised BMD.
    translate : Translate
        The message translator.
    lang : str
        ``"da"`` or ``"en"``.
    width, height : float
        Size in points.

    Returns
    -------
    Drawing
        The chart, ready to place in a platypus story.
    """
    _ = translate
    register_fonts()
    points = sorted(curve.points, key=lambda p: p.age)
    ages = [p.age for p in points] + [curve.patient_age]
    lows = [p.mean - 1.5 * p.sd for p in points] + [curve.patient_bmd]
    highs = [p.mean + 1.5 * p.sd for p in points] + [curve.patient_bmd]
    bands = curve.young_mean is not None and curve.young_sd is not None and curve.young_sd > 0
    if bands:
        assert curve.young_mean is not None and curve.young_sd is not None
        t1 = curve.young_mean - 1.0 * curve.young_sd
        t25 = curve.young_mean - 2.5 * curve.young_sd
        lows.append(t25 - 0.3 * curve.young_sd)
        highs.append(curve.young_mean)
    x0, x1 = math.floor(min(ages) / 10) * 10, math.ceil(max(ages) / 10) * 10
    if x1 <= x0:
        x1 = x0 + 10
    y_ticks = _ticks(min(lows), max(highs))
    y0 = min(min(lows), y_ticks[0])
    y1 = max(max(highs), y_ticks[-1])
    if y1 <= y0:
        y1 = y0 + 0.1
    frame = _Frame(width, height, (x0, x1), (y0, y1))
    drawing = Drawing(width, height, initialFontName=REGULAR, initialFontSize=6.5)
    site = region_label(curve.region, translate, curve.side)
    drawing.add(_title(_("BMD versus age: {site}").format(site=site), width, height))
    if bands:
        drawing.add(frame.band(t1, y1, _NORMAL_BAND))
        drawing.add(frame.band(t25, t1, _LOW_BAND))
        drawing.add(frame.band(y0, t25, _OSTEO_BAND))
    _axes(drawing, frame, y_ticks, _("BMD (g/cm²)"), _("Age (years)"), lang)
    for age in _ticks(x0, x1, 6):
        drawing.add(_text(frame.px(age), frame.bottom - 9, str(int(age)), anchor="middle"))
    if bands:
        for value, label in ((t1, "T = -1.0"), (t25, "T = -2.5")):
            drawing.add(frame.hline(value, _AXIS, (2, 2)))
            drawing.add(
                _text(
                    frame.left + 2,
                    frame.py(value) + 2,
                    label.replace(".", ",") if lang == "da" else label,
                    size=6,
                )
            )
    if len(points) >= 2:
        for offset, dash in ((0.0, None), (1.0, [3, 2]), (-1.0, [3, 2])):
            coords: list[float] = []
            for p in points:
                coords += [frame.px(p.age), frame.py(frame.clip_y(p.mean + offset * p.sd))]
            line = PolyLine(coords, strokeColor=_MEAN, strokeWidth=1.2 if dash is None else 0.6)
            if dash:
                line.strokeDashArray = dash
            drawing.add(line)
    px, py = frame.px(curve.patient_age), frame.py(curve.patient_bmd)
    drawing.add(Circle(px, py, 3.2, fillColor=_PATIENT, strokeColor=colors.white))
    drawing.add(_text(px + 5, py + 3, fmt_bmd(curve.patient_bmd, lang), size=6.5, color=_PATIENT))
    legend_y = height - 19
    drawing.add(
        Line(_LEFT, legend_y + 2, _LEFT + 12, legend_y + 2, strokeColor=_MEAN, strokeWidth=1.2)
    )
    drawing.add(_text(_LEFT + 15, legend_y, _("reference mean ± 1 SD"), size=6))
    drawing.add(Circle(_LEFT + 120, legend_y + 2, 2.5, fillColor=_PATIENT, strokeColor=None))
    drawing.add(_text(_LEFT + 125, legend_y, _("patient"), size=6))
    return drawing


def trend_drawing(
    trend: Trend,
    translate: Translate,
    *,
    lang: str = "en",
    width: float = 250.0,
    height: float = 170.0,
) -> Drawing:
    """Draw harmonised BMD across visits with the LSC band around the baseline visit.

    Parameters
    ----------
    trend : Trend
        Visits (date, harmonised BMD) and the LSC.
    translate : Translate
        The message translator.
    lang : str
        ``"da"`` or ``"en"``.
    width, height : float
        Size in points.

    Returns
    -------
    Drawing
        The chart.
    """
    _ = translate
    register_fonts()
    points = sorted(trend.points, key=lambda p: p.date)
    drawing = Drawing(width, height, initialFontName=REGULAR, initialFontSize=6.5)
    site = region_label(trend.region, translate, trend.side)
    drawing.add(_title(_("BMD trend: {site}").format(site=site), width, height))
    if not points:
        drawing.add(_text(width / 2, height / 2, _("No visits to show."), anchor="middle"))
        return drawing
    days = [p.date.toordinal() for p in points]
    x0, x1 = min(days) - 120, max(days) + 120
    base = points[0].bmd
    values = [p.bmd for p in points] + [base - trend.lsc_g_cm2, base + trend.lsc_g_cm2]
    pad = max((max(values) - min(values)) * 0.15, 0.01)
    y_ticks = _ticks(min(values) - pad, max(values) + pad)
    y0 = min(min(values) - pad, y_ticks[0])
    y1 = max(max(values) + pad, y_ticks[-1])
    frame = _Frame(width, height, (x0, x1), (y0, y1))
    drawing.add(frame.band(base - trend.lsc_g_cm2, base + trend.lsc_g_cm2, _LSC_BAND))
    drawing.add(frame.hline(base, _MEAN, (2, 2)))
    _axes(drawing, frame, y_ticks, _("BMD (g/cm²)"), _("Visit date"), lang)
    coords: list[float] = []
    for p, day in zip(points, days, strict=True):
        coords += [frame.px(day), frame.py(p.bmd)]
    if len(points) >= 2:
        drawing.add(PolyLine(coords, strokeColor=_PATIENT, strokeWidth=1.2))
    for p, day in zip(points, days, strict=True):
        x, y = frame.px(day), frame.py(p.bmd)
        drawing.add(Circle(x, y, 2.6, fillColor=_PATIENT, strokeColor=colors.white))
        drawing.add(_text(x, y + 5, fmt_bmd(p.bmd, lang), size=6, anchor="middle"))
        drawing.add(_text(x, frame.bottom - 9, fmt_date(p.date, lang), size=5.5, anchor="middle"))
    legend_y = height - 19
    drawing.add(Rect(_LEFT, legend_y, 12, 5, fillColor=_LSC_BAND, strokeColor=None))
    drawing.add(
        _text(
            _LEFT + 15,
            legend_y,
            _("LSC band around the baseline (± {lsc} g/cm²)").format(
                lsc=fmt_bmd(trend.lsc_g_cm2, lang)
            ),
            size=6,
        )
    )
    return drawing


def scan_image(png: bytes, max_width: float, max_height: float) -> Image:
    """Return the scan image as a platypus Image scaled to fit, keeping its aspect ratio.

    Parameters
    ----------
    png : bytes
        PNG file content.
    max_width, max_height : float
        The box to fit, in points.

    Returns
    -------
    Image
        The flowable.

    Raises
    ------
    ValueError
        When the bytes are not a readable image.
    """
    from reportlab.lib.utils import ImageReader

    try:
        reader = ImageReader(io.BytesIO(png))
        px_w, px_h = reader.getSize()
    except Exception as exc:  # reportlab raises several types for bad image data
        raise ValueError(f"the scan image could not be read as PNG: {exc}") from exc
    if px_w <= 0 or px_h <= 0:
        raise ValueError("the scan image has no pixels")
    scale = min(max_width / px_w, max_height / px_h)
    img = Image(io.BytesIO(png), width=px_w * scale, height=px_h * scale)
    img.hAlign = "CENTER"
    return img

"""Render a ReportData as a deterministic A4 PDF (the DXA-svar) and a one-page patient summary."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Sequence
from functools import cache, partial
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from reports.charts import age_curve_drawing, scan_image, trend_drawing
from reports.fonts import BOLD, REGULAR, register_fonts
from reports.labels import (
    DASH,
    Translate,
    capitalise,
    category_label,
    diagnostic_region,
    fmt_bmd,
    fmt_date,
    fmt_datetime,
    fmt_decimal,
    fmt_score,
    fmt_years,
    grade_word,
    image_kind_label,
    join_words,
    morphology_word,
    person_name,
    region_label,
    scanner_parts,
    sex_label,
    side_label,
)
from reports.model import VFA_LEVELS, ReportData, ResultRow
from reports.rules import comparison_sentences, diagnosis_sentence, uncertainty_sentence
from reports.vfa import vfa_sentences

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 16 * mm
FOOTER_HEIGHT = 22 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
#: The width a paragraph of the story has (the page frame pads 6 points on each side).
FRAME_WIDTH = CONTENT_WIDTH - 12

_CPR = re.compile(r"^\d{6}-?\d{4}$")
_INK = colors.HexColor("#1A1A1A")
_MUTED = colors.HexColor("#666666")
_RULE = colors.HexColor("#9DB3C9")
_HEAD_BG = colors.HexColor("#E8EEF4")
_STATUS_COLOURS = {
    "draft": colors.HexColor("#C55A11"),
    "signed": colors.HexColor("#2E7D32"),
    "amended": colors.HexColor("#1F4E79"),
}


@cache
def _styles() -> dict[str, ParagraphStyle]:
    register_fonts()
    body = ParagraphStyle("body", fontName=REGULAR, fontSize=9, leading=11.5, textColor=_INK)
    cell = ParagraphStyle("cell", parent=body, fontSize=8, leading=10)
    return {
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5),
        "cell": cell,
        "cellb": ParagraphStyle("cellb", parent=cell, fontName=BOLD),
        "headsmall": ParagraphStyle(
            "headsmall", parent=cell, fontName=BOLD, fontSize=7, leading=8.5
        ),
        "muted": ParagraphStyle("muted", parent=cell, textColor=_MUTED),
        "h1": ParagraphStyle("h1", parent=body, fontName=BOLD, fontSize=17, leading=21),
        "site": ParagraphStyle("site", parent=body, fontName=BOLD, fontSize=11, leading=14),
        "h2": ParagraphStyle(
            "h2",
            parent=body,
            fontName=BOLD,
            fontSize=10.5,
            leading=13,
            spaceBefore=6,
            spaceAfter=3,
            textColor=colors.HexColor("#1F4E79"),
            keepWithNext=1,
        ),
        "right": ParagraphStyle("right", parent=body, alignment=TA_RIGHT),
        "status": ParagraphStyle(
            "status",
            parent=body,
            fontName=BOLD,
            fontSize=13,
            leading=16,
            alignment=TA_RIGHT,
        ),
        "plain": ParagraphStyle("plain", parent=body, fontSize=10.5, leading=14, spaceAfter=4),
        "footer": ParagraphStyle("footer", parent=body, fontSize=6.5, leading=8, textColor=_MUTED),
    }


def _p(text: str, style: str = "body") -> Paragraph:
    """Paragraph of plain text (escaped; newlines kept)."""
    return Paragraph(escape(text).replace("\n", "<br/>"), _styles()[style])


ELLIPSIS = "\u2026"
#: Lines a value of a label/value table may take (any longer text is cut with an ellipsis).
_MAX_VALUE_LINES = 8
#: Lines the patient's name may take in the patient table and the summary.
_MAX_NAME_LINES = 3


def _line_count(text: str, style: str, width: float) -> int:
    para = _p(text, style)
    para.wrap(width, 100 * PAGE_HEIGHT)
    return len(para.blPara.lines)


def _clip(text: str, style: str, width: float, max_lines: int, suffix: str = "") -> str:
    """Return ``text + suffix``, ``text`` cut with an ellipsis so it wraps to ``max_lines``.

    A table cell cannot break across pages, so text from outside (a name, an indication)
    is cut to fit: the beginning stays readable and the ellipsis shows that it goes on.
    """
    if _line_count(text + suffix, style, width) <= max_lines:
        return text + suffix
    lo, hi = 0, len(text)
    while lo < hi:  # the longest beginning that still fits
        mid = (lo + hi + 1) // 2
        if _line_count(text[:mid].rstrip() + ELLIPSIS + suffix, style, width) <= max_lines:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + ELLIPSIS + suffix


def _fit_width(text: str, font: str, size: float, width: float) -> str:
    """Return ``text``, or its beginning and an ellipsis, in at most ``width`` points."""
    if stringWidth(text, font, size) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if stringWidth(text[:mid].rstrip() + ELLIPSIS, font, size) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + ELLIPSIS


def _markup(markup: str, style: str = "body") -> Paragraph:
    """Paragraph of trusted markup (callers escape the data parts)."""
    return Paragraph(markup, _styles()[style])


def _heading(text: str) -> Paragraph:
    return _p(text, "h2")


def _bullets(items: Iterable[str], style: str = "body") -> list[Flowable]:
    return [_markup("\u2022 " + escape(item), style) for item in items]


class _Table(Table):  # type: ignore[misc]
    """A platypus Table whose cells default to the embedded font (never Helvetica)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), REGULAR)]))


def _grid(
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float],
    *,
    header: bool = True,
    extra: Sequence[tuple[Any, ...]] = (),
) -> Table:
    table = _Table([list(r) for r in rows], colWidths=list(widths), hAlign="LEFT", repeatRows=1)
    style: list[tuple[Any, ...]] = [
        ("FONTNAME", (0, 0), (-1, -1), REGULAR),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("LINEBELOW", (0, -1), (-1, -1), 0.4, _RULE),
    ]
    if header:
        style += [
            ("BACKGROUND", (0, 0), (-1, 0), _HEAD_BG),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, _RULE),
        ]
    table.setStyle(TableStyle(style + list(extra)))
    return table


_KV_LABEL_WIDTH = 36 * mm
_KV_RIGHT_PADDING = 4


def _kv_text_width(columns: int) -> float:
    """The width the text of a value has in :func:`_key_values` with ``columns`` pairs."""
    return float(CONTENT_WIDTH / columns - _KV_LABEL_WIDTH - _KV_RIGHT_PADDING)


def _key_values(pairs: Sequence[tuple[str, str]], columns: int = 2) -> Table:
    """Label/value pairs laid out in ``columns`` column pairs; long values are cut."""
    cells: list[list[Any]] = []
    per_row = columns
    text_w = _kv_text_width(columns)
    for i in range(0, len(pairs), per_row):
        row: list[Any] = []
        for label, value in pairs[i : i + per_row]:
            shown = _clip(value, "cell", text_w, _MAX_VALUE_LINES)
            row += [_p(label, "muted"), _p(shown, "cell")]
        while len(row) < 2 * per_row:
            row += ["", ""]
        cells.append(row)
    label_w = _KV_LABEL_WIDTH
    value_w = CONTENT_WIDTH / per_row - label_w
    table = _Table(cells, colWidths=[label_w, value_w] * per_row, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), _KV_RIGHT_PADDING),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    return table


def _identifier_label(identifier: str, translate: Translate) -> str:
    _ = translate
    return _("CPR") if _CPR.match(identifier.strip()) else _("ID")


def _status_word(status: str, translate: Translate) -> str:
    _ = translate
    words = {"draft": _("DRAFT"), "signed": _("SIGNED"), "amended": _("AMENDED")}
    return words[status]


def _default_rule(translate: Translate) -> str:
    _ = translate
    return _(
        "WHO/ISCD: normal T ≥ -1.0, osteoporosis T ≤ -2.5, classified on the printed "
        "one-decimal value"
    )


class _NumberedCanvas(Canvas):  # type: ignore[misc]
    """Canvas that holds its pages back so every page can print "page x of y"."""

    def __init__(
        self, *args: Any, decorate: Callable[[Canvas, int, int], None], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._held_pages: list[dict[str, Any]] = []
        self._decorate = decorate

    def showPage(self) -> None:
        self._held_pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._held_pages)
        for number, state in enumerate(self._held_pages, start=1):
            self.__dict__.update(state)
            self._decorate(self, number, total)
            super().showPage()
        super().save()


def _watermark(canvas: Canvas, text: str) -> None:
    canvas.saveState()
    canvas.setFillColor(_STATUS_COLOURS["draft"])
    canvas.setFillAlpha(0.10)
    canvas.setFont(BOLD, 90)
    canvas.translate(PAGE_WIDTH / 2, PAGE_HEIGHT / 2)
    canvas.rotate(45)
    canvas.drawCentredString(0, -30, text)
    canvas.restoreState()


def _decorate_report(
    canvas: Canvas, page: int, pages: int, *, data: ReportData, translate: Translate
) -> None:
    """Draw the footer on every page, the running header from page 2 and the draft mark."""
    _ = translate
    styles = _styles()
    footer = data.footer
    if data.sign_off.status == "draft":
        _watermark(canvas, _status_word("draft", translate))
    canvas.saveState()
    canvas.setStrokeColor(_RULE)
    canvas.setLineWidth(0.5)
    top = MARGIN + FOOTER_HEIGHT - 3 * mm
    canvas.line(MARGIN, top, PAGE_WIDTH - MARGIN, top)
    lines = [
        _("T-score reference: {t}.").format(t=footer.t_reference),
        _("Z-score reference: {z}.").format(z=footer.z_reference),
        _("Calibration chain: {chain}.").format(chain=footer.chain),
        *([_("National scale: {scale}.").format(scale=footer.scale)] if footer.scale else []),
        _("Category rule: {rule}.").format(
            rule=(footer.category_rule or _default_rule(translate)).rstrip(".")
        ),
    ]
    if footer.generated_by:
        lines.append(_("Generated by {program}.").format(program=footer.generated_by))
    para = Paragraph("<br/>".join(escape(x) for x in lines), styles["footer"])
    _w, h = para.wrap(CONTENT_WIDTH, FOOTER_HEIGHT)
    para.drawOn(canvas, MARGIN, top - 2 - h)
    canvas.setFont(REGULAR, 7)
    canvas.setFillColor(_MUTED)
    right = PAGE_WIDTH - MARGIN
    canvas.drawRightString(
        right,
        top - 2 - h - 9,
        _("{report_id}, version {version}").format(
            report_id=data.report_id, version=data.sign_off.version
        )
        + "    "
        + _("Page {page} of {pages}").format(page=page, pages=pages),
    )
    if page > 1:
        canvas.setFont(REGULAR, 7.5)
        y = PAGE_HEIGHT - MARGIN + 6 * mm
        status = _status_word(data.sign_off.status, translate)
        template = "{title} \u2014 {name}, {idl} {ident}"
        fields = {
            "title": _("DXA report"),
            "idl": _identifier_label(data.patient.identifier, translate),
            "ident": data.patient.identifier,
        }
        room = CONTENT_WIDTH - stringWidth(status, BOLD, 7.5) - 6 * mm
        room -= stringWidth(template.format(name="", **fields), REGULAR, 7.5)
        name = _fit_width(data.patient.name, REGULAR, 7.5, max(room, 0))
        canvas.drawString(MARGIN, y, template.format(name=name, **fields))
        canvas.setFillColor(_STATUS_COLOURS[data.sign_off.status])
        canvas.setFont(BOLD, 7.5)
        canvas.drawRightString(right, y, status)
        canvas.setStrokeColor(_RULE)
        canvas.line(MARGIN, y - 2 * mm, right, y - 2 * mm)
    canvas.restoreState()


def _header(data: ReportData, translate: Translate) -> list[Flowable]:
    _ = translate
    status = data.sign_off.status
    colour = _STATUS_COLOURS[status].hexval().replace("0x", "#")
    left_w = CONTENT_WIDTH * 0.62
    left = [
        _p(_clip(data.site_name, "site", left_w, 2), "site"),
        _p(_clip(data.department, "muted", left_w, 2), "muted"),
        Spacer(1, 2 * mm),
        _p(_("DXA report"), "h1"),
    ]
    right = [
        _markup(
            f'<font color="{colour}">{escape(_status_word(status, translate))}</font>',
            "status",
        ),
        _p(_("Report {report_id}").format(report_id=data.report_id), "right"),
        _p(_("Version {version}").format(version=data.sign_off.version), "right"),
        _p(_("Level {level}").format(level=data.level), "right"),
    ]
    table = _Table([[left, right]], colWidths=[left_w, CONTENT_WIDTH * 0.38], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("LINEBELOW", (0, 0), (-1, -1), 1.2, _RULE),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                ("BOX", (1, 0), (1, 0), 0, colors.white),
            ]
        )
    )
    return [table, Spacer(1, 2 * mm)]


def _patient(data: ReportData, translate: Translate) -> list[Flowable]:
    _ = translate
    pt = data.patient
    lang = data.lang
    pairs: list[tuple[str, str]] = [
        (_("Name"), _clip(pt.name, "cell", _kv_text_width(2), _MAX_NAME_LINES)),
        (_identifier_label(pt.identifier, translate), pt.identifier),
        (_("Birth date"), fmt_date(pt.birth_date, lang)),
        (
            _("Age at scan"),
            DASH if pt.age is None else _("{age} years").format(age=int(pt.age)),
        ),
        (_("Sex"), sex_label(pt.sex, translate)),
    ]
    if pt.menopausal is not None:
        pairs.append(
            (
                _("Menopausal status"),
                _("postmenopausal") if pt.menopausal else _("premenopausal"),
            )
        )
    pairs += [
        (
            _("Height"),
            DASH if pt.height_cm is None else f"{fmt_decimal(pt.height_cm, 0, lang)} cm",
        ),
        (
            _("Weight"),
            DASH if pt.weight_kg is None else f"{fmt_decimal(pt.weight_kg, 1, lang)} kg",
        ),
    ]
    bmi = pt.bmi
    pairs.append((_("BMI"), DASH if bmi is None else f"{fmt_decimal(bmi, 1, lang)} kg/m²"))
    return [_heading(_("Patient")), _key_values(pairs)]


def _referral(data: ReportData, translate: Translate) -> list[Flowable]:
    _ = translate
    pairs = [
        (_("Referring physician"), person_name(data.referrer) or DASH),
        (_("Indication"), data.indication or DASH),
    ]
    return [_heading(_("Referral")), _key_values(pairs, columns=1)]


def _scanned_sites(results: Sequence[ResultRow], translate: Translate) -> str:
    seen: list[str] = []
    for row in results:
        if re.match(r"^L[1-4]$", row.region):
            continue  # single vertebrae belong to the lumbar range
        label = region_label(row.region, translate, row.side)
        if label not in seen:
            seen.append(label)
    return "; ".join(seen) if seen else DASH


def _plain_sites(results: Sequence[ResultRow], translate: Translate) -> str:
    """Body parts in everyday words for the patient summary (lower back, hip, forearm)."""
    _ = translate
    seen: list[str] = []
    for row in results:
        if row.region.startswith("L"):
            word = _("lower back")
        elif row.region == "radius_33":
            word = _("forearm")
        else:
            word = _("hip")
        if word not in seen:
            seen.append(word)
    return join_words(seen, translate) if seen else DASH


def _examination(data: ReportData, translate: Translate) -> list[Flowable]:
    _ = translate
    sc = data.scanner
    pairs = [
        (_("Scan date"), fmt_date(data.scan_date, data.lang)),
        (
            _("Scanner"),
            _("{manufacturer} {model}, serial number {serial}")
            .format(
                manufacturer=scanner_parts(sc.manufacturer, sc.model)[0],
                model=sc.model,
                serial=sc.serial,
            )
            .strip(),
        ),
        (_("Software version"), sc.software_version or DASH),
        (_("Technologist"), data.technologist or DASH),
        (_("Scan mode"), data.scan_mode or DASH),
    ]
    if sc.site:
        pairs.append((_("Scanner location"), sc.site))
    pairs.append((_("Scanned sites"), _scanned_sites(data.results, translate)))
    return [_heading(_("Examination")), _key_values(pairs)]


def _technical(data: ReportData, translate: Translate) -> list[Flowable]:
    _ = translate
    out: list[Flowable] = [_heading(_("Technical limitations"))]
    if data.technical_notes:
        out += _bullets(data.technical_notes)
    else:
        out.append(_p(_("None.")))
    return out


def _results(data: ReportData, translate: Translate) -> list[Flowable]:
    _ = translate
    lang = data.lang
    with_category = any(r.category and diagnostic_region(r.region) for r in data.results)
    head = [
        _("Region"),
        _("BMD (g/cm²)"),
        _("T-score"),
        _("Z-score"),
    ]
    widths = [58 * mm, 19 * mm, 14 * mm, 14 * mm]
    if with_category:
        head.append(_("Category"))
        widths.append(CONTENT_WIDTH - sum(widths) - 24 * mm)
    head.append(_("Scanner value¹"))
    widths.append(24 * mm if with_category else CONTENT_WIDTH - sum(widths))
    rows: list[list[Any]] = [[_p(h, "headsmall") for h in head]]
    extra: list[tuple[Any, ...]] = []
    any_excluded = False
    for i, r in enumerate(data.results, start=1):
        label = capitalise(region_label(r.region, translate, r.side))
        style = "cell"
        if not r.included:
            any_excluded = True
            label = _("{region} (excluded*)").format(region=label)
            extra.append(("TEXTCOLOR", (0, i), (-1, i), _MUTED))
            style = "muted"
        row: list[Any] = [
            _p(label, style),
            fmt_bmd(r.bmd, lang) if r.harmonised else _p(_("not harmonised"), "muted"),
            fmt_score(r.t, lang),
            fmt_score(r.z, lang),
        ]
        if with_category:
            # the category belongs to the diagnostic regions only, never to one vertebra
            shown = r.category if r.category and diagnostic_region(r.region) else None
            row.append(_p(category_label(shown, translate) if shown else "", style))
        row.append(fmt_bmd(r.bmd_raw, lang))
        rows.append(row)
    extra += [
        ("ALIGN", (1, 1), (3, -1), "RIGHT"),
        ("ALIGN", (-1, 1), (-1, -1), "RIGHT"),
    ]
    out: list[Flowable] = [_heading(_("Results")), _grid(rows, widths, extra=extra)]
    notes = [
        _(
            "BMD is harmonised to the national scale (3 decimals); T- and Z-scores (1 decimal) "
            "are calculated from the harmonised BMD."
        ),
        _("¹ The scanner's own BMD before harmonisation (g/cm²)."),
    ]
    if any_excluded:
        notes.append(_("* Excluded from the analysis; see the technical limitations."))
    out += [Spacer(1, 1 * mm), *[_p(n, "small") for n in notes]]
    return out


def _diagnosis(data: ReportData, translate: Translate) -> list[Flowable]:
    _ = translate
    out = [
        _heading(_("Diagnosis")),
        _p(diagnosis_sentence(data.diagnosis, translate, lang=data.lang)),
    ]
    sentence = uncertainty_sentence(data.diagnosis, translate)
    if sentence:
        out.append(_p(sentence))
    return out


def _vfa(data: ReportData, translate: Translate) -> list[Flowable]:
    _ = translate
    section = data.vfa
    if section is None:
        return []
    by_level = {lv.level: lv for lv in section.levels}
    halves = (VFA_LEVELS[:7], VFA_LEVELS[7:])
    widths = [11 * mm, 11 * mm, 40 * mm, 24 * mm]
    tables: list[Table] = []
    for names in halves:
        rows: list[list[Any]] = [
            [_p(h, "headsmall") for h in (_("Level"), _("Grade"), _("Finding"), _("Shape"))]
        ]
        extra: list[tuple[Any, ...]] = [("ALIGN", (1, 1), (1, -1), "CENTER")]
        for i, name in enumerate(names, start=1):
            lv = by_level.get(name)
            if lv is None:
                rows.append([name, DASH, _p(_("not reported"), "muted"), ""])
            elif lv.grade is None:
                reason = _("not evaluable")
                if lv.not_evaluable_reason:
                    reason = f"{reason}: {lv.not_evaluable_reason}"
                reason = _clip(reason, "muted", widths[2] - 6, _MAX_VALUE_LINES)
                rows.append([name, DASH, _p(reason, "muted"), ""])
            else:
                finding = grade_word(lv.grade, translate)
                if lv.grade >= 2:
                    finding = _("{grade} fracture").format(grade=finding)
                    extra.append(("FONTNAME", (0, i), (1, i), BOLD))
                elif lv.grade == 1:
                    finding = _("{grade} deformity").format(grade=finding)
                rows.append(
                    [
                        name,
                        str(lv.grade),
                        _p(finding, "cellb" if lv.grade >= 2 else "cell"),
                        _p(morphology_word(lv.morphology, translate), "cell"),
                    ]
                )
        tables.append(_grid(rows, widths, extra=extra))
    gap = CONTENT_WIDTH - 2 * sum(widths)
    table = _Table(
        [[tables[0], tables[1]]],
        colWidths=[sum(widths) + gap, sum(widths)],
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    out: list[Flowable] = [_heading(_("Vertebral fracture assessment (VFA)")), table]
    out.append(Spacer(1, 1.5 * mm))
    out += [_p(s) for s in vfa_sentences(section, translate)]
    if section.reader:
        out.append(
            _p(
                _("Read by {reader} (Genant semi-quantitative method).").format(
                    reader=section.reader
                ),
                "small",
            )
        )
    if section.indication_met is not None:
        answer = _("met") if section.indication_met else _("not met")
        text = _("ISCD indication for VFA: {answer}").format(answer=answer)
        if section.indication_reasons:
            text += " ({reasons})".format(reasons=", ".join(section.indication_reasons))
        out.append(_p(text + ".", "small"))
    return out


def _comparison(data: ReportData, translate: Translate) -> list[Flowable]:
    _ = translate
    comp = data.comparison
    if comp is None:
        return []
    lang = data.lang
    out: list[Flowable] = [_heading(_("Comparison with the prior study"))]
    if comp.rows and not comp.new_baseline:
        head = [
            _("Region"),
            _("Prior date"),
            _("Prior BMD"),
            _("Current BMD"),
            _("Change (g/cm²)"),
            _("Change (%)"),
            _("LSC (g/cm²)"),
            _("Result"),
            _("Area change"),
        ]
        rows: list[list[Any]] = [[_p(h, "headsmall") for h in head]]
        for r in comp.rows:
            source = _("ISCD minimum") if r.lsc_source == "iscd_minimum" else _("local precision")
            area = r.area_change_pct
            area_text = DASH if area is None else fmt_decimal(area, 1, lang, signed=True) + " %"
            if r.area_flag:
                area_text += " !"
            rows.append(
                [
                    _p(capitalise(region_label(r.region, translate, r.side)), "cell"),
                    fmt_date(r.prior_date, lang),
                    fmt_bmd(r.prior_bmd, lang),
                    fmt_bmd(r.current_bmd, lang),
                    fmt_bmd(r.change, lang, signed=True),
                    fmt_decimal(r.change_pct, 1, lang, signed=True),
                    _markup(
                        f"{fmt_bmd(r.lsc_g_cm2, lang)}<br/><font size=6.5>{escape(source)}</font>",
                        "cell",
                    ),
                    _p(_("significant") if r.significant else _("not significant"), "cell"),
                    area_text,
                ]
            )
        widths = [m * mm for m in (33, 18, 17, 17, 17, 15, 21, 19, 17)]
        extra = [("ALIGN", (2, 1), (5, -1), "RIGHT"), ("ALIGN", (8, 1), (8, -1), "RIGHT")]
        out.append(_grid(rows, widths, extra=extra))
        out.append(Spacer(1, 1.5 * mm))
    out += [_p(s) for s in comparison_sentences(comp, translate, lang=lang)]
    return out


def _free_text(title: str, text: str, translate: Translate) -> list[Flowable]:
    _ = translate
    body = text.strip()
    return [_heading(title), _p(body) if body else _p(_("Not yet written."), "muted")]


def _level_b(data: ReportData, translate: Translate) -> list[Flowable]:
    _ = translate
    lang = data.lang
    out: list[Flowable] = []
    if data.frax is not None:
        fx = data.frax
        frax: list[Flowable] = [_heading(_("Fracture risk (FRAX)"))]
        frax.append(
            _p(
                _(
                    "10-year probability of a major osteoporotic fracture {major} % and of a hip "
                    "fracture {hip} % ({model}; calculated outside this program, shown as given)."
                ).format(
                    major=fmt_decimal(fx.major_osteoporotic_pct, 1, lang),
                    hip=fmt_decimal(fx.hip_pct, 1, lang),
                    model=fx.model,
                )
            )
        )
        if fx.inputs:
            head = [_p(_("FRAX input"), "cellb"), _p(_("Value"), "cellb")]
            cells = [[_p(k, "cell"), _p(v, "cell")] for k, v in fx.inputs.items()]
            half = (len(cells) + 1) // 2
            rows: list[list[Any]] = [head + head]
            for i in range(half):
                right = cells[half + i] if half + i < len(cells) else ["", ""]
                rows.append(cells[i] + right)
            value_w = 25 * mm
            label_w = CONTENT_WIDTH / 2 - value_w
            frax.append(_grid(rows, [label_w, value_w, label_w, value_w]))
        out.append(KeepTogether(frax))
    out.append(_heading(_("Risk factors (questionnaire)")))
    if data.risk_factors:
        out += _bullets(data.risk_factors)
        if data.risk_factors_source:
            out.append(_p(data.risk_factors_source, "muted"))
    else:
        out.append(_p(_("None reported.")))
    out.append(_heading(_("Further work-up and follow-up")))
    items: list[str] = []
    if data.secondary_cause_hints:
        items.append(
            _("Secondary causes to consider: {hints}.").format(
                hints=", ".join(data.secondary_cause_hints)
            )
        )
    if data.fls_referral:
        items.append(_("Referral to the fracture liaison service (FLS) is recommended."))
    if data.follow_up_years is not None:
        items.append(
            _("Next DXA: follow-up scan in {years} years.").format(
                years=fmt_years(data.follow_up_years, lang)
            )
        )
    out += _bullets(items) if items else [_p(_("None."))]
    if data.suggestions:
        out.append(_heading(_("Suggestions kept by the physician")))
        out += _bullets(data.suggestions)
        if data.suggestion_source:
            out.append(_p(data.suggestion_source, "muted"))
    drawings: list[Flowable] = []
    half = (CONTENT_WIDTH - 6 * mm) / 2
    if data.age_curve is not None:
        drawings.append(age_curve_drawing(data.age_curve, translate, lang=lang, width=half))
    if data.trend is not None:
        drawings.append(trend_drawing(data.trend, translate, lang=lang, width=half))
    if drawings:
        while len(drawings) < 2:
            drawings.append(Spacer(half, 1))
        table = _Table([drawings], colWidths=[half + 3 * mm, half + 3 * mm], hAlign="LEFT")
        table.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0)]))
        out.append(KeepTogether([_heading(_("Charts")), table]))
    return out


def _image(data: ReportData, translate: Translate) -> list[Flowable]:
    _ = translate
    if not data.image_png:
        return []
    img = scan_image(data.image_png, CONTENT_WIDTH * 0.6, 80 * mm)
    return [KeepTogether([_heading(_("Scan image")), img])]


def _scan_images(data: ReportData, translate: Translate) -> list[Flowable]:
    """The level-B spine and hip images side by side (three to a row), each with a caption."""
    _ = translate
    if not data.scan_images:
        return []
    per_row = min(3, len(data.scan_images))
    gap = 4 * mm
    cell = (CONTENT_WIDTH - gap * (per_row - 1)) / per_row
    cells: list[list[Flowable]] = []
    for image in data.scan_images:
        caption = image_kind_label(image.kind, translate)
        if image.side:
            caption += f", {side_label(image.side, translate)}"
        cells.append([scan_image(image.png, cell, 75 * mm), _p(caption, "muted")])
    rows: list[list[Any]] = [
        cells[i : i + per_row] + [[]] * (per_row - len(cells[i : i + per_row]))
        for i in range(0, len(cells), per_row)
    ]
    table = _Table(rows, colWidths=[cell + gap] * per_row, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), gap),
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
            ]
        )
    )
    return [KeepTogether([_heading(_("Scan images")), table])]


def _sign_off(data: ReportData, translate: Translate) -> list[Flowable]:
    _ = translate
    so = data.sign_off
    lang = data.lang
    out: list[Flowable] = [_heading(_("Sign-off"))]
    if so.status == "draft":
        out.append(
            _p(_("Draft, not signed: the report is not valid until a physician has signed it."))
        )
    else:
        out.append(
            _p(
                _("Read and signed by {name}, {time}.").format(
                    name=so.signed_by or DASH, time=fmt_datetime(so.signed_at, lang)
                )
            )
        )
    if so.amendments:
        rows: list[list[Any]] = [
            [_p(h, "cellb") for h in (_("Version"), _("Time"), _("Amendment and reason"))]
        ]
        for version, reason, when in so.amendments:
            rows.append([str(version), fmt_datetime(when, lang), _p(reason, "cell")])
        out.append(_grid(rows, [18 * mm, 32 * mm, CONTENT_WIDTH - 50 * mm]))
    return [KeepTogether(out)]


def _document(buf: io.BytesIO, data: ReportData, title: str) -> SimpleDocTemplate:
    return SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + FOOTER_HEIGHT,
        invariant=1,
        title=title,
        author=data.site_name,
        subject=data.department,
        creator="dxa reports",
        initialFontName=REGULAR,
        lang=data.lang,
    )


def render_pdf(data: ReportData, translate: Translate) -> bytes:
    """Render the DXA report as PDF bytes (A4, fonts embedded, byte-identical for equal input).

    Level A is the diagnostic report (header, patient, referral, examination, technical
    limitations, results, diagnosis, VFA, comparison, conclusion, recommendation, sign-off);
    Level B adds FRAX as given, risk factors, work-up and follow-up, and the charts. Every page
    carries the reference populations, calibration chain, category rule and "page x of y".

    Parameters
    ----------
    data : ReportData
        The report content.
    translate : Translate
        Translates an English message into ``data.lang`` (identity for English).

    Returns
    -------
    bytes
        The PDF file.
    """
    _ = translate
    register_fonts()
    story: list[Flowable] = []
    story += _header(data, translate)
    story += _patient(data, translate)
    story += _referral(data, translate)
    story += _examination(data, translate)
    story += _technical(data, translate)
    story += _results(data, translate)
    story += _diagnosis(data, translate)
    story += _vfa(data, translate)
    story += _comparison(data, translate)
    story += _free_text(_("Conclusion"), data.conclusion, translate)
    story += _free_text(_("Recommendation"), data.recommendation, translate)
    if data.level == "B":
        story += _level_b(data, translate)
        story += _scan_images(data, translate)
    story += _image(data, translate)
    # the sign-off never stands alone on a page: it keeps the flowable before it
    if story:
        story[-1].keepWithNext = True
    story += _sign_off(data, translate)
    buf = io.BytesIO()
    title = _("DXA report {report_id}").format(report_id=data.report_id)
    doc = _document(buf, data, title)
    decorate = partial(_decorate_report, data=data, translate=translate)
    doc.build(story, canvasmaker=partial(_NumberedCanvas, decorate=decorate))
    return buf.getvalue()


def _summary_result(data: ReportData, translate: Translate) -> list[str]:
    _ = translate
    dx = data.diagnosis
    fracture = dx.fragility_fracture or bool(data.vfa and data.vfa.fractured)
    category = dx.category
    if category == "severe_osteoporosis" or (category == "osteoporosis" and fracture):
        first = _(
            "Your bone density is low (osteoporosis), and you have a fracture caused by weak bones."
        )
    else:
        first = {
            "normal": _("Your bone density is normal."),
            "low_bone_mass": _("Your bone density is lower than normal (osteopenia)."),
            "osteoporosis": _("Your bone density is low (osteoporosis)."),
            "below_expected_range_for_age": _(
                "Your bone density is lower than expected for your age."
            ),
            "within_expected_range_for_age": _("Your bone density is as expected for your age."),
        }[category]
    out = [first]
    score = fmt_score(dx.printed_score, data.lang)
    if dx.printed_score is not None and dx.score_kind == "T":
        out.append(
            _(
                "The result is given as a T-score, which compares your bone density with that of "
                "healthy young adults: -1.0 or higher is normal, between -1.0 and -2.5 is lower "
                "than normal (osteopenia), and -2.5 or lower is osteoporosis. Your lowest "
                "T-score was {score}."
            ).format(score=score)
        )
    elif dx.printed_score is not None:
        out.append(
            _(
                "The result is given as a Z-score, which compares your bone density with that of "
                "people of your own age and sex: -2.0 or lower is below the expected range. "
                "Your lowest Z-score was {score}."
            ).format(score=score)
        )
    if data.vfa is not None:
        if data.vfa.fractured:
            out.append(
                _("The picture of your back showed that one or more vertebrae have collapsed.")
            )
        else:
            out.append(_("The picture of your back showed no collapsed vertebrae."))
    comp = data.comparison
    if comp is not None:
        if comp.new_baseline:
            out.append(
                _(
                    "This scan cannot be compared directly with your previous scan; it is the "
                    "new starting point for later scans."
                )
            )
        elif comp.rows:
            down = any(r.significant and r.change < 0 for r in comp.rows)
            up = any(r.significant and r.change > 0 for r in comp.rows)
            if down:
                out.append(_("Your bone density has decreased since your previous scan."))
            elif up:
                out.append(_("Your bone density has increased since your previous scan."))
            else:
                out.append(_("Your bone density has not changed much since your previous scan."))
    return out


def render_patient_summary(data: ReportData, translate: Translate) -> bytes:
    """Render a one-page plain-language summary for the patient.

    It says what was measured, the result in one sentence (a score only with its explanation),
    what happens next and where to read more.

    Parameters
    ----------
    data : ReportData
        The report content.
    translate : Translate
        Translates an English message into ``data.lang``.

    Returns
    -------
    bytes
        The PDF file (one A4 page).
    """
    _ = translate
    register_fonts()
    lang = data.lang
    pt = data.patient

    def plain(text: str) -> Paragraph:
        return _p(text, "plain")

    identity = f", {_identifier_label(pt.identifier, translate)} {pt.identifier}"
    story: list[Flowable] = [
        _p(_clip(data.site_name, "site", FRAME_WIDTH, 2), "site"),
        _p(_clip(data.department, "muted", FRAME_WIDTH, 2), "muted"),
        Spacer(1, 3 * mm),
        _p(_("Your bone density scan"), "h1"),
        _p(_clip(pt.name, "muted", FRAME_WIDTH, _MAX_NAME_LINES, identity), "muted"),
        Spacer(1, 2 * mm),
        _heading(_("What was measured")),
        plain(
            _(
                "On {date} you had a bone density scan (DXA scan) of the {sites}. The scan "
                "uses a very small dose of X-rays to measure how dense, and so how strong, "
                "your bones are."
            ).format(
                date=fmt_date(data.scan_date, lang),
                sites=_plain_sites(data.results, translate),
            )
        ),
        _heading(_("Your result")),
        *[plain(s) for s in _summary_result(data, translate)],
        _heading(_("What happens next")),
        plain(
            _(
                "Your doctor ({referrer}) receives the full report and will contact you about "
                "what the result means for you."
            ).format(referrer=person_name(data.referrer) or DASH)
        ),
    ]
    if data.fls_referral:
        story.append(
            plain(_("You may be contacted by the fracture liaison service (FLS) at the hospital."))
        )
    if data.follow_up_years is not None:
        story.append(
            plain(
                _("A new scan is suggested in about {years} years.").format(
                    years=fmt_years(data.follow_up_years, lang)
                )
            )
        )
    story += [
        _heading(_("Read more")),
        plain(
            _(
                "You can read more about bone density and osteoporosis at sundhed.dk and at "
                "the Danish Osteoporosis Society, osteoporose.dk."
            )
        ),
        Spacer(1, 6 * mm),
        _p(
            _("Report {report_id}. Questions about the scan: {site}, {department}.").format(
                report_id=data.report_id, site=data.site_name, department=data.department
            ),
            "small",
        ),
    ]
    if data.sign_off.status == "draft":
        story.append(_p(_("Draft: the report has not yet been signed by a physician."), "small"))

    def first_page(canvas: Canvas, _doc: Any) -> None:
        if data.sign_off.status == "draft":
            _watermark(canvas, _status_word("draft", translate))

    buf = io.BytesIO()
    doc = _document(buf, data, _("Your bone density scan"))
    doc.bottomMargin = MARGIN
    doc.build(story, onFirstPage=first_page, onLaterPages=first_page)
    return buf.getvalue()

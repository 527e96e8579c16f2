"""Number, date and term formatting shared by the report text rules, tables and charts."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from reports.numbers import printed_bmd, round_half_away

#: A function that translates one English message (the msgid) into the report language.
Translate = Callable[[str], str]

#: Printed when a value is missing.
DASH = "\u2014"

_SPINE = re.compile(r"^L[1-4](-L[1-4])?$")


def _localise(text: str, lang: str) -> str:
    return text.replace(".", ",") if lang == "da" else text


def fmt_decimal(value: Decimal | float, places: int, lang: str, *, signed: bool = False) -> str:
    """Format a number with a fixed number of decimals in the report language.

    Parameters
    ----------
    value : Decimal or float
        The number; floats are rounded half away from zero from their shortest repr.
    places : int
        Number of decimals.
    lang : str
        ``"da"`` prints a decimal comma, ``"en"`` a decimal point.
    signed : bool
        Print a ``+`` in front of positive values.

    Returns
    -------
    str
        The formatted number.

    Examples
    --------
    >>> fmt_decimal(0.8125, 3, "da")
    '0,813'
    >>> fmt_decimal(Decimal("-2.5"), 1, "en", signed=True)
    '-2.5'
    """
    if isinstance(value, Decimal):
        dec = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        dec = abs(dec) if dec.is_zero() else dec  # never print "-0.0"
    else:
        dec = round_half_away(value, places)
    text = f"{dec:{'+' if signed else ''}.{places}f}"
    return _localise(text, lang)


def recorded_number(value: str, lang: str) -> str:
    """Return a number as a device or a form recorded it, with the language's decimal sign.

    The digits are kept as recorded (no rounding); text that is not a number is returned as
    given.

    Examples
    --------
    >>> recorded_number("0.146", "da"), recorded_number("0.146", "en"), recorded_number("n/a", "da")
    ('0,146', '0.146', 'n/a')
    """
    text = value.strip()
    try:
        float(text)
    except ValueError:
        return text
    return _localise(text, lang)


def fmt_bmd(value: float, lang: str, *, signed: bool = False) -> str:
    """Format a BMD in g/cm2 with three decimals (the printed value of :func:`printed_bmd`).

    Parameters
    ----------
    value : float
        BMD or BMD change in g/cm2.
    lang : str
        ``"da"`` or ``"en"``.
    signed : bool
        Print a ``+`` in front of positive values.

    Returns
    -------
    str
        The formatted value.
    """
    return fmt_decimal(printed_bmd(value), 3, lang, signed=signed)


def fmt_score(value: Decimal | None, lang: str) -> str:
    """Format a printed T- or Z-score with one decimal; a dash when missing.

    Parameters
    ----------
    value : Decimal or None
        The printed score.
    lang : str
        ``"da"`` or ``"en"``.

    Returns
    -------
    str
        The formatted score.
    """
    return DASH if value is None else fmt_decimal(value, 1, lang)


def fmt_date(value: date | None, lang: str) -> str:
    """Format a date: ``dd-mm-yyyy`` in Danish, ISO 8601 in English.

    Parameters
    ----------
    value : date or None
        The date.
    lang : str
        ``"da"`` or ``"en"``.

    Returns
    -------
    str
        The formatted date, or a dash.
    """
    if value is None:
        return DASH
    return value.strftime("%d-%m-%Y") if lang == "da" else value.isoformat()


def fmt_datetime(value: datetime | None, lang: str) -> str:
    """Format a date and time to the minute (``dd-mm-yyyy HH:MM`` or ``yyyy-mm-dd HH:MM``).

    Parameters
    ----------
    value : datetime or None
        The time stamp.
    lang : str
        ``"da"`` or ``"en"``.

    Returns
    -------
    str
        The formatted time stamp, or a dash.
    """
    if value is None:
        return DASH
    return f"{fmt_date(value.date(), lang)} {value:%H:%M}"


def fmt_years(value: float, lang: str) -> str:
    """Format a number of years without needless decimals (``2``, ``1,5``).

    Parameters
    ----------
    value : float
        Years.
    lang : str
        ``"da"`` or ``"en"``.

    Returns
    -------
    str
        The formatted number.
    """
    if float(value).is_integer():
        return str(int(value))
    return fmt_decimal(value, 1, lang)


def side_label(side: str | None, translate: Translate) -> str:
    """Return the translated side ("left", "right"), or an empty string.

    Parameters
    ----------
    side : str or None
        ``"left"``/``"right"`` (also ``"L"``/``"R"``, ``"V"``/``"H"``); anything else is printed
        as given.
    translate : Translate
        The message translator.

    Returns
    -------
    str
        The label.
    """
    _ = translate
    if not side:
        return ""
    key = side.strip().lower()
    if key in ("left", "l", "v", "venstre"):
        return _("left")
    if key in ("right", "r", "h", "højre"):
        return _("right")
    return side


def region_label(code: str, translate: Translate, side: str | None = None) -> str:
    """Return the translated, lower-case region name (with the side when given).

    Parameters
    ----------
    code : str
        Region code: ``L1``..``L4``, ``L1-L4``, ``L2-L4`` (any lumbar range), ``total_hip``,
        ``femoral_neck``, ``trochanter``, ``radius_33``; unknown codes are printed as given.
    translate : Translate
        The message translator.
    side : str or None
        Side code, see :func:`side_label`.

    Returns
    -------
    str
        For example ``"femoral neck, left"``.
    """
    _ = translate
    names = {
        "total_hip": _("total hip"),
        "femoral_neck": _("femoral neck"),
        "trochanter": _("trochanter"),
        "radius_33": _("one-third radius"),
        "intertrochanter": _("intertrochanteric region"),
        "wards": _("Ward's triangle"),
        # calibration step groups
        "spine": _("lumbar spine"),
        "all": _("all regions"),
    }
    if code in names:
        label = names[code]
    elif _SPINE.match(code):
        label = code if "-" not in code else _("lumbar spine {levels}").format(levels=code)
    else:
        label = code
    side_text = side_label(side, translate)
    return f"{label}, {side_text}" if side_text else label


def capitalise(text: str) -> str:
    """Upper-case the first letter only (``"femoral neck"`` -> ``"Femoral neck"``).

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    str
        The text with its first character upper-cased.
    """
    return text[:1].upper() + text[1:]


def category_label(category: str, translate: Translate, *, fracture: bool = False) -> str:
    """Return the translated name of a WHO/ISCD category, capitalised.

    Parameters
    ----------
    category : str
        Category code (see :data:`reports.model.CATEGORIES`).
    translate : Translate
        The message translator.
    fracture : bool
        A prevalent fragility fracture turns osteoporosis into "osteoporosis with fragility
        fracture" ("manifest osteoporose").

    Returns
    -------
    str
        The category words.
    """
    _ = translate
    if category == "severe_osteoporosis" or (category == "osteoporosis" and fracture):
        return _("Osteoporosis with fragility fracture")
    labels = {
        "normal": _("Normal bone density"),
        "low_bone_mass": _("Low bone mass (osteopenia)"),
        "osteoporosis": _("Osteoporosis"),
        "below_expected_range_for_age": _("Below the expected range for age"),
        "within_expected_range_for_age": _("Within the expected range for age"),
    }
    return labels.get(category, category)


def grade_word(grade: int, translate: Translate) -> str:
    """Return the Genant grade word: mild (1), moderate (2), severe (3); normal for 0.

    Parameters
    ----------
    grade : int
        Genant grade 0-3.
    translate : Translate
        The message translator.

    Returns
    -------
    str
        The word.
    """
    _ = translate
    words = {0: _("normal"), 1: _("mild"), 2: _("moderate"), 3: _("severe")}
    return words[grade]


def morphology_word(morphology: str | None, translate: Translate) -> str:
    """Return the translated fracture shape (wedge, biconcave, crush); others as given.

    Parameters
    ----------
    morphology : str or None
        Shape code.
    translate : Translate
        The message translator.

    Returns
    -------
    str
        The word, or an empty string.
    """
    _ = translate
    if not morphology:
        return ""
    words = {
        "wedge": _("wedge"),
        "biconcave": _("biconcave"),
        "crush": _("crush"),
        "compression": _("crush"),
    }
    return words.get(morphology.strip().lower(), morphology)


def sex_label(sex: str | None, translate: Translate) -> str:
    """Return the translated sex ("female", "male"), or a dash when unknown.

    Parameters
    ----------
    sex : str or None
        ``F``/``M`` (also ``K`` for kvinde, ``female``/``male``); others as given.
    translate : Translate
        The message translator.

    Returns
    -------
    str
        The label.
    """
    _ = translate
    kind = normalise_sex(sex)
    if kind == "F":
        return _("female")
    if kind == "M":
        return _("male")
    return sex or DASH


def normalise_sex(sex: str | None) -> str | None:
    """Return ``"F"``, ``"M"`` or None from the usual codes (F, K, female, kvinde; M, male).

    Parameters
    ----------
    sex : str or None
        The code.

    Returns
    -------
    str or None
        ``"F"``, ``"M"`` or None when unknown.
    """
    if not sex:
        return None
    key = sex.strip().lower()
    if key in ("f", "k", "female", "woman", "kvinde"):
        return "F"
    if key in ("m", "male", "man", "mand"):
        return "M"
    return None


def join_words(items: list[str], translate: Translate) -> str:
    """Join items as ``a, b and c`` in the report language.

    Parameters
    ----------
    items : list of str
        The items.
    translate : Translate
        The message translator (supplies the word "and").

    Returns
    -------
    str
        The joined text.
    """
    _ = translate
    if len(items) <= 1:
        return "".join(items)
    return _("{items} and {last}").format(items=", ".join(items[:-1]), last=items[-1])


# -- the codes of calibration, QC and workflow: one table for the screens and the reports ----


def step_kind_label(kind: str, translate: Translate) -> str:
    """Return the translated kind of a calibration step (drift, scanner, national).

    Parameters
    ----------
    kind : str
        ``drift``, ``scanner`` or ``national``; others as given.
    translate : Translate
        The message translator.

    Returns
    -------
    str
        The words, capitalised.
    """
    _ = translate
    labels = {
        "drift": _("Drift correction"),
        "scanner": _("Scanner correction"),
        "national": _("National equation"),
    }
    return labels.get(kind, kind)


def step_status_label(status: str, translate: Translate) -> str:
    """Return the translated status of a calibration step (proposed, approved, retired).

    Parameters
    ----------
    status : str
        The status code.
    translate : Translate
        The message translator.

    Returns
    -------
    str
        The word, capitalised.
    """
    _ = translate
    labels = {"proposed": _("Proposed"), "approved": _("Approved"), "retired": _("Retired")}
    return labels.get(status, status)


def method_label(method: str, translate: Translate) -> str:
    """Return how a calibration step was fitted, in words.

    Parameters
    ----------
    method : str
        ``qc-cusum``, ``qc-cusum-ramp``, ``ols-esp``, ``esp-certified``,
        ``esp-reference-line``, ``deming-in-vivo``, ``deming``, ``ols``; others as given.
    translate : Translate
        The message translator.

    Returns
    -------
    str
        The words, capitalised.
    """
    _ = translate
    labels = {
        "qc-cusum": _("Daily QC (CUSUM shift)"),
        "qc-cusum-ramp": _("Daily QC (slow drift)"),
        "ols-esp": _("Travelling phantom, least squares"),
        "esp-certified": _("Phantom certificate"),
        "esp-reference-line": _("Reference scanner's phantom line"),
        "deming-in-vivo": _("Patients on both scanners, Deming regression"),
        "deming": _("Deming regression"),
        "ols": _("Least squares"),
    }
    return labels.get(method, method)


def dataset_label(dataset: str, translate: Translate) -> str:
    """Return the data a calibration step was fitted on, in words.

    Parameters
    ----------
    dataset : str
        ``travelling:<round>[:reference=<serial>]``, ``in-vivo:<reference>~<serial>``,
        ``daily-qc:<serial>``; others as given.
    translate : Translate
        The message translator.

    Returns
    -------
    str
        For example "travelling phantom round ESP-2026-R1" or "patients scanned on
        HZA-1 and PRO-2".
    """
    _ = translate
    kind, _sep, rest = dataset.partition(":")
    if not rest:
        return dataset
    if kind == "travelling":
        name, _sep2, extra = rest.partition(":reference=")
        text = _("travelling phantom round {round}").format(round=name)
        if extra:
            text += ", " + _("reference scanner {serial}").format(serial=extra)
        return text
    if kind == "in-vivo":
        reference, _sep2, serial = rest.partition("~")
        if serial:
            return _("patients scanned on {reference} and {serial}").format(
                reference=reference, serial=serial
            )
        return _("patients scanned on {reference}").format(reference=reference)
    if kind == "daily-qc":
        return _("daily QC of {serial}").format(serial=rest)
    return dataset


def qc_rule_label(rules: str, translate: Translate) -> str:
    """Return QC rule names as a user reads them (Westgard names as written, others in words).

    Parameters
    ----------
    rules : str
        One rule or several separated by commas (``"1-3s, limit, CUSUM"``), possibly with a
        ``scan:`` prefix.
    translate : Translate
        The message translator.

    Returns
    -------
    str
        E.g. "1-3s, outside the ±limit, CUSUM".
    """
    _ = translate
    words = {
        "limit": _("outside the limit"),
        "cusum": _("CUSUM"),
        "scan": _("whole scan"),
    }
    prefix = ""
    text = rules.strip()
    if text.lower().startswith("scan:"):
        prefix, text = words["scan"] + ": ", text[5:].strip()
    parts = [p.strip() for p in text.split(",") if p.strip()]
    return prefix + ", ".join(words.get(p.lower(), p) for p in parts)


def report_status_label(status: str, translate: Translate) -> str:
    """Return the translated state of a report (not started, draft, signed, amended).

    Parameters
    ----------
    status : str
        ``none``, ``draft``, ``signed`` or ``amended``; others as given.
    translate : Translate
        The message translator.

    Returns
    -------
    str
        The word, capitalised.
    """
    _ = translate
    labels = {
        "none": _("Not started"),
        "draft": _("Draft"),
        "signed": _("Signed"),
        "amended": _("Amended"),
    }
    return labels.get(status, status)


def image_kind_label(kind: str, translate: Translate) -> str:
    """Return what a stored image is, in words (``hip_image`` -> "Hip image").

    Parameters
    ----------
    kind : str
        The image kind code of the readers.
    translate : Translate
        The message translator.

    Returns
    -------
    str
        The words, capitalised.
    """
    _ = translate
    labels = {
        "ap_spine_image": _("AP spine image"),
        "hip_image": _("Hip image"),
        "forearm_image": _("Forearm image"),
        "whole_body_image": _("Whole body image"),
        "vfa": _("VFA image"),
        "sr": _("Structured report"),
        "image": _("Image"),
        "report": _("Scanner report"),
    }
    return labels.get(kind, capitalise(kind.replace("_", " ")))


def diagnostic_region(code: str) -> bool:
    """Return whether a region is one the WHO/ISCD category is given for.

    The diagnostic regions are the lumbar spine as a range (``L1-L4`` or the included
    vertebrae), total hip, femoral neck and one-third radius; single vertebrae and the
    trochanter get scores but no category of their own.

    Parameters
    ----------
    code : str
        The region code.

    Returns
    -------
    bool
        True for a diagnostic region.
    """
    return code in ("total_hip", "femoral_neck", "radius_33") or (
        _SPINE.match(code) is not None and "-" in code
    )


def scanner_parts(manufacturer: str, model: str) -> tuple[str, str]:
    """Return manufacturer and model without the word the model repeats.

    Parameters
    ----------
    manufacturer : str
        E.g. ``"GE Lunar"``.
    model : str
        E.g. ``"Lunar Prodigy"``.

    Returns
    -------
    tuple of (str, str)
        The manufacturer without its last words when the model starts with them, and the
        model: printed together they read "GE Lunar Prodigy", never "GE Lunar Lunar Prodigy".

    Examples
    --------
    >>> scanner_parts("GE Lunar", "Lunar Prodigy")
    ('GE', 'Lunar Prodigy')
    >>> scanner_parts("Hologic", "Horizon A")
    ('Hologic', 'Horizon A')
    """
    words = manufacturer.split()
    model = model.strip()
    for n in range(len(words), 0, -1):
        tail = " ".join(words[-n:]).lower()
        if model.lower().startswith(tail + " ") or model.lower() == tail:
            return " ".join(words[:-n]), model
    return manufacturer.strip(), model


def scanner_name(manufacturer: str, model: str) -> str:
    """Return "manufacturer model" without repetition ("GE Lunar Prodigy").

    Parameters
    ----------
    manufacturer, model : str
        As the scanner reports them.

    Returns
    -------
    str
        The name.

    Examples
    --------
    >>> scanner_name("GE Lunar", "Lunar iDXA")
    'GE Lunar iDXA'
    """
    return " ".join(p for p in scanner_parts(manufacturer, model) if p)


def person_name(name: str | None) -> str:
    """Return a person's name as written ("Prefix Given Middle Family Suffix").

    A DICOM PN ``Family^Given^Middle^Prefix^Suffix`` is turned around; other names are
    returned as given.

    Parameters
    ----------
    name : str or None
        The name as stored.

    Returns
    -------
    str
        The name to print (empty when none).

    Examples
    --------
    >>> person_name("Demo^Praksislæge")
    'Praksislæge Demo'
    >>> person_name("Holm^Ida^^Dr.")
    'Dr. Ida Holm'
    """
    if not name:
        return ""
    text = name.split("=")[0]  # the alphabetic group of a PN with ideographic parts
    if "^" not in text:
        return text.strip()
    parts = [p.strip() for p in text.split("^")] + [""] * 5
    family, given, middle, prefix, suffix = parts[:5]
    return " ".join(p for p in (prefix, given, middle, family, suffix) if p)


def reference_label(text: str, translate: Translate) -> str:
    """Return the names of reference tables (each maybe followed by its version) translated.

    The reference tables that ship with the tool have translated names; a table installed
    from elsewhere keeps its own name.

    Parameters
    ----------
    text : str
        One name or several separated by ``"; "``, each maybe followed by a version.
    translate : Translate
        The message translator.

    Returns
    -------
    str
        The names in the report language.
    """
    _ = translate
    names = {
        "NHANES III femur, non-Hispanic white women 20-29": _(
            "NHANES III femur, non-Hispanic white women 20-29"
        ),
        "PROVISIONAL national lumbar spine T reference (women 20-29)": _(
            "PROVISIONAL national lumbar spine T reference (women 20-29)"
        ),
        "PROVISIONAL Z-score age/sex bands (constructed, not published data)": _(
            "PROVISIONAL Z-score age/sex bands (constructed, not published data)"
        ),
    }
    out = []
    for item in text.split("; "):
        for english, local in names.items():
            if item.startswith(english):
                item = local + item[len(english) :]
                break
        out.append(item)
    return "; ".join(out)

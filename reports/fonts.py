"""Register reportlab's bundled Bitstream Vera TrueType fonts so PDFs embed æ ø å."""

from __future__ import annotations

from functools import cache
from pathlib import Path

#: Font names used by the report (registered by :func:`register_fonts`).
REGULAR = "DxaVera"
BOLD = "DxaVera-Bold"
ITALIC = "DxaVera-Italic"
BOLD_ITALIC = "DxaVera-BoldItalic"


@cache
def register_fonts() -> tuple[str, str]:
    """Register the Vera fonts shipped inside reportlab (once per process).

    TrueType fonts are embedded (subset) in the PDF, unlike the 14 standard fonts, and Vera
    covers the Danish letters æ ø å Æ Ø Å as well as ≤ ≥ − ² µ.

    Returns
    -------
    tuple of str
        The regular and bold font names.

    Raises
    ------
    FileNotFoundError
        When the reportlab installation lacks its fonts folder.
    """
    import reportlab
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    folder = Path(reportlab.__file__).resolve().parent / "fonts"
    files = {
        REGULAR: "Vera.ttf",
        BOLD: "VeraBd.ttf",
        ITALIC: "VeraIt.ttf",
        BOLD_ITALIC: "VeraBI.ttf",
    }
    for name, filename in files.items():
        path = folder / filename
        if not path.exists():
            raise FileNotFoundError(
                f"{path} is missing: reinstall reportlab (its bundled fonts are needed)"
            )
        pdfmetrics.registerFont(TTFont(name, str(path)))
    addMapping(REGULAR, 0, 0, REGULAR)
    addMapping(REGULAR, 1, 0, BOLD)
    addMapping(REGULAR, 0, 1, ITALIC)
    addMapping(REGULAR, 1, 1, BOLD_ITALIC)
    return REGULAR, BOLD

"""Genant grades at the product-decision boundaries, VFA sentences and the ISCD indication."""

from __future__ import annotations

from decimal import Decimal

import pytest

from reports.model import VfaLevel, VfaSection
from reports.vfa import genant_grade, iscd_vfa_indication, vfa_sentences
from tests.reports.danish import danish, english
from tests.reports.sample import vfa_section


@pytest.mark.parametrize(
    ("loss", "grade"),
    [
        (0.0, 0),
        (-0.5, 0),
        (19.99, 0),
        (20.0, 1),
        (22.5, 1),
        (25.0, 1),
        (25.01, 2),
        (40.0, 2),
        (40.01, 3),
        (100.0, 3),
    ],
)
def test_genant_boundaries(loss: float, grade: int) -> None:
    assert genant_grade(loss) == grade


@pytest.mark.parametrize("bad", [float("nan"), 100.5])
def test_genant_rejects_impossible_values(bad: float) -> None:
    with pytest.raises(ValueError, match="percentage"):
        genant_grade(bad)


def _all_normal(**changes: VfaLevel) -> VfaSection:
    levels = {name: VfaLevel(name, 0) for name in ("T4", "T8", "T12", "L1", "L4")}
    levels.update(changes)
    return VfaSection(tuple(levels.values()))


def test_sentences_fracture_mild_not_evaluable_and_sdi() -> None:
    text = vfa_sentences(vfa_section(), english)
    assert text[0] == "Vertebral fracture at T12 (moderate, Genant grade 2, wedge)."
    assert text[1] == "Mild deformity (Genant grade 1) at L1, uncertain as a fracture."
    assert "No vertebral fracture" not in " ".join(text)
    assert "radiograph" not in " ".join(text)  # a grade-2 fracture is already established
    assert "Not evaluable: T4 (overlejret af scapula)." in text
    assert text[-1] == "Spinal deformity index (SDI): 3 (sum of the Genant grades)."


def test_several_fractures_are_named_with_grade_words() -> None:
    section = _all_normal(T8=VfaLevel("T8", 3, "crush"), L1=VfaLevel("L1", 2, "biconcave"))
    first = vfa_sentences(section, english)[0]
    assert first == (
        "Vertebral fractures at T8 (severe, Genant grade 3, crush) and "
        "L1 (moderate, Genant grade 2, biconcave)."
    )
    assert "SDI): 5" in vfa_sentences(section, english)[-1]


def test_grade_one_alone_suggests_a_radiograph() -> None:
    text = vfa_sentences(_all_normal(L1=VfaLevel("L1", 1, "wedge")), english)
    assert "uncertain as a fracture" in text[0]
    assert text[1] == "A lateral radiograph of the spine is suggested to clarify the finding."
    assert not any(t.startswith("Vertebral fracture") for t in text)


def test_no_fracture() -> None:
    assert vfa_sentences(_all_normal(), english) == [
        "No vertebral fracture (T4-L4).",
        "Spinal deformity index (SDI): 0 (sum of the Genant grades).",
    ]
    partly = vfa_sentences(_all_normal(T4=VfaLevel("T4", None)), english)
    assert partly[0] == "No vertebral fracture at the evaluable levels."
    assert partly[1] == "Not evaluable: T4."


def test_danish_sentences() -> None:
    text = " ".join(vfa_sentences(vfa_section(), danish))
    assert "Vertebral fraktur i T12 (moderat, Genant grad 2, kileformet)." in text
    assert "Let deformitet (Genant grad 1) i L1" in text
    assert "Ikke vurderbar: T4" in text
    assert "SDI" in text


T15 = Decimal("-1.5")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((None, "F", 85, 6.0, True, True), (None, [])),
        ((Decimal("-1.0"), "F", 85, 6.0, True, True), (False, [])),
        ((Decimal("-0.4"), "M", 90, None, False, False), (False, [])),
        ((T15, "F", 70, None, False, False), (True, ["woman aged 70 or more"])),
        ((T15, "F", 69.9, None, False, False), (False, [])),
        ((T15, "M", 79, None, False, False), (False, [])),
        ((T15, "M", 80, None, False, False), (True, ["man aged 80 or more"])),
        ((T15, "M", 60, 4.0, False, False), (False, [])),
        ((T15, "M", 60, 4.1, False, False), (True, ["historical height loss over 4 cm"])),
        (
            (Decimal("-1.1"), None, None, None, True, False),
            (True, ["self-reported, undocumented vertebral fracture"]),
        ),
        (
            (Decimal("-3.0"), "K", 50, None, False, True),
            (
                True,
                [
                    "glucocorticoids equivalent to 5 mg prednisolone a day or more for 3 months "
                    "or more"
                ],
            ),
        ),
    ],
)
def test_iscd_vfa_indication(
    args: tuple[Decimal | None, str | None, float | None, float | None, bool, bool],
    expected: tuple[bool | None, list[str]],
) -> None:
    assert iscd_vfa_indication(*args) == expected


def test_iscd_vfa_indication_translated_and_several_reasons() -> None:
    met, reasons = iscd_vfa_indication(T15, "F", 75, 5.0, True, True, danish)
    assert met is True
    assert reasons[0] == "kvinde på 70 år eller derover"
    assert len(reasons) == 4

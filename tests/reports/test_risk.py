"""The pure risk-factor rules: answers, facts, the shipped rule sets, FRAX as given."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from reports.risk import (
    AnswerError,
    Facts,
    FraxEntry,
    RiskFactors,
    add_years,
    check_rule_set,
    clinical_facts,
    condition_met,
    evaluate_rules,
    frax_prefill,
    parse_answer,
    questionnaire_lines,
    rescan_interval,
)

RULES = Path(__file__).resolve().parents[2] / "resources" / "clinical"


def _rules(name: str) -> dict:  # type: ignore[type-arg]
    data = json.loads((RULES / name).read_text("utf-8"))
    check_rule_set(data)
    return data  # type: ignore[no-any-return]


def _ident(text: str) -> str:
    return text


def test_answers_are_read_in_both_spellings_and_odd_ones_refused() -> None:
    assert parse_answer("current_smoking", "ja") is True
    assert parse_answer("current_smoking", "0") is False
    assert parse_answer("height_loss_cm", "4,5") == 4.5
    assert parse_answer("falls_last_year", "2") == 2
    assert parse_answer("prior_fracture_site", "Spine") == "vertebra"
    assert parse_answer("prior_fracture_date", "2024-02-01") == dt.date(2024, 2, 1)
    assert parse_answer("glucocorticoids", "") is None
    for name, text, kind in (
        ("current_smoking", "maybe", "yes/no"),
        ("height_loss_cm", "abc", "number"),
        ("height_loss_cm", "400", "range"),
        ("falls_last_year", "1.5", "whole number"),
        ("prior_fracture_site", "knee", "site"),
        ("shoe_size", "42", "field"),
    ):
        with pytest.raises(AnswerError) as info:
            parse_answer(name, text)
        assert info.value.kind == kind


def test_questionnaire_properties() -> None:
    rf = RiskFactors(
        prior_fracture=True,
        prior_fracture_site="vertebra",
        glucocorticoids=True,
        glucocorticoid_dose_mg=5.0,
        glucocorticoid_months=3.0,
        current_smoking=False,
        falls_last_year=1,
        current_treatment="ingen",
    )
    assert rf.self_reported_vertebral_fracture and rf.glucocorticoids_significant
    assert rf.risk_factor_count == 3  # fracture, glucocorticoids, a fall
    assert not rf.on_treatment
    assert RiskFactors.from_mapping(rf.to_mapping()) == rf
    short = RiskFactors(glucocorticoids=True, glucocorticoid_dose_mg=4.9, glucocorticoid_months=12)
    assert not short.glucocorticoids_significant
    lines = questionnaire_lines(rf, _ident, lang="da")
    assert "Prior fragility fracture: yes (vertebra)." in lines
    assert "Glucocorticoids: yes (5,0 mg prednisolone a day, for 3 months)." in lines
    assert "Current smoking: no." in lines
    assert "Current osteoporosis treatment: none." in lines


def test_conditions_never_fire_on_unknown_facts() -> None:
    f = Facts({"t_min": -2.5, "glucocorticoids_significant": True, "score_kind": "T"})
    assert condition_met({"fact": "t_min", "le": -2.5}, f)
    assert not condition_met({"fact": "t_min", "lt": -2.5}, f)
    assert condition_met({"fact": "glucocorticoids_significant", "eq": True}, f)
    assert condition_met({"fact": "score_kind", "eq": "T"}, f)
    assert not condition_met({"fact": "vfa_fractures", "ge": 1}, f)
    assert not condition_met({"not": {"fact": "vfa_fractures", "ge": 1}}, f)
    assert condition_met(
        {"any": [{"fact": "vfa_fractures", "ge": 1}, {"fact": "t_min", "lt": 0}]}, f
    )
    assert not condition_met(
        {"all": [{"fact": "risk_factor_count", "ge": 1}, {"fact": "t_min", "lt": 0}]}, f
    )
    with pytest.raises(ValueError):
        condition_met({"fact": "t_min"}, f)
    with pytest.raises(ValueError):
        condition_met({"fact": "score_kind", "lt": "T"}, f)


def _facts(
    t: str,
    *,
    risk: RiskFactors | None = None,
    grades: list[int | None] | None = None,
    kind: str = "T",
) -> Facts:
    return clinical_facts(
        score_kind=kind,
        t_scores={"L1-L4": Decimal(t), "femoral_neck": Decimal("0.0"), "L1": Decimal("-9.9")},
        sex="F",
        age=72.0,
        vfa_grades=grades,
        risk=risk,
    )


def _ids(found: tuple) -> list[str]:  # type: ignore[type-arg]
    return [s.id for s in found]


def test_shipped_reimbursement_rules_known_answers() -> None:
    rules = _rules("reimbursement_rules.json")
    assert rules["status"] == "UNVERIFIED"
    smoker = RiskFactors(current_smoking=True)
    steroid = RiskFactors(glucocorticoids=True, glucocorticoid_dose_mg=7.5, glucocorticoid_months=6)
    # L1 is not a diagnostic site: t_min comes from L1-L4 and the femoral neck only
    assert _facts("-2.4", risk=smoker).get("t_min") == -2.4
    assert _ids(evaluate_rules(rules, _facts("-2.5", risk=smoker), lang="en")) == [
        "reimbursement:t_le_-2.5_with_risk_factor"
    ]
    assert _ids(evaluate_rules(rules, _facts("-2.4", risk=smoker), lang="en")) == []
    assert _ids(evaluate_rules(rules, _facts("-2.5"), lang="en")) == []  # no questionnaire
    assert _ids(evaluate_rules(rules, _facts("-4.1"), lang="en")) == ["reimbursement:t_lt_-4"]
    assert _ids(evaluate_rules(rules, _facts("-1.1", risk=steroid), lang="en")) == [
        "reimbursement:glucocorticoids_t_lt_-1"
    ]
    assert _ids(evaluate_rules(rules, _facts("-1.0", risk=steroid), lang="en")) == []
    two = _ids(evaluate_rules(rules, _facts("-3.0", grades=[0, 2, 3, None]), lang="da"))
    assert two == [
        "reimbursement:vertebral_fracture",
        "reimbursement:two_vertebral_fractures_t_le_-3",
    ]
    assert _ids(evaluate_rules(rules, _facts("-0.5", grades=[1, 0]), lang="en")) == []
    # a Z-score study has no T facts
    assert _ids(evaluate_rules(rules, _facts("-4.5", kind="Z"), lang="en")) == []
    da = evaluate_rules(rules, _facts("-4.1"), lang="da")[0]
    assert "-4,0" in da.text and not da.verified


def test_shipped_rescan_rules_known_answers() -> None:
    rules = _rules("rescan_rules.json")
    steroid = RiskFactors(glucocorticoids=True, glucocorticoid_dose_mg=5, glucocorticoid_months=3)
    treated = RiskFactors(current_treatment="alendronat")
    smoker = RiskFactors(current_smoking=True)

    def years(t: str, **kw: object) -> float | None:
        found = rescan_interval(rules, _facts(t, **kw), lang="en")  # type: ignore[arg-type]
        assert found is not None
        return found.years

    assert years("-1.1", risk=steroid) == 1
    assert years("-0.5", risk=steroid) == 5  # glucocorticoids but T not below -1.0
    assert years("-1.2", risk=treated) == 2
    assert years("-2.0") == 2
    assert years("-1.5", risk=smoker) == 3
    assert years("-1.5") == 5
    assert years("-1.4") == 5
    assert years("-3.0", kind="Z") is None


def test_frax_is_recorded_as_given_and_checked() -> None:
    entry = FraxEntry(24.5, 8.2, "FRAX web 4.4")
    assert entry.model == "Denmark"
    for major, hip, version in ((101.0, 1.0, "v"), (5.0, 6.0, "v"), (5.0, 1.0, " ")):
        with pytest.raises(ValueError):
            FraxEntry(major, hip, version)
    pre = frax_prefill(
        RiskFactors(prior_fracture=True, current_smoking=False),
        age=71.9,
        sex="F",
        weight_kg=60.0,
        height_cm=165.25,
        femoral_neck_bmd=0.6125,
    )
    assert pre["age"] == "71" and pre["sex"] == "female" and pre["previous_fracture"] == "yes"
    assert pre["current_smoking"] == "no" and pre["glucocorticoids"] == ""
    assert pre["femoral_neck_bmd"] == "0.613"  # 3 decimals, half away from zero


def test_add_years_clamps_month_ends() -> None:
    assert add_years(dt.date(2026, 7, 25), 1) == dt.date(2027, 7, 25)
    assert add_years(dt.date(2024, 2, 29), 1) == dt.date(2025, 2, 28)
    assert add_years(dt.date(2026, 8, 31), 0.5) == dt.date(2027, 2, 28)


def test_frax_inputs_print_in_words_and_the_reports_decimal_sign() -> None:
    from reports.labels import recorded_number
    from reports.risk import frax_input_text

    da = {"yes": "ja", "no": "nej", "female": "kvinde", "male": "mand"}
    assert [frax_input_text(v, "da", lambda m: da.get(m, m)) for v in ("yes", "female", "")] == [
        "ja",
        "kvinde",
        "-",
    ]
    assert frax_input_text("0.623", "da", str) == "0,623"
    assert frax_input_text("52.8", "en", str) == "52.8"
    assert recorded_number(" 0.146 ", "da") == "0,146"  # digits as recorded, never rounded
    assert recorded_number("2500", "da") == "2500"
    assert recorded_number("n/a", "da") == "n/a"

"""A step flagged "needs review" asks the analyst to tick that it was reviewed (issue 14)."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from dxa_app.gui.decision import DecisionDialog
from dxa_app.services.impact import ChangePreview

IMPACT = ChangePreview(("OTH-2",), ("total_hip",), 3, 0)


def test_the_review_box_shows_only_for_a_flagged_approval(qtbot: QtBot) -> None:
    flagged = DecisionDialog.for_step(7, True, IMPACT, None, "slope 0.770 outside 0.85-1.15")
    qtbot.addWidget(flagged)
    flagged.show()
    assert flagged.reviewed_check.isVisible() and not flagged.reviewed()
    assert "slope 0.770" in flagged.reviewed_check.text()
    flagged.reviewed_check.setChecked(True)
    assert flagged.reviewed()
    plain = DecisionDialog.for_step(8, True, IMPACT, None)
    qtbot.addWidget(plain)
    plain.show()
    assert not plain.reviewed_check.isVisible() and not plain.reviewed()
    retire = DecisionDialog.for_step(7, False, IMPACT, None, "slope 0.770 outside 0.85-1.15")
    qtbot.addWidget(retire)
    retire.show()
    assert not retire.reviewed_check.isVisible()

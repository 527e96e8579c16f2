"""The dialog of a decision on the calibration: what would change, a reason, the password."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QCheckBox, QLineEdit, QWidget

from dxa_app.gui.common import PasswordDialog
from dxa_app.gui.labels import region_text
from dxa_app.i18n import _

if TYPE_CHECKING:
    from dxa_app.services.impact import ChangePreview


class DecisionDialog(PasswordDialog):
    """A decision on the calibration: what would change, a reason, the password typed again.

    Used to approve or retire a step (:meth:`for_step`), to install a reference table and to
    choose the national scale. The impact lines come from the service's preview (None when
    the decision has no preview).

    Parameters
    ----------
    question : str
        The decision asked, e.g. "Approve step 4?".
    title : str
        The window title.
    impact : ChangePreview or None
        What the decision would change on rescore.
    parent : QWidget, optional
        The owner.
    review : str
        Why the decision was flagged for review; shows a "Reviewed" tick box when given.
    notes : sequence of str
        More lines shown under the question.
    """

    def __init__(
        self,
        question: str,
        title: str,
        impact: ChangePreview | None,
        parent: QWidget | None = None,
        review: str = "",
        notes: Sequence[str] = (),
    ) -> None:
        lines = [question, *notes]
        if impact is not None:
            lines += [
                _("Scanners {scanners}; regions {regions}; {studies} studies.").format(
                    scanners=", ".join(impact.scanners) or "-",
                    regions=", ".join(region_text(r) for r in impact.regions) or "-",
                    studies=impact.studies,
                ),
                _("{n} stored diagnoses would change category on rescore.").format(
                    n=impact.category_changes
                ),
                *(f"  {change}: {n}" for change, n in impact.transitions.items()),
            ]
        lines.append(_("Give the reason and re-enter your password."))
        super().__init__("\n".join(lines), parent)
        self.setWindowTitle(title)
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText(_("Reason"))
        self.body.insertWidget(1, self.reason_edit)
        self.tab_order(self.reason_edit, self.password_edit)
        #: Ticked to say a step flagged "needs review" was reviewed (shown only then).
        self.reviewed_check = QCheckBox(_("Reviewed: {why}").format(why=review))
        self.reviewed_check.setVisible(bool(review))
        self.body.insertWidget(2, self.reviewed_check)

    @classmethod
    def for_step(
        cls,
        step_id: int,
        approve: bool,
        impact: ChangePreview,
        parent: QWidget | None = None,
        review: str = "",
    ) -> DecisionDialog:
        """Return the dialog that approves or retires one calibration step.

        Parameters
        ----------
        step_id : int
            The step.
        approve : bool
            Approve (True) or retire (False).
        impact : ChangePreview
            What the decision would change.
        parent : QWidget, optional
            The owner.
        review : str
            Why the step needs review (the tick box is shown only when approving).

        Returns
        -------
        DecisionDialog
            The dialog (not shown yet).
        """
        question = (_("Approve step {id}?") if approve else _("Retire step {id}?")).format(
            id=step_id
        )
        title = _("Approve step") if approve else _("Retire step")
        return cls(question, title, impact, parent, review if approve else "")

    def reviewed(self) -> bool:
        """Return whether the analyst ticked that the flagged step was reviewed."""
        return self.reviewed_check.isVisible() and self.reviewed_check.isChecked()

    def reason(self) -> str:
        """Return the reason typed."""
        return self.reason_edit.text()

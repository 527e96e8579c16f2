"""The HL7 outbox tab: the table passes the model tester and shows each message's state."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from dxa_app.domain import Role
from dxa_app.gui.outbox_panel import OutboxModel, OutboxPanel
from dxa_app.services import reporting
from dxa_app.services.importing import import_paths
from dxa_app.services.patient_record import Hl7Receiver, send_hl7, set_hl7_receiver
from tests.dicom_study import STUDY_UID, write_study
from tests.record_listener import Listener, free_port
from tests.sessions import PASSWORD, session_as

pytestmark = pytest.mark.gui
TIMEOUT = 20000


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("outbox-gui")
    write_study(tmp / "in")
    archive = tmp / "a.dxa.sqlite"
    import_paths(session_as(archive, Role.TECHNICIAN, "tech"), [tmp / "in"])
    doc = session_as(archive, Role.PHYSICIAN, "doc")
    reporting.open_report(doc, STUDY_UID, lang="da", level="A")
    reporting.sign_report(doc, STUDY_UID, password=PASSWORD)
    return archive


def test_outbox_shows_waiting_then_delivered(
    qtbot: Any, qtmodeltester: Any, signed: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "a.dxa.sqlite"
    shutil.copy(signed, archive)
    port = free_port()
    set_hl7_receiver(session_as(archive, Role.ADMIN, "admin"), Hl7Receiver("127.0.0.1", port))
    doc = session_as(archive, Role.PHYSICIAN, "doc")
    send_hl7(doc, STUDY_UID)  # nobody listens: the message waits

    panel = OutboxPanel(doc)
    qtbot.addWidget(panel)
    qtmodeltester.check(panel.model)
    panel.refresh()
    qtbot.waitUntil(lambda: not panel.busy() and panel.model.rowCount() == 1, timeout=TIMEOUT)
    state = panel.model.index(0, 4).data()
    assert state in ("Waiting", "Venter")
    assert panel.deliver_button.isEnabled() and not panel.retry_button.isEnabled()

    with Listener(["AE"], port=port) as listener:
        send_hl7(doc, STUDY_UID)  # forced now: the receiver refuses (AE)
        panel.refresh()
        qtbot.waitUntil(lambda: not panel.busy(), timeout=TIMEOUT)
        assert panel.model.rows()[0].state == "failed"
        panel.table.selectRow(0)
        assert panel.retry_button.isEnabled()
        panel.retry()  # queued again and delivered (the listener now answers AA)
        qtbot.waitUntil(
            lambda: not panel.busy() and panel.model.rows()[0].state == "delivered",
            timeout=TIMEOUT,
        )
        assert len(listener.received) == 2
    assert panel.model.index(0, 4).data() in ("Delivered", "Leveret")


def test_model_passes_the_model_tester_with_rows(qtmodeltester: Any) -> None:
    model = OutboxModel()
    qtmodeltester.check(model)
    model.retranslate()

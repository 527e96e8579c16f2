"""HL7 v2.5 ORU^R01 for a signed DXA report, built and read with hl7apy.

The message carries, per the issue-17 design (docs/hl7-fhir.md): MSH (UTF-8), PID with the
patient identifier as received (a CPR number with its assigning authority
``CPR&1.2.208.176.1.2&ISO`` and type ``NNDNK``), ORC/OBR with the order's accession number,
the physician's conclusion and recommendation as TX observations, one NM observation per
region for BMD (g/cm2), T and Z (LOINC from the code table, else a local code), the category
as a CE observation and the signed PDF as an ED observation (base64). A signed version goes
out with result status ``F``, an amendment with ``C`` (correction). Text is escaped by
hl7apy's data types, never by hand.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

from dxa_app.record_out import codes
from dxa_app.record_out.model import CPR_OID, ReportRecord

#: The HL7 version of every message.
VERSION = "2.5"
#: The sending application (MSH-3).
SENDING_APPLICATION = "DXA"
#: The character set (MSH-18): the message is sent as UTF-8.
CHARSET = "UNICODE UTF-8"


def _lib() -> tuple[Any, Any, Any, Any, Any]:
    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.core import Field, Message
    from hl7apy.parser import parse_message
    from hl7apy.v2_5 import ST

    return Message, Field, ST, parse_message, VALIDATION_LEVEL.TOLERANT


def _ts(when: dt.datetime) -> str:
    """An HL7 timestamp: local time as given, with its UTC offset when it has one."""
    text = when.strftime("%Y%m%d%H%M%S")
    if when.tzinfo is not None:
        text += when.strftime("%z")
    return text


def _text(element: Any, value: str) -> None:
    """Set a leaf to text, escaped by the library's ST type (| ^ & ~ \\ become escapes)."""
    if value:
        from hl7apy import v2_5

        kind = getattr(v2_5, str(element.datatype or "ST"), None) or _lib()[2]
        element.value = kind(value)


def _code(element: Any, code: codes.Code, prefix: str = "ce") -> None:
    """Set a CE field or component: code ^ display ^ coding system."""
    system = "LN" if code.loinc else codes.local_system("hl7v2")
    _text(getattr(element, f"{prefix}_1"), code.code)
    _text(getattr(element, f"{prefix}_2"), code.display)
    _text(getattr(element, f"{prefix}_3"), system)


def _obx(group: Any, set_id: int, value_type: str, code: codes.Code, status: str) -> Any:
    obx = group.add_group("ORU_R01_OBSERVATION").add_segment("OBX")
    obx.obx_1 = str(set_id)
    obx.obx_2 = value_type
    _code(obx.obx_3, code)
    obx.obx_11 = status
    return obx


def _value(datatype: str) -> Any:
    """Return an OBX-5 field of a data type (OBX-5 varies with OBX-2), to fill and attach."""
    field_cls = _lib()[1]
    return field_cls("OBX_5", datatype=datatype, version=VERSION)


def oru_r01(
    record: ReportRecord,
    *,
    control_id: str,
    created_at: dt.datetime,
    sending_facility: str = "",
    receiving_application: str = "",
    receiving_facility: str = "",
) -> str:
    """Build the ORU^R01 message of one signed report version.

    Parameters
    ----------
    record : ReportRecord
        The signed report.
    control_id : str
        MSH-10, stable for the outbox row (a resend sends the same id; the receiver can
        recognise a duplicate).
    created_at : datetime
        MSH-7.
    sending_facility, receiving_application, receiving_facility : str
        MSH-4, MSH-5 and MSH-6 (archive settings).

    Returns
    -------
    str
        The message in ER7 (segments separated by carriage returns).
    """
    message_cls, _f, _st, _p, tolerant = _lib()
    status = "C" if record.corrected else "F"
    m = message_cls("ORU_R01", version=VERSION, validation_level=tolerant)
    msh = m.msh
    _text(msh.msh_3.hd_1, SENDING_APPLICATION)
    _text(msh.msh_4.hd_1, sending_facility or record.site_name)
    _text(msh.msh_5.hd_1, receiving_application)
    _text(msh.msh_6.hd_1, receiving_facility)
    msh.msh_7 = _ts(created_at)
    msh.msh_9 = "ORU^R01^ORU_R01"
    _text(msh.msh_10, control_id)
    msh.msh_11 = "P"
    msh.msh_12 = VERSION
    msh.msh_18 = CHARSET

    result = m.add_group("ORU_R01_PATIENT_RESULT")
    pid = result.add_group("ORU_R01_PATIENT").add_segment("PID")
    _pid(pid, record)

    order = result.add_group("ORU_R01_ORDER_OBSERVATION")
    orc = order.add_segment("ORC")
    orc.orc_1 = "RE"
    _text(orc.orc_3.ei_1, record.order_number)
    orc.orc_5 = "CM"
    obr = order.add_segment("OBR")
    obr.obr_1 = "1"
    _text(obr.obr_3.ei_1, record.order_number)
    _code(obr.obr_4, codes.report_code("panel"))
    obr.obr_7 = _ts(record.observed_at)
    if record.referrer:
        family, given, _middle = split_name(record.referrer)
        _text(obr.obr_16.xcn_2.fn_1, family)
        _text(obr.obr_16.xcn_3, given)
    _text(obr.obr_18, record.accession)
    _text(obr.obr_20, record.study_uid)
    obr.obr_22 = _ts(record.signed_at)
    obr.obr_24 = "RAD"
    obr.obr_25 = status
    _text(obr.obr_32.ndl_1.cnn_2, record.signed_by)
    if record.corrected and record.amend_reason:
        nte = order.add_segment("NTE")
        nte.nte_1 = "1"
        _text(nte.nte_3, record.amend_reason)

    set_id = 0
    for name, text in (
        ("impression", record.conclusion),
        ("recommendation", record.recommendation),
    ):
        for sub, line in enumerate(_lines(text), start=1):
            set_id += 1
            obx = _obx(order, set_id, "TX", codes.report_code(name), status)
            obx.obx_4 = str(sub)
            cell = _value("TX")
            _text(cell, line)
            obx.obx_5 = cell
            _observer(obx, record)
    for index, r in enumerate(record.regions, start=1):
        for kind, value, unit in (
            ("bmd", r.bmd, ("g/cm2", "g/cm2")),
            ("t", r.t, ("{T-score}", "T-score")),
            ("z", r.z, ("{Z-score}", "Z-score")),
        ):
            if value is None:
                continue
            set_id += 1
            obx = _obx(
                order, set_id, "NM", codes.region_code(r.region, r.side, kind, r.label), status
            )
            obx.obx_4 = str(index)
            obx.obx_5 = value
            _text(obx.obx_6.ce_1, unit[0])
            _text(obx.obx_6.ce_2, unit[1])
            _text(obx.obx_6.ce_3, "UCUM")
            _text(obx.obx_17.ce_1, "HARMONISED" if r.harmonised else "RAW")
            _text(obx.obx_17.ce_2, r.method)
            _text(obx.obx_17.ce_3, codes.local_system("hl7v2"))
            _text(obx.obx_18.ei_1, record.scanner.label)
            _observer(obx, record)
    set_id += 1
    obx = _obx(order, set_id, "CE", codes.report_code("category"), status)
    category = codes.category_code(record.category)
    # OBX-5 "varies": hl7apy fills a complex value from ER7, so the CE is built (and its text
    # escaped) in a CE field of the library first, then handed over as ER7.
    scratch = _scratch_ce()
    _text(scratch.ce_1, category.code)
    _text(scratch.ce_2, record.category_label or category.display)
    _text(scratch.ce_3, codes.local_system("hl7v2"))
    obx.obx_5 = scratch.to_er7()
    _observer(obx, record)
    set_id += 1
    obx = _obx(order, set_id, "ED", codes.report_code("pdf"), status)
    # ED: source ^ type AP (application) ^ subtype PDF ^ encoding Base64 ^ data; base64 holds
    # none of HL7's separators, so the data goes in unescaped.
    obx.obx_5 = "^AP^PDF^Base64^" + base64.b64encode(record.pdf).decode("ascii")
    _observer(obx, record)
    return str(m.to_er7())


def _scratch_ce() -> Any:
    """A CE field of the library (OBX-3 of a scratch segment) to build a coded value in."""
    from hl7apy.core import Segment

    return Segment("OBX", version=VERSION).obx_3


def _pid(pid: Any, record: ReportRecord) -> None:
    p = record.patient
    pid.pid_1 = "1"
    cx = pid.pid_3
    _text(cx.cx_1, p.identifier)
    if p.cpr is not None:
        _text(cx.cx_4.hd_1, p.issuer or "CPR")
        _text(cx.cx_4.hd_2, CPR_OID)
        _text(cx.cx_4.hd_3, "ISO")
        cx.cx_5 = "NNDNK"
    else:
        _text(cx.cx_4.hd_1, p.issuer)
        cx.cx_5 = "PI"
    _text(pid.pid_5.xpn_1.fn_1, p.family)
    _text(pid.pid_5.xpn_2, p.given)
    _text(pid.pid_5.xpn_3, p.middle)
    if p.birth_date is not None:
        pid.pid_7 = p.birth_date.strftime("%Y%m%d")
    if p.sex in ("F", "M", "O"):
        pid.pid_8 = p.sex


def _observer(obx: Any, record: ReportRecord) -> None:
    obx.obx_14 = _ts(record.observed_at)
    _text(obx.obx_16.xcn_2.fn_1, record.signed_by)


def _lines(text: str) -> list[str]:
    """The paragraphs of a text, one OBX each (empty lines dropped)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def split_name(name: str) -> tuple[str, str, str]:
    """Return (family, given, middle) of a DICOM person name or a display name.

    A name with ``^`` is a DICOM PN (``Family^Given^Middle``; only its first component group);
    otherwise the last word is the family name ("Åse Marie Hansen" -> Hansen, Åse Marie).
    """
    text = name.split("=")[0].strip()
    if "^" in text:
        parts = [*text.split("^"), "", ""]
        return parts[0].strip(), parts[1].strip(), parts[2].strip()
    words = text.split()
    if not words:
        return "", "", ""
    return words[-1], " ".join(words[:-1]), ""


def escaped(text: str) -> str:
    """Return ``text`` as the library escapes it inside a field (for comparisons)."""
    st = _lib()[2]
    return str(st(text).to_er7())


@dataclass(frozen=True)
class Ack:
    """An acknowledgement: MSA-1 code, MSA-2 control id and MSA-3 / ERR text."""

    code: str
    control_id: str
    text: str

    @property
    def accepted(self) -> bool:
        """Return whether the receiver accepted the message (AA, or CA in enhanced mode)."""
        return self.code in ("AA", "CA")


class AckError(ValueError):
    """The answer is not an HL7 acknowledgement."""


def read_ack(text: str) -> Ack:
    """Parse an acknowledgement with hl7apy.

    Parameters
    ----------
    text : str
        The ER7 answer (without MLLP framing).

    Returns
    -------
    Ack
        Its code, the control id it acknowledges and its text.

    Raises
    ------
    AckError
        When the answer is not an HL7 message with an MSA segment.
    """
    _m, _f, _st, parse_message, tolerant = _lib()
    try:
        msg = parse_message(text.strip().replace("\n", "\r"), validation_level=tolerant)
        msa = msg.msa
        code = str(msa.msa_1.value or "").strip()
        control = str(msa.msa_2.value or "").strip()
        note = str(msa.msa_3.value or "").strip()
    except Exception as exc:  # hl7apy raises several kinds; all mean "no ACK"
        raise AckError(str(exc) or type(exc).__name__) from exc
    if code not in ("AA", "AE", "AR", "CA", "CE", "CR"):
        raise AckError(f"MSA-1 {code!r}")
    if not note:
        for seg in msg.children:
            if seg.name == "ERR":
                note = str(seg.to_er7())
                break
    return Ack(code, control, note)


def build_ack(message: str, code: str, text: str = "", *, control_id: str = "") -> str:
    """Build the acknowledgement of a message (for receivers, and the tests' listener).

    Parameters
    ----------
    message : str
        The ER7 message being acknowledged.
    code : str
        ``AA``, ``AE`` or ``AR``.
    text : str
        MSA-3.
    control_id : str
        The ACK's own MSH-10 (default: ``ACK`` + the message's id).

    Returns
    -------
    str
        The ACK in ER7.
    """
    message_cls, _f, _st, parse_message, tolerant = _lib()
    incoming = parse_message(message.strip(), validation_level=tolerant, find_groups=False)
    their_id = str(incoming.msh.msh_10.value)
    ack = message_cls("ACK", version=VERSION, validation_level=tolerant)
    ack.msh.msh_3 = incoming.msh.msh_5.to_er7()
    ack.msh.msh_4 = incoming.msh.msh_6.to_er7()
    ack.msh.msh_5 = incoming.msh.msh_3.to_er7()
    ack.msh.msh_6 = incoming.msh.msh_4.to_er7()
    ack.msh.msh_9 = "ACK^R01^ACK"
    _text(ack.msh.msh_10, control_id or f"ACK{their_id}"[:20])
    ack.msh.msh_11 = "P"
    ack.msh.msh_12 = VERSION
    ack.msa.msa_1 = code
    _text(ack.msa.msa_2, their_id)
    _text(ack.msa.msa_3, text)
    return str(ack.to_er7())

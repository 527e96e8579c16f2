"""One MLLP exchange: send an HL7 message over TCP and wait for its acknowledgement.

MLLP frames a message as ``<VT> message <FS><CR>`` (0x0B ... 0x1C 0x0D). One connection per
message: connect, send, read the answer up to its end block, close. Every failure is a
:class:`MllpError` whose ``kind`` says what happened (``connect``, ``dropped``, ``timeout``,
``garbled``) so the outbox can retry; nothing here decides about retries.
"""

from __future__ import annotations

import socket

START = b"\x0b"
END = b"\x1c\x0d"
#: The most an answer may hold (an ACK is small; this stops a runaway peer).
MAX_ANSWER = 1024 * 1024


class MllpError(OSError):
    """A delivery that got no answer; ``kind`` is connect, dropped, timeout or garbled."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def frame(message: str) -> bytes:
    """Return a message framed for MLLP, encoded as UTF-8 (MSH-18 says so)."""
    return START + message.encode("utf-8") + END


def exchange(
    host: str, port: int, message: str, *, connect_timeout: float = 10.0, timeout: float = 30.0
) -> str:
    """Send one message and return the receiver's answer (without the framing).

    Parameters
    ----------
    host, port : str, int
        The receiver.
    message : str
        The ER7 message.
    connect_timeout : float
        Seconds to wait for the connection.
    timeout : float
        Seconds to wait for each part of the answer.

    Returns
    -------
    str
        The answer as text.

    Raises
    ------
    MllpError
        When the receiver cannot be reached, closes the connection before a complete answer,
        is silent for ``timeout`` seconds, or answers with something that is not MLLP.
    """
    try:
        sock = socket.create_connection((host, port), timeout=connect_timeout)
    except OSError as exc:
        raise MllpError("connect", str(exc) or type(exc).__name__) from exc
    with sock:
        sock.settimeout(timeout)
        try:
            sock.sendall(frame(message))
            data = b""
            while not data.endswith(END):
                chunk = sock.recv(65536)
                if not chunk:
                    raise MllpError(
                        "dropped", "the receiver closed the connection without an answer"
                    )
                data += chunk
                if len(data) > MAX_ANSWER:
                    raise MllpError("garbled", "the answer is too long")
        except TimeoutError as exc:
            raise MllpError("timeout", f"no answer within {timeout:g} s") from exc
        except MllpError:
            raise
        except OSError as exc:
            raise MllpError("dropped", str(exc) or type(exc).__name__) from exc
    start = data.find(START)
    if start < 0:
        raise MllpError("garbled", "the answer has no MLLP start block")
    try:
        return data[start + 1 : -len(END)].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MllpError("garbled", "the answer is not UTF-8") from exc

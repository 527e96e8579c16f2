"""A real MLLP listener on 127.0.0.1 for the record-out tests, built on hl7apy.

It parses every message with hl7apy and answers with an ACK built by hl7apy (never by the
program under test). A script of answers (``AA``, ``AE``, ``AR`` or ``drop``: close the
connection without an answer) is used in order; after it, every message gets ``AA``.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message
from hl7apy.mllp import AbstractHandler, MLLPServer
from hl7apy.parser import parse_message


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens now (the receiver is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dropped(Exception):
    """Raised in a handler: hl7apy's server then closes the connection without an answer."""


class Listener:
    """An MLLP receiver in a thread; ``received`` holds every message it was sent (ER7)."""

    def __init__(self, script: list[str] | None = None, port: int = 0) -> None:
        self.received: list[str] = []
        self.script = list(script or [])
        listener = self

        class Handler(AbstractHandler):  # type: ignore[misc]
            def reply(self) -> str:
                return listener.answer(str(self.incoming_message))

        self.server = MLLPServer("127.0.0.1", port, {"ORU^R01^ORU_R01": (Handler,)}, timeout=10)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, message: str) -> str:
        """Parse the message with hl7apy and build its ACK (or drop the connection)."""
        self.received.append(message)
        action = self.script.pop(0) if self.script else "AA"
        if action == "drop":
            raise Dropped
        incoming = parse_message(
            message, validation_level=VALIDATION_LEVEL.TOLERANT, find_groups=False
        )
        ack = Message("ACK", version="2.5", validation_level=VALIDATION_LEVEL.TOLERANT)
        ack.msh.msh_3 = "EPJ"
        ack.msh.msh_9 = "ACK^R01^ACK"
        ack.msh.msh_10 = f"A{len(self.received)}"
        ack.msh.msh_11 = "P"
        ack.msh.msh_12 = "2.5"
        ack.msa.msa_1 = action
        ack.msa.msa_2 = incoming.msh.msh_10.value
        if action != "AA":
            ack.msa.msa_3 = f"test answer {action}"
        return "\x0b" + str(ack.to_er7()) + "\x1c\x0d"

    def close(self) -> None:
        """Stop the server and wait for its thread."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def __enter__(self) -> Listener:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

"""Who is logged in to which archive: the session every workspace is given."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dxa_app.domain import Role


@dataclass(frozen=True)
class Session:
    """A logged-in user of one archive; the role decides what is shown and allowed."""

    archive: Path
    username: str
    display_name: str
    role: Role

    def may(self, *roles: Role) -> bool:
        """Whether the user has one of ``roles`` (admin may do everything but sign)."""
        return self.role in roles or (self.role is Role.ADMIN and Role.PHYSICIAN not in roles)

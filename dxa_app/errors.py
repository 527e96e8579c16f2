"""DxaError and its subclasses: every error a user may see carries a message and a remedy."""

from __future__ import annotations


class DxaError(Exception):
    """Base class of all errors the application reports to a user.

    Parameters
    ----------
    message : str
        What went wrong, in one line, already translated.
    remedy : str
        What the user can do about it, already translated (may be empty).
    screen_remedy : str
        What the user can do in the desktop application, when that differs from the
        command-line remedy (e.g. a menu instead of a command); empty: same as ``remedy``.
    """

    exit_code: int = 1

    def __init__(self, message: str, remedy: str = "", *, screen_remedy: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.remedy = remedy
        self.screen_remedy = screen_remedy or remedy

    def __str__(self) -> str:
        return f"{self.message} ({self.remedy})" if self.remedy else self.message


class UsageError(DxaError):
    """The command line or an argument was wrong."""

    exit_code = 2


class ArchiveError(DxaError):
    """The archive could not be opened, migrated or written."""

    exit_code = 3


class ImportProblemError(DxaError):
    """A source file could not be read or understood."""

    exit_code = 4


class NotFoundError(DxaError):
    """A named object (study, scanner, file) does not exist."""

    exit_code = 5


class PermissionDeniedError(DxaError):
    """The user's role does not allow the action."""

    exit_code = 6


class CancelledError(DxaError):
    """The user cancelled a long-running job."""

    exit_code = 130

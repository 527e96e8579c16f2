"""Owner-only files: archives, backups, keys and bundles are created readable by their owner only.

On POSIX a new file is created with mode 0600 (the umask can only take bits away; SQLite gives
the archive's -wal and -shm files the mode of the archive). On Windows the per-user folders'
ACLs already limit access to the user; the mode is not used there.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

#: The mode of every file the program creates that holds patient data or secrets.
OWNER_ONLY = 0o600

#: How a new file is created: write-only, never over an existing one, and binary: on
#: Windows ``os.open`` opens in text mode unless told ``O_BINARY``, and every LF written
#: would become CR LF (a DICOM copy, a PDF, a bundle damaged).
NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def create_owner_only(path: Path) -> None:
    """Create ``path`` as an empty owner-only file unless it exists (then nothing changes).

    Parameters
    ----------
    path : Path
        The file.
    """
    try:
        fd = os.open(path, NEW_FILE_FLAGS, OWNER_ONLY)
    except FileExistsError:
        return
    os.close(fd)


def write_owner_only(path: Path, data: bytes) -> None:
    """Write ``data`` atomically (temporary file, then rename) to an owner-only file.

    Parameters
    ----------
    path : Path
        The file (replaced when it exists).
    data : bytes
        The content.
    """
    tmp = path.with_name(path.name + ".part")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, NEW_FILE_FLAGS, OWNER_ONLY)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)

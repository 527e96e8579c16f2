"""Keys and secrets outside the archive: one owner-only file per archive and purpose.

Someone who can edit the archive file must not be able to forge what the site signed, so the
private keys (report and audit signing, the site's and the centre's bundle keys), the
pseudonym secret and the trust anchors (the trusted knowledge-centre key, the physicians'
certificates) live in the per-user configuration folder, not in the archive:

- Linux: ``~/.config/dxa/keys`` (``$XDG_CONFIG_HOME``), folder 0700, files 0600;
- Windows: ``%LOCALAPPDATA%\\DXA-DK\\dxa\\keys``, protected by the user profile's ACL (only the
  user and administrators of the machine);
- ``DXA_KEY_DIR`` chooses another folder (a protected share for several workstations).

Files are named ``<archive id>.<name>``; the archive id is a random UUID stored in the
archive, so several archives (a demo and the real one) never share keys. A file is written
once (exclusive create): two processes creating the same key keep the first one.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from dxa_app.errors import UsageError
from dxa_app.fileio import NEW_FILE_FLAGS, OWNER_ONLY
from dxa_app.i18n import _

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")
_ID = re.compile(r"^[0-9a-f-]{8,64}$")


def key_dir() -> Path:
    """Return (creating, owner-only) the folder that holds the keys of this user.

    Returns
    -------
    Path
        ``DXA_KEY_DIR``, else ``<user config folder>/keys``.
    """
    env = os.environ.get("DXA_KEY_DIR")
    if env:
        folder = Path(env)
    else:
        import platformdirs

        folder = Path(platformdirs.user_config_dir("dxa", "DXA-DK")) / "keys"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):
        folder.chmod(0o700)
    return folder


def _path(archive_id: str, name: str) -> Path:
    if not _ID.match(archive_id) or not _NAME.match(name):
        raise UsageError(_("Invalid key name {name}.").format(name=name), "")
    return key_dir() / f"{archive_id}.{name}"


def read_secret(archive_id: str, name: str) -> str | None:
    """Return the text of one key file, or None when it does not exist.

    Parameters
    ----------
    archive_id : str
        The archive's id.
    name : str
        The key's name (lower-case letters, digits, ``.``, ``_``, ``-``).

    Returns
    -------
    str or None
        The stored text (stripped).
    """
    try:
        return _path(archive_id, name).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def write_secret_once(archive_id: str, name: str, text: str) -> str:
    """Store a key file unless it exists; return the text that is stored (first writer wins).

    Parameters
    ----------
    archive_id : str
        The archive's id.
    name : str
        The key's name.
    text : str
        The content.

    Returns
    -------
    str
        The stored text: ``text``, or what another process stored first.
    """
    path = _path(archive_id, name)
    try:
        fd = os.open(path, NEW_FILE_FLAGS, OWNER_ONLY)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return text


def replace_secret(archive_id: str, name: str, text: str) -> None:
    """Store a key file, replacing an earlier one (a trust anchor an administrator changes).

    Parameters
    ----------
    archive_id : str
        The archive's id.
    name : str
        The key's name.
    text : str
        The content.
    """
    from dxa_app.fileio import write_owner_only

    write_owner_only(_path(archive_id, name), (text + "\n").encode("utf-8"))


def list_secrets(archive_id: str, prefix: str) -> list[tuple[str, str]]:
    """Return (name, text) of every key file of an archive whose name starts with ``prefix``.

    Parameters
    ----------
    archive_id : str
        The archive's id.
    prefix : str
        The start of the names.

    Returns
    -------
    list of (str, str)
        Sorted by name.
    """
    if not _ID.match(archive_id):
        return []
    out = []
    for path in sorted(key_dir().glob(f"{archive_id}.{prefix}*")):
        if path.suffix != ".part":
            out.append((path.name[len(archive_id) + 1 :], path.read_text(encoding="utf-8")))
    return out


def remove_secret(archive_id: str, name: str) -> bool:
    """Remove one key file (a log-in ticket that ended); return whether there was one.

    Parameters
    ----------
    archive_id : str
        The archive's id.
    name : str
        The key's name.

    Returns
    -------
    bool
        True when a file was removed.
    """
    try:
        _path(archive_id, name).unlink()
    except FileNotFoundError:
        return False
    return True


def any_archive_has(name: str) -> bool:
    """Return whether a key file of this name exists for any archive (without opening one).

    Parameters
    ----------
    name : str
        The key's name.

    Returns
    -------
    bool
        True when some ``<archive id>.<name>`` file exists in the key folder.
    """
    if not _NAME.match(name):
        raise UsageError(_("Invalid key name {name}.").format(name=name), "")
    return any(key_dir().glob(f"*.{name}"))

"""Command-line interface: argparse subcommands that parse, call one service, print, return."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn, TextIO

import dxa_app
from dxa_app.errors import DxaError, UsageError
from dxa_app.i18n import LANGUAGES, _, set_language

if TYPE_CHECKING:
    from dxa_app.services.auth import Session

PROG = "dxa"


class ExitCode(IntEnum):
    """Process exit codes of the CLI."""

    OK = 0
    ERROR = 1
    USAGE = 2
    ARCHIVE = 3
    IMPORT = 4
    NOT_FOUND = 5
    PERMISSION = 6
    PARTIAL = 7
    CANCELLED = 130


Handler = Callable[[argparse.Namespace], ExitCode]


@dataclass(frozen=True)
class Command:
    """One registered subcommand."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    handler: Handler
    reports: bool = True


_REGISTRY: dict[str, Command] = {}


def command(
    name: str, help: str, *, reports: bool = True
) -> Callable[
    [Callable[[argparse.ArgumentParser], None]], Callable[[argparse.ArgumentParser], None]
]:
    """Register a subcommand: decorate its ``configure(parser)``; set ``parser.set_defaults``.

    Parameters
    ----------
    name : str
        The subcommand name.
    help : str
        One line of help (English source, translated when the parser is built).
    reports : bool
        Whether the command reports results (it then gets ``--json``).
    """

    def deco(
        configure: Callable[[argparse.ArgumentParser], None],
    ) -> Callable[[argparse.ArgumentParser], None]:
        handler = getattr(configure, "handler", None)
        if handler is None:
            raise TypeError(f"command {name}: attach a handler with @handles")
        _REGISTRY[name] = Command(name, help, configure, handler, reports)
        return configure

    return deco


def handles(
    handler: Handler,
) -> Callable[
    [Callable[[argparse.ArgumentParser], None]], Callable[[argparse.ArgumentParser], None]
]:
    """Attach the function that runs a subcommand to its ``configure`` function."""

    def deco(
        configure: Callable[[argparse.ArgumentParser], None],
    ) -> Callable[[argparse.ArgumentParser], None]:
        configure.handler = handler  # type: ignore[attr-defined]
        return configure

    return deco


def registered_commands() -> dict[str, Command]:
    """Return the registered subcommands by name."""
    _load_commands()
    return dict(_REGISTRY)


#: The module that registers each subcommand, so that a command loads and builds only its
#: own parser (all of them cost some 0.1 s at every start); a test keeps it equal to the registry.
COMMAND_MODULES: dict[str, str] = {
    **dict.fromkeys(
        (
            "backup",
            "demo",
            "import",
            "info",
            "login",
            "logout",
            "merge",
            "patients",
            "restore",
            "serial-map",
            "site-map",
            "sites",
            "studies",
            "unmerge",
        ),
        "commands",
    ),
    **dict.fromkeys(
        (
            "approve",
            "calibrate",
            "precision",
            "qc",
            "rescore",
            "retire",
            "scores",
            "steps",
            "users",
        ),
        "calibration_commands",
    ),
    **dict.fromkeys(("calibration", "centre", "reference"), "centre_commands"),
    **dict.fromkeys(("receive", "receive-allow"), "net_commands"),
    **dict.fromkeys(("export", "hl7", "send-hl7"), "record_commands"),
    **dict.fromkeys(
        (
            "amend",
            "pacs",
            "report",
            "seal-key",
            "send",
            "sign",
            "trust-signer",
            "verify",
            "worklist",
        ),
        "report_commands",
    ),
    **dict.fromkeys(("frax", "recall", "risk", "suggestions"), "risk_commands"),
}


def _load_commands(only: str | None = None) -> None:
    """Import the modules that register the subcommands (only ``only``'s module when named)."""
    if only is not None:
        importlib.import_module(f"dxa_app.cli.{COMMAND_MODULES[only]}")
        return
    for module in sorted(set(COMMAND_MODULES.values())):
        importlib.import_module(f"dxa_app.cli.{module}")


#: Options of the top level that take a value (the word after them is not the command).
_VALUE_OPTIONS: Final = frozenset({"--archive", "--lang", "--user"})


def command_named(argv: Sequence[str]) -> str | None:
    """Return the subcommand an argument list names, when it is sure to be one, else None.

    The command is the first word that is not a top-level option or its value. None for
    help, an option it does not know (an abbreviation), or an unknown command: the whole
    parser is then built, which gives help and errors their full list of commands.

    Parameters
    ----------
    argv : sequence of str
        The arguments, without the program name.

    Returns
    -------
    str or None
        A registered command's name, or None.
    """
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in _VALUE_OPTIONS:
            i += 2
        elif word == "--debug" or (word.split("=", 1)[0] in _VALUE_OPTIONS and "=" in word):
            i += 1
        elif word.startswith("-"):
            return None
        else:
            return word if word in COMMAND_MODULES else None
    return None


def default_archive() -> Path:
    """Return the per-user default archive path (``DXA_ARCHIVE`` overrides it)."""
    env = os.environ.get("DXA_ARCHIVE")
    if env:
        return Path(env)
    return user_data_dir() / "archive.dxa.sqlite"


def user_data_dir() -> Path:
    """Return the per-user data folder of the application (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("dxa", "DXA-DK"))


#: Stands for the per-user archive path in a help text until the help is shown (finding the
#: path loads platformdirs, which a command given ``--archive`` never needs).
_DEFAULT_ARCHIVE: Final = "\x00default-archive\x00"


def terminal_columns() -> int:
    """Return the terminal's width as ``shutil.get_terminal_size`` finds it.

    ``COLUMNS`` when it is a positive number, else the width of the terminal of standard
    output, else 80. argparse asks for it on every argument it adds (and would load
    ``shutil`` with its archive modules, about 3 ms, into every command for it).

    Returns
    -------
    int
        The number of columns.
    """
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class _HelpFormatter(argparse.HelpFormatter):
    """Help that names the default archive's path, found only when the help is shown."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        if width is None:  # what argparse computes itself, without loading shutil
            width = terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)

    def _expand_help(self, action: argparse.Action) -> str:
        text = super()._expand_help(action)
        if _DEFAULT_ARCHIVE not in text:
            return text
        return text.replace(_DEFAULT_ARCHIVE, str(default_archive()))


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one clear line and whose help texts may hold "%"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        """Add an argument; a translated help text is escaped for argparse's %-formatting."""
        text = kwargs.get("help")
        if isinstance(text, str) and "%(" not in text:
            kwargs["help"] = escape_help(text)
        return super().add_argument(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(
            _("{prog}: {message}").format(prog=self.prog, message=message),
            _("see '{prog} --help'").format(prog=self.prog),
        )


def escape_help(text: str) -> str:
    """Return ``text`` safe as an argparse ``help`` (argparse %-formats it: "%CV" broke --help).

    Parameters
    ----------
    text : str
        The translated help text.

    Returns
    -------
    str
        The text with every ``%`` doubled.
    """
    return text.replace("%", "%%")


class _Version(argparse._VersionAction):
    """``--version``: the version is read from the package metadata only when asked (slow)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        self.version = f"{PROG} {dxa_app.__version__}"
        super().__call__(parser, namespace, values, option_string)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Build the argument parser with every registered subcommand, or only ``command``'s.

    Parameters
    ----------
    command : str, optional
        A registered command (see :func:`command_named`): only its parser is built.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    _load_commands(command)
    parser = _Parser(
        prog=PROG,
        description=_("DXA calibration and reporting tool. Without a command the app opens."),
    )
    parser.add_argument("--version", action=_Version)
    common = _Parser(add_help=False)
    for target, default in ((parser, None), (common, argparse.SUPPRESS)):
        target.add_argument(
            "--archive",
            metavar="PATH",
            default=default,
            help=_("the archive file (default: {path})").format(path=_DEFAULT_ARCHIVE),
        )
        target.add_argument(
            "--debug",
            action="store_true",
            default=False if default is None else argparse.SUPPRESS,
            help=_("show full tracebacks"),
        )
        target.add_argument(
            "--lang",
            choices=LANGUAGES,
            default=default,
            help=_("language of messages (da or en)"),
        )
        target.add_argument(
            "--user",
            metavar="NAME",
            default=default,
            help=_("log in as this user (default: DXA_USER); the password is asked for"),
        )
    json_parent = _Parser(add_help=False)
    json_parent.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for cmd in sorted(_REGISTRY.values(), key=lambda c: c.name):
        if command is not None and cmd.name != command:
            continue
        parents = [common, json_parent] if cmd.reports else [common]
        p = sub.add_parser(
            cmd.name, help=escape_help(_(cmd.help)), description=_(cmd.help), parents=parents
        )
        cmd.configure(p)
        p.set_defaults(handler=cmd.handler)
    return parser


def emit(args: argparse.Namespace, data: Any, text: str, out: TextIO | None = None) -> None:
    """Print a command's result: JSON when ``--json`` was given, else ``text``."""
    stream = out or sys.stdout
    if getattr(args, "json", False):
        json.dump(_jsonable(data), stream, ensure_ascii=False, indent=2, sort_keys=True)
        stream.write("\n")
    else:
        stream.write(text.rstrip("\n") + "\n")


def _jsonable(data: Any) -> Any:
    if hasattr(data, "__dataclass_fields__"):
        return _jsonable(asdict(data))
    if isinstance(data, dict):
        return {str(k): _jsonable(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_jsonable(v) for v in data]
    if isinstance(data, Path):
        return str(data)
    if hasattr(data, "isoformat"):
        return data.isoformat()
    return data


def archive_path(args: argparse.Namespace) -> Path:
    """Return the archive named by ``--archive`` or the per-user default."""
    raw = getattr(args, "archive", None)
    return Path(raw) if raw else default_archive()


def read_password(prompt: str, env: str = "DXA_PASSWORD") -> str:
    """Return a password from the environment variable ``env``, a prompt, or one stdin line.

    Parameters
    ----------
    prompt : str
        The prompt shown on a terminal.
    env : str
        The environment variable that may hold it (for scripts and tests).

    Returns
    -------
    str
        The password.
    """
    value = os.environ.get(env)
    if value is not None:
        return value
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip("\n")


def user_name(args: argparse.Namespace) -> str | None:
    """Return the user named by ``--user`` or ``DXA_USER``, or None."""
    return getattr(args, "user", None) or os.environ.get("DXA_USER") or None


def login(args: argparse.Namespace) -> Session:
    """Act as this terminal's ticket's user, else log in as ``--user`` (or ``DXA_USER``).

    A ticket left by ``dxa login`` in the same terminal is used when it still holds and
    names the same user (or no user is named); see :mod:`dxa_app.services.tickets`. Else
    the password comes from ``DXA_PASSWORD``, a prompt on a terminal, or one line of stdin;
    it is kept on ``args`` for an action that asks for it again (signing).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    Session
        The logged-in user's session.

    Raises
    ------
    UsageError
        When no user is named and there is no ticket.
    PermissionDeniedError
        For a wrong user name or password.
    """
    from dxa_app.services.auth import log_in
    from dxa_app.services.tickets import current_terminal, resume

    name = user_name(args)
    session = resume(archive_path(args), current_terminal(), name)
    if session is not None:
        return session
    if not name:
        raise UsageError(
            _("This command needs a log-in: give --user NAME (or set DXA_USER)."),
            _(
                "The password is asked for, or read from DXA_PASSWORD; 'dxa login' lets the"
                " next commands in this terminal go without it."
            ),
        )
    password = read_password(_("Password for {user}: ").format(user=name))
    session = log_in(archive_path(args), name, password)
    args.login_password = password
    return session


def login_password(args: argparse.Namespace) -> str:
    """Return the password given at :func:`login`; asked for now when a ticket logged in.

    Signing and approving confirm the password for themselves, so a command that acted on
    a ticket asks for it here (or reads ``DXA_PASSWORD``).
    """
    given = getattr(args, "login_password", None)
    if given is None:
        given = read_password(_("Password (to confirm): "))
        args.login_password = given
    return str(given)


def _exit_for(exc: DxaError) -> ExitCode:
    try:
        return ExitCode(exc.exit_code)
    except ValueError:
        return ExitCode.ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the process exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default ``sys.argv[1:]``).
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    lang = _peek_lang(args_list)
    if lang:
        set_language(lang)
    try:
        parser = build_parser(command_named(args_list))
        args = parser.parse_args(args_list)
        if getattr(args, "lang", None):
            set_language(args.lang)
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return int(ExitCode.USAGE)
        return int(handler(args))
    except SystemExit as exc:  # --help and --version
        return int(exc.code) if isinstance(exc.code, int) else int(ExitCode.OK)
    except DxaError as exc:
        if debug:
            import traceback  # only for --debug

            traceback.print_exc()
        print(_("error: {message}").format(message=exc), file=sys.stderr)
        return int(_exit_for(exc))
    except KeyboardInterrupt:
        print(_("error: interrupted"), file=sys.stderr)
        return int(ExitCode.CANCELLED)
    except OSError as exc:
        if debug:
            import traceback  # only for --debug

            traceback.print_exc()
        where = f" ({exc.filename})" if exc.filename else ""
        print(
            _("error: {reason}{where}").format(reason=exc.strerror or exc, where=where),
            file=sys.stderr,
        )
        return int(ExitCode.ERROR)
    except Exception as exc:  # the last line of defence: one line, no traceback
        if debug:
            import traceback  # only for --debug

            traceback.print_exc()
        print(
            _("internal error: {kind}: {message} (run with --debug for details)").format(
                kind=type(exc).__name__, message=exc
            ),
            file=sys.stderr,
        )
        return int(ExitCode.ERROR)


def _peek_lang(argv: list[str]) -> str | None:
    for i, a in enumerate(argv):
        if a == "--lang" and i + 1 < len(argv) and argv[i + 1] in LANGUAGES:
            return argv[i + 1]
        if a.startswith("--lang=") and a.split("=", 1)[1] in LANGUAGES:
            return a.split("=", 1)[1]
    return None

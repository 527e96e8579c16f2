"""Entry point: ``python main.py`` opens the app; ``python main.py <command>`` runs the CLI."""

from __future__ import annotations

import sys


def run(argv: list[str]) -> int:
    """Open the GUI when there is no subcommand (only GUI options), else run the CLI.

    Parameters
    ----------
    argv : list of str
        The arguments after the program name.
    """
    with_value = {"--archive", "--lang", "--screenshot"}
    gui_only = with_value | {"--debug"}
    words = [a for a in argv if a.startswith("-")]
    positional = [
        a
        for i, a in enumerate(argv)
        if not a.startswith("-") and (i == 0 or argv[i - 1] not in with_value)
    ]
    if not positional and all(w.split("=", 1)[0] in gui_only for w in words):
        from dxa_app.gui.app import main as gui_main

        return gui_main(argv)
    from dxa_app.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    if getattr(sys, "frozen", False):  # only a bundle needs it (a command starts faster)
        import multiprocessing

        # a bundled executable started as an import's reading process (spawn or fork
        # server) runs that process's work here and never reaches the app or the CLI
        multiprocessing.freeze_support()
    raise SystemExit(run(sys.argv[1:]))

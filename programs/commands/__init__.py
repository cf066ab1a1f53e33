"""The `qbarr` subcommands: one module per subcommand, registered in :data:`COMMANDS`.

A command module defines::

    NAME = "status"                      # the subcommand
    HELP = "one line for `qbarr --help`"
    def add_arguments(parser: argparse.ArgumentParser) -> None: ...
    def run(args: argparse.Namespace, home: qbarr.paths.Home) -> int: ...   # the exit code

To add a command (``why``, ``brake``, ``demo`` ...), write ``programs/commands/<name>.py``
and append the module to ``COMMANDS``. ``--home`` is added to every command by the CLI;
``run`` receives the resolved data dir. Exit codes: 0 ok, 1 a check or action failed,
2 usage error (argparse), 78 (EX_CONFIG) config.ini unusable.
"""

from __future__ import annotations

from types import ModuleType

from . import (
    brake,
    check,
    ctl,
    db,
    demo,
    health,
    import_qbitrr,
    init,
    render,
    run,
    run_program,
    status,
    why,
)

COMMANDS: list[ModuleType] = [
    init,
    import_qbitrr,
    check,
    run,
    run_program,
    render,
    ctl,
    status,
    health,
    db,
    demo,
    why,
    brake,
]

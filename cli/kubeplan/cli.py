"""The `kubeplan` command: parses the subcommand and hands over to its module.

Exit codes: 0 success; 1 an error the message explains; 2 bad usage (and, for
``kubeplan plan``, "the plan has actions"); 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from kubeplan.commands import COMMANDS
from kubeplan.version import __version__


def _load_commands() -> dict[str, ModuleType]:
    loaded: dict[str, ModuleType] = {}
    for name, module_name in COMMANDS.items():
        try:
            loaded[name] = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:  # a real import error inside the command
                raise
    return loaded


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, ModuleType]]:
    parser = argparse.ArgumentParser(
        prog="kubeplan",
        description="Kubernetes operators as pure functions: plan, run and test them.",
    )
    parser.add_argument("--version", action="version", version=f"kubeplan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = _load_commands()
    for name, module in commands.items():
        command_parser = sub.add_parser(
            name, help=module.HELP, description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.configure(command_parser)
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    parser, commands = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return int(commands[args.command].run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

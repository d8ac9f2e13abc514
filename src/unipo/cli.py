"""The `unipo` command line: dispatches to the modules in `unipo.commands`."""
from __future__ import annotations

import argparse
import importlib
import sys

from unipo import __version__
from unipo.commands import COMMAND_MODULES
from unipo.errors import UnipoError


class ArgumentParser(argparse.ArgumentParser):
    """A usage mistake is one line on stderr ("unipo train: error: ..."), exit status 2; the usage
    itself is what `--help` is for."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="unipo",
        description="Policy-optimization algorithms for language-model RL, visible token by token.",
    )
    parser.add_argument("--version", action="version", version=f"unipo {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"unipo.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"unipo.commands.{module_name}":
                continue  # command not built yet in this checkout
            raise
        command_parser = module.register(subparsers)
        command_parser.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except UnipoError as exc:
        print(f"unipo {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # A file the user named cannot be read or written: say which, in one line (the commands
        # check their paths first; this catches what only the attempt reveals, e.g. a read-only disk).
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"unipo {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"unipo {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""`unipo import FILE --out RUN_DIR`: a canonical JSON/JSONL log -> a run directory."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from unipo.errors import UnipoError
from unipo.runs.canonical import import_canonical


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "import", help="import a UNIPO canonical JSON/JSONL log as a run",
        description="Validate a canonical log (docs/canonical-format.md) and store it as a run directory. "
                    "Every problem is reported with its line and field; nothing is written unless all is valid.",
    )
    parser.add_argument("file", help="canonical .json or .jsonl file")
    parser.add_argument("--out", required=True, help="run directory to create (must not exist or be empty)")
    parser.add_argument("--format", choices=("json", "jsonl"), default=None,
                        help="input format (default: from the file extension; .jsonl/.ndjson = jsonl)")
    return parser


def check_paths(args: argparse.Namespace) -> None:
    """Refuse what could only fail once writing started: an unreadable input, an --out that is a
    file, lies under one, or sits in a folder that cannot be written (the run is staged next to it)."""
    from unipo.engine.config import check_directory_path, nearest_existing_parent
    source = Path(args.file)
    if source.is_dir():
        raise UnipoError(f"FILE {args.file}: is a directory; expected a canonical .json or .jsonl file")
    if source.is_file() and not os.access(source, os.R_OK):
        raise UnipoError(f"FILE {args.file}: cannot be read (permission denied)")
    check_directory_path("--out", args.out)
    out = Path(args.out)  # whether an existing --out may be replaced is the importer's to say
    parent = nearest_existing_parent(Path(os.path.abspath(out)).parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UnipoError(f"--out {args.out}: cannot write there, {parent} is not writable")


def run(args: argparse.Namespace) -> int:
    from unipo.engine.config import missing_directories, remove_if_empty
    check_paths(args)
    created = missing_directories(Path(args.out).parent)
    try:
        path = import_canonical(args.file, args.out, fmt=args.format)
    except BaseException:
        remove_if_empty(created)
        raise
    print(f"imported {args.file} -> {path}")
    return 0

"""`unipo import FILE --out RUN_DIR`: a canonical JSON/JSONL log -> a run directory."""
from __future__ import annotations

import argparse

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


def run(args: argparse.Namespace) -> int:
    path = import_canonical(args.file, args.out, fmt=args.format)
    print(f"imported {args.file} -> {path}")
    return 0

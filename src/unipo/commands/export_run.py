"""`unipo export RUN_DIR --out FILE [--format json|jsonl]`: a run directory -> a canonical log."""
from __future__ import annotations

import argparse

from unipo.runs.canonical import export_canonical


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "export", help="export a run as a UNIPO canonical JSON/JSONL log",
        description="Write every step of a run in the canonical log format (docs/canonical-format.md).",
    )
    parser.add_argument("run_dir", help="run directory (holds run.json)")
    parser.add_argument("--out", required=True, help="file to write (replaced atomically)")
    parser.add_argument("--format", choices=("json", "jsonl"), default=None,
                        help="output format (default: jsonl, or json when --out ends in .json)")
    return parser


def run(args: argparse.Namespace) -> int:
    from unipo.engine.config import check_output_file
    check_output_file("--out", args.out)
    fmt = args.format or ("json" if str(args.out).lower().endswith(".json") else "jsonl")
    path = export_canonical(args.run_dir, args.out, fmt=fmt)
    print(f"exported {args.run_dir} -> {path} ({fmt})")
    return 0

"""`unipo export RUN_DIR --out FILE [--format json|jsonl|reference]`: a run directory -> a canonical log."""
from __future__ import annotations

import argparse

from unipo.runs.canonical import export_canonical


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "export", help="export a run as a UNIPO canonical log, or in the reference UNIPO app's format",
        description="Write every step of a run in the canonical log format (docs/canonical-format.md), or with "
                    "--format reference in the reference UNIPO format (poloclub/unipo docs/canonical_schema.json) "
                    "that the reference app's scripts/build_data.py reads.",
    )
    parser.add_argument("run_dir", help="run directory (holds run.json)")
    parser.add_argument("--out", required=True, help="file to write (replaced atomically)")
    parser.add_argument("--format", choices=("json", "jsonl", "reference"), default=None,
                        help="json / jsonl: UNIPO canonical log in that container (default: jsonl, or json when "
                             "--out ends in .json); reference: the reference UNIPO format (JSON when --out ends "
                             "in .json, else JSONL with typed header/step lines)")
    return parser


def run(args: argparse.Namespace) -> int:
    from unipo.engine.config import check_output_file
    check_output_file("--out", args.out)
    container = "json" if str(args.out).lower().endswith(".json") else "jsonl"
    if args.format == "reference":
        path = export_canonical(args.run_dir, args.out, fmt=container, dialect="reference")
        print(f"exported {args.run_dir} -> {path} (reference UNIPO format, {container})")
        return 0
    fmt = args.format or container
    path = export_canonical(args.run_dir, args.out, fmt=fmt)
    print(f"exported {args.run_dir} -> {path} ({fmt})")
    return 0

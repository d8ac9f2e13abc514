"""`unipo import PATH --out RUN_DIR`: a practitioner's dump (file or folder) -> a run directory."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from unipo.errors import UnipoError


def register(subparsers) -> argparse.ArgumentParser:
    from unipo.importers import importers
    known = importers()
    parser = subparsers.add_parser(
        "import", help="import a run: UNIPO/reference canonical logs, TRL, verl, prime-rl, OpenRLHF, GradLoc dumps",
        description="Detect the format of a file or folder, check it and store it as a run directory, one "
                    "step at a time. Every problem is reported with its file, line and field; nothing is "
                    "written unless all is valid. Formats: "
                    + "; ".join(f"{i.name}: {i.summary}" for i in known) + ". See docs/importing.md.",
    )
    parser.add_argument("file", metavar="PATH", help="file or folder to import")
    parser.add_argument("--out", required=True, help="run directory to create (must not exist or be empty)")
    parser.add_argument("--format", choices=[i.name for i in known] + ["json", "jsonl"], default=None,
                        help="input format (default: detected; json/jsonl = UNIPO canonical log of that container)")
    parser.add_argument("--tokenizer", metavar="DIR", default=None,
                        help="a local Hugging Face tokenizer folder: tokenise text-only dumps (verl, TRL) and "
                             "decode token ids that have no text (prime-rl, GradLoc)")
    parser.add_argument("--algorithm", metavar="PRESET", default=None,
                        help="the algorithm the run used, as a UNIPO preset (overrides the source's): formula "
                             "cards, what-ifs and recomputed terms follow it")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return parser


def check_paths(args: argparse.Namespace) -> None:
    """Refuse what could only fail once writing started: an unreadable input, an --out that is a
    file, lies under one, or sits in a folder that cannot be written (the run is staged next to it)."""
    from unipo.engine.config import check_directory_path, nearest_existing_parent
    source = Path(args.file)
    if not source.exists():
        raise UnipoError(f"PATH {args.file}: no such file or folder")
    if not os.access(source, os.R_OK):
        raise UnipoError(f"PATH {args.file}: cannot be read (permission denied)")
    if source.is_dir() and args.format in ("json", "jsonl"):
        raise UnipoError(f"PATH {args.file}: is a directory; --format {args.format} reads one canonical file")
    check_directory_path("--out", args.out)
    out = Path(args.out)  # whether an existing --out may be replaced is the importer's to say
    parent = nearest_existing_parent(Path(os.path.abspath(out)).parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UnipoError(f"--out {args.out}: cannot write there, {parent} is not writable")


def run(args: argparse.Namespace) -> int:
    from unipo.engine.config import missing_directories, remove_if_empty
    from unipo.importers.run import import_run
    check_paths(args)
    created = missing_directories(Path(args.out).parent)
    fmt = {"json": "unipo-json", "jsonl": "unipo-jsonl"}.get(args.format, args.format)
    try:
        report = import_run(args.file, args.out, format=fmt, tokenizer=args.tokenizer, algorithm=args.algorithm,
                            progress=not args.no_progress and sys.stderr.isatty())
    except BaseException:
        remove_if_empty(created)
        raise
    print(report.text())
    return 0

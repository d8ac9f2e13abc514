"""`unipo query RUN "SQL"`: SQL over every step of a run (DuckDB views tokens, responses, steps, metrics)."""
from __future__ import annotations

import argparse
import sys

FORMATS = ("table", "csv", "json", "parquet")


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "query", help="answer a SQL question over a whole run (DuckDB)",
        description="Run one SQL statement over a run's views: tokens (one row per completion token), "
                    "responses (one per response), steps, metrics. Every column is its logical value. "
                    "Join tokens to responses with USING (step, response). See docs/store.md.",
    )
    parser.add_argument("run", help="run directory or fsspec URL (s3://bucket/prefix/run)")
    parser.add_argument("sql", nargs="?", help="the SQL statement (omit with --schema)")
    parser.add_argument("--schema", action="store_true", help="print the views' columns and types instead")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="table (default, for reading), csv, json (an array of row objects), "
                             "parquet (needs --out)")
    parser.add_argument("--out", help="write the result to this file (replaced atomically) instead of stdout")
    parser.add_argument("--max-rows", type=int, default=40, help="rows shown by --format table (default 40)")
    return parser


def run(args: argparse.Namespace) -> int:
    from unipo.errors import UnipoError
    from unipo.runs import query as store_query

    if args.schema:
        for view, columns in store_query.describe(args.run).items():
            print(f"{view}: " + ", ".join(f"{name} {kind}" for name, kind in columns))
        return 0
    if not args.sql:
        raise UnipoError("give a SQL statement (or --schema to list the views' columns)")
    if args.format == "parquet" and not args.out:
        raise UnipoError("--format parquet needs --out FILE")
    if args.out:
        from unipo.engine.config import check_output_file

        check_output_file("--out", args.out)
    connection = store_query.connect(args.run)
    if args.format == "table" and not args.out:
        found = store_query.relation(connection, args.sql)
        if found is not None:
            found.show(max_rows=args.max_rows, max_width=200)
        return 0
    table = store_query.query(args.run, args.sql, connection)
    _write(table, args.format, args.out)
    if args.out:
        print(f"{table.num_rows} rows -> {args.out}", file=sys.stderr)
    return 0


def _write(table, fmt: str, out: str | None) -> None:
    from pathlib import Path

    from unipo.runs.atomic import write_atomically, write_bytes_atomically

    if fmt == "parquet":
        import pyarrow.parquet as pq

        write_atomically(Path(out), lambda tmp: pq.write_table(table, tmp))
        return
    data = _encode(table, fmt)
    if out:
        write_bytes_atomically(Path(out), data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


def _encode(table, fmt: str) -> bytes:
    import io

    if fmt == "csv":
        import pyarrow.csv as pcsv

        sink = io.BytesIO()
        pcsv.write_csv(table, sink)
        return sink.getvalue()
    if fmt == "json":
        import orjson

        return orjson.dumps(table.to_pylist(), default=str, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"
    rendered = str(table)  # --format table with --out: Arrow's own rendering
    return rendered.encode() + b"\n"

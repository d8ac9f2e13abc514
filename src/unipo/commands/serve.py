"""`unipo serve RUNS…`: browse run directories (live while they train) in the web app."""
from __future__ import annotations

import argparse


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "serve",
        help="open runs in the web app (read-only; live while training)",
        description="Serve run directories, or folders of runs, to the UNIPO web app. "
                    "New runs appearing in a given folder show up without a restart.",
    )
    parser.add_argument("paths", nargs="+", metavar="RUNS_DIR_OR_RUN",
                        help="a run directory or a folder holding run directories, or an fsspec URL of one "
                             "(s3://bucket/prefix; read-only, credentials from the environment, served from a "
                             "local copy under ~/.cache/unipo/remote kept in sync)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; anything else "
                             "prints a warning and requires the access token printed in the URL)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="also accept requests whose Host header is NAME (repeatable; loopback names and "
                             "the bound address are always accepted), e.g. a machine name behind a proxy")
    access = parser.add_mutually_exclusive_group()
    access.add_argument("--token", dest="token", action="store_true", default=None,
                        help="require a generated access token even on loopback (always on beyond loopback)")
    access.add_argument("--no-token", dest="token", action="store_false",
                        help="serve beyond loopback WITHOUT an access token (anyone who can reach the port "
                             "reads every run)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    return parser


def run(args: argparse.Namespace) -> int:
    from unipo.server import serve

    serve(args.paths, host=args.host, port=args.port, open_browser=not args.no_browser,
          allow_hosts=args.allow_host, token=args.token)
    return 0

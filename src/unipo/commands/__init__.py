"""Sub-commands of `unipo`: one module each, exposing `register(subparsers)` and `run(args) -> int`."""

# Order shown in `unipo --help`.
COMMAND_MODULES = ("demo", "train", "serve", "algorithms", "import_run", "export_run", "query")

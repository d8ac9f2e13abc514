"""Running `unipo` in this process and checking its one-line user errors."""
from __future__ import annotations

from unipo.cli import main


def run_cli(capsys, *argv):
    """unipo ARGV in this process: (exit status, stderr)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    return code, capsys.readouterr().err


def assert_one_line_error(code, err, *needles):
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]

import socket

import pytest

from unipo.cli import main
from unipo.errors import UnipoError
from unipo.server.serve import bind_socket


def test_port_in_use_is_a_one_line_error():
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        with pytest.raises(UnipoError, match=f"port {port} on 127.0.0.1 is already in use"):
            bind_socket("127.0.0.1", port)
    finally:
        busy.close()


def test_serve_command_reports_a_busy_port_and_exits_2(runs_dir, capsys):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        code = main(["serve", str(runs_dir), "--port", str(busy.getsockname()[1]), "--no-browser"])
    finally:
        busy.close()
    err = capsys.readouterr().err.strip()
    assert code == 2 and "already in use" in err and "\n" not in err


def test_serve_command_refuses_a_missing_path(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "absent"), "--no-browser"]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_bad_port_number(tmp_path):
    with pytest.raises(UnipoError, match="--port"):
        bind_socket("127.0.0.1", 70000)

"""serve(): run the app with uvicorn on a socket bound up front (a busy port is a one-line error)."""
from __future__ import annotations

import errno
import socket
import sys
import threading
import webbrowser
from dataclasses import dataclass, field

import uvicorn

from unipo.errors import UnipoError
from unipo.server.app import create_app
from unipo.server.auth import new_token
from unipo.server.host_check import WILDCARDS, allowed_hosts_for, interface_addresses, is_loopback
from unipo.server.memory_tuning import keep_pandas_out, tune_allocators


def bind_socket(host: str, port: int) -> socket.socket:
    if not 0 <= port <= 65535:
        raise UnipoError(f"--port: expected 0..65535, got {port}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # Lets a restarted server reuse a port whose old connections linger in TIME_WAIT; Linux still
    # refuses the bind while another process listens there.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UnipoError(f"port {port} on {host} is already in use (choose another with --port)") from None
        if exc.errno == errno.EACCES:
            raise UnipoError(f"not allowed to listen on {host}:{port} (choose a port above 1024)") from None
        raise UnipoError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_for(host: str, port: int, token: str | None = None) -> str:
    shown = "127.0.0.1" if host in WILDCARDS else (f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


@dataclass
class ServePlan:
    """What `unipo serve` will do for a --host/--token choice (computed before anything is bound)."""

    host: str
    token: str | None
    allowed_hosts: list[str]
    shown_hosts: list[str]          # addresses printed in the start URLs
    warnings: list[str] = field(default_factory=list)

    def urls(self, port: int) -> list[str]:
        return [url_for(host, port, self.token) for host in self.shown_hosts]


def plan_serving(host: str = "127.0.0.1", *, allow_hosts=(), token: bool | None = None,
                 addresses: list[str] | None = None) -> ServePlan:
    """`token`: True (--token) requires one, False (--no-token) never; None: only beyond loopback."""
    loopback = is_loopback(host)
    wildcard = host in WILDCARDS
    require = (not loopback) if token is None else token
    secret = new_token() if require else None
    if wildcard:
        found = interface_addresses() if addresses is None else addresses
        shown = ["127.0.0.1", *[address for address in found if not is_loopback(address)]]
    else:
        found, shown = None, [host]
    plan = ServePlan(host, secret, allowed_hosts_for(host, allow_hosts, addresses=found), shown)
    if not loopback:
        where = "every network interface" if wildcard else host
        plan.warnings.append(f"WARNING: listening on {host} ({where}), not only on this machine: anyone who can "
                             "reach it can connect.")
        if secret is None:
            plan.warnings.append("WARNING: --no-token: NO ACCESS TOKEN. Anyone on the network can read every "
                                 "run served here (prompts, completions, metrics). Use this only on a trusted "
                                 "network.")
        else:
            plan.warnings.append("Requests need the access token in the URL below (kept in a cookie by the "
                                 "browser) or an `Authorization: Bearer` header.")
    return plan


def serve(paths, host: str = "127.0.0.1", port: int = 8000, open_browser: bool = True, *,
          allow_hosts=(), token: bool | None = None) -> None:
    """Serve the runs under `paths` until interrupted (blocks).

    Bound to loopback (the default) no token is needed; bound beyond it (or with token=True) a
    secret token is printed in the URL and required; token=False opts out (with a loud warning)."""
    tune_allocators()
    keep_pandas_out()
    plan = plan_serving(host, allow_hosts=allow_hosts, token=token)
    app = create_app(paths, allowed_hosts=plan.allowed_hosts, token=plan.token)
    sock = bind_socket(host, port)
    port = sock.getsockname()[1]  # port 0 means "any free port"
    # Open SSE streams would otherwise hold Ctrl-C for uvicorn's whole graceful-shutdown wait.
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    urls = plan.urls(port)
    for warning in plan.warnings:
        print(warning, file=sys.stderr, flush=True)
    print(f"UNIPO serving {len(app.state.registry.entries())} run(s) at {urls[0]}  (Ctrl-C to stop)", flush=True)
    for other in urls[1:]:
        print(f"  also at {other}", flush=True)
    if open_browser:
        threading.Thread(target=_open_when_started, args=(server, urls[0]), daemon=True).start()
    threading.Thread(target=_warm_up, args=(app,), daemon=True).start()
    threading.Thread(target=_describe_algorithms, args=(app,), daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def _warm_up(app) -> None:
    """Pay start-up costs before the first click: parsing each run's metrics.jsonl (about a second
    for 100,000 updates) and the lazy imports of the first step read (~200 ms), by decoding the
    newest run's last step, the likeliest first click. torch is left to the first what-if: it
    costs ~190 MB of memory that browsing runs does not need (algorithm descriptions come from a
    child process, see _describe_algorithms)."""
    from unipo.errors import UnipoError

    entries = app.state.registry.entries()
    for entry in entries:
        try:
            entry.metrics.refresh()
        except UnipoError:
            pass  # a malformed file is reported when a route asks for it
    newest = max(entries, key=lambda entry: entry.reader.last_modified(), default=None)
    steps = newest.steps() if newest else []
    if steps:
        try:
            app.state.steps.payload_bytes(newest, steps[-1])
        except Exception:  # noqa: BLE001 - warming up must never stop the server; the route reports it
            pass


def _describe_algorithms(app) -> None:
    """Every page asks for the presets (and each run page for its run's algorithm): describe them
    now (torch-free) so the first page does not wait for them."""
    try:
        stored = [entry.header.get("algorithm") for entry in app.state.registry.entries()]
        app.state.algorithms.prefetch([item for item in stored if isinstance(item, dict)])
    except Exception:  # noqa: BLE001 - the routes compute it again on demand and report any error
        pass


def _open_when_started(server: uvicorn.Server, url: str) -> None:
    import time

    for _ in range(100):
        if server.started:
            webbrowser.open(url)
            return
        time.sleep(0.1)

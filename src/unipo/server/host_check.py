"""Refuse requests whose Host header is not the address the server listens on.

A web page on another site can point its own domain name at 127.0.0.1 (DNS rebinding) and then
read a local server's answers as same-origin. Checking Host stops that: such requests carry the
attacker's domain name, not `127.0.0.1` or `localhost`.
"""
from __future__ import annotations

from unipo.server.json_response import error

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def allowed_hosts_for(bind_host: str) -> list[str] | None:
    """Hosts to accept when listening on `bind_host`; None (no check) for wildcard addresses."""
    if bind_host in ("0.0.0.0", "::", ""):
        return None  # the user chose to be reachable under any name
    return sorted({*LOOPBACK_NAMES, bind_host}) if bind_host in LOOPBACK_NAMES else [bind_host]


def _host_name(value: str) -> str:
    if value.startswith("["):  # [::1]:8000
        return value[1:value.find("]")]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostCheck:
    def __init__(self, app, allowed: list[str]):
        self.app = app
        self.allowed = {name.lower() for name in allowed}

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            headers = dict(scope.get("headers") or [])
            host = _host_name(headers.get(b"host", b"").decode("latin-1")).lower()
            if host not in self.allowed:
                response = error(400, f"refused: Host {host!r} is not this server's address")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

"""Refuse requests whose Host header is not a name this server answers to.

A web page on another site can point its own domain name at 127.0.0.1 (DNS rebinding) and then
read a local server's answers as same-origin. Checking Host stops that: such requests carry the
attacker's domain name, not `127.0.0.1` or `localhost`. The check stays on when the server is
bound beyond loopback (`--host 0.0.0.0`): loopback names, the bound address, this machine's
interface addresses and host name, and every `--allow-host` name are accepted.
"""
from __future__ import annotations

import ipaddress
import socket

from unipo.server.json_response import error

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARDS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def interface_addresses() -> list[str]:
    """This machine's IPv4 interface addresses (local system calls only: nothing is sent)."""
    found: list[str] = []
    try:
        import fcntl
        import struct

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            for _, name in socket.if_nameindex():
                try:
                    packed = fcntl.ioctl(probe.fileno(), 0x8915,  # SIOCGIFADDR
                                         struct.pack("256s", name.encode()[:15]))
                    found.append(socket.inet_ntoa(packed[20:24]))
                except OSError:
                    pass
    except (ImportError, OSError, AttributeError):
        pass
    return sorted(set(found))


def allowed_hosts_for(bind_host: str, extra=(), *, addresses: list[str] | None = None) -> list[str]:
    """Host names to accept when listening on `bind_host`: always the loopback names, the bound
    address, `extra` (--allow-host); for a wildcard bind also this machine's addresses and name."""
    names = {*LOOPBACK_NAMES, *(name.strip().lower() for name in extra if name.strip())}
    if bind_host in WILDCARDS:
        names.update(interface_addresses() if addresses is None else addresses)
        try:
            names.add(socket.gethostname().lower())
        except OSError:
            pass
    else:
        names.add(bind_host.strip("[]").lower())
    return sorted(names)


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
                response = error(400, f"refused: Host {host!r} is not this server's address "
                                      "(start unipo serve with --allow-host NAME to accept it)")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

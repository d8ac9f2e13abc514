"""Access token for a server reachable beyond this machine (`unipo serve --host 0.0.0.0`, `--token`).

Like notebook servers: a secret (secrets.token_urlsafe) is printed in the start URL
(`http://HOST:PORT/?token=...`). A request is let through when it carries the token as `?token=`,
as `Authorization: Bearer <token>`, or in the `unipo_token` cookie. A valid `?token=` also sets that
cookie (HttpOnly, SameSite=Strict), so the web app's later fetches and EventSource streams work
unchanged. Every route answers without it: 401 (no token) or 403 (wrong token), as JSON.
"""
from __future__ import annotations

import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from unipo.server.json_response import error

COOKIE = "unipo_token"


def new_token() -> str:
    return secrets.token_urlsafe(24)


class TokenCheck:
    def __init__(self, app, token: str):
        self.app = app
        self.token = token

    def _matches(self, candidate: str | None) -> bool:
        return candidate is not None and secrets.compare_digest(candidate.encode(), self.token.encode())

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {}
        for name, value in scope.get("headers") or []:
            headers.setdefault(name, value.decode("latin-1"))
        given = []
        authorization = headers.get(b"authorization", "")
        if authorization[:7].lower() == "bearer ":
            given.append(authorization[7:].strip())
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        from_query = query.get("token", [None])[-1]
        if from_query is not None:
            given.append(from_query)
        if b"cookie" in headers:
            cookie = SimpleCookie()
            try:
                cookie.load(headers[b"cookie"])
            except Exception:  # noqa: BLE001 - a malformed cookie header is just no cookie
                cookie = SimpleCookie()
            if COOKIE in cookie:
                given.append(cookie[COOKIE].value)
        if not any(self._matches(candidate) for candidate in given):
            if given:
                response = error(403, "forbidden: wrong access token")
            else:
                response = error(401, "token required: open the URL printed by `unipo serve` "
                                      "(…/?token=…) or send Authorization: Bearer <token>")
                response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        if not self._matches(from_query):
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"set-cookie", cookie.encode("latin-1"))]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)

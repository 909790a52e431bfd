"""`passbot dev` answers only pages served from loopback.

The stand-in listens on 127.0.0.1, but a browser will still carry a hostile page's requests
there: by DNS rebinding (evil.test resolves to 127.0.0.1, and the browser sends `Host:
evil.test`), or by a plain cross-site POST (`Origin: https://evil.test`). Either would let a web
page act as any stand-in user, approvals included. So a request is served only when its `Host`
names a loopback address and its `Origin`, when sent, is a loopback http(s) origin.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

_LOOPBACK_NAMES = frozenset({"localhost"})


def is_loopback_name(name: str) -> bool:
    """`localhost`, or a literal loopback address (127.0.0.0/8, ::1)."""
    name = name.strip().lower().rstrip(".")
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(host: str) -> str:
    """`Host` without its port (`[::1]:3100` -> `::1`)."""
    return urlsplit(f"//{host}").hostname or ""


def refusal(host: str | None, origin: str | None) -> str | None:
    """Why a request with these headers is not served, or None. Pure."""
    if not host or not is_loopback_name(_host_name(host)):
        return "passbot dev answers only on a loopback address (open http://127.0.0.1:PORT/)."
    if origin is None:
        return None  # not sent by a page: PASS's own Web API calls, curl
    parts = urlsplit(origin)
    if parts.scheme not in {"http", "https"} or not is_loopback_name(parts.hostname or ""):
        return "passbot dev does not take requests from other sites' pages."
    return None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def loopback_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    reason = refusal(request.headers.get("Host"), request.headers.get("Origin"))
    if reason is not None:
        return web.Response(status=403, text=reason)
    return await handler(request)

"""Bearer token authentication of the ``/v1`` routes, checked before the body is read.

With a token configured (only from :data:`custseg.serve.config.TOKEN_ENV`), every request to a
path under ``/v1/`` needs ``Authorization: Bearer <token>``; anything else gets 401 with
``WWW-Authenticate: Bearer``. The comparison is constant-time (:func:`hmac.compare_digest`), so
the answer's timing tells nothing about how much of a guess was right. ``/health``, ``/ready``
and the OpenAPI documents stay open: probes and load balancers call them without secrets, and
they reveal no customer data.
"""

from __future__ import annotations

import hmac

from custseg.serve.limits import ASGIApp, Receive, Scope, Send, send_json

#: The paths that need the token when one is configured.
PROTECTED_PREFIX = "/v1/"


class BearerTokenMiddleware:
    """Answer 401 to a ``/v1`` request without the configured bearer token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = token.encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PROTECTED_PREFIX):
            given = _bearer_token(scope)
            if given is None or not hmac.compare_digest(given, self._expected):
                reason = "missing" if given is None else "wrong"
                await send_json(
                    send,
                    401,
                    f"The bearer token is {reason}: send `Authorization: Bearer <token>` with the "
                    "token the service was started with (CUSTSEG_SERVE_TOKEN).",
                    headers={"WWW-Authenticate": "Bearer"},
                )
                return
        await self.app(scope, receive, send)


def _bearer_token(scope: Scope) -> bytes | None:
    """The token of an ``Authorization: Bearer <token>`` header (the scheme in any case)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = bytes(value).strip().partition(b" ")
            return token.strip() if scheme.lower() == b"bearer" else None
    return None

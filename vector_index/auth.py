"""Bearer-token access to the search service: who may call which endpoint.

Access is required whenever any token is active in the data dir, and always when the service is
bound to a non-loopback address (``public``); with neither, the service is open as before (the
local demo). A missing or unknown token gets 401, a token without the endpoint's scope 403;
``admin`` implies every scope. ``/healthz``, ``/docs`` and ``/openapi.json`` stay open. Each
authorised request is logged with its team, token id and that token's running count.

The scheme is FastAPI's ``HTTPBearer``, so ``/docs`` shows an *Authorize* button.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections import Counter
from collections.abc import Callable

from fastapi import HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gfm.errors import GfmError
from vector_index.tokens import TokenRecord, TokenStore

__all__ = ["AUTH_HELP", "Access", "check_bind", "is_loopback"]

log = logging.getLogger(__name__)

AUTH_HELP = (
    "Requests need `Authorization: Bearer <token>` whenever tokens exist or the service listens "
    "on a non-loopback address. A team gets a token from an operator: `gfm tokens create --team "
    "NAME --scope search|recommend|admin` (shown once). Scopes: `search` for item search "
    "(similar items, vector and text search), `recommend` for user recommendations, `admin` for "
    "everything; `/v1/versions` takes any valid token; `/healthz` is open. Click *Authorize* "
    "and paste the token to try the endpoints here."
)


def is_loopback(host: str) -> bool:
    """Whether a bind address reaches this machine only (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name may resolve anywhere: treat it as public


def check_bind(host: str, store: TokenStore) -> bool:
    """Whether the service bound to ``host`` must require tokens; refuse a public bind without any.

    Returns:
        True for a non-loopback address (tokens then always required).

    Raises:
        GfmError: For a non-loopback address while no token is active.

    """
    public = not is_loopback(host)
    if public and not store.any_active():
        raise GfmError(
            f"refusing to serve on {host}: that address is reachable from other machines and no "
            "access token exists, so anyone could read every user's recommendations. Create one "
            "first (`gfm tokens create --team NAME --scope search`), or bind to 127.0.0.1"
        )
    return public


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A gfm access token (`gfm tokens create`): `Authorization: Bearer gfm_...`.",
)
_CREDENTIALS = Security(_bearer)


class Access:
    """The service's access rule and per-token request counts.

    Args:
        store: The data dir's tokens.
        public: Bound to a non-loopback address: tokens are required even when none exist.

    """

    def __init__(self, store: TokenStore, public: bool = False) -> None:
        self.store = store
        self.public = public
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def required(self) -> bool:
        """Whether requests must carry a token right now."""
        return self.public or self.store.any_active()

    def scope(self, scope: str) -> Callable[..., TokenRecord | None]:
        """A FastAPI dependency that admits tokens allowing ``scope`` (``any``: every valid token)."""

        def check(
            request: Request, creds: HTTPAuthorizationCredentials | None = _CREDENTIALS
        ) -> TokenRecord | None:
            if not self.required():
                return None
            if creds is None:
                raise _unauthorised("missing bearer token")
            record = self.store.verify(creds.credentials)
            if record is None:
                raise _unauthorised("invalid or revoked token")
            if not record.allows(scope):
                raise HTTPException(
                    403,
                    {
                        "error": f"this token lacks the {scope!r} scope",
                        "team": record.team,
                        "scopes": list(record.scopes),
                    },
                )
            with self._lock:
                self.counts[record.token_id] += 1
                n = self.counts[record.token_id]
            log.info(
                "access team=%s token=%s path=%s requests=%d",
                record.team,
                record.token_id,
                request.url.path,
                n,
            )
            return record

        return check


def _unauthorised(why: str) -> HTTPException:
    return HTTPException(
        401,
        {"error": why, "hint": "send `Authorization: Bearer <token>` (gfm tokens create)"},
        headers={"WWW-Authenticate": "Bearer"},
    )

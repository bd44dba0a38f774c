"""``GfmSearchClient``: the search service (``gfm serve``) for Python services, over HTTP.

Example::

    from vector_index.http_client import GfmSearchClient

    with GfmSearchClient("http://127.0.0.1:8000", token="gfm_...") as search:
        search.similar(17, type="audiobook", k=10)       # SearchResult(alias, version, hits)
        search.recommendations(42, type="podcast")
        search.search_text("detective stories in venice", type="audiobook")
        search.search_vector([0.1, ...], k=5)
        search.versions()

Errors come back typed: 401/403 as ``AccessError`` (with the status), 404 as
``gfm.errors.NotFoundError``, other 4xx as ``gfm.errors.InvalidInputError``, 5xx as
``gfm.errors.StageError``; the service's message is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from gfm.errors import GfmError, InvalidInputError, NotFoundError, StageError
from vector_index.search import Hit

__all__ = ["AccessError", "GfmSearchClient", "SearchResult"]


class AccessError(GfmError):
    """The service refused the token (401: missing or invalid; 403: scope)."""

    def __init__(self, status: int, detail: object) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"HTTP {status}: {detail}")


@dataclass(frozen=True)
class SearchResult:
    """One answer: the alias and version that answered, and the hits, best first."""

    alias: str
    version: str
    hits: list[Hit]

    @property
    def ids(self) -> list[int]:
        """The hit ids, best first."""
        return [h.id for h in self.hits]


class GfmSearchClient:
    """A small synchronous client of the search service.

    Args:
        base_url: The service, e.g. ``http://127.0.0.1:8000``.
        token: A bearer token (``gfm tokens create``); None when the service is open.
        timeout: Seconds per request.
        http: An ``httpx.Client`` (or subclass) to use instead, with its own base URL; tests
            pass the app's Starlette ``TestClient``.

    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        token: str | None = None,
        timeout: float = 10.0,
        http: Any = None,
    ) -> None:
        self._own = http is None
        self._http: httpx.Client = http or httpx.Client(base_url=base_url, timeout=timeout)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    def similar(
        self, item_id: int, *, type: str | None = None, k: int = 10, model: str = "two_tower"
    ) -> SearchResult:
        """Items closest to an item (the item left out)."""
        return self._result(
            "GET", f"/v1/items/{int(item_id)}/similar", params=_params(type=type, k=k, model=model)
        )

    def recommendations(
        self, user_id: int, *, type: str | None = None, k: int = 10, model: str = "two_tower"
    ) -> SearchResult:
        """Items for a user, without the items they already consumed.

        ``model="hgnn"`` reads the user as a mixture of their items' HGNN neighbourhoods.
        """
        return self._result(
            "GET", f"/v1/users/{int(user_id)}/recommendations", params=_params(type=type, k=k, model=model)
        )

    def search_text(self, q: str, *, type: str | None = None, k: int = 10) -> SearchResult:
        """Items matching free text (the live HGNN item space)."""
        return self._result("GET", "/v1/search", params=_params(q=q, type=type, k=k))

    def search_vector(
        self, vector: Sequence[float], *, type: str | None = None, k: int = 10, model: str = "two_tower"
    ) -> SearchResult:
        """Items nearest to a vector of the model's item space."""
        body = {"vector": [float(x) for x in vector], "k": k, "type": type, "model": model}
        return self._result("POST", "/v1/search", json=body)

    def versions(self) -> list[dict[str, Any]]:
        """The live version per alias, with its provenance card."""
        live: list[dict[str, Any]] = self._call("GET", "/v1/versions")["live"]
        return live

    def healthz(self) -> dict[str, Any]:
        """Liveness (open, no token needed)."""
        out: dict[str, Any] = self._call("GET", "/healthz")
        return out

    def close(self) -> None:
        """Close the connection pool (not a client passed in)."""
        if self._own:
            self._http.close()

    def __enter__(self) -> GfmSearchClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ---- internals --------------------------------------------------------------------------
    def _result(self, method: str, url: str, **kwargs: Any) -> SearchResult:
        body = self._call(method, url, **kwargs)
        hits = [Hit(int(r["id"]), float(r["score"])) for r in body["results"]]
        return SearchResult(str(body["alias"]), str(body["version"]), hits)

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self._http.request(method, url, headers=self._headers, **kwargs)
        if response.status_code < 400:
            return response.json()
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        status = response.status_code
        if status in (401, 403):
            raise AccessError(status, detail)
        if status == 404:
            raise NotFoundError(str(detail))
        if status < 500:
            raise InvalidInputError(f"HTTP {status}: {detail}", field=url, value=detail)
        raise StageError(f"HTTP {status} from the search service: {detail}")


def _params(**values: object) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}

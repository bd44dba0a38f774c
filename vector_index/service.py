"""The HTTP search service (``gfm serve``): similar items, recommendations, vector search.

``create_app(cfg)`` builds a FastAPI app. Its lifespan opens the process's one Milvus client (so
the service is the one process that owns a Milvus Lite file) and the consumed-items table. User
vectors come from an injectable ``UserVectorSource``: the Feast online store by default.

The OpenAPI page (``/docs``, Swagger UI) loads its JavaScript and CSS from the ``fastapi-offline``
package, served by the app itself: it needs nothing outside the machine.
Every id path parameter is checked against the int64 range (422 outside it), and request bodies
larger than ``serve.max_body_bytes`` are refused with 413 before they are read.
Access: bearer tokens with scopes (``vector_index.auth``), required whenever a token exists or
the service is public (bound to a non-loopback address).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field

from gfm.config import Config
from gfm.errors import DimensionError, GfmError, InvalidInputError, NotFoundError
from gfm.naming import export_path
from gfm.tombstones import ForgottenUsers
from vector_index.auth import AUTH_HELP, Access
from vector_index.blend import TwoTowerRecommender
from vector_index.body_limit import BodySizeLimit
from vector_index.filters import FilterError, check_content_type
from vector_index.mixture import HgnnRecommender
from vector_index.search import VectorSearcher
from vector_index.text_search import TextSearcher, TextSearchUnavailable
from vector_index.tokens import TokenStore
from vector_index.users import CachedUserVectors, ConsumedItems, UserVectorSource

__all__ = ["create_app"]

log = logging.getLogger(__name__)
Model = Literal["two_tower", "hgnn"]
_TYPE = Query(None, max_length=64, description="Keep one content type (see /v1/versions).")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# ids are BIGINT everywhere (docs/contracts.md): a wider number is refused with 422, never sent on
_ITEM_ID = Path(ge=INT64_MIN, le=INT64_MAX, description="An item id (int64).")
_USER_ID = Path(ge=INT64_MIN, le=INT64_MAX, description="A user id (int64).")


class HitOut(BaseModel):
    """One result."""

    id: int
    score: float


class SearchOut(BaseModel):
    """Results of one query, with the version that answered it."""

    alias: str
    version: str
    results: list[HitOut]


class SearchIn(BaseModel):
    """``POST /v1/search`` body."""

    model_config = ConfigDict(extra="forbid")

    vector: list[float] = Field(min_length=1, max_length=4096)
    k: int = Field(10, ge=1)
    type: str | None = Field(None, max_length=64)
    model: Model = "two_tower"


def _forbid_unknown_query(allowed: set[str]) -> Callable[[Request], None]:
    def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise HTTPException(
                422, {"error": "unknown query parameters", "value": unknown, "allowed": sorted(allowed)}
            )

    return check


def create_app(
    cfg: Config,
    user_vectors: UserVectorSource | Callable[[], UserVectorSource] | None = None,
    *,
    public: bool = False,
) -> FastAPI:
    """Build the service.

    Args:
        cfg: The effective config (``index``, ``serve``, data paths).
        user_vectors: Where user vectors come from: a source, a factory called at startup, or
            None for the Feast online store (``feature_repo.client.EmbeddingClient``).
        public: The service is bound to a non-loopback address: every endpoint but ``/healthz``
            requires a token even when none exists (``vector_index.auth.check_bind``).

    Returns:
        The FastAPI app (OpenAPI docs at ``/docs``).

    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from vector_index.client import role_client

        app.state.client = role_client(cfg, "reader")  # a read-only role on a server with auth
        app.state.searchers = {}
        app.state.consumed = ConsumedItems.from_marts(cfg.marts_dir)
        app.state.user_source = _user_source(cfg, user_vectors, app.state.client)
        app.state.user_cache = CachedUserVectors(
            app.state.user_source, forgotten=ForgottenUsers(cfg.data_dir)
        )
        log.info("serving %s (%d users with consumed items)", cfg.milvus_uri, len(app.state.consumed))
        yield
        for token_id, n in sorted(access.counts.items()):
            log.info("access summary token=%s requests=%d", token_id, n)
        # the client is process-wide (client.get_client); `gfm serve` closes it on exit

    # FastAPIOffline: FastAPI whose /docs page loads Swagger UI from this app. No ReDoc: its page
    # always fetches a logo from the vendor's CDN (tests/integration/test_browser.py caught it).
    access = Access(TokenStore(cfg.data_dir), public=public)
    app = FastAPIOffline(
        title="gfm search", version="1", lifespan=lifespan, redoc_url=None, description=AUTH_HELP
    )
    app.state.access = access
    app.add_middleware(BodySizeLimit, max_bytes=cfg.serve.max_body_bytes)
    max_k = cfg.serve.max_k
    hgnn_recommender = HgnnRecommender(cfg)  # model=hgnn: each version's temperature read once
    two_tower_recommender = TwoTowerRecommender(cfg)  # each version's blend with the HGNN, read once
    k_query = Query(10, ge=1, le=max_k, description=f"Results to return (1..{max_k}).")

    def searcher(entity: str, model: str) -> VectorSearcher:
        cache: dict[tuple[str, str], VectorSearcher] = app.state.searchers
        if (entity, model) not in cache:
            cache[(entity, model)] = VectorSearcher(app.state.client, cfg.index, entity, model)
        return cache[(entity, model)]

    @app.exception_handler(FilterError)
    def _filter_error(_: Request, exc: FilterError) -> JSONResponse:
        return JSONResponse(
            {"detail": {"error": str(exc), "value": str(exc.value), "allowed": exc.allowed}}, 422
        )

    @app.exception_handler(DimensionError)
    def _dim_error(_: Request, exc: DimensionError) -> JSONResponse:
        return JSONResponse({"detail": {"error": str(exc)}}, 422)

    @app.exception_handler(InvalidInputError)
    def _invalid(_: Request, exc: InvalidInputError) -> JSONResponse:
        return JSONResponse({"detail": {"error": str(exc), "field": exc.field}}, 422)

    @app.exception_handler(TextSearchUnavailable)
    def _no_text(_: Request, exc: TextSearchUnavailable) -> JSONResponse:
        return JSONResponse({"detail": {"error": str(exc)}}, 503)

    @app.exception_handler(NotFoundError)
    def _not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": {"error": str(exc)}}, 404)

    def live(entity: str, model: str) -> VectorSearcher:
        s = searcher(entity, model)
        try:
            s.info()
        except NotFoundError as exc:
            raise HTTPException(503, {"error": str(exc)}) from exc
        return s

    def answer(s: VectorSearcher, hits: list[Any], version: str | None = None) -> SearchOut:
        return SearchOut(
            alias=s.alias,
            version=version or s.info().version,
            results=[HitOut(id=h.id, score=h.score) for h in hits],
        )

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """Liveness: Milvus answers."""
        collections = app.state.client.list_collections()
        return {
            "status": "ok",
            "collections": len(collections),
            "user_vectors": type(app.state.user_source).__name__,
        }

    @app.get("/v1/versions", dependencies=[Depends(access.scope("any"))])
    def versions() -> dict[str, Any]:
        """List the live version per alias, with its provenance card when the pipeline wrote one."""
        from gfm.releases import read_record
        from vector_index.versions import collection_info, live_version

        client = app.state.client
        out = []
        for alias in sorted(client.list_aliases().get("aliases", [])):
            version = live_version(client, alias)
            if version is None:
                continue
            info = collection_info(client, f"{alias}_{version}")
            card = cfg.reports_dir / "provenance" / f"{version}.json"
            provenance = json.loads(card.read_text()) if card.exists() else None
            out.append({"alias": alias, **info.to_dict(), "provenance": provenance})
        record = read_record(cfg.data_dir)
        pending = record.pending.model_dump(mode="json") if record.pending is not None else None
        return {"live": out, "release": record.live, "pending": pending}

    @app.get(
        "/v1/items/{item_id}/similar",
        response_model=SearchOut,
        dependencies=[
            Depends(access.scope("search")),
            Depends(_forbid_unknown_query({"type", "k", "model"})),
        ],
    )
    def similar(
        item_id: int = _ITEM_ID, type: str | None = _TYPE, k: int = k_query, model: Model = "two_tower"
    ) -> SearchOut:
        """Items closest to an item (the item itself left out)."""
        s = live("item", model)
        vector = s.get_vector(item_id)
        return answer(s, s.search(vector, k, content_type=type, exclude_ids=[item_id])[0])

    @app.get(
        "/v1/users/{user_id}/recommendations",
        response_model=SearchOut,
        dependencies=[
            Depends(access.scope("recommend")),
            Depends(_forbid_unknown_query({"type", "k", "model"})),
        ],
    )
    def recommendations(
        user_id: int = _USER_ID, type: str | None = _TYPE, k: int = k_query, model: Model = "two_tower"
    ) -> SearchOut:
        """Items for a user, without their consumed items (``hgnn``: vector_index.mixture)."""
        s = live("item", model)
        info = s.info()
        if type is not None:
            check_content_type(type, info.content_types)  # refuse a bad type before any lookup
        consumed = app.state.consumed.get(user_id)  # held in memory since start-up
        if model == "hgnn":
            if user_id in app.state.user_cache.forgotten or not consumed:
                raise NotFoundError(f"user {user_id} has no consumed items to read the HGNN vectors from")
            return answer(s, hgnn_recommender.recommend(s, consumed, k, content_type=type), info.version)
        vector = app.state.user_cache.get(user_id, info.version)  # Feast read once per version
        if vector is None:
            raise NotFoundError(f"unknown user {user_id}")
        # blended with the HGNN's item mixture as the version's card says (vector_index.blend)
        hgnn, known = searcher("item", "hgnn"), app.state.consumed.items
        hits = two_tower_recommender.recommend(s, hgnn, vector, consumed, k, known, type)
        return answer(s, hits, info.version)

    @app.post("/v1/search", response_model=SearchOut, dependencies=[Depends(access.scope("search"))])
    def search(body: SearchIn) -> SearchOut:
        """Nearest items to a vector."""
        if body.k > max_k:
            raise HTTPException(422, {"error": f"k must be <= {max_k}", "value": body.k})
        s = live("item", body.model)
        return answer(s, s.search(body.vector, body.k, content_type=body.type)[0])

    @app.get(
        "/v1/search",
        response_model=SearchOut,
        dependencies=[Depends(access.scope("search")), Depends(_forbid_unknown_query({"q", "type", "k"}))],
    )
    def text_search(
        q: str = Query(description=f"Free text, 1..{cfg.serve.max_query_chars} characters."),
        type: str | None = _TYPE,
        k: int = k_query,
    ) -> SearchOut:
        """Items matching a text query: the text model and the live HGNN's text-only path."""
        live("item", "hgnn")  # 503 before any encoding when no HGNN version is live
        if getattr(app.state, "text", None) is None:
            app.state.text = TextSearcher(app.state.client, cfg)
        searcher: TextSearcher = app.state.text
        version, hits = searcher.search(q, k, content_type=type)
        return answer(searcher.items, hits, version)

    return app


def _user_source(
    cfg: Config, given: UserVectorSource | Callable[[], UserVectorSource] | None, client: Any
) -> UserVectorSource:
    if given is not None:
        if callable(given) and not hasattr(given, "get"):
            return given()
        return given  # type: ignore[return-value]
    from vector_index.users import FeastUserVectors, ParquetUserVectors
    from vector_index.versions import live_version

    try:
        return FeastUserVectors(cfg)
    except (ImportError, GfmError) as exc:
        # The Feast online store is the production source; without it (no feature_repo.client, no
        # materialized store) the live two-tower version's exported users.parquet is used.
        version = live_version(client, "item_two_tower")
        path = export_path(cfg.embeddings_dir, "two_tower", str(version), "user")
        log.warning("Feast user vectors unavailable (%s); reading %s", exc, path)
        return ParquetUserVectors(path) if path.exists() else ParquetUserVectors.empty()

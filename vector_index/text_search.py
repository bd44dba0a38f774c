"""Search the live HGNN item space with free text (``GET /v1/search?q=``, ``gfm index search --text``).

The query is checked (non-blank, at most ``serve.max_query_chars`` characters), encoded into the
live ``item_hgnn`` version's space by ``embedding_jobs.text_query.TextQueryEncoder`` (the same text
model, the HGNN's text-only path), and searched with ``VectorSearcher``, so the content-type filter
follows the same allowlist as every other search. The encoder is loaded on the first text query
(torch and the text model take seconds) and reloaded when the live version changes.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from gfm.config import Config
from gfm.errors import GfmError, InvalidInputError
from vector_index.filters import check_content_type
from vector_index.search import Hit, VectorSearcher

if TYPE_CHECKING:
    from embedding_jobs.text_query import TextQueryEncoder

__all__ = ["TextSearchUnavailable", "TextSearcher", "check_query"]

MODEL = "hgnn"


class TextSearchUnavailable(GfmError):
    """The live HGNN version cannot encode text (no checkpoint, ID-only model, another text model)."""


def check_query(text: str | None, max_chars: int) -> str:
    """Return the stripped query, or raise for a blank or over-long one.

    Raises:
        InvalidInputError: For an empty/blank query or one longer than ``max_chars``.

    """
    query = (text or "").strip()
    if not query:
        raise InvalidInputError("the text query is empty", field="q", value=text)
    if len(query) > max_chars:
        raise InvalidInputError(
            f"the text query has {len(query)} characters; at most {max_chars} are allowed",
            field="q",
            value=len(query),
        )
    return query


class TextSearcher:
    """Text queries against the live HGNN items of one Milvus client.

    Args:
        client: The process's Milvus client.
        cfg: The config (``index``, ``serve.max_query_chars``, ``text``, ``models_dir``).

    """

    def __init__(self, client: Any, cfg: Config) -> None:
        self.cfg = cfg
        self.items = VectorSearcher(client, cfg.index, "item", MODEL)
        self._encoder: TextQueryEncoder | None = None
        self._lock = threading.Lock()

    def encoder(self, version: str) -> TextQueryEncoder:
        """The query encoder of ``version`` (loaded once per version; the text model is kept).

        Raises:
            TextSearchUnavailable: If the version's checkpoint or the text model is missing, or
                the version has no text path.

        """
        from embedding_jobs.text_query import TextQueryEncoder

        with self._lock:
            if self._encoder is None or self._encoder.version != version:
                text = self._encoder.text if self._encoder is not None else None
                try:
                    self._encoder = TextQueryEncoder(self.cfg, version, encoder=text)
                except GfmError as exc:
                    raise TextSearchUnavailable(f"text search is unavailable: {exc}") from exc
            return self._encoder

    def search(self, text: str, k: int, content_type: str | None = None) -> tuple[str, list[Hit]]:
        """Top-``k`` live HGNN items for a text query; returns (version, hits).

        Raises:
            InvalidInputError: For a blank or over-long query.
            FilterError: For an unknown content type.
            NotFoundError: If no HGNN version is live.
            TextSearchUnavailable: If the live version cannot encode text.

        """
        query = check_query(text, self.cfg.serve.max_query_chars)
        info = self.items.info()
        if content_type is not None:
            check_content_type(content_type, info.content_types)  # refuse before encoding
        vector = self.encoder(info.version).encode([query])
        return info.version, self.items.search(vector, k, content_type=content_type)[0]

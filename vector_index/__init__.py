"""Milvus vector index and HTTP search service for gfm embeddings.

One collection per (entity, model, version), one alias per (entity, model) pointing at the live
version. Milvus Lite (a local file) by default; any Milvus server URI works unchanged.
"""

from vector_index.client import close_clients, ensure_loaded, get_client
from vector_index.filters import FilterError, bind_filter
from vector_index.http_client import GfmSearchClient
from vector_index.load import LoadResult, load_version, read_version
from vector_index.ops import client_for, index_version, list_versions, publish_version, rollback
from vector_index.schema import alias_name, collection_name
from vector_index.search import Hit, VectorSearcher
from vector_index.versions import CollectionInfo, live_version, publish

__all__ = [
    "CollectionInfo",
    "FilterError",
    "GfmSearchClient",
    "Hit",
    "LoadResult",
    "VectorSearcher",
    "alias_name",
    "bind_filter",
    "client_for",
    "close_clients",
    "collection_name",
    "ensure_loaded",
    "get_client",
    "index_version",
    "list_versions",
    "live_version",
    "load_version",
    "publish",
    "publish_version",
    "read_version",
    "rollback",
]

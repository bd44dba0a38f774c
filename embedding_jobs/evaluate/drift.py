"""Drift between two exported versions of a model: how far did the vector space move?

A team whose cached neighbours or downstream models depend on the space needs to tell a quiet
retrain from a reshuffle. ``compare_versions`` reads two exports (``gfm.naming.export_path``) and
measures, on a fixed seeded sample of the ids both versions share:

- **items**: overlap@k of each sampled item's k nearest neighbours (cosine, among the shared
  items, itself left out) in A and in B; the share whose nearest neighbour changed; the shift of
  the centroid (Euclidean distance between the mean vectors, None when the dimensions differ) and
  of the mean norm. Overall and per content type of the sampled item.
- **users** (models that export users): overlap@k of each sampled user's top-k recommendations
  (dot product over the shared items); the share whose top recommendation changed; centroid and
  norm shift. Per content type, the recommendations are restricted to items of that type, as a
  ``type=`` filter of the search service does.

A rotation of the whole space leaves every neighbour list and recommendation as it was and
moves only the centroid: overlap near 1 with a large centroid shift means "same geometry, new
coordinates" (cached neighbours still hold; stored raw vectors do not).

The returned dict's shape (``DRIFT_SCHEMA`` = 1) is stable; ``render_html`` turns it into an
HTML fragment for the report and the provenance card::

    {"schema": 1, "model": str, "a": str, "b": str, "k": int, "seed": int,
     "items": Section, "users": Section | None}
    Section = {"n_a": int, "n_b": int, "n_common": int, "n_sampled": int,
               "overlap_at_k": float | None, "top1_changed": float | None,
               "centroid_shift": float | None, "norm_mean_a": float | None,
               "norm_mean_b": float | None, "norm_shift": float | None,
               "by_type": {content_type: Section without "n_a", "n_b", "by_type"}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from embedding_jobs.export import read_vectors
from gfm.errors import NotFoundError
from gfm.naming import export_path

__all__ = ["DRIFT_SCHEMA", "compare_vectors", "compare_versions", "overlap_below", "render_html"]

DRIFT_SCHEMA = 1
_SCORES = 1 << 24  # scores held at once (64 MiB of float32): queries per chunk = this / pool size
_FULL_SORT = 20_000  # pools up to this size are fully sorted (exact, stable ties); larger: partitioned
_VECTOR_FIGURES = ("centroid_shift", "norm_mean_a", "norm_mean_b", "norm_shift")


def compare_versions(
    embeddings_dir: Path,
    a: str,
    b: str,
    *,
    model: str = "two_tower",
    item_types: pd.Series | None = None,
    k: int = 10,
    sample: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Compare two exported versions of ``model`` (see the module docstring for the result).

    Args:
        embeddings_dir: ``Config.embeddings_dir``.
        a: The reference version (e.g. the live one).
        b: The new version.
        model: ``two_tower`` (items and users) or ``hgnn`` (items).
        item_types: Content type by item id (``dim_items``); without it every item is ``all``.
        k: Neighbour-list and recommendation length.
        sample: How many shared items, and shared users, to sample.
        seed: The sample's seed: the same seed and ids give the same sample.

    Raises:
        NotFoundError: If either version has no item export for ``model``.

    """
    ids_a, vec_a = read_vectors(export_path(embeddings_dir, model, a, "item"), "item_id")
    ids_b, vec_b = read_vectors(export_path(embeddings_dir, model, b, "item"), "item_id")
    users: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
    paths = [export_path(embeddings_dir, model, v, "user") for v in (a, b)]
    if all(p.exists() for p in paths):
        (ua, uva), (ub, uvb) = (read_vectors(p, "user_id") for p in paths)
        users = (ua, uva, ub, uvb)
    elif any(p.exists() for p in paths):
        missing = next(p for p in paths if not p.exists())
        raise NotFoundError(f"only one of the versions exports users: {missing} is missing")
    result = compare_vectors((ids_a, vec_a), (ids_b, vec_b), users=users, item_types=item_types, k=k,
                             sample=sample, seed=seed)  # fmt: skip
    return {"schema": DRIFT_SCHEMA, "model": model, "a": a, "b": b, **result}


def compare_vectors(
    items_a: tuple[np.ndarray, np.ndarray],
    items_b: tuple[np.ndarray, np.ndarray],
    *,
    users: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
    item_types: pd.Series | None = None,
    k: int = 10,
    sample: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """The figures of ``compare_versions`` from arrays: ``(ids, vectors)`` per version.

    ``users`` is ``(ids_a, vectors_a, ids_b, vectors_b)``. Returns ``k``, ``seed``, ``items`` and
    ``users`` (None without user vectors).
    """
    common, ia, ib = np.intersect1d(items_a[0], items_b[0], assume_unique=True, return_indices=True)
    va, vb = items_a[1][ia], items_b[1][ib]
    types = _types(common, item_types)
    picked = _sample(len(common), sample, seed)
    na, nb = _unit(va), _unit(vb)
    top_a = _top_k(na[picked], na, k, exclude=picked)
    top_b = _top_k(nb[picked], nb, k, exclude=picked)
    items = {"n_a": len(items_a[0]), "n_b": len(items_b[0]), **_figures(top_a, top_b, va, vb, picked)}
    items["by_type"] = {
        t: _figures(top_a[types[picked] == t], top_b[types[picked] == t], va[types == t], vb[types == t],
                    np.flatnonzero(types[picked] == t))
        for t in sorted(set(types.tolist()))
    }  # fmt: skip
    out: dict[str, Any] = {"k": k, "seed": seed, "items": items, "users": None}
    if users is not None:
        out["users"] = _users(users, va, vb, types, k=k, sample=sample, seed=seed)
    return out


def overlap_below(drift: dict[str, Any], floor: float) -> str | None:
    """Why a version fails an item-neighbour overlap floor (overall or any content type), or None.

    For a quality gate that refuses a reshuffle: ``overlap_below(compare_versions(...), 0.5)``.
    """
    items = drift["items"]
    low = [("all", items)] + [(t, fig) for t, fig in items["by_type"].items()]
    failing = [
        (t, fig["overlap_at_k"])
        for t, fig in low
        if fig["overlap_at_k"] is not None and fig["overlap_at_k"] < floor
    ]
    if not failing:
        return None
    shown = ", ".join(f"{t} {v:.3f}" for t, v in failing)
    return (
        f"item neighbour overlap@{drift['k']} of {drift['b']} against {drift['a']} is under {floor}: {shown}"
    )


def _users(
    users: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    items_a: np.ndarray,
    items_b: np.ndarray,
    types: np.ndarray,
    *,
    k: int,
    sample: int,
    seed: int,
) -> dict[str, Any]:
    ids_a, ua, ids_b, ub = users
    common, ia, ib = np.intersect1d(ids_a, ids_b, assume_unique=True, return_indices=True)
    ua, ub = ua[ia], ub[ib]
    picked = _sample(len(common), sample, seed)
    top_a = _top_k(ua[picked], items_a, k)
    top_b = _top_k(ub[picked], items_b, k)
    section = {"n_a": len(ids_a), "n_b": len(ids_b), **_figures(top_a, top_b, ua, ub, picked)}
    by_type = {}
    for t in sorted(set(types.tolist())):
        pool = np.flatnonzero(types == t)
        ta = pool[_top_k(ua[picked], items_a[pool], k)]
        tb = pool[_top_k(ub[picked], items_b[pool], k)]
        # the user vectors do not depend on the item type: their shifts are given once, above
        by_type[t] = _figures(ta, tb, ua, ub, picked) | dict.fromkeys(_VECTOR_FIGURES)
    section["by_type"] = by_type
    return section


def _figures(
    top_a: np.ndarray, top_b: np.ndarray, va: np.ndarray, vb: np.ndarray, picked: np.ndarray
) -> dict[str, Any]:
    """Overlap and top-1 change of two aligned top-k tables; centroid and norm shift of the vectors."""
    n = len(top_a)
    overlap = top1 = None
    if n and top_a.shape[1]:
        hits = (top_a[:, :, None] == top_b[:, None, :]).any(axis=2).sum(axis=1)
        overlap = float(np.mean(hits / top_a.shape[1]))
        top1 = float(np.mean(top_a[:, 0] != top_b[:, 0]))
    norms_a = np.linalg.norm(va, axis=1) if len(va) else np.zeros(0)
    norms_b = np.linalg.norm(vb, axis=1) if len(vb) else np.zeros(0)
    mean_a = float(norms_a.mean()) if len(va) else None
    mean_b = float(norms_b.mean()) if len(vb) else None
    same_dim = len(va) > 0 and va.shape[1] == vb.shape[1]
    centroid = float(np.linalg.norm(vb.mean(axis=0) - va.mean(axis=0))) if same_dim else None
    return {
        "n_common": len(va),
        "n_sampled": len(picked),
        "overlap_at_k": overlap,
        "top1_changed": top1,
        "centroid_shift": centroid,
        "norm_mean_a": mean_a,
        "norm_mean_b": mean_b,
        "norm_shift": None if mean_a is None or mean_b is None else mean_b - mean_a,
    }


def _types(ids: np.ndarray, item_types: pd.Series | None) -> np.ndarray:
    if item_types is None:
        return np.full(len(ids), "all", dtype=object)
    types: np.ndarray = item_types.reindex(ids).fillna("unknown").astype(str).to_numpy(dtype=object)
    return types


def _sample(n: int, size: int, seed: int) -> np.ndarray:
    """Positions of a seeded sample of ``min(size, n)`` of ``n`` sorted ids, in ascending order."""
    if size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.where(norms > 0, norms, 1.0), dtype=np.float32)


def _top_k(queries: np.ndarray, pool: np.ndarray, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """Pool positions of each query's ``k`` highest dot products, best first (ties: lower position).

    ``exclude[i]`` is a pool position left out of query i's list (the query item itself).
    """
    k = min(k, len(pool) - (exclude is not None))
    out = np.empty((len(queries), max(k, 0)), dtype=np.int64)
    if k <= 0:
        return out
    chunk = max(1, _SCORES // max(len(pool), 1))
    for start in range(0, len(queries), chunk):
        scores = queries[start : start + chunk] @ pool.T
        if exclude is not None:
            scores[np.arange(len(scores)), exclude[start : start + chunk]] = -np.inf
        out[start : start + len(scores)] = _best(scores, k)
    return out


def _best(scores: np.ndarray, k: int) -> np.ndarray:
    """Column positions of each row's ``k`` highest scores, best first, ties in position order."""
    if scores.shape[1] <= _FULL_SORT:
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    top = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -top), axis=1)
    return np.take_along_axis(part, order, axis=1)


def render_html(drift: dict[str, Any]) -> str:
    """An HTML fragment (a heading and two tables) of a ``compare_versions`` result; values escaped."""
    import html

    def cell(value: object) -> str:
        if value is None:
            return "-"
        return f"{value:.3f}" if isinstance(value, float) else html.escape(str(value))

    cols = ("n_sampled", "overlap_at_k", "top1_changed", "centroid_shift", "norm_shift")
    k = int(drift.get("k", 10))
    head = "".join(f"<th>{html.escape(c.replace('_at_k', f'@{k}'))}</th>" for c in ("", *cols))
    parts = [
        f"<h3>Drift {html.escape(str(drift['a']))} &rarr; {html.escape(str(drift['b']))} "
        f"({html.escape(str(drift.get('model', '')))})</h3>"
    ]
    for entity, label in (("items", "item neighbours"), ("users", "user recommendations")):
        section = drift.get(entity)
        if not section:
            continue
        rows = [("all", section), *list(section.get("by_type", {}).items())]
        body = "".join(
            f"<tr><td>{cell(name)}</td>" + "".join(f"<td>{cell(fig.get(c))}</td>" for c in cols) + "</tr>"
            for name, fig in rows
        )
        parts.append(f'<table class="drift"><caption>{label}</caption><tr>{head}</tr>{body}</table>')
    return "\n".join(parts)

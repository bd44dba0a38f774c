"""Train the two-tower model, write its checkpoint and export user and item vectors.

Positives are the training-window consumptions, each at the time the user first consumed the
item; their features come from Feast as of that time, and so does their history: only the items
the user consumed (or followed, previewed) strictly before the example. For ``history_dropout``
of the examples the consumption history (and the stream counts) is hidden, so the user tower
learns to place users who have only a profile and weak signals: the cold users of the
evaluation. The export encodes every user with the history of the whole training window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from embedding_jobs.checkpoint import (
    ModelCard,
    data_fingerprint,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
)
from embedding_jobs.data.batches import example_log_q
from embedding_jobs.data.graph_entry import graph_entry_times
from embedding_jobs.data.histories import build_histories, consumption_times
from embedding_jobs.data.horizon import as_of_times
from embedding_jobs.data.interactions import (
    Catalogue,
    Encoders,
    Retrieve,
    activity_columns,
    build_catalogue,
    read_mart,
    to_nanos,
)
from embedding_jobs.device import describe_device, resolve_device
from embedding_jobs.export import read_vectors, write_vectors
from embedding_jobs.models.two_tower import TowerSpec, TwoTowerModel, TwoTowerRetriever
from embedding_jobs.two_tower_examples import (
    catalogue_rows,
    example_rows,
    served_from,
    user_rows,
    validation_slice,
)
from embedding_jobs.two_tower_fit import select_and_fit
from embedding_jobs.two_tower_inputs import Inputs
from embedding_jobs.two_tower_negatives import CatalogueNegatives
from gfm.config import Config, TwoTowerConfig
from gfm.errors import StageError
from gfm.naming import checkpoint_dir, export_path
from gfm.progress import console
from gfm.versioning import latest_version

__all__ = ["TwoTowerResult", "export_two_tower", "train_two_tower"]

MODEL = "two_tower"
#: what a setting added after some checkpoints were saved meant for them (its value before it existed)
PRE_SETTING_VALUES = {"hgnn_skip": False, "history_vectors": "text_hgnn"}


@dataclass
class TwoTowerResult:
    """What a training run produced."""

    version: str
    hgnn_version: str | None
    checkpoint: Path
    items_path: Path
    users_path: Path
    metrics: dict[str, float | int | list[float]] = field(default_factory=dict)


def train_two_tower(
    cfg: Config,
    version: str,
    hgnn_version: str | None,
    *,
    role: str = "main",
    retrieve: Retrieve | None = None,
) -> TwoTowerResult:
    """Train on the training window, save ``models/two_tower/<version>/`` and export vectors.

    Args:
        cfg: The config (``cfg.two_tower`` holds the hyper-parameters).
        version: The version id naming this run everywhere.
        hgnn_version: The HGNN export to use as shared input (latest when None); ignored when
            ``cfg.two_tower.use_hgnn`` is False.
        role: Recorded in the card: ``main``, or ``baseline``/``ablation`` for evaluation-only runs.
        retrieve: The point-in-time feature retrieval; ``feature_repo.store.get_training_frame`` when None.

    Returns:
        Paths and training metrics.

    Raises:
        StageError: Missing marts, text or HGNN vectors, or no training example.

    """
    from feature_repo.store.materialize import training_window_end

    retrieve = retrieve or _feast_retrieve()
    tc = cfg.two_tower
    ckpt = checkpoint_dir(cfg.models_dir, MODEL, version)
    started = time.perf_counter()
    seeds = seed_everything(tc.seed)
    dim_users, dim_items = read_mart(cfg, "dim_users"), read_mart(cfg, "dim_items")
    facts = read_mart(cfg, "fct_interactions")
    train_end = pd.Timestamp(training_window_end(cfg.marts_dir))
    if tc.use_hgnn:
        hgnn_version = hgnn_version or latest_version(cfg.embeddings_dir / "hgnn")
        if hgnn_version is None:
            raise StageError("no HGNN export found: run `gfm train hgnn` first, or train with --no-hgnn")
    else:
        hgnn_version = None
    enc = Encoders.build(dim_users, dim_items, activity_columns(cfg))
    inputs, paths = _prepare(cfg, enc, dim_users, dim_items, facts, hgnn_version)
    cat = inputs.cat

    positives = facts.loc[facts["is_consumed"].astype(bool)]
    if positives.empty:
        raise StageError("fct_interactions has no consumption: nothing to train the two-tower model on")
    entity = positives[["user_id", "item_id"]].assign(event_timestamp=consumption_times(positives))
    entity = entity.sort_values(["user_id", "item_id"]).reset_index(drop=True)
    consumed_ns = to_nanos(entity["event_timestamp"])  # when each example's item was consumed
    id_items = np.unique(entity["item_id"].to_numpy(np.int64)) if tc.item_ids else None
    cat.id_row = id_rows(cat.item_ids, id_items)
    if id_items is not None:  # an item's ID vector exists once someone has consumed it
        cat.id_since_ns = first_consumed(cat, entity["item_id"].to_numpy(), consumed_ns)
    if tc.horizon_days > 0:  # seen from up to horizon_days before, never before item or user existed
        entity["event_timestamp"] = as_of_times(
            entity["event_timestamp"], tc.horizon_days, tc.seed, served_from(entity, dim_users, dim_items)
        )
    rows = example_rows(cfg, entity, inputs, retrieve)
    enc.fit(rows.user_raw, rows.item_raw)
    log_q = example_log_q(rows.items, rows.times, len(cat.item_ids), tc.batch_days)

    spec = TowerSpec(
        n_types=len(enc.types),
        n_countries=len(enc.countries) + 1,
        n_ages=len(enc.ages) + 1,
        n_genres=len(enc.genres) + 1,
        n_languages=len(enc.languages) + 1,
        hist_dim=cat.history.shape[1],
        text_dim=cat.text.shape[1],
        hgnn_dim=cat.hgnn.shape[1],
        user_dense=len(enc.user_dense),
        item_dense=len(enc.item_dense),
        n_id_items=0 if id_items is None else len(id_items) + 1,
    )
    device = resolve_device(tc.device)
    val = validation_slice(
        cfg, inputs, entity, consumed_ns, facts, (dim_users, dim_items), train_end, retrieve, hgnn_version
    )
    negatives = None
    if tc.catalogue_negatives and tc.batch_days > 0:  # catalogues as of the batch's days
        negatives = CatalogueNegatives.build(
            inputs,
            rows,
            dim_items,
            tc,
            lambda frame: example_rows(
                cfg, frame, inputs, retrieve, item_only=True, what="the daily catalogues"
            ),
        )
    model, fit_metrics = select_and_fit(spec, inputs, rows, log_q, tc, device, val, negatives)
    if model.config is not tc:  # the validation chose the candidate without ID vectors
        tc, spec, id_items = model.config, model.spec, None
        cfg = cfg.model_copy(update={"two_tower": tc})
        inputs.cat.id_row, inputs.history_ids = None, False  # as a re-export builds them
        inputs.history_as_of = tc.history_as_of
    train_s = time.perf_counter() - started

    retriever = TwoTowerRetriever(model, device)
    items_path, users_path = _export(
        cfg, version, retriever, inputs, dim_users, dim_items, train_end, retrieve
    )
    metrics: dict[str, float | int | list[float]] = {
        **fit_metrics,
        "n_examples": len(entity),
        "examples_per_s": float(fit_metrics["trained_examples"]) / max(train_s, 1e-9),  # type: ignore[arg-type]
    }
    card = ModelCard(
        model=MODEL,
        version=version,
        config=cfg.model_dump(mode="json"),
        data_fingerprint=data_fingerprint(
            [cfg.marts_dir / f"{m}.parquet" for m in ("dim_users", "dim_items", "fct_interactions")] + paths
        ),
        metrics=metrics,
        seeds=seeds,
        timings={"train_s": train_s, "total_s": time.perf_counter() - started},
        extra={
            "device": describe_device(device),
            "hgnn_version": hgnn_version,
            "role": role,
            "inputs": [str(p) for p in paths],
        },
    )
    state = {
        "spec": spec.to_dict(),
        "encoders": enc.__dict__,
        "two_tower": tc.model_dump(),
        "state_dict": model.state_dict(),
        "id_items": None if id_items is None else id_items.tolist(),
    }
    save_checkpoint(ckpt, state, card)
    return TwoTowerResult(version, hgnn_version, ckpt, items_path, users_path, metrics)


def id_rows(catalogue: np.ndarray, id_items: np.ndarray | None) -> torch.Tensor | None:
    """``(I,)`` each catalogue item's row of the ID table: 1 + its position in ``id_items``, else 0.

    ``id_items`` are the sorted ids of the items with training consumptions (``two_tower.item_ids``);
    None: no ID table.
    """
    if id_items is None:
        return None
    pos = np.searchsorted(id_items, catalogue)
    found = (pos < len(id_items)) & (id_items[np.minimum(pos, len(id_items) - 1)] == catalogue)
    return torch.from_numpy(np.where(found, pos + 1, 0).astype(np.int64))


def first_consumed(cat: Catalogue, item_ids: np.ndarray, consumed_ns: np.ndarray) -> torch.Tensor:
    """``(I,)`` when each catalogue item was first consumed (ns; the int64 maximum: never).

    Kept in integers throughout: a float64 holds an instant of today only to about 256 ns.
    """
    first = pd.Series(consumed_ns, index=item_ids).groupby(level=0).min()
    since = np.full(len(cat.item_ids), np.iinfo(np.int64).max, dtype=np.int64)
    since[cat.rows(first.index.to_numpy())] = first.to_numpy(np.int64)
    return torch.from_numpy(since)


def _feast_retrieve() -> Retrieve:
    from feature_repo.store import get_training_frame

    return get_training_frame


def _prepare(
    cfg: Config,
    enc: Encoders,
    dim_users: pd.DataFrame,
    dim_items: pd.DataFrame,
    facts: pd.DataFrame,
    hgnn_version: str | None,
) -> tuple[Inputs, list[Path]]:
    """Vectors and histories for the towers; returns the inputs and the vector files read."""
    from embedding_jobs.text_features import text_features_path

    paths = [text_features_path(cfg)]
    hgnn = isolated = None
    if hgnn_version is not None:
        paths.append(export_path(cfg.embeddings_dir, "hgnn", hgnn_version, "item"))
        hgnn = read_vectors(paths[1])
        isolated_path = export_path(cfg.embeddings_dir, "hgnn", hgnn_version, "isolated_item")
        if cfg.two_tower.hgnn_as_of and isolated_path.exists():  # HGNN exports before 2026-12-04 lack it
            paths.append(isolated_path)
            isolated = read_vectors(isolated_path)
    tc = cfg.two_tower
    cat = build_catalogue(dim_items, enc.types, read_vectors(paths[0]), hgnn, tc.history_vectors, isolated)
    if isolated is not None:
        cat.graph_entry_ns = graph_entry_times(facts, cat.item_ids, cfg.graph.min_support)
    hist = build_histories(dim_users["user_id"].to_numpy(), facts, cat, len(enc.types))
    # history_ids reads the ID table, which only item_ids makes (Inputs checks cat.id_row)
    inputs = Inputs(
        enc, cat, hist, hgnn_version is not None, tc.history_as_of, tc.history_ids, tc.graph_export_days
    )
    return inputs, paths


def export_two_tower(cfg: Config, version: str, *, retrieve: Retrieve | None = None) -> list[Path]:
    """Re-export a version's user and item vectors from its checkpoint and the current marts.

    Raises:
        NotFoundError: If the checkpoint is missing.

    """
    from feature_repo.store.materialize import training_window_end

    state, card = load_checkpoint(checkpoint_dir(cfg.models_dir, MODEL, version))
    # a checkpoint saved before a setting existed was trained without it
    tc = TwoTowerConfig(**{**PRE_SETTING_VALUES, **state["two_tower"]})
    enc = Encoders(**state["encoders"])
    dim_users, dim_items = read_mart(cfg, "dim_users"), read_mart(cfg, "dim_items")
    inputs, _ = _prepare(
        cfg.model_copy(update={"two_tower": tc}),
        enc,
        dim_users,
        dim_items,
        read_mart(cfg, "fct_interactions"),
        card.extra.get("hgnn_version"),
    )
    stored = state.get("id_items")  # the items that had an ID vector when it was trained
    inputs.cat.id_row = id_rows(inputs.cat.item_ids, None if stored is None else np.asarray(stored))
    model = TwoTowerModel(tc, TowerSpec(**state["spec"]))
    model.load_state_dict(state["state_dict"])
    retriever = TwoTowerRetriever(model, resolve_device(tc.device))
    train_end = pd.Timestamp(training_window_end(cfg.marts_dir))
    return list(
        _export(
            cfg, version, retriever, inputs, dim_users, dim_items, train_end, retrieve or _feast_retrieve()
        )
    )


def _export(
    cfg: Config,
    version: str,
    retriever: TwoTowerRetriever,
    inputs: Inputs,
    dim_users: pd.DataFrame,
    dim_items: pd.DataFrame,
    train_end: pd.Timestamp,
    retrieve: Retrieve,
) -> tuple[Path, Path]:
    """Encode every item and user with features as of the end of the training window.

    A user who signed up later (or an item published later) is encoded as of that moment, the
    first time the system could serve them; their activity is then empty.
    """
    with console.status("Feast features for the export"):
        item_rows = catalogue_rows(cfg, inputs, dim_items, train_end, retrieve)
        users = user_rows(cfg, inputs, dim_users, inputs.hist.user_ids, train_end, retrieve)
    item_vecs = retriever.encode_items(inputs.item_batch(item_rows, torch.arange(len(inputs.cat.item_ids))))
    every_user = torch.arange(len(inputs.hist.user_ids))
    user_vecs = retriever.encode_users(inputs.user_batch(users, every_user, False, None))
    items_path = export_path(cfg.embeddings_dir, MODEL, version, "item")
    users_path = export_path(cfg.embeddings_dir, MODEL, version, "user")
    write_vectors(items_path, "item_id", inputs.cat.item_ids, item_vecs.numpy(), version)
    write_vectors(users_path, "user_id", inputs.hist.user_ids, user_vecs.numpy(), version)
    return items_path, users_path

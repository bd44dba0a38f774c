"""Moving every store together: publish, rollback, recovery and gc around the release record.

The record (``gfm.releases``, ``<data_dir>/releases.json``) decides what is live. The stores
follow it: Feast's current pointer and the stable ``item_embeddings``/``user_embeddings``
services (``feature_repo.store.services.point_live``), and the Milvus aliases of every
(entity, model) of the version. The service pairs the user vector with the item collection by
the alias's version (``vector_index.users``), so it always answers from one version.

Publish order, and why ``kill -9`` at any instant leaves every reader on the previous version:

1. Data, no pointer: write, register and materialize the version's Feast views (catalog pointer
   untouched), load its Milvus collections (each marked complete last). Readers do not see new
   names until a pointer moves. A kill here leaves a ``gated`` version whose process is gone:
   the next run or ``gfm gc`` marks it failed and removes its collections, Feast files and exports.
2. Intent: the record gets ``pending = {publish, target, previous, pid}`` (one atomic write).
3. Pointers: Feast (stable services, then the catalog pointer in one atomic write), then the
   Milvus aliases (one atomic ``alter_alias`` each, after every collection was checked complete).
4. Commit: one atomic write sets ``live = target``, the target ``published``, the previous one
   ``retired``, and clears ``pending``.

A kill before 2 changes no pointer. A kill after 4 is a finished publish. A kill between 2 and 4
leaves the record on the previous version with a pending move whose process is gone; every
pointer that may have moved is one the record names. ``recover`` (run first by every ``gfm run``,
``gfm gc`` and ``gfm rollback``) puts each store back on ``previous`` and fails the target, so
the stores agree with the record again and the rerun builds a new version. Inside that window a
pointer may already show the target before ``recover`` runs; that version passed every gate and
is complete in every store, and each reader is still self-consistent (the service pairs user and
item vectors by the alias's version). A rollback is the same steps 2-4 with an older target.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

from gfm import releases
from gfm.config import Config
from gfm.errors import StageError
from gfm.naming import MODELS, export_dir
from gfm.progress import console
from pipeline.audit import append_audit
from pipeline.provenance import mark_card

__all__ = ["CRASH_HOOK", "fail", "gc", "prepare", "publish", "recover", "rollback"]

# (entity, model) pairs a version serves from Milvus: the two-tower towers and the HGNN items
TARGETS: tuple[tuple[str, str], ...] = (("item", "two_tower"), ("user", "two_tower"), ("item", "hgnn"))

CRASH_HOOK: Callable[[str], None] | None = None
"""Tests set this to kill the process at a named point of a publish (see ``_point``)."""


def _point(name: str) -> None:
    if CRASH_HOOK is not None:
        CRASH_HOOK(name)


def prepare(cfg: Config) -> dict[str, Any]:
    """Start of every run: repair an interrupted move, fail dead runs, remove failed leftovers."""
    return gc(cfg, why="start of gfm run", audit_empty=False)


def fail(cfg: Config, version: str, reason: str) -> None:
    """Mark a run's version failed (a stage or gate failed, or the run was interrupted)."""
    record = releases.read_record(cfg.data_dir)
    if version in record.releases and record.releases[version].status in {"running", "gated"}:
        releases.transition(cfg.data_dir, version, "failed", reason)


def publish(cfg: Config, version: str, why: str, actor: str | None = None) -> dict[str, Any]:
    """Publish a gated version to Feast and Milvus and make it live everywhere (see module doc).

    Returns:
        What was loaded and which version was live before.

    Raises:
        StageError: The version is not gated, another move is pending, or a store refused.

    """
    from feature_repo.store.publish import publish_export
    from vector_index.ops import index_version

    if releases.read_record(cfg.data_dir).get(version).status != "gated":
        raise StageError(f"cannot publish {version}: it has not passed the gates")
    hgnn_input = {"hgnn": version} if cfg.two_tower.use_hgnn else {}
    feast = [str(p) for p in publish_export(cfg, "hgnn", version, make_current=False)]
    feast += [
        str(p) for p in publish_export(cfg, "two_tower", version, make_current=False, inputs=hgnn_input)
    ]
    _point("feast_data")
    loads = index_version(cfg, "two_tower", version) + index_version(cfg, "hgnn", version, entities=("item",))
    _point("milvus_data")
    pending = _move(cfg, "publish", version, why)
    append_audit(cfg.data_dir, actor, "publish", {"version": version, "previous": pending.previous}, why)
    return {"feast": feast, "loaded": loads, "previous_live": pending.previous}


def rollback(cfg: Config, version: str, why: str, actor: str | None = None) -> str | None:
    """Make an earlier published version live again in every store, or refuse and change nothing.

    Returns:
        The version that was live before.

    Raises:
        NotFoundError: Unknown version.
        StageError: The version was never live, or a store no longer holds all of it.

    """
    from feature_repo.store.catalog import read_catalog
    from vector_index.ops import check_complete

    recover(cfg)
    record = releases.read_record(cfg.data_dir)
    release = record.get(version)
    if record.live == version:
        raise StageError(f"{version} is already live")
    if release.status not in {"retired", "rolled_back"}:
        raise StageError(f"cannot roll back to {version}: it is {release.status}, never published")
    cat = read_catalog(cfg.feast_dir)
    missing = [f"{m}/{e}" for e, m in TARGETS if cat.find(m, e, version) is None]
    if missing:
        raise StageError(f"cannot roll back to {version}: Feast no longer holds {', '.join(missing)}")
    check_complete(cfg, TARGETS, version)  # every collection, before any pointer moves
    pending = _move(cfg, "rollback", version, why)
    append_audit(cfg.data_dir, actor, "rollback", {"version": version, "previous": pending.previous}, why)
    return pending.previous


def _move(cfg: Config, action: str, version: str, why: str) -> releases.Pending:
    """Steps 2-4: intent, every pointer, commit; on an error the pointers go back."""
    pending = releases.begin_move(cfg.data_dir, action, version)  # type: ignore[arg-type]
    _point("intent")
    try:
        _point_stores(cfg, version)
        _point("pointers")
        releases.commit_move(cfg.data_dir, why)
    except Exception as exc:
        _restore(cfg, pending)
        releases.abort_move(cfg.data_dir, f"{action} failed: {exc}")
        raise
    _point("committed")
    return pending


def _point_stores(cfg: Config, version: str) -> None:
    from feature_repo.store.services import point_live
    from vector_index.ops import check_complete, publish_version

    check_complete(cfg, TARGETS, version)
    point_live(cfg, version)  # Feast: stable services, then the catalog pointer
    _point("feast_pointer")
    publish_version(cfg, "two_tower", version)
    publish_version(cfg, "hgnn", version, entities=("item",))


def _restore(cfg: Config, pending: releases.Pending) -> None:
    """Put every store back on ``pending.previous`` (or on nothing, for a first publish)."""
    from feature_repo.store.catalog import read_catalog
    from vector_index.ops import unpublish_version

    if pending.previous is not None:
        _point_stores(cfg, pending.previous)
        return
    unpublish_version(cfg, TARGETS, pending.target)
    if pending.target in read_catalog(cfg.feast_dir).current.values():
        from feature_repo.store.services import unpoint_live

        unpoint_live(cfg, pending.target)


def recover(cfg: Config) -> list[str]:
    """Repair a move whose process died, and fail dead runs; return the versions failed."""
    record = releases.read_record(cfg.data_dir)
    failed = []
    pending = record.pending
    if pending is not None and not pending.mover_alive():
        console.print(f"[yellow]repairing an interrupted {pending.action} to {pending.target}[/]")
        _restore(cfg, pending)
        releases.abort_move(
            cfg.data_dir, f"the {pending.action} was interrupted (process {pending.pid} gone)"
        )
        if pending.action == "publish":
            failed.append(pending.target)
    failed += releases.reap_dead_runs(cfg.data_dir)
    after = releases.read_record(cfg.data_dir)
    for version in failed:
        mark_card(cfg, version, "failed", after.get(version).reason)
    return failed


def gc(cfg: Config, why: str, actor: str | None = None, audit_empty: bool = True) -> dict[str, Any]:
    """Remove the collections, Feast files and exports of failed versions; never a retained one.

    Returns:
        ``{"failed": versions marked failed now, "removed": {version: [what]}}``.

    """
    failed_now = recover(cfg)
    record = releases.read_record(cfg.data_dir)
    keep = record.retained()
    removed: dict[str, list[str]] = {}
    for version in record.failed():
        if version in keep:  # cannot happen by the lifecycle; checked because removal is final
            continue
        gone = _remove_version(cfg, version)
        if gone:
            removed[version] = gone
    if removed or failed_now or audit_empty:
        append_audit(cfg.data_dir, actor, "gc", {"failed": failed_now, "removed": removed}, why)
    return {"failed": failed_now, "removed": removed}


def _remove_version(cfg: Config, version: str) -> list[str]:
    from feature_repo.store.catalog import read_catalog
    from vector_index.ops import drop_version

    gone = drop_version(cfg, version)
    in_catalog = any(p.version == version for p in read_catalog(cfg.feast_dir).published)
    if in_catalog or list((cfg.feast_dir / "published").glob(f"*_{version}.parquet")):
        from feature_repo.store.services import remove_version

        gone += remove_version(cfg, version)
    for model in MODELS:
        folder = export_dir(cfg.embeddings_dir, model, version)
        if folder.exists():
            shutil.rmtree(folder)
            gone.append(str(folder))
    return gone

"""``gfm forget``: remove people from every store, and keep them out of every later run.

Order, and why a forget interrupted at any point is finished by running it again:

1. Tombstone (``gfm.tombstones``): written durably before anything is removed. From then on no
   raw batch brings the users back (``warehouse.transform`` drops them before the raw gate) and
   the service answers 404 for them, cached vector or not (``vector_index.users``).
2. The stores, in data-flow order: raw files, landing files, the DuckDB warehouse, the Parquet
   marts (Feast's offline sources), the exported user vectors of every version, Feast's
   published vectors and online store, the Milvus user collections of every version. Each step
   removes what is still there, so repeating it removes nothing more and reports zero.
3. The audit log (``pipeline.audit``): who, when, which users, what was removed where, why.

A step that fails (the Milvus Lite file held by ``gfm serve``, a warehouse open in another
process) does not stop the others; the command then exits non-zero and says to run it again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gfm import releases
from gfm.config import Config
from gfm.errors import StageError
from gfm.tombstones import add_tombstones, scrub_parquet
from pipeline.audit import append_audit

__all__ = ["ForgetResult", "StoreRows", "forget_users"]

Step = Callable[[Config, list[int]], Mapping[str, int]]


@dataclass(frozen=True)
class StoreRows:
    """What one step removed: rows per place (file, table, collection), or why it failed."""

    store: str
    rows: dict[str, int] = field(default_factory=dict)
    error: str = ""

    @property
    def total(self) -> int:
        """Rows removed in this store."""
        return sum(self.rows.values())


@dataclass(frozen=True)
class ForgetResult:
    """What ``forget_users`` did."""

    users: list[int]
    newly_tombstoned: list[int]
    stores: list[StoreRows]

    @property
    def errors(self) -> list[StoreRows]:
        """The steps that failed (run ``gfm forget`` again once their cause is fixed)."""
        return [s for s in self.stores if s.error]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (also what the audit log records)."""
        return {
            "users": self.users,
            "newly_tombstoned": self.newly_tombstoned,
            "removed": {s.store: s.rows for s in self.stores if not s.error},
            "errors": {s.store: s.error for s in self.errors},
        }


def forget_users(cfg: Config, user_ids: list[int], why: str = "", actor: str | None = None) -> ForgetResult:
    """Tombstone the users, remove them from every store, and append the audit entry.

    Args:
        cfg: The config (data dir, Feast mode, Milvus URI).
        user_ids: The users to forget (a user no store holds is not an error: zero rows).
        why: The reason, for the audit log (``--reason``).
        actor: Who asked (None: the OS user).

    Returns:
        Rows removed per store and place, and the steps that failed.

    Raises:
        StageError: No users given, or a ``gfm run`` or publish is in progress (it could write
            the users back after this removed them); nothing is changed then.

    """
    ids = sorted({int(u) for u in user_ids})
    if not ids:
        raise StageError("no user ids to forget")
    _refuse_while_running(cfg)
    new = add_tombstones(cfg.data_dir, ids)
    stores = [_step(name, fn, cfg, ids) for name, fn in STEPS]
    result = ForgetResult(users=ids, newly_tombstoned=new, stores=stores)
    append_audit(cfg.data_dir, actor, "forget", result.to_dict(), why)
    return result


def _refuse_while_running(cfg: Config) -> None:
    record = releases.read_record(cfg.data_dir)
    busy = [
        f"{v} ({r.status}, pid {r.pid})"
        for v, r in sorted(record.releases.items())
        if r.status in {"running", "gated"} and releases.process_alive(r.pid, r.host, r.pid_start)
    ]
    if record.pending is not None and record.pending.mover_alive():
        busy.append(f"a {record.pending.action} of {record.pending.target} (pid {record.pending.pid})")
    if busy:
        raise StageError(
            f"a gfm run is in progress ({'; '.join(busy)}): it read the data before this request and "
            "could publish these users again. Run `gfm forget` once it has ended."
        )


def _step(store: str, run: Step, cfg: Config, ids: list[int]) -> StoreRows:
    try:
        return StoreRows(store, dict(run(cfg, ids)))
    except Exception as exc:  # one store's failure must not stop the others; reported, then exit 2
        return StoreRows(store, error=f"{type(exc).__name__}: {exc}")


def _raw(cfg: Config, ids: list[int]) -> dict[str, int]:
    from ingest.forgotten import scrub_raw

    return scrub_raw(cfg.raw_dir, ids)


def _landing(cfg: Config, ids: list[int]) -> dict[str, int]:
    from warehouse.forget import forget_landing

    return forget_landing(cfg.landing_dir, ids)


def _warehouse(cfg: Config, ids: list[int]) -> dict[str, int]:
    from warehouse.forget import forget_warehouse

    return forget_warehouse(cfg.warehouse_path, ids)


def _marts(cfg: Config, ids: list[int]) -> dict[str, int]:
    from warehouse.forget import forget_marts

    return forget_marts(cfg.marts_dir, ids)


def _exports(cfg: Config, ids: list[int]) -> dict[str, int]:
    """``embeddings/<model>/<version>/users.parquet`` of every version still on disk."""
    out = {}
    for path in sorted(cfg.embeddings_dir.glob("*/*/users.parquet")):
        out[str(path.relative_to(cfg.embeddings_dir))] = scrub_parquet(path, "user_id", ids)
    return out


def _feast_offline(cfg: Config, ids: list[int]) -> dict[str, int]:
    from feature_repo.store.forget import forget_published

    return forget_published(cfg, ids)


def _feast_online(cfg: Config, ids: list[int]) -> dict[str, int]:
    from feature_repo.store.forget import forget_online

    if not (cfg.feast_dir / "feature_store.yaml").exists() and cfg.features.mode == "local":
        return {}  # no Feast store was ever set up here
    return forget_online(cfg, ids)


def _milvus(cfg: Config, ids: list[int]) -> dict[str, int]:
    from pathlib import Path

    from vector_index.forget import forget_users as forget_milvus
    from vector_index.ops import client_for

    if cfg.index.uri is None and not Path(cfg.milvus_uri).exists():
        return {}  # no Milvus Lite file was ever made here
    return forget_milvus(client_for(cfg), cfg.embeddings_dir, ids)


#: (store, step), in data-flow order; the names are what ``gfm forget`` prints.
STEPS: tuple[tuple[str, Step], ...] = (
    ("raw logs", _raw),
    ("landing files", _landing),
    ("warehouse (DuckDB)", _warehouse),
    ("marts (Feast offline sources)", _marts),
    ("exported user vectors", _exports),
    ("Feast published vectors (offline)", _feast_offline),
    ("Feast online store", _feast_online),
    ("Milvus user collections", _milvus),
)

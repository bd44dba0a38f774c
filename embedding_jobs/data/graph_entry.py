"""When each item could first have had a co-consumption edge: graph features as of an example's time.

The HGNN is trained on the whole training window's graph, so its vector of an item reflects every
co-consumption of the window. A two-tower example dated before the item had any co-consumer would
otherwise see that later vector: a feature from the example's future. It matters most for new
items. At serving time an item published after the export has no edge and gets the vector the
HGNN computes from its own features alone (its *isolated* vector); in training, the items the
model learned to rank high always carried a vector made from edges, so the new items' isolated
vectors were never seen among positives and were ranked low (HR@10 0.000 on the new-item tier,
docs/results.md).

Here each item gets the moment its ``min_support``-th distinct consumer arrived: an edge needs
that many users who consumed both items, so before it the item cannot have one. An example dated
before that moment is given the item's isolated vector, as the service would see a fresh item.
(The partner's side of the condition is not checked: the moment is the earliest possible one.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from embedding_jobs.data.histories import consumption_times
from embedding_jobs.data.interactions import to_nanos

__all__ = ["NEVER_NS", "graph_entry_times", "isolated_rows"]

NEVER_NS = np.iinfo(np.int64).max  # an item that never gathered enough consumers


def graph_entry_times(facts: pd.DataFrame, item_ids: np.ndarray, min_support: int) -> np.ndarray:
    """Per catalogue item, when its ``min_support``-th distinct consumer first consumed it (ns, UTC).

    Args:
        facts: Training-window (user, item) rows with ``is_consumed`` and the consumption time
            columns (``first_consumed_at`` or ``first_event_at``).
        item_ids: ``(I,)`` sorted catalogue item ids.
        min_support: Co-users an edge needs (``graph.min_support``; at least 1).

    Returns:
        ``(I,)`` int64 nanoseconds since the epoch; ``NEVER_NS`` for items with fewer consumers.

    """
    out = np.full(len(item_ids), NEVER_NS, dtype=np.int64)
    consumed = facts.loc[facts["is_consumed"].astype(bool)]
    if consumed.empty:
        return out
    frame = pd.DataFrame(
        {
            "item_id": consumed["item_id"].to_numpy(dtype=np.int64),
            "user_id": consumed["user_id"].to_numpy(dtype=np.int64),
            "at": to_nanos(consumption_times(consumed)),
        }
    )
    first = frame.groupby(["item_id", "user_id"], sort=False)["at"].min().reset_index()
    nth = max(int(min_support), 1) - 1
    first = first.sort_values(["item_id", "at"], kind="stable")
    first["rank"] = first.groupby("item_id", sort=False).cumcount()
    entry = first.loc[first["rank"] == nth, ["item_id", "at"]]
    pos = np.searchsorted(item_ids, entry["item_id"].to_numpy())
    ok = (pos < len(item_ids)) & (item_ids[np.clip(pos, 0, len(item_ids) - 1)] == entry["item_id"].to_numpy())
    out[pos[ok]] = entry["at"].to_numpy()[ok]
    return out


def isolated_rows(
    entry_ns: np.ndarray, item_rows: np.ndarray, at_ns: np.ndarray, export_every_ns: int = 0
) -> np.ndarray:
    """``(N,)`` True where row ``i``'s item had no possible edge yet at ``at_ns[i]``.

    A consumption at the very moment the item is entered counts as before it: the example of the
    ``min_support``-th consumer sees the item as it was just before its own consumption.

    With ``export_every_ns`` > 0 the graph is read as the service reads it between exports: one
    every that many nanoseconds since the epoch, and a row sees its item as of the last export at
    or before its time. An item entered since then is still isolated, as a new item is for every
    day a served version answers (``two_tower.graph_export_days``).
    """
    if export_every_ns > 0:
        at_ns = (at_ns // export_every_ns) * export_every_ns
    return np.asarray(at_ns <= entry_ns[item_rows])  # NEVER_NS is above every time

"""Two-tower examples seen from a moment before the consumption: the serving horizon.

Vectors are made at one moment and served for days: the evaluation encodes every user and item
as of the end of the training window and asks which items each user consumes over the next 14
days, and a batch index rebuilt daily serves its vectors for a day. A training example made as
of its own consumption asks a different question, which item is consumed *now*. The difference
matters for fresh items: as of the moment they are consumed on their release day they look alike
(age 0, no consumers yet), so a model trained on same-moment examples learns "age 0 is hot", and
at an export every item released over the following 14 days looks like that at once (an item
published after the export is encoded as of its publication). Measured in communities mode with
same-day batches: the audio-course new-item tier rose to .42-.52 HR@10 while the type's all-user
HR@10 fell (docs/results.md, round 6), because the window's releases took the top-10 slots.

With ``two_tower.horizon_days`` = H > 0 each example's features (user, item, history, HGNN inputs
as of, batch bucket) are taken as of ``t - U[0, H)`` for a consumption at ``t``: the question
becomes the one the vectors answer when served, "which items will this user consume within H days
of now", including items not yet published now (encoded as of their publication, as the export
does). Covington et al. (2016) address the same mismatch with an example-age feature.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from embedding_jobs.data.interactions import to_nanos

__all__ = ["DAY_NS", "as_of_times"]

DAY_NS = 86_400 * 10**9
NO_FLOOR = pd.Timestamp.min.tz_localize("UTC")


def as_of_times(
    times: pd.Series, horizon_days: float, seed: int, not_before: pd.Series | None = None
) -> pd.Series:
    """The moment each example is seen from: ``t`` minus a seeded uniform draw in ``[0, H)`` days.

    Args:
        times: Consumption times (UTC timestamps).
        horizon_days: ``H``; 0 returns ``times`` unchanged.
        seed: Seed of the draws (the two-tower seed: the same examples for a seed).
        not_before: Per example, the earliest moment it may be seen from (UTC timestamps, NaT:
            none), such as its item's publication: before it the item could not be served and
            had no features, and the export encodes such an item as of its publication.

    Returns:
        A series of UTC timestamps (nanosecond unit) with ``times``' index.

    """
    stamps = pd.to_datetime(times, utc=True).astype("datetime64[ns, UTC]")
    if horizon_days <= 0 or not len(stamps):
        return stamps
    rng = np.random.default_rng(seed)
    t_ns = to_nanos(stamps)
    seen = t_ns - (rng.random(len(t_ns)) * horizon_days * DAY_NS).astype(np.int64)
    if not_before is not None:
        floor = pd.to_datetime(not_before, utc=True).fillna(NO_FLOOR)  # NaT: no floor
        floor_ns = to_nanos(floor)
        seen = np.minimum(np.maximum(seen, floor_ns), t_ns)
    return pd.Series(pd.to_datetime(seen, unit="ns", utc=True), index=stamps.index)

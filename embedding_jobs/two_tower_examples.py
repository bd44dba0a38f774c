"""What the two-tower is trained, validated and exported on, each row as of its moment.

``example_rows`` retrieves every training example's Feast features in chunks and keeps only
compact tensors. ``validation_slice`` builds the last ``val_days`` of the training window (or a
random share of its examples) as the validation slice (``embedding_jobs.two_tower_validation``).
``catalogue_rows`` gives every item's features as of a moment (or its publication, if later),
``as_of`` that moment for known-at times, ``user_rows`` some users' as of a moment (or their
sign-up), ``served_from`` the first moment an example's item and user could be served.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import torch

from embedding_jobs.data.histories import Histories, build_histories, consumption_times
from embedding_jobs.data.interactions import Catalogue, Retrieve, feature_refs, fetch_features, to_nanos
from embedding_jobs.held_out_graph import catalogue_without, without_pairs
from embedding_jobs.two_tower_inputs import Inputs, Rows
from embedding_jobs.two_tower_validation import Validation
from gfm.config import Config
from gfm.progress import console, make_progress

__all__ = [
    "EPOCH",
    "as_of",
    "catalogue_rows",
    "example_rows",
    "random_slice",
    "served_from",
    "user_rows",
    "validation_slice",
]

EPOCH = pd.Timestamp(0, tz="UTC")


def example_rows(
    cfg: Config,
    entity: pd.DataFrame,
    inputs: Inputs,
    retrieve: Retrieve,
    item_only: bool = False,
    what: str = "the training examples",
) -> Rows:
    """Feast features of every training example as tensors, retrieved ``retrieval_chunk`` rows at a time.

    Only one chunk's feature frame is held in pandas at once; what is kept are the compact per-row
    tensors, so memory grows with them and not with Feast's wide frames. Chunks are independent
    point-in-time retrievals, so the result does not depend on the chunk size. ``item_only``: the
    frame holds items alone (``catalogue negatives``), so only item features are retrieved.
    """
    chunk, refs = cfg.two_tower.retrieval_chunk, feature_refs(cfg, user=not item_only)
    parts: list[Rows] = []
    with make_progress() as progress:
        task = progress.add_task(f"Feast features of {what}", total=len(entity))
        for start in range(0, len(entity), chunk):
            part = entity.iloc[start : start + chunk]
            parts.append(inputs.rows(fetch_features(cfg, part, refs, retrieve)))
            progress.advance(task, len(part))
    return Rows.concat(parts)


def validation_slice(
    cfg: Config,
    inputs: Inputs,
    entity: pd.DataFrame,
    consumed_ns: np.ndarray,
    facts: pd.DataFrame,
    dims: tuple[pd.DataFrame, pd.DataFrame],
    train_end: pd.Timestamp,
    retrieve: Retrieve,
    hgnn_version: str | None = None,
) -> Validation | None:
    """The slice that chooses the epoch count (None when switched off or too small).

    The last ``val_days`` of the training window: the examples *consumed* in those days
    (``consumed_ns``, one per ``entity`` row), whatever moment their features are seen from
    (``two_tower.horizon_days``). With ``val_protocol`` "window" it is scored as the evaluation
    scores its window (``_window``); "example" ranks each example's item for its user as of the
    example. With ``val_days`` 0 and ``val_share`` > 0: that share of the examples drawn at random
    (``random_slice``), ranked against the catalogue as of the window's end, each example for its
    user as of the example ("example") or each user once as of the window's end with all of their
    held-out pairs as targets ("window", ``_held_out_users``: how a fixed split's test is scored);
    its selection runs read histories and HGNN ``hgnn_version``'s vectors made without its pairs.
    """
    tc = cfg.two_tower
    dim_users, dim_items = dims
    if tc.val_days > 0:
        start = train_end - pd.Timedelta(days=tc.val_days)
        held = consumed_ns >= start.as_unit("ns").value
        what = f"examples of the last {tc.val_days} days"
    elif tc.val_share > 0:
        start, held = train_end, random_slice(len(entity), tc.val_share, tc.seed)
        what = f"examples drawn at random ({tc.val_share:.0%})"
    else:
        return None
    if held.sum() < tc.batch_size or (~held).sum() < tc.batch_size:
        console.print(
            f"two-tower: {int(held.sum()):,} {what}, too few to validate on "
            f"(batch {tc.batch_size}); training {tc.epochs} epochs"
        )
        return None
    consumed = facts.loc[facts["is_consumed"].astype(bool)]
    consumed = consumed[["user_id", "item_id"]].assign(at=to_nanos(consumption_times(consumed)))
    # what each example's history holds is left out of its ranking, as the evaluation leaves out
    # the training items: consumptions before the example, or before the slice (old histories).
    # A random slice has no "before" (its times may be made up): every other training item of the
    # user is left out, as the evaluation leaves out all of them; left in, the items the model
    # fits best rank above the held-out one, and its recall falls as training fits them.
    at = to_nanos(entity["event_timestamp"][held])
    own = None
    if tc.val_days <= 0:
        at, own = np.full(len(at), np.iinfo(np.int64).max), entity["item_id"].to_numpy()[held]
    elif not tc.history_as_of:
        at = np.full(len(at), start.as_unit("ns").value)
    with console.status("Feast item features for the validation slice"):
        item_rows = catalogue_rows(cfg, inputs, dim_items, start, retrieve)
    if tc.val_protocol == "window" and tc.val_days > 0:
        return _window(
            cfg, inputs, np.flatnonzero(held), consumed, dim_users, item_rows, start, retrieve, what
        )
    hist = cat = None
    if tc.val_days <= 0:  # a random slice: its pairs are left out of what the selection runs read
        pairs = entity.loc[held, ["user_id", "item_id"]]
        kept = without_pairs(facts, pairs)
        cat = catalogue_without(cfg, inputs.cat, hgnn_version, kept)
        hist = _without(inputs, kept, cat or inputs.cat)
        if tc.val_protocol == "window":
            window = _held_out_users(cfg, inputs, consumed, pairs, dim_users, start, retrieve)
            return Validation(
                rows=torch.from_numpy(np.flatnonzero(held)),
                excluded=window[1],
                items=item_rows,
                k=cfg.evaluate.k,
                users=window[0],
                targets=window[2],
                what=what,
                hist=hist,
                cat=cat,
            )
    return Validation(
        rows=torch.from_numpy(np.flatnonzero(held)),
        excluded=Validation.exclusions(entity["user_id"][held], at, consumed, inputs.cat, own),
        items=item_rows,
        k=cfg.evaluate.k,
        what=what,
        hist=hist,
        cat=cat,
    )


def _without(inputs: Inputs, kept: pd.DataFrame, cat: Catalogue) -> Histories:
    """The training-window histories as if the held-out pairs had never happened.

    ``kept``: the training-window facts less those pairs. A random slice's pairs are spread over
    the window, so the other examples' histories hold them (as of their made-up times, or all of
    them with ``history_as_of`` off); held out this way they are what a test pair is to the
    exported histories: absent. ``cat``: the catalogue whose history vectors they sum (the
    slice's own, with HGNN vectors made without its pairs).
    """
    return build_histories(inputs.hist.user_ids, kept, cat, inputs.hist.n_types)


def random_slice(n: int, share: float, seed: int) -> np.ndarray:
    """``(n,)`` bool: ``round(share * n)`` of ``n`` examples drawn without replacement (seeded)."""
    held = np.zeros(n, dtype=bool)
    held[np.random.default_rng(seed).permutation(n)[: round(share * n)]] = True
    return held


def _window(
    cfg: Config,
    inputs: Inputs,
    slice_rows: np.ndarray,
    consumed: pd.DataFrame,
    dim_users: pd.DataFrame,
    item_rows: Rows,
    start: pd.Timestamp,
    retrieve: Retrieve,
    what: str,
) -> Validation:
    """The validation slice as the evaluation sees its window: every user as of the slice's start.

    Each user who consumed in the slice is encoded once, with features and history as of its start
    (or their sign-up, if later), as the export encodes users at the training window's end; their
    targets are everything they consumed in the slice; what they consumed before is not ranked.
    """
    begin = start.as_unit("ns").value
    later = consumed.loc[consumed["at"].to_numpy() >= begin]
    user_ids = np.sort(later["user_id"].unique())
    with console.status(f"Feast features of {len(user_ids):,} validation users"):
        users = user_rows(cfg, inputs, dim_users, user_ids, start, retrieve)
    before = consumed.loc[(consumed["at"].to_numpy() < begin) & consumed["user_id"].isin(user_ids)]
    return Validation(
        rows=torch.from_numpy(slice_rows),
        excluded=_user_item_rows(user_ids, before, inputs.cat),
        items=item_rows,
        k=cfg.evaluate.k,
        users=users,
        targets=_user_item_rows(user_ids, later, inputs.cat),
        what=what,
    )


def _held_out_users(
    cfg: Config,
    inputs: Inputs,
    consumed: pd.DataFrame,
    pairs: pd.DataFrame,
    dim_users: pd.DataFrame,
    end: pd.Timestamp,
    retrieve: Retrieve,
) -> tuple[Rows, torch.Tensor, torch.Tensor]:
    """A random slice scored as a fixed split's test is: each of its users once, as of the window's end.

    Each user with a held-out pair is encoded once, with features as of ``end`` and the history
    the selection runs read (every training item but the held-out ones), as the export encodes
    users; their targets are their held-out pairs, and every other training item of theirs is left
    out of the ranking, as the evaluation leaves out the training items.

    Returns:
        The users' feature rows, ``[2, E]`` (user, item) pairs left out, ``[2, P]`` targets.

    """
    user_ids = np.sort(pairs["user_id"].unique())
    with console.status(f"Feast features of {len(user_ids):,} validation users"):
        users = user_rows(cfg, inputs, dim_users, user_ids, end, retrieve)
    theirs = consumed.loc[consumed["user_id"].isin(user_ids), ["user_id", "item_id"]]
    rest = without_pairs(theirs, pairs)
    return users, _user_item_rows(user_ids, rest, inputs.cat), _user_item_rows(user_ids, pairs, inputs.cat)


def _user_item_rows(user_ids: np.ndarray, frame: pd.DataFrame, cat: Catalogue) -> torch.Tensor:
    """``[2, N]`` (position in ``user_ids``, catalogue row) of each ``user_id``, ``item_id`` row."""
    position = pd.Series(np.arange(len(user_ids)), index=user_ids)
    both = np.stack([position.loc[frame["user_id"]].to_numpy(), cat.rows(frame["item_id"])])
    return torch.from_numpy(both.astype(np.int64))


def served_from(entity: pd.DataFrame, dim_users: pd.DataFrame, dim_items: pd.DataFrame) -> pd.Series:
    """Per example row, the first moment its item and its user could be served (publication, sign-up)."""

    def known_at(keys: pd.Series, dim: pd.DataFrame, key: str, column: str) -> pd.Series:
        if column not in dim:  # e.g. an imported dataset without publication dates
            return pd.Series(EPOCH, index=keys.index)
        return pd.to_datetime(keys.map(dim.set_index(key)[column]), utc=True).fillna(EPOCH)

    published = known_at(entity["item_id"], dim_items, "item_id", "published_at")
    signup = known_at(entity["user_id"], dim_users, "user_id", "signup_at")
    first = pd.to_datetime(np.maximum(to_nanos(published), to_nanos(signup)), utc=True)
    return pd.Series(first + timedelta(seconds=1))  # one second after, as the export (``as_of``)


def catalogue_rows(
    cfg: Config, inputs: Inputs, dim_items: pd.DataFrame, moment: pd.Timestamp, retrieve: Retrieve
) -> Rows:
    """Feature rows of every catalogue item as of ``moment`` (or its publication, if later)."""
    items = pd.DataFrame({"item_id": inputs.cat.item_ids})
    published = dim_items.set_index("item_id").loc[inputs.cat.item_ids, "published_at"]
    items["event_timestamp"] = as_of(published, moment)
    return inputs.rows(fetch_features(cfg, items, feature_refs(cfg, user=False), retrieve))


def user_rows(
    cfg: Config,
    inputs: Inputs,
    dim_users: pd.DataFrame,
    user_ids: np.ndarray,
    moment: pd.Timestamp,
    retrieve: Retrieve,
) -> Rows:
    """Feature rows of some users as of ``moment`` (or their sign-up, if later)."""
    users = pd.DataFrame({"user_id": user_ids})
    users["event_timestamp"] = as_of(dim_users.set_index("user_id").loc[user_ids, "signup_at"], moment)
    return inputs.rows(fetch_features(cfg, users, feature_refs(cfg, item=False), retrieve))


def as_of(known_at: pd.Series, train_end: pd.Timestamp) -> pd.Series:
    """``max(known_at, train_end)`` plus one second (Feast's as-of join is inclusive anyway)."""
    stamps = pd.to_datetime(known_at, utc=True).clip(lower=train_end) + timedelta(seconds=1)
    return stamps.reset_index(drop=True)

"""Two-tower batches of contemporaneous examples, and the logQ correction that matches them.

The in-batch softmax contrasts each example's item with the other items of its batch. Each item
is shown with its features as of its own example's time (age, recent consumers, HGNN inputs as
of then). With batches drawn across the whole window, an example of Tuesday is contrasted with
items as they were on other days, so the model is never asked which items win *at the same
moment*: what is hot now (a new release) against what was hot once. Measured on the default
data: items published in the last 7 days or later hold 22% of the audiobook pairs of the
evaluation window but got 2.3% of the top-10 slots of 2T-HGNN (docs/results.md, round 6).

With ``two_tower.batch_days`` > 0 an epoch's batches are cut from examples sorted by time bucket
(``batch_days`` wide, shuffled within the bucket), then the batches are shuffled. The negatives of a
batch are then the items consumed in the same days, and their sampling probability is the item's
share of its bucket's examples, so the logQ correction (Yi et al., 2019, who estimate item
frequencies over a stream for the same reason) is taken per bucket. ``batch_days`` = 0 restores
batches drawn across the window and one frequency per item over the whole window.
"""

from __future__ import annotations

import torch

__all__ = ["DAY_NS", "bucket_index", "epoch_batches", "example_log_q"]

DAY_NS = 86_400 * 10**9


def bucket_index(times_ns: torch.Tensor, bucket_days: float) -> torch.Tensor:
    """Bucket index of every example (0 for all when ``bucket_days`` <= 0), from the earliest one."""
    if bucket_days <= 0 or not len(times_ns):
        return torch.zeros(len(times_ns), dtype=torch.long)
    width = int(bucket_days * DAY_NS)
    return torch.div(times_ns - times_ns.min(), width, rounding_mode="floor")


def example_log_q(
    items: torch.Tensor, times_ns: torch.Tensor, n_items: int, bucket_days: float
) -> torch.Tensor:
    """``(N,)`` log of each example's item share among the examples of its time bucket.

    With ``bucket_days`` <= 0 there is one bucket: the item's share of the whole window.
    """
    bucket = bucket_index(times_ns, bucket_days)
    key = bucket * n_items + items
    _, inverse, counts = torch.unique(key, return_inverse=True, return_counts=True)
    per_bucket = torch.bincount(bucket)
    share = counts[inverse].double() / per_bucket[bucket].double()
    return torch.log(share).float().clamp(min=-30.0)


def epoch_batches(
    train: torch.Tensor,
    times_ns: torch.Tensor,
    batch_size: int,
    bucket_days: float,
    generator: torch.Generator,
) -> list[torch.Tensor]:
    """One epoch's full batches of the ``train`` example rows, in a random order.

    Args:
        train: Example row positions to train on.
        times_ns: ``(N_all,)`` every example's time (ns), indexed by row position.
        batch_size: Examples per batch; the ragged tail is dropped (in-batch negatives need a
            full batch).
        bucket_days: Width of the time buckets; <= 0: rows shuffled across the window.
        generator: The random source (seeded by the caller).

    """
    n = len(train)
    shuffled = train[torch.randperm(n, generator=generator)]
    n_batches = max(n // batch_size, 1)
    if bucket_days <= 0 or not n:
        return [shuffled[b * batch_size : (b + 1) * batch_size] for b in range(n_batches)]
    bucket = bucket_index(times_ns, bucket_days)[shuffled]
    shuffled = shuffled[torch.sort(bucket, stable=True).indices]  # by bucket, random within it
    batches = [shuffled[b * batch_size : (b + 1) * batch_size] for b in range(n_batches)]
    order = torch.randperm(len(batches), generator=generator)
    return [batches[i] for i in order.tolist()]

"""The two-tower training loop, and the choice of its epoch count on a validation slice.

``fit`` is the mini-batch loop. ``select_and_fit`` holds out the examples of the last
``val_days`` of the training window, or a random share of them (``two_tower.val_share``;
``embedding_jobs.two_tower_validation``), trains on the rest while measuring the validation
metric after every epoch, and refits on every example for the best count; with
``two_tower.choose_ids`` it also chooses, on the same slice, whether the ID vectors are used.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from embedding_jobs.checkpoint import seed_everything
from embedding_jobs.data.batches import epoch_batches
from embedding_jobs.models.two_tower import ItemBatch, TowerSpec, TwoTowerModel
from embedding_jobs.two_tower_inputs import Inputs, Rows
from embedding_jobs.two_tower_negatives import CatalogueNegatives
from embedding_jobs.two_tower_validation import Validation
from gfm.config import TwoTowerConfig
from gfm.progress import console, make_progress

__all__ = ["Metrics", "fit", "out_of_patience", "select_and_fit"]

Metrics = dict[str, float | int | list[float]]


def out_of_patience(recalls: list[float], patience: int) -> bool:
    """Whether ``patience`` epochs have passed without a better validation recall (0: never)."""
    return bool(patience) and len(recalls) - 1 - int(np.argmax(recalls)) >= patience


def _isolate(n: int, inputs: Inputs, tc: TwoTowerConfig, gen: torch.Generator) -> torch.Tensor | None:
    """Which of ``n`` item columns get their isolated HGNN vector (``item_graph_dropout``).

    None at a share of 0 or without isolated vectors (2T, or ``hgnn_as_of`` off), and no number is
    drawn then, so the batches are those of a run without it.
    """
    if not tc.item_graph_dropout or inputs.cat.hgnn_isolated is None:
        return None
    return torch.rand(n, generator=gen) < tc.item_graph_dropout


def fit(
    model: TwoTowerModel,
    inputs: Inputs,
    rows: Rows,
    log_q: torch.Tensor,
    tc: TwoTowerConfig,
    device: torch.device,
    train: torch.Tensor,
    epochs: int,
    val: Validation | None = None,
    negatives: CatalogueNegatives | None = None,
) -> tuple[list[float], list[float]]:
    """Mini-batch training on the ``train`` rows; returns the mean loss of every epoch.

    ``log_q`` is per example row (``embedding_jobs.data.batches.example_log_q``): the sampling
    probability of its item as an in-batch negative, which depends on how batches are drawn.
    ``negatives`` adds catalogue items of the batch's day to every batch's columns.

    With ``val``, the validation recall is measured after every epoch (the second list); with
    ``tc.patience > 0`` training stops once it has not improved for that many epochs.
    """
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    gen = torch.Generator().manual_seed(tc.seed)
    n_batches = max(len(train) // tc.batch_size, 1)  # full batches only (epoch_batches)
    losses: list[float] = []
    recalls: list[float] = []
    label = "choosing epochs" if val is not None else "training"
    with make_progress() as progress:
        task = progress.add_task(f"two-tower {label}", total=epochs * n_batches)
        for epoch in range(epochs):
            model.train()
            total = 0.0
            for idx in epoch_batches(train, rows.times, tc.batch_size, tc.batch_days, gen):
                hide = torch.rand(len(idx), generator=gen) < tc.history_dropout
                users = inputs.user_batch(rows, idx, leave_out=True, hide=hide).to(device)
                item_rows, q = rows.items[idx], log_q[idx]
                items = inputs.item_batch(rows, idx, _isolate(len(idx), inputs, tc, gen))
                if negatives is not None:
                    snap, drawn, q = negatives.draw(idx, item_rows, gen)
                    items = ItemBatch.concat(
                        [items, inputs.item_batch(snap, drawn, _isolate(len(drawn), inputs, tc, gen))]
                    )
                    item_rows = torch.cat([item_rows, snap.items[drawn]])
                types = inputs.cat.type_idx[item_rows].to(device) if tc.softmax_within_type else None
                loss = model.loss(users, items.to(device), item_rows.to(device), q.to(device), types)
                opt.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
                total += loss.item()
                progress.update(task, advance=1, description=f"two-tower {label} {epoch + 1}/{epochs}")
            losses.append(total / n_batches)
            if val is not None:
                recalls.append(val.recall(model, inputs, rows, device, by_type=tc.val_by_type))
                if out_of_patience(recalls, tc.patience):
                    break
    return losses, recalls


def select_and_fit(
    spec: TowerSpec,
    inputs: Inputs,
    rows: Rows,
    log_q: torch.Tensor,
    tc: TwoTowerConfig,
    device: torch.device,
    val: Validation | None,
    negatives: CatalogueNegatives | None = None,
) -> tuple[TwoTowerModel, Metrics]:
    """Choose the epoch count on ``val`` (when given), then train on every example for it.

    Without a validation slice the model trains ``tc.epochs`` epochs. With ``tc.choose_ids`` and an
    ID table, a second candidate without the ID vectors (and with histories as of each example)
    runs on the same slice; the candidate with the ID vectors is refitted only if its best
    validation recall beats the other's by more than two standard errors of the slice's recall
    (``Validation.margin``): it adds a vector per item, and a coin-flip win on a small slice chose
    it where it lost on the test (docs/results.md, round 21). The returned model's ``config`` and
    ``spec`` say which (``ids_chosen`` in the metrics). With ``tc.choose_ids`` and no slice (too
    few examples to hold one out) the model without ID vectors is trained.
    ``negatives``: see ``fit``.
    """
    every = torch.arange(len(rows.items))
    metrics: Metrics = {}
    epochs = tc.epochs
    trained = 0  # examples seen by the optimiser, the selection runs included
    # the zero configuration's model: no ID vectors, histories as of each example (which measured
    # better than the whole window without them on both ID-only sources)
    plain = tc.model_copy(update={"item_ids": False, "history_ids": False, "history_as_of": True})
    if val is None and tc.choose_ids and spec.n_id_items:
        # nothing to choose on (the slice was too small): a vector per item is not justified
        console.print("two-tower: no validation slice to choose the ID vectors on; trained without them")
        tc, spec = plain, replace(spec, n_id_items=0)
        metrics.update(ids_chosen=0)
    if val is not None:
        candidates = [(tc, spec)]
        if tc.choose_ids and spec.n_id_items:
            candidates.append((plain, replace(spec, n_id_items=0)))
        rest = every[~torch.isin(every, val.rows)]
        chosen_on = inputs.replaced(hist=val.hist, cat=val.cat)
        curves = []
        for cand_tc, cand_spec in candidates:
            seed_everything(cand_tc.seed)
            probe = TwoTowerModel(cand_tc, cand_spec).to(device)
            # a candidate without ID vectors would ignore the history ID bags: not built for it
            cand_inputs = chosen_on.replaced(
                history_ids=cand_tc.history_ids and inputs.history_ids, history_as_of=cand_tc.history_as_of
            )
            _, recalls = fit(
                probe, cand_inputs, rows, log_q, cand_tc, device, rest, cand_tc.epochs, val, negatives
            )
            curves.append(recalls)
            trained += len(rest) * len(recalls)
        best, margin = 0, 0.0
        if len(candidates) > 1:  # the ID vectors must win by more than the slice's sampling error
            margin = val.margin(max(curves[1]), inputs.cat.type_idx)
            best = 0 if max(curves[0]) > max(curves[1]) + margin else 1
        tc, spec, recalls = candidates[best][0], candidates[best][1], curves[best]
        epochs = 1 + int(np.argmax(recalls))
        metrics.update(val_recalls=recalls, n_val_examples=len(val.rows))
        if len(candidates) > 1:
            metrics.update(
                ids_chosen=int(best == 0),
                val_recalls_with_ids=curves[0],
                val_recalls_without_ids=curves[1],
                ids_margin=margin,
            )
            console.print(
                f"two-tower: validation chose {'the' if best == 0 else 'no'} ID vectors "
                f"({max(curves[0]):.3f} with, {max(curves[1]):.3f} without; "
                f"they must win by more than {margin:.4f})"
            )
        if val.users is not None:
            measure = f"HR@{val.k} of {len(val.users.users):,} users (each scored once)"
        else:
            measure = f"recall@{val.k}{' (mean over types)' if tc.val_by_type else ''}"
        console.print(
            f"two-tower: validation {measure} is highest after {epochs} epochs "
            f"({recalls[epochs - 1]:.3f} on {len(val.rows):,} {val.what})"
        )
    seed_everything(tc.seed)
    model = TwoTowerModel(tc, spec).to(device)
    refit_on = inputs.replaced(
        history_ids=tc.history_ids and inputs.history_ids, history_as_of=tc.history_as_of
    )
    losses, _ = fit(model, refit_on, rows, log_q, tc, device, every, epochs, None, negatives)
    trained += len(every) * epochs
    metrics.update(epochs=epochs, epoch_losses=losses, final_loss=losses[-1], trained_examples=trained)
    return model, metrics

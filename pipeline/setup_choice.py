"""The setup a dataset needs, chosen from what its manifest says it lacks and from its size.

A real dataset should not need environment-variable incantations. Yelp2018 needed seven
(docs/results.md, section 3): ID embeddings because it has no text, fixed epochs because its
published split is mapped onto made-up times, and smaller budgets so that a CPU finishes. These
are decided here, from facts the run already has:

* ``traits.has_item_text`` false: every item's text is empty, so text vectors are identical and
  carry nothing; the HGNN reads each item's co-consumption sketch alone (``hgnn.text_features``
  off). On Yelp2018 that matched learned ID embeddings when both trained 10 epochs on the H200 and
  beat them at the CPU's 2 epochs, in the same time (docs/results.md, round 9); it also keeps the
  HGNN inductive: an item added later is embedded from its edges, with no table row to learn.
  With ``hgnn.sketch_dim`` 0, ID embeddings (``hgnn.id_embeddings``). Without text the sketch is
  the HGNN's whole input, so it gets ``SKETCH_DIM_NO_TEXT`` dimensions: a random projection estimates
  each cosine with an error of about ``1/sqrt(dim)``, and in a large, sparse catalogue the cosines
  that rank an item's neighbours are small. On Yelp2018 (38,048 items) the raw sketch's own
  item-to-item ranking rose from .259 at 256 dimensions to .321 at 1,024 and .342 at 4,096
  (item-kNN .331), and the HGNN trained on it from .249 to .276 (docs/results.md, round 11).
  With CUDA, where the larger input costs little time, ``SKETCH_DIM_NO_TEXT_CUDA``: 2,048 lifted
  HGNN-kNN on both seeds of both text-less sources measured, Yelp2018 (Recall@20 .0576 / .0571 ->
  .0591 / .0592 on the H100, above item-kNN's .0576) and an ID-only copy of the communities data
  (docs/results.md, rounds 24 and 25); on the CPU it would cost about two thirds more HGNN time.
* ``traits.has_event_times`` false (a fixed split mapped onto time): the last days of the training
  window are not the days before the test, so a validation slice cut by time cannot choose the
  two-tower's epochs (``two_tower.val_days = 0``), and batches are drawn across the window rather
  than from the same days (``two_tower.batch_days = 0``); every example sees its item's HGNN
  vector made from all edges, since made-up times cannot say which examples came before the item
  had any (``two_tower.hgnn_as_of`` off). A random tenth of the
  training pairs, drawn as such a split draws its test pairs, chooses the two-tower's epochs and
  whether it learns a vector per item (``two_tower.val_share``, ``choose_ids`` with ``item_ids``
  and ``history_ids``; the ID candidate reads whole-window histories, ``history_as_of`` off). The
  tenth is scored as the split's test is (``two_tower.val_protocol`` "window": each user once,
  every other training item in their history and out of the ranking, their held-out pairs the
  targets), and its pairs are out of the histories and the item graph the selection runs read.
  Scored per example instead, it chose the ID vectors on one Yelp2018 seed and not on the other
  (rounds 19 to 21); scored as the test, it chose them and 3 epochs on both seeds measured, by
  five times the margin, and no ID vectors on the ID-only communities split, where they do not
  help (docs/results.md, round 32). It costs a second selection run and a refit.
* Size, each model by what it trains on. The two-tower's cost follows the training pairs: above
  ``LARGE_PAIRS`` its batches grow and, without CUDA, it trains at most 3 epochs. The HGNN's cost
  follows the edges one of its epochs draws (every edge of the item graph, which grows far slower
  than the logs: 39,633 at 30x the synthetic default; the balanced sampler,
  ``hgnn.balanced_sampler``, draws the median relation's size from every relation instead): above
  ``HGNN_LARGE_EPOCH`` its batches grow, and without CUDA its epochs are cut so that all of them
  draw at most ``HGNN_CPU_EDGES`` (at least 2). Until 2026-12-04 the HGNN's cut followed the
  training pairs too, which gave the 30x synthetic run 28 steps in all and HGNN-kNN below
  Popularity (``benchmarks/results/pipeline_30x_hgnn_cut_by_pairs.json``, docs/scale.md). Until
  2026-12-06 the budget was 2M edges, 2 epochs on Yelp2018, where the HGNN was far from trained:
  at 10 epochs (8M edges) its health check rose from .250 to .273 and HGNN-kNN's Recall@20 from
  .0463 to .0510, and 2T-HGNN on those vectors from .0604 to .0621 (two seeds; docs/results.md,
  round 23), for five times the HGNN's steps (1,181 s for the 10 epochs inside the zero-setting
  run, 35 min end to end on the idle 2-core machine; round 24). With CUDA the epochs stay; only
  the batches grow (Yelp2018's 40 epochs: 351 s on an H100, HGNN-kNN .0546; round 24). Since
  the cap ranks edges by similarity (``graph.degree_cap_rank``, round 25) Yelp2018's graph has
  1,636,868 edges, so a CPU trains 4 epochs of it. On a CPU that multiplies bfloat16 in hardware
  (AVX512-BF16 or AMX), such an HGNN trains its products in bf16 (``hgnn.precision``): on Yelp2018
  a step took .52 s against .97 s on one thread, the four epochs 1,507 s against 2,834 s, and
  HGNN-kNN read .0610 / .0494 Recall@20 / NDCG@20 against .0608 / .0494 in float32 (one seed;
  docs/results.md, round 33; on two threads .25 s against .47 s a step, round 34). The budget
  stays 8M edges in bf16 too: six bf16 epochs lifted HGNN-kNN to .0621 but left the 2T-HGNN that
  ``gfm run`` serves where four had it (.0694 / .0570 against .0694 / .0568; round 34). Smaller
  graphs (both synthetic modes) keep float32, as measured.

A field the user set (config file, ``GFM__`` variable or flag) is never changed. Every choice is
returned with its reason, printed by the pipeline and recorded on the provenance card.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gfm.config import Config
from ingest.manifest import SourceTraits

__all__ = [
    "HELD_OUT_SHARE",
    "HGNN_CPU_EDGES",
    "HGNN_LARGE_EPOCH",
    "LARGE_PAIRS",
    "SKETCH_DIM_NO_TEXT",
    "SKETCH_DIM_NO_TEXT_CUDA",
    "Choice",
    "choose_for_data",
    "choose_setup",
]

LARGE_PAIRS = 500_000  # training pairs above which the two-tower's batches grow (and CPU epochs fall)
HGNN_LARGE_EPOCH = 500_000  # edges one HGNN epoch draws, above which its batches grow
HGNN_CPU_EDGES = 8_000_000  # edges all HGNN epochs may draw on a CPU (Yelp2018: 4 epochs)
SKETCH_DIM_NO_TEXT = 1024  # the co-consumption sketch's size when it is the HGNN's only input
SKETCH_DIM_NO_TEXT_CUDA = 2048  # the same with CUDA, where the larger input costs little time
# where times are made up: the share of the training pairs that chooses the epochs and ID vectors
HELD_OUT_SHARE = 0.1


@dataclass(frozen=True)
class Choice:
    """One setting chosen for this dataset.

    Attributes:
        section: Config section (``hgnn``, ``two_tower``).
        field: Field within the section.
        value: The value chosen.
        why: The reason, in words, for the run's output and the provenance card.

    """

    section: str
    field: str
    value: Any
    why: str

    def line(self) -> str:
        """How the choice is printed: ``setup: section.field = value  (why)``."""
        return f"setup: {self.section}.{self.field} = {self.value!r}  ({self.why})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"setting": f"{self.section}.{self.field}", "value": self.value, "why": self.why}


def choose_setup(
    cfg: Config,
    traits: SourceTraits | None,
    *,
    n_train_pairs: int,
    hgnn_epoch_edges: int,
    cuda: bool,
    native_bf16: bool = False,
) -> tuple[Config, list[Choice]]:
    """The config this dataset needs, and the choices that made it.

    Args:
        cfg: The config as loaded (its explicitly set fields are kept).
        traits: The raw manifest's traits; None (an old batch) means the source has everything.
        n_train_pairs: Training-window (user, item) consumption pairs.
        hgnn_epoch_edges: Edges one HGNN epoch draws (``link_sampler.drawn_per_relation``).
        cuda: Whether training will run on a CUDA device.
        native_bf16: Whether this CPU multiplies bfloat16 matrices in hardware
            (``embedding_jobs.device.cpu_has_native_bf16``).

    Returns:
        The updated config and the choices applied (empty when nothing needed changing).

    """
    wanted: list[Choice] = []
    if traits is not None and not traits.has_item_text:
        if cfg.hgnn.sketch_dim > 0 and not cfg.hgnn.id_embeddings:
            why = "the source has no item text, so the HGNN reads each item's co-consumption sketch alone"
            wanted.append(Choice("hgnn", "text_features", False, why))
            dim = SKETCH_DIM_NO_TEXT_CUDA if cuda else SKETCH_DIM_NO_TEXT
            if cfg.hgnn.sketch_dim < dim:
                why = "the sketch is the HGNN's only input: more dimensions, finer cosines"
                wanted.append(Choice("hgnn", "sketch_dim", dim, why + (f" (CUDA: {dim:,})" if cuda else "")))
        else:
            why = "the source has no item text (and hgnn.sketch_dim is 0), so the HGNN learns ID embeddings"
            wanted.append(Choice("hgnn", "id_embeddings", True, why))
    if traits is not None and not traits.has_event_times:
        drawn = "event times were drawn to map a fixed split onto time"
        wanted += [
            Choice(
                "two_tower",
                "val_days",
                0,
                f"{drawn}, so a time-cut validation slice cannot choose the epochs",
            ),
            Choice("two_tower", "batch_days", 0.0, f"{drawn}, so same-day batches mean nothing"),
            Choice(
                "two_tower",
                "hgnn_as_of",
                False,
                f"{drawn}, so an item's first consumers in time are not the ones before its edges",
            ),
            Choice(
                "two_tower",
                "val_share",
                HELD_OUT_SHARE,
                f"{drawn}: a random share of the pairs, drawn as such a split draws its test pairs, "
                "chooses the epochs",
            ),
            Choice(
                "two_tower",
                "val_protocol",
                "window",
                "the held-out share is scored as the split's test is: each user once, their held-out "
                "pairs the targets",
            ),
            Choice(
                "two_tower", "item_ids", True, "a vector per item, kept only if the held-out share prefers it"
            ),
            Choice("two_tower", "history_ids", True, "the user side of the ID vectors (the same choice)"),
            Choice(
                "two_tower",
                "choose_ids",
                True,
                "the ID vectors must beat the model without them on the held-out share by two "
                "standard errors",
            ),
            Choice(
                "two_tower",
                "history_as_of",
                False,
                f"{drawn}, so a history cut at an example's time is a random part of it: the ID "
                "vectors' candidate reads the whole window less the example's own item",
            ),
        ]
    if n_train_pairs > LARGE_PAIRS:
        size = f"{n_train_pairs:,} training pairs"
        wanted.append(Choice("two_tower", "batch_size", 4096, f"{size}: larger batches"))
        if not cuda:
            why = f"{size} on a CPU: fewer epochs to finish in about an hour"
            wanted.append(Choice("two_tower", "epochs", 3, why))
    if hgnn_epoch_edges > HGNN_LARGE_EPOCH:
        edges = f"an HGNN epoch draws {hgnn_epoch_edges:,} edges"
        wanted.append(Choice("hgnn", "batch_size", 2048, f"{edges}: larger batches"))
        if not cuda and native_bf16:
            why = f"{edges} on a CPU that multiplies bfloat16 in hardware: its training products in bf16"
            wanted.append(Choice("hgnn", "precision", "bf16", why))
    epochs = max(2, HGNN_CPU_EDGES // max(hgnn_epoch_edges, 1))
    if not cuda and epochs < cfg.hgnn.epochs:
        why = f"an HGNN epoch draws {hgnn_epoch_edges:,} edges on a CPU: {HGNN_CPU_EDGES:,} in all"
        wanted.append(Choice("hgnn", "epochs", epochs, why))
    applied = [
        c for c in wanted if _settable(cfg, c) and getattr(getattr(cfg, c.section), c.field) != c.value
    ]
    if not applied:
        return cfg, []
    updates: dict[str, dict[str, Any]] = {}
    for c in applied:
        updates.setdefault(c.section, {})[c.field] = c.value
    sections = {name: getattr(cfg, name).model_copy(update=fields) for name, fields in updates.items()}
    return cfg.model_copy(update=sections), applied


def _settable(cfg: Config, choice: Choice) -> bool:
    """True when the user did not set this field themselves."""
    return choice.field not in getattr(cfg, choice.section).model_fields_set


def choose_for_data(cfg: Config) -> tuple[Config, list[Choice]]:
    """``choose_setup`` for the data in ``cfg.data_dir``: what ``gfm run`` applies after transform.

    Reads the raw manifest's traits, the training pairs in the marts and the edges an HGNN epoch
    draws, and whether training will run on CUDA. ``gfm train hgnn|two-tower`` and ``gfm evaluate``
    apply the same choices, so a stage run by itself (on a GPU machine from copied marts, say)
    trains what ``gfm run`` would. Without the edge mart there is nothing to choose from: the
    config is returned as it is (the stage then reports the missing mart itself). With the HGNN's
    marts alone (``dim_items``, ``fct_item_edges`` and ``raw/_manifest.json`` copied to a GPU
    machine) the HGNN's choices are made; without a raw manifest the source is taken to have
    everything.

    Raises:
        RawInputError: If the raw manifest exists but cannot be read.

    Returns:
        The updated config and the choices applied (empty when nothing needed changing).

    """
    import pandas as pd

    from embedding_jobs.data.graph import relation_sizes
    from embedding_jobs.data.link_sampler import drawn_per_relation
    from embedding_jobs.device import cpu_has_native_bf16, resolve_device
    from ingest.manifest import MANIFEST_NAME, read_manifest

    if not (cfg.marts_dir / "fct_item_edges.parquet").exists():
        return cfg, []
    interactions = cfg.marts_dir / "fct_interactions.parquet"
    n_pairs = 0  # the HGNN's marts copied alone: only the HGNN's choices can be made
    if interactions.exists():
        n_pairs = int(pd.read_parquet(interactions, columns=["is_consumed"])["is_consumed"].sum())
    # the HGNN's graph is the edge mart's relations (less the health check's held-out tenth)
    counts = relation_sizes(cfg.marts_dir)
    epoch_edges = sum(drawn_per_relation(counts, cfg.hgnn.balanced_sampler).values())
    has_manifest = (cfg.raw_dir / MANIFEST_NAME).exists()
    traits = read_manifest(cfg.raw_dir).traits if has_manifest else None
    return choose_setup(
        cfg,
        traits,
        n_train_pairs=n_pairs,
        hgnn_epoch_edges=epoch_edges,
        cuda=resolve_device(cfg.hgnn.device).type == "cuda",
        native_bf16=cpu_has_native_bf16(),
    )

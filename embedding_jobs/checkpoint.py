"""Versioned checkpoints: ``models/<model>/<version>/`` holding ``model.pt`` and ``card.json``.

The card records what is needed to trust and reproduce a run: the effective config, a fingerprint
of the input data, the metrics, the random seeds and the timings. Shared by every trained model.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gfm.config import Config
from gfm.errors import NotFoundError
from gfm.naming import checkpoint_dir
from gfm.versioning import fingerprint_files

__all__ = [
    "ModelCard",
    "data_fingerprint",
    "hgnn_temperature",
    "load_checkpoint",
    "read_card",
    "save_checkpoint",
    "seed_everything",
    "two_tower_temperature",
]

MODEL_FILE = "model.pt"
CARD_FILE = "card.json"


@dataclass
class ModelCard:
    """The provenance card written beside every checkpoint.

    Attributes:
        model: The model family (``hgnn`` or ``two_tower``).
        version: The version string that names this run everywhere.
        config: The effective config (``Config.model_dump(mode="json")``).
        data_fingerprint: Content hash of the input files (see ``data_fingerprint``).
        metrics: Final loss, held-out scores and so on.
        seeds: Every random seed used.
        timings: Seconds per phase.
        created_at: ISO-8601 UTC timestamp.
        extra: Anything else a model wants to record (device, sizes, library versions).

    """

    model: str
    version: str
    config: dict[str, Any]
    data_fingerprint: str
    metrics: dict[str, Any] = field(default_factory=dict)
    seeds: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    extra: dict[str, Any] = field(default_factory=dict)


def data_fingerprint(paths: list[Path]) -> str:
    """Hash the content of the input files that exist (missing ones are named in the hash)."""
    present = [p for p in paths if p.exists()]
    missing = sorted(p.name for p in paths if not p.exists())
    digest = fingerprint_files(present) if present else "none"
    return digest + (f"-missing:{','.join(missing)}" if missing else "")


def seed_everything(seed: int) -> dict[str, int]:
    """Seed python, numpy and torch (CPU and CUDA); returns the seeds for the card."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return {"python": seed, "numpy": seed % (2**32), "torch": seed}


def save_checkpoint(folder: Path, state: dict[str, Any], card: ModelCard) -> Path:
    """Write ``model.pt`` (tensors, lists, strings and numbers only) and ``card.json``.

    Args:
        folder: The checkpoint folder (created).
        state: What the model needs to be rebuilt: its hyper-parameters and ``state_dict``.
        card: The provenance card.

    Returns:
        The folder.

    """
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, folder / MODEL_FILE)
    (folder / CARD_FILE).write_text(json.dumps(asdict(card), indent=2, default=str) + "\n")
    return folder


def load_checkpoint(
    folder: Path, map_location: str | torch.device = "cpu"
) -> tuple[dict[str, Any], ModelCard]:
    """Read a checkpoint written by ``save_checkpoint``.

    Raises:
        NotFoundError: If the folder or one of its files is missing.

    """
    model_file = folder / MODEL_FILE
    if not model_file.exists():
        raise NotFoundError(f"checkpoint file not found: {model_file}")
    card = read_card(folder)
    state = torch.load(model_file, map_location=map_location, weights_only=True)
    return state, card


def read_card(folder: Path) -> ModelCard:
    """The card of a checkpoint folder written by ``save_checkpoint`` (no weights are read).

    Raises:
        NotFoundError: If the folder has no card.

    """
    card_file = folder / CARD_FILE
    if not card_file.exists():
        raise NotFoundError(f"checkpoint file not found: {card_file}")
    return ModelCard(**json.loads(card_file.read_text()))


def hgnn_temperature(cfg: Config, version: str) -> float | None:
    """The softmax temperature an HGNN version was trained at (None: the margin loss has none).

    HGNN-kNN and the service read a version's vectors at it (a mixture of the user's items'
    softmax neighbourhoods). From the version's card, so vectors are read as they were trained; a
    version without a card (vectors copied alone) is read with this config's HGNN settings.
    """
    try:
        hgnn = read_card(checkpoint_dir(cfg.models_dir, "hgnn", version)).config.get("hgnn", {})
    except NotFoundError:
        hgnn = cfg.hgnn.model_dump()
    return float(hgnn["temperature"]) if hgnn.get("loss", "softmax") == "softmax" else None


def two_tower_temperature(cfg: Config, version: str) -> float:
    """The in-batch softmax temperature a two-tower version was trained at (its card; else ``cfg``)."""
    try:
        tower = read_card(checkpoint_dir(cfg.models_dir, "two_tower", version)).config.get("two_tower", {})
    except NotFoundError:
        tower = cfg.two_tower.model_dump()
    return float(tower["temperature"])

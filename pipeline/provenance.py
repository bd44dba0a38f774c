"""Provenance cards: what went into each published version, as JSON under ``reports/provenance/``."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from gfm.config import Config

_PACKAGES = (
    "gfm",
    "torch",
    "torch-geometric",
    "transformers",
    "dbt-core",
    "dbt-duckdb",
    "duckdb",
    "great_expectations",
    "feast",
    "pymilvus",
    "milvus-lite",
    "pandas",
    "numpy",
)


@dataclass
class StageRecord:
    """One pipeline stage: how long it took, whether it passed, and what it produced."""

    name: str
    seconds: float
    status: str  # "ok", "failed", "skipped"
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProvenanceCard:
    """Everything needed to say where a version came from."""

    version: str
    created_at: str
    data_fingerprint: str = ""
    source: str = ""
    status: str = "running"  # running | published | gate_failed | failed
    reason: str = ""
    stages: list[StageRecord] = field(default_factory=list)
    dbt: dict[str, Any] = field(default_factory=dict)
    gates: dict[str, Any] = field(default_factory=dict)
    feast: dict[str, Any] = field(default_factory=dict)
    checkpoints: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    index: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls, cfg: Config, version: str) -> ProvenanceCard:
        """A new card for ``version`` with the effective config and package versions."""
        return cls(
            version=version,
            created_at=datetime.now(UTC).isoformat(),
            config=cfg.model_dump(mode="json"),
            packages=package_versions(),
        )

    def to_json(self) -> str:
        """The card as indented JSON."""
        return json.dumps(asdict(self), indent=2, default=str)


def card_path(cfg: Config, version: str) -> Path:
    """Where a version's card lives."""
    return cfg.reports_dir / "provenance" / f"{version}.json"


def write_card(cfg: Config, card: ProvenanceCard) -> Path:
    """Write the card atomically (temp file + rename) and return its path."""
    path = card_path(cfg, card.version)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(card.to_json())
    os.replace(tmp, path)
    return path


def read_cards(cfg: Config) -> list[dict[str, Any]]:
    """All cards, oldest first."""
    folder = cfg.reports_dir / "provenance"
    if not folder.exists():
        return []
    return [json.loads(p.read_text()) for p in sorted(folder.glob("v*.json"))]


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape results, plus Python's."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def mark_card(cfg: Config, version: str, status: str, reason: str) -> bool:
    """Set a written card's status and reason (a run found dead); False when it has no card."""
    path = card_path(cfg, version)
    if not path.exists():
        return False
    data = json.loads(path.read_text())
    data["status"], data["reason"] = status, reason
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)
    return True


def read_card(cfg: Config, version: str) -> dict[str, Any] | None:
    """One version's card, or None."""
    path = card_path(cfg, version)
    return json.loads(path.read_text()) if path.exists() else None

"""The run context: what travels through the stages of one ``gfm run``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gfm.config import Config
from gfm.versioning import new_version
from pipeline.provenance import ProvenanceCard, write_card


@dataclass(frozen=True)
class RunContext:
    """The config, and the provenance card of the version this run builds.

    Every stage of ``pipeline.run`` takes one context instead of ``(cfg, card, version)``; each
    stage records what it produced on ``card``.
    """

    cfg: Config
    card: ProvenanceCard

    @classmethod
    def start(cls, cfg: Config, source: str) -> RunContext:
        """A new version id and its card (status ``running``) for a run over ``source``."""
        card = ProvenanceCard.start(cfg, new_version(source))
        card.source = source
        return cls(cfg, card)

    @property
    def version(self) -> str:
        """The version this run builds; it names every output (``gfm.naming``)."""
        return self.card.version

    def write_card(self) -> Path:
        """Write the card as it stands (atomically) and return its path."""
        return write_card(self.cfg, self.card)

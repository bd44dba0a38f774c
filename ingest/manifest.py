"""``raw/_manifest.json``: what a raw batch is (source, time window, content types, split, traits)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from gfm.errors import RawInputError

MANIFEST_NAME = "_manifest.json"


class SuggestedSplit(BaseModel):
    """The train/eval split the source suggests; ``train_days=None`` means all earlier history."""

    model_config = ConfigDict(extra="forbid")

    train_days: int | None = 90
    eval_days: int = 14


class SourceTraits(BaseModel):
    """What the source's logs carry, so later stages can choose their setup without guessing.

    Each flag is ``True`` when the batch holds real values of that kind, ``False`` when the
    importer had to fill a placeholder (``unknown``, empty text, a nominal play time, made-up times).
    """

    model_config = ConfigDict(extra="forbid")

    has_item_text: bool  # a non-empty title or description for some items
    has_item_metadata: bool  # language, genre or creator known for some items
    has_user_profiles: bool  # country or age bucket known for some users
    has_weak_signals: bool  # follow, preview or intent_to_pay events present
    has_play_time: bool  # ms_played measured, not a nominal constant
    has_event_times: bool  # event_at observed, not drawn to map a fixed split onto time


#: A source's name: free text (one line, printable), e.g. ``synthetic`` or ``acme listening logs``.
SourceName = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f\x7f]+$")]


class RawManifest(BaseModel):
    """The manifest of one raw batch (docs/contracts.md, section 1)."""

    model_config = ConfigDict(extra="forbid")

    # synthetic, movielens, lightgcn, or the free text an imported batch was given
    source: SourceName
    created_at: AwareDatetime
    seed: int | None = None
    window_start: AwareDatetime
    window_end: AwareDatetime
    content_types: list[str]
    fixed_split: bool = False
    suggested_split: SuggestedSplit = SuggestedSplit()
    # synthetic batches: the generator's settings (GenerateConfig: mode, sizes, knobs); None otherwise
    generator: dict[str, str | int | float] | None = None
    # what the source carries; None in batches written before traits were recorded (assume all)
    traits: SourceTraits | None = None

    @model_validator(mode="after")
    def _window_is_ordered(self) -> RawManifest:
        if self.window_end <= self.window_start:
            raise ValueError(f"window_end {self.window_end} is not after window_start {self.window_start}")
        return self

    @property
    def eval_start(self) -> datetime:
        """Where the suggested evaluation window begins."""
        return self.window_end - timedelta(days=self.suggested_split.eval_days)


def read_manifest(raw_dir: Path) -> RawManifest:
    """Read and validate ``raw_dir/_manifest.json``.

    Raises:
        RawInputError: If the manifest is missing, not JSON, or breaks the schema.

    """
    path = raw_dir / MANIFEST_NAME
    if not path.is_file():
        raise RawInputError("the raw batch has no manifest", file=str(path))
    try:
        return RawManifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, UnicodeDecodeError) as exc:
        field = None
        if isinstance(exc, ValidationError) and exc.errors():
            field = ".".join(str(p) for p in exc.errors()[0]["loc"]) or None
        raise RawInputError(f"invalid manifest: {exc}", file=str(path), column=field) from exc


def write_manifest(manifest: RawManifest, raw_dir: Path) -> Path:
    """Write the manifest into ``raw_dir`` (as indented JSON) and return its path."""
    path = raw_dir / MANIFEST_NAME
    path.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path

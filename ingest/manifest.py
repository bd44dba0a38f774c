"""``raw/_manifest.json``: what a raw batch is (source, time window, content types, split)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError, model_validator

from gfm.errors import RawInputError

MANIFEST_NAME = "_manifest.json"


class SuggestedSplit(BaseModel):
    """The train/eval split the source suggests; ``train_days=None`` means all earlier history."""

    model_config = ConfigDict(extra="forbid")

    train_days: int | None = 90
    eval_days: int = 14


class RawManifest(BaseModel):
    """The manifest of one raw batch (docs/contracts.md, section 1)."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["synthetic", "movielens", "lightgcn"]
    created_at: AwareDatetime
    seed: int | None = None
    window_start: AwareDatetime
    window_end: AwareDatetime
    content_types: list[str]
    fixed_split: bool = False
    suggested_split: SuggestedSplit = SuggestedSplit()
    # synthetic batches: the generator's settings (GenerateConfig: mode, sizes, knobs); None otherwise
    generator: dict[str, str | int | float] | None = None

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

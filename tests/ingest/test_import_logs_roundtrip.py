"""A generated batch, rewritten the way another team might log it, imports back to the same rows.

The events become a CSV with other column names, another event vocabulary and local Tokyo times
without an offset; the catalogue a Parquet file with other names; the users a CSV. ``gfm import logs`` with the matching mapping must give back the original tables.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from gfm.config import Config, ValidationConfig
from ingest.importing import import_logs, load_mapping
from ingest.manifest import read_manifest
from ingest.raw_io import RawTables, load_raw
from validation.gates import run_raw_gate

ZONE = "Asia/Tokyo"  # no daylight saving: wall-clock times map back one to one
VOCABULARY = {"stream": "listen", "follow": "sub", "preview": "peek", "intent_to_pay": "cart"}
EVENTS = {"event_id": "eid", "user_id": "uid", "item_id": "iid", "event_at": "at", "event_type": "what"}
ITEMS = {"item_id": "iid", "content_type": "kind", "title": "name", "description": "about", "language": "lang",
         "genre": "genre", "creator_id": "author", "published_at": "released"}  # fmt: skip
USERS = {"user_id": "uid", "country": "cc", "age_bucket": "age", "signup_at": "joined"}


def _local(times: pd.Series) -> pd.Series:
    return times.dt.tz_convert(ZONE).dt.strftime("%Y-%m-%d %H:%M:%S")


def _rewrite(tables: RawTables, folder: Path) -> Path:
    """Write the batch as someone else's logs; return the mapping file."""
    ev = tables.interactions
    theirs = ev.rename(columns=EVENTS).assign(
        at=_local(ev["event_at"]), what=ev["event_type"].map(VOCABULARY)
    )
    theirs.rename(columns={"ms_played": "played_ms"}).to_csv(folder / "events.csv", index=False)
    items = tables.items.rename(columns=ITEMS).assign(released=_local(tables.items["published_at"]))
    items.to_parquet(folder / "catalog.parquet", index=False)
    users = tables.users.rename(columns=USERS).assign(joined=_local(tables.users["signup_at"]))
    users.to_csv(folder / "people.csv", index=False)
    mapping = {
        "source": "round trip",
        "timezone": ZONE,
        "events": {
            "columns": {**EVENTS, "ms_played": "played_ms"},
            "event_types": {v: k for k, v in VOCABULARY.items()},
        },
        "items": {"path": "catalog.parquet", "columns": ITEMS},
        "users": {"path": "people.csv", "columns": USERS},
    }
    (folder / "mapping.yaml").write_text(yaml.safe_dump(mapping))
    return folder / "mapping.yaml"


def _sorted(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame.sort_values(key).reset_index(drop=True)


def test_rewritten_logs_import_back_to_the_generated_rows(small_tables: RawTables, tmp_path: Path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    mapping, base = load_mapping(_rewrite(small_tables, theirs))
    cfg = Config(data_dir=tmp_path / "data")

    import_logs([theirs / "events.csv"], mapping, cfg.raw_dir, base_dir=base)

    back = load_raw(cfg.raw_dir, ValidationConfig())
    for name, key in (("interactions", "event_id"), ("items", "item_id"), ("users", "user_id")):
        pd.testing.assert_frame_equal(
            _sorted(getattr(back, name), key), _sorted(getattr(small_tables, name), key), check_like=True
        )
    manifest = read_manifest(cfg.raw_dir)
    assert manifest.traits is not None and all(manifest.traits.model_dump().values())
    assert run_raw_gate(back, manifest, cfg).success

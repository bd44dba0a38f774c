"""gfm import logs: someone's own CSV/Parquet logs, mapped into the raw contract, gated like any batch.

The files below are the README's worked example: a listening log with its own column names and
event words, local times without an offset, and a catalogue file.
"""

from __future__ import annotations

import json
import typing
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from gfm.config import Config, ValidationConfig
from gfm.errors import RawInputError
from ingest.importing import import_logs, load_mapping
from ingest.importing.build import default_split
from ingest.importing.mapping import EventType
from ingest.manifest import RawManifest, read_manifest
from ingest.raw_io import load_raw
from ingest.schema import EVENT_TYPES
from pipeline.cli import app
from validation.gates import run_raw_gate

EVENTS_CSV = """\
listener,show,played_at,action,seconds
1,10,2026-09-01 08:00:00,play,1200
1,11,2026-09-01 09:30:00,subscribe,
2,10,2026-09-02 21:15:00,play,45
2,12,2026-09-03 07:00:00,sample,
3,12,2026-09-04 12:00:00,play,3000
3,11,2026-09-05 18:45:00,skip,
3,10,2026-09-06 10:00:00,buy,
"""
SHOWS_CSV = """\
show,name,blurb,kind
10,Morning News,Headlines in ten minutes,podcast
11,The Long Game,"A novel about chess, read by its author",audiobook
12,Learn Go,An introduction to the Go language,audio_course
"""
MAPPING_YAML = """\
source: acme listening logs 2026-09
timezone: Europe/Berlin
events:
  columns: {user_id: listener, item_id: show, event_at: played_at, event_type: action, ms_played: seconds}
  play_time_unit: s
  event_types: {play: stream, subscribe: follow, sample: preview, buy: intent_to_pay}
  ignore: [skip]
items:
  path: shows.csv
  columns: {item_id: show, title: name, description: blurb, content_type: kind}
"""
NOW = datetime(2026, 12, 1, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """A folder with events.csv, shows.csv and mapping.yaml (the README example)."""
    folder = tmp_path / "acme"
    folder.mkdir()
    (folder / "events.csv").write_text(EVENTS_CSV)
    (folder / "shows.csv").write_text(SHOWS_CSV)
    (folder / "mapping.yaml").write_text(MAPPING_YAML)
    return folder


def _import(logs: Path, raw: Path, events: str = "events.csv", **overrides: object) -> dict[str, int]:
    mapping, base = load_mapping(logs / "mapping.yaml", overrides)
    return import_logs([logs / events], mapping, raw, base_dir=base)


def test_a_mapped_csv_becomes_a_raw_batch_that_passes_the_raw_gate(logs: Path, tmp_path: Path):
    cfg = Config(data_dir=tmp_path / "data")
    counts = _import(logs, cfg.raw_dir)

    assert counts == {"interactions": 6, "items": 3, "users": 3}  # the skip is dropped on purpose
    tables = load_raw(cfg.raw_dir, ValidationConfig())
    manifest = read_manifest(cfg.raw_dir)
    assert run_raw_gate(tables, manifest, cfg, now=NOW).success
    events = tables.interactions.set_index("event_id")
    assert events["event_type"].tolist() == [
        "stream",
        "follow",
        "stream",
        "preview",
        "stream",
        "intent_to_pay",
    ]
    assert events["ms_played"].tolist() == [1_200_000, 0, 45_000, 0, 3_000_000, 0]
    # 08:00 in Berlin in September (CEST, +02:00) is 06:00 UTC
    assert events["event_at"].iloc[0] == pd.Timestamp("2026-09-01 06:00", tz="UTC")
    items = tables.items.set_index("item_id")
    assert items.loc[11, "title"] == "The Long Game" and items.loc[12, "content_type"] == "audio_course"
    assert items.loc[10, "language"] == "unknown"
    assert tables.users["signup_at"].tolist() == sorted(tables.users["signup_at"].tolist())
    assert manifest.source == "acme listening logs 2026-09"
    assert manifest.content_types == ["audio_course", "audiobook", "podcast"]
    assert manifest.window_start == datetime(2026, 9, 1, tzinfo=UTC)
    assert manifest.window_end == datetime(2026, 9, 7, tzinfo=UTC)
    assert manifest.suggested_split.eval_days == 1  # six days of logs: a quarter of them
    assert manifest.traits is not None
    assert manifest.traits.model_dump() == {
        "has_item_text": True,
        "has_item_metadata": False,
        "has_user_profiles": False,
        "has_weak_signals": True,
        "has_play_time": True,
        "has_event_times": True,
    }


def test_parquet_logs_with_zoned_times_a_constant_type_and_no_items_file(tmp_path: Path):
    table = pa.table(
        {
            "uid": pa.array([5, 6, 5], pa.int32()),
            "track": pa.array([100, 100, 101], pa.int64()),
            "ts": pa.array(
                [
                    datetime(2026, 10, 1, 12, tzinfo=UTC),
                    datetime(2026, 10, 2, tzinfo=UTC),
                    datetime(2026, 10, 3, tzinfo=UTC),
                ],
                pa.timestamp("ms", tz="UTC"),
            ),
            "event_type": ["stream", "stream", "stream"],
        }
    )
    pq.write_table(table, tmp_path / "log.parquet")
    overrides = {"events.columns": {"user_id": "uid", "item_id": "track", "event_at": "ts"}}
    mapping, base = load_mapping(None, overrides | {"items.content_type": "song"})
    raw = tmp_path / "raw"

    assert import_logs([tmp_path / "log.parquet"], mapping, raw, base_dir=base)["items"] == 2
    manifest = read_manifest(raw)
    assert manifest.source == "imported logs" and manifest.content_types == ["song"]
    assert manifest.traits is not None
    assert not manifest.traits.has_item_text and not manifest.traits.has_play_time
    assert not manifest.traits.has_weak_signals
    tables = load_raw(raw, ValidationConfig())
    assert set(tables.interactions["ms_played"]) == {600_000}  # a nominal play time, recorded as such
    assert run_raw_gate(tables, manifest, Config(data_dir=tmp_path / "d"), now=NOW).success


def _refusal(logs: Path, tmp_path: Path, **overrides: object) -> RawInputError:
    with pytest.raises(RawInputError) as caught:
        _import(logs, tmp_path / "raw", **overrides)
    assert not (tmp_path / "raw").exists()  # nothing half-written
    return caught.value


def test_a_missing_column_is_refused_naming_file_and_column(logs: Path, tmp_path: Path):
    error = _refusal(logs, tmp_path, **{"events.columns.event_at": "heard_at"})
    assert error.file.endswith("events.csv") and error.column == "heard_at"
    assert "missing column 'heard_at' (mapped to event_at)" in str(error)


def test_an_unmapped_event_value_is_refused_naming_file_column_and_value(logs: Path, tmp_path: Path):
    error = _refusal(logs, tmp_path, **{"events.ignore": []})
    assert error.file.endswith("events.csv") and error.column == "action" and error.count == 1
    assert "'skip'" in str(error) and "events.ignore" in str(error)


def test_a_naive_time_without_a_time_zone_rule_is_refused(logs: Path, tmp_path: Path):
    error = _refusal(logs, tmp_path, timezone=None)
    assert error.file.endswith("events.csv") and error.column == "played_at" and error.count == 7
    assert "no time zone" in str(error) and "'2026-09-01 08:00:00'" in str(error)


def test_an_id_that_is_not_an_integer_is_refused(logs: Path, tmp_path: Path):
    (logs / "bad.csv").write_text(EVENTS_CSV.replace("\n2,12,", "\nu-2,12,"))
    with pytest.raises(RawInputError) as caught:
        _import(logs, tmp_path / "raw", events="bad.csv")
    error = caught.value
    assert error.file.endswith("bad.csv") and error.column == "listener" and error.count == 1
    assert "'u-2'" in str(error) and "BIGINT" in str(error)


def test_a_mapping_that_names_an_unknown_contract_column_or_zone_is_refused(logs: Path):
    with pytest.raises(RawInputError, match="unknown contract column"):
        load_mapping(logs / "mapping.yaml", {"events.columns.listener_id": "listener"})
    with pytest.raises(RawInputError, match="unknown time zone 'Mars/Olympus'"):
        load_mapping(logs / "mapping.yaml", {"timezone": "Mars/Olympus"})


def test_the_mapping_vocabulary_is_the_contract_vocabulary():
    assert typing.get_args(EventType) == EVENT_TYPES


def test_import_logs_from_the_cli_with_a_mapping_file(logs: Path, tmp_path: Path):
    args = ["--data-dir", str(tmp_path / "d"), "import", "logs", str(logs / "events.csv")]
    result = runner.invoke(app, [*args, "--mapping", str(logs / "mapping.yaml")])
    assert result.exit_code == 0, result.output
    assert (
        "interactions" in result.output and "the source lacks: item_metadata, user_profiles" in result.output
    )
    manifest = json.loads((tmp_path / "d" / "raw" / "_manifest.json").read_text())
    assert manifest["source"] == "acme listening logs 2026-09" and manifest["traits"]["has_item_text"]


def test_import_logs_from_the_cli_with_flags_only(logs: Path, tmp_path: Path):
    args = ["--data-dir", str(tmp_path / "d"), "import", "logs", str(logs / "events.csv"), "--tz", "UTC"]
    args += ["--column", "user_id=listener", "--column", "item_id=show", "--column", "event_at=played_at"]
    args += ["--column", "event_type=action", "--event", "play=stream", "--event", "subscribe=follow"]
    args += ["--event", "sample=preview", "--event", "buy=intent_to_pay", "--ignore", "skip"]
    args += ["--content-type", "podcast", "--source", "acme [/] (flags)"]  # not Rich markup
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = read_manifest(tmp_path / "d" / "raw")
    assert manifest.source == "acme [/] (flags)" and manifest.content_types == ["podcast"]
    assert "acme [/] (flags)" in result.output
    assert manifest.window_start == datetime(2026, 9, 1, tzinfo=UTC)
    assert load_raw(tmp_path / "d" / "raw", ValidationConfig()).interactions.shape[0] == 6  # skip dropped


def test_import_logs_from_the_cli_with_one_event_type_for_every_row(logs: Path, tmp_path: Path):
    args = ["--data-dir", str(tmp_path / "d"), "import", "logs", str(logs / "events.csv"), "--tz", "UTC"]
    args += ["--column", "user_id=listener", "--column", "item_id=show", "--column", "event_at=played_at"]
    result = runner.invoke(app, [*args, "--event-type", "stream", "--content-type", "podcast"])
    assert result.exit_code == 0, result.output
    events = load_raw(tmp_path / "d" / "raw", ValidationConfig()).interactions
    assert set(events["event_type"]) == {"stream"} and len(events) == 7
    assert "weak_signals" in "".join(result.output.split())  # listed among what the source lacks


def test_import_logs_from_the_cli_reports_an_unmapped_value_without_a_traceback(logs: Path, tmp_path: Path):
    args = ["--data-dir", str(tmp_path / "d"), "import", "logs", str(logs / "events.csv"), "--tz", "UTC"]
    result = runner.invoke(app, [*args, "--column", "event_type=action", "--content-type", "podcast"])
    assert result.exit_code == 2
    squeezed = "".join(result.output.split())
    assert "column'action'" in squeezed and "'play'" in squeezed and "Traceback" not in result.output


def test_the_manifest_source_is_free_text_but_one_printable_line(tmp_path: Path):
    base = {"created_at": NOW, "window_start": datetime(2026, 9, 1, tzinfo=UTC), "window_end": NOW}
    base |= {"content_types": ["podcast"]}
    assert RawManifest.model_validate({**base, "source": "our logs, Q3"}).traits is None  # older batches
    for bad in ("", "two\nlines", "x" * 121):
        with pytest.raises(ValueError, match="source"):
            RawManifest.model_validate({**base, "source": bad})


def test_generated_batches_record_that_they_lack_nothing(small_raw: Path):
    traits = read_manifest(small_raw).traits
    assert traits is not None and all(traits.model_dump().values())


@pytest.mark.parametrize(("days", "eval_days"), [(6, 1), (27, 6), (56, 14), (400, 14)])
def test_short_logs_get_a_proportionate_evaluation_window(days: int, eval_days: int):
    split = default_split(days)
    assert split.eval_days == eval_days and split.train_days is None


def test_without_an_items_file_item_attributes_come_from_mapped_event_columns(tmp_path: Path):
    (tmp_path / "log.csv").write_text(
        "who,what,when,kind,name\n"
        "1,7,2026-09-01T10:00:00Z,podcast,Daily\n"
        "2,7,2026-09-02T10:00:00+02:00,podcast,Daily\n"
        "2,8,2026-09-03T10:00:00Z,audiobook,\n"
    )
    columns = {"user_id": "who", "item_id": "what", "event_at": "when"}
    overrides = {"events.columns": columns, "events.event_type": "stream"}  # a log of plays only
    overrides["items.columns"] = {"content_type": "kind", "title": "name"}
    mapping, base = load_mapping(None, overrides)
    import_logs([tmp_path / "log.csv"], mapping, tmp_path / "raw", base_dir=base)
    items = load_raw(tmp_path / "raw", ValidationConfig()).items.set_index("item_id")
    assert items.loc[7, "content_type"] == "podcast" and items.loc[7, "title"] == "Daily"
    assert items.loc[8, "content_type"] == "audiobook" and items.loc[8, "title"] == ""
    events = load_raw(tmp_path / "raw", ValidationConfig()).interactions
    assert events["event_at"].iloc[1] == pd.Timestamp("2026-09-02 08:00", tz="UTC")  # its offset kept
    assert set(events["event_type"]) == {"stream"}


def test_an_item_with_two_content_types_in_the_events_is_refused(tmp_path: Path):
    (tmp_path / "log.csv").write_text(
        "user_id,item_id,event_at,event_type,kind\n1,7,2026-09-01T10:00:00Z,stream,podcast\n"
        "2,7,2026-09-02T10:00:00Z,stream,audiobook\n"
    )
    mapping, base = load_mapping(None, {"items.columns": {"content_type": "kind"}})
    with pytest.raises(
        RawInputError, match=r"item 7 has more than one content type \['audiobook', 'podcast'\]"
    ):
        import_logs([tmp_path / "log.csv"], mapping, tmp_path / "raw", base_dir=base)

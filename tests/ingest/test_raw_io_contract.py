"""load_raw reads the contract into typed frames, refuses broken files, and write_landing round-trips."""

from __future__ import annotations

import json
import shutil

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fixtures.small_raw import FILE_CORRUPTIONS

from gfm.config import Config, ValidationConfig
from gfm.errors import RawInputError
from ingest.raw_io import load_raw, table_files, write_landing

CFG = ValidationConfig()


@pytest.fixture
def raw_copy(small_raw, tmp_path):
    """A private copy of the small batch that a test may break."""
    return shutil.copytree(small_raw, tmp_path / "raw")


def test_load_raw_gives_contract_dtypes(small_tables):
    ev, items, users = small_tables.interactions, small_tables.items, small_tables.users
    assert str(ev["user_id"].dtype) == "int64" and str(items["item_id"].dtype) == "int64"
    assert str(ev["ms_played"].dtype) == "int64"
    for ts in (ev["event_at"], items["published_at"], users["signup_at"]):
        assert str(ts.dtype) == "datetime64[ns, UTC]"
    for text in ("event_id", "event_type"):
        assert isinstance(ev[text].dtype, pd.StringDtype)
    assert list(ev.columns) == ["event_id", "user_id", "item_id", "event_at", "event_type", "ms_played"]
    assert "event_date" not in ev.columns  # hive partition keys are not contract columns


def test_write_landing_round_trips_in_contract_types(small_tables, tmp_path):
    landing = Config(data_dir=tmp_path).landing_dir
    counts = write_landing(small_tables, landing)
    assert counts == {name: len(df) for name, df in small_tables.as_dict().items()}
    assert sorted(p.name for p in landing.iterdir()) == [
        "interactions.parquet",
        "items.parquet",
        "users.parquet",
    ]
    schema = pq.read_schema(landing / "interactions.parquet")
    assert schema.field("event_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("user_id").type == pa.int64()
    back = pd.read_parquet(landing / "interactions.parquet")
    pd.testing.assert_series_equal(
        back["event_at"].astype("datetime64[ns, UTC]"),
        small_tables.interactions["event_at"],
        check_names=False,
    )
    con = duckdb.connect()
    kinds = dict(
        con.execute(f"describe select * from '{landing / 'users.parquet'}'").fetchall()[i][:2]
        for i in range(4)
    )
    assert kinds == {"user_id": "BIGINT", "country": "VARCHAR", "age_bucket": "VARCHAR",
                     "signup_at": "TIMESTAMP WITH TIME ZONE"}  # fmt: skip


def test_csv_and_parquet_tables_load_the_same(raw_copy, small_tables):
    for path in table_files(raw_copy / "users"):
        df = pd.read_parquet(path)
        df["signup_at"] = df["signup_at"].dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        df.to_csv(path.with_suffix(".csv"), index=False)
        path.unlink()
    loaded = load_raw(raw_copy, CFG)
    pd.testing.assert_frame_equal(loaded.users, small_tables.users)


def test_timestamps_without_zone_are_utc_and_offsets_are_converted(raw_copy):
    users_file = table_files(raw_copy / "users")[0]
    df = pd.read_parquet(users_file).head(2)
    csv = raw_copy / "users" / "extra.csv"
    csv.write_text(
        "user_id,country,age_bucket,signup_at\n9001,SE,18-24,2026-08-01T12:00:00+02:00\n9002,,25-34,2026-08-01 10:00:00\n"
    )
    df["signup_at"] = df["signup_at"].dt.tz_localize(None)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), users_file)
    users = load_raw(raw_copy, CFG).users.set_index("user_id")
    assert users.loc[9001, "signup_at"] == pd.Timestamp("2026-08-01T10:00:00Z")
    assert users.loc[9002, "signup_at"] == pd.Timestamp("2026-08-01T10:00:00Z")
    assert pd.isna(users.loc[9002, "country"])  # an empty CSV field is null, left for the GX gate
    assert users.loc[df["user_id"].iloc[0], "signup_at"].tzinfo is not None


def test_row_level_problems_pass_through_untouched(raw_copy):
    """Null keys and duplicate ids are the GX gate's job: load_raw keeps them as they are."""
    path = table_files(raw_copy / "interactions")[0]
    table = pq.read_table(path)
    users = table.column("user_id").to_pylist()
    users[0] = None
    table = table.set_column(1, "user_id", pa.array(users, pa.int64()))
    table = pa.concat_tables([table, table.slice(1, 2)])  # duplicate event ids (not the null row)
    pq.write_table(table, path)
    ev = load_raw(raw_copy, CFG).interactions
    assert str(ev["user_id"].dtype) == "Int64" and ev["user_id"].isna().sum() == 1
    assert ev["event_id"].duplicated().sum() == 2


@pytest.mark.parametrize("kind", sorted(FILE_CORRUPTIONS))
def test_broken_file_is_refused_naming_file_column_and_count(kind, raw_copy):
    broken = FILE_CORRUPTIONS[kind](raw_copy)
    with pytest.raises(RawInputError) as info:
        load_raw(raw_copy, CFG)
    err = info.value
    assert err.file == str(broken.file)
    assert err.column == broken.column
    assert err.count == broken.count
    assert str(broken.file) in str(err)


def test_wrong_type_error_quotes_the_bad_values(raw_copy):
    FILE_CORRUPTIONS["wrong_type"](raw_copy)
    with pytest.raises(RawInputError, match=r"3 values do not cast to BIGINT, e.g. 'n/a', '12s', 'abc'"):
        load_raw(raw_copy, CFG)


def test_text_limit_follows_the_config(raw_copy):
    with pytest.raises(RawInputError, match="longer than 40 characters") as info:
        load_raw(raw_copy, ValidationConfig(max_text_chars=40))
    assert info.value.column in {"title", "description"} and info.value.count > 0


def test_unparseable_timestamps_in_parquet_are_refused(raw_copy):
    path = table_files(raw_copy / "users")[0]
    df = pd.read_parquet(path)
    df["signup_at"] = df["signup_at"].astype(str)
    df.loc[df.index[:4], "signup_at"] = "yesterday"
    df.to_parquet(path, index=False)
    with pytest.raises(RawInputError, match="yesterday") as info:
        load_raw(raw_copy, CFG)
    assert (info.value.column, info.value.count) == ("signup_at", 4)


def test_malformed_csv_and_bad_manifest_are_refused(raw_copy):
    bad = raw_copy / "items" / "more.csv"
    bad.write_text("item_id,content_type\n1,podcast,extra\n")
    with pytest.raises(RawInputError, match="malformed CSV") as info:
        load_raw(raw_copy, CFG)
    assert info.value.file == str(bad)
    bad.unlink()
    manifest = raw_copy / "_manifest.json"
    data = json.loads(manifest.read_text())
    data["window_end"] = data["window_start"]
    manifest.write_text(json.dumps(data))
    with pytest.raises(RawInputError, match="invalid manifest"):
        load_raw(raw_copy, CFG)


def test_missing_raw_folder_is_refused(tmp_path):
    with pytest.raises(RawInputError, match="raw folder not found"):
        load_raw(tmp_path / "nowhere", CFG)


def _items_csv(raw_copy, rows: list[str]):
    """Replace the items table by a CSV with the contract header and the given data rows."""
    for path in table_files(raw_copy / "items"):
        path.unlink()
    header = "item_id,content_type,title,description,language,genre,creator_id,published_at"
    path = raw_copy / "items" / "items.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


_ROW = "{id},podcast,{title},About,en,news,c1,2026-01-01T00:00:00Z"


def test_csv_quotes_escaped_by_doubling_and_quoted_newlines_are_read_exactly(raw_copy):
    _items_csv(raw_copy, [_ROW.format(id=1, title='"The ""Best"" Show"'),
                          _ROW.format(id=2, title='"two\nlines, and a comma"'),
                          _ROW.format(id=3, title='""')])  # fmt: skip
    items = load_raw(raw_copy, CFG).items.set_index("item_id")
    assert items.loc[1, "title"] == 'The "Best" Show'
    assert items.loc[2, "title"] == "two\nlines, and a comma"
    assert items.loc[3, "title"] == ""


@pytest.mark.parametrize(
    "title",
    ['"The "Best" Show"', 'The "Best" Show', '"The Best" Show', '"unclosed'],
    ids=["unescaped_inner_quotes", "quote_in_unquoted_field", "text_after_closing_quote", "unclosed_quote"],
)
def test_badly_quoted_csv_is_refused_naming_column_row_and_count(raw_copy, title):
    good = _ROW.format(id=1, title="fine")
    path = _items_csv(raw_copy, [good, _ROW.format(id=2, title=title), good.replace("1,", "3,", 1)])
    with pytest.raises(RawInputError, match="badly quoted field") as info:
        load_raw(raw_copy, CFG)
    assert (info.value.file, info.value.column, info.value.count) == (str(path), "title", 1)
    assert "data row 2" in str(info.value)


def test_a_csv_with_a_byte_order_mark_reads_like_one_without(raw_copy):
    path = _items_csv(raw_copy, [_ROW.format(id=1, title='"a ""b"""')])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_raw(raw_copy, CFG).items["title"].tolist() == ['a "b"']


@pytest.mark.parametrize(
    ("text", "ok"),
    [("9223372036854775807", True), ("-9223372036854775808", True), ("0009223372036854775807", False),
     ("9223372036854775808", False), ("-9223372036854775809", False), ("99999999999999999999", False)],
)  # fmt: skip
def test_text_ids_use_the_whole_int64_range_and_nothing_beyond(raw_copy, text, ok):
    _items_csv(raw_copy, [_ROW.format(id=text, title="x")])
    if ok:
        assert load_raw(raw_copy, CFG).items["item_id"].tolist() == [int(text)]
        return
    with pytest.raises(RawInputError, match="do not cast to BIGINT") as info:
        load_raw(raw_copy, CFG)
    assert (info.value.column, info.value.count) == ("item_id", 1)


def test_uint64_ids_beyond_int64_are_refused_not_crashed(raw_copy):
    path = table_files(raw_copy / "items")[0]
    table = pq.read_table(path)
    ids = pa.array([2**63 + 1, *table.column("item_id").to_pylist()[1:]], pa.uint64())
    pq.write_table(table.set_column(0, "item_id", ids), path)
    with pytest.raises(RawInputError, match="9223372036854775809") as info:
        load_raw(raw_copy, CFG)
    assert (info.value.column, info.value.count) == ("item_id", 1)

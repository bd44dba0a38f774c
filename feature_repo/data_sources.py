"""Sources: one Parquet file per dbt mart (``<data_dir>/marts/<mart>.parquet``), read by DuckDB or Spark."""

from feature_repo.store.definitions import mart_sources
from gfm.config import Config

_cfg = Config.load()
_sources = mart_sources(_cfg.marts_dir, _cfg.features.offline_store)

# dim_users: country and age bucket, timestamped by signup
dim_users_source = _sources["user_profile"]
# dim_items: content type, language, genre, creator, timestamped by publication
dim_items_source = _sources["item_profile"]
# user_features_daily: one row per user and day (90-day rolling counts)
user_features_daily_source = _sources["user_activity"]
# item_features_daily: one row per item and day (popularity, listeners, age)
item_features_daily_source = _sources["item_stats"]

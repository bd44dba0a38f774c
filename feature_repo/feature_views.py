"""Feature views: the mart-backed views, then one view per published embedding version.

Fields are generated from the Parquet schemas (the per-content-type columns of
user_features_daily depend on the data). Published embedding views
(``hgnn_item_embeddings_<version>``, ``two_tower_{item,user}_embeddings_<version>``,
``item_text_embedding``) and their ``embeddings_<version>`` services come from the publish
catalog under ``<data_dir>/feast/published``.
"""

import data_sources
import entities

from feature_repo.store.definitions import core_feature_views
from feature_repo.store.repo import published_objects
from gfm.config import Config

_cfg = Config.load()
_ents = {"user": entities.user, "item": entities.item}
_sources = {
    "user_profile": data_sources.dim_users_source,
    "item_profile": data_sources.dim_items_source,
    "user_activity": data_sources.user_features_daily_source,
    "item_stats": data_sources.item_features_daily_source,
}
_core = {v.name: v for v in core_feature_views(_cfg.marts_dir, _cfg.features.ttl_days, _sources, _ents)}

# who a user is (country, age bucket); no TTL
user_profile = _core["user_profile"]
# what an item is (content type, language, genre, creator); no TTL
item_profile = _core["item_profile"]
# rolling 90-day stream counts per content type and weak-signal counts; TTL = features.ttl_days
user_activity = _core["user_activity"]
# popularity, listeners per day, age; TTL = features.ttl_days
item_stats = _core["item_stats"]

# one view per published (model, entity, version), plus embeddings_<version> services
published = published_objects(_cfg, ents=_ents)
# Feast collects module-level objects only, so each one gets its own global name
globals().update({obj.name: obj for obj in published})

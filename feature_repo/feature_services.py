"""Feature services: each groups features into a model version (its inputs or its outputs).

``embeddings_<version>`` (outputs) are built beside the embedding views in feature_views.py; here:
``two_tower_training_<version>`` (inputs: the mart views plus the HGNN version it consumed),
``item_embeddings_<version>`` / ``user_embeddings_<version>`` (one entity each, for pinning) and
``item_embeddings`` / ``user_embeddings`` (the live version of the release record).
"""

import feature_views
from feast import FeatureView

from feature_repo.store.catalog import read_catalog
from feature_repo.store.repo import training_objects
from feature_repo.store.services import entity_services
from gfm.config import Config
from gfm.releases import read_record

_cfg = Config.load()
_core = [
    feature_views.user_profile,
    feature_views.item_profile,
    feature_views.user_activity,
    feature_views.item_stats,
]
_views = {obj.name: obj for obj in feature_views.published}
_embedding_views = [v for v in _views.values() if "entity" in v.tags and v.tags.get("model") != "text"]
_by_version: dict[str, list[FeatureView]] = {}
for _view in _embedding_views:
    _by_version.setdefault(_view.tags["version"], []).append(_view)

# two_tower_training_<version> for every published two-tower version
training = training_objects(_cfg, _core, views=_views)
# item_embeddings_<version> / user_embeddings_<version> for every published version
per_entity = [s for version, views in sorted(_by_version.items()) for s in entity_services(views, version)]
# item_embeddings / user_embeddings: the live version (the catalog's pointer before any release record)
_live = read_record(_cfg.data_dir).live or read_catalog(_cfg.feast_dir).current.get("two_tower")
stable = entity_services(_by_version.get(_live, []), _live, stable=True) if _live else []
# Feast collects module-level objects only, so each one gets its own global name
globals().update({obj.name: obj for obj in [*training, *per_entity, *stable]})

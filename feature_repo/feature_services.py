"""Feature services: each groups features into a model version (its inputs or its outputs).

``embeddings_<version>`` (outputs) are built beside the embedding views in feature_views.py;
``two_tower_training_<version>`` (inputs: the mart views plus the HGNN version it consumed) here.
"""

import feature_views

from feature_repo.store.repo import training_objects
from gfm.config import Config

_core = [
    feature_views.user_profile,
    feature_views.item_profile,
    feature_views.user_activity,
    feature_views.item_stats,
]
_views = {obj.name: obj for obj in feature_views.published}

# two_tower_training_<version> for every published two-tower version
training = training_objects(Config.load(), _core, views=_views)
# Feast collects module-level objects only, so each one gets its own global name
globals().update({obj.name: obj for obj in training})

"""Entities: what features describe. Their join keys are the dbt keys (BIGINT).

Definitions live in feature_repo.store.definitions (functions of the configured paths); these modules
expose them as module-level objects for the `feast` CLI. Paths come from gfm.config
(GFM_DATA_DIR / GFM_CONFIG), never from this folder.
"""

from feature_repo.store.definitions import entities

_entities = entities()

# a listener, joined on user_id
user = _entities["user"]
# a podcast, audiobook or other content item, joined on item_id
item = _entities["item"]

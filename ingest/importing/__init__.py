"""``gfm import logs``: someone's own Parquet/CSV logs, mapped into the raw log contract.

Public API::

    load_mapping(path, overrides) -> (Mapping, base_dir)   the YAML mapping plus CLI overrides
    import_logs(paths, mapping, raw_dir, base_dir=...)     write raw/ atomically; row counts
"""

from ingest.importing.build import import_logs
from ingest.importing.mapping import Mapping, load_mapping

__all__ = ["Mapping", "import_logs", "load_mapping"]

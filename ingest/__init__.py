"""Raw data in: the raw log contract as code, the synthetic generator and the importers.

Public API (everything else is private to the package)::

    load_raw(raw_dir, cfg) -> RawTables          file-level contract checks, typed DataFrames
    read_manifest(raw_dir) -> RawManifest        raw/_manifest.json
    write_landing(tables, landing_dir) -> counts warehouse/landing/*.parquet for dbt
    generate(cfg, raw_dir) -> counts             gfm generate
    import_movielens(src, raw_dir) -> counts     gfm import movielens
    import_lightgcn(src, raw_dir) -> counts      gfm import lightgcn
    load_mapping(path, overrides) -> (Mapping, base_dir)         gfm import logs: the YAML mapping
    import_logs(paths, mapping, raw_dir, base_dir=...) -> counts gfm import logs
"""

from ingest.generate import generate
from ingest.importing import Mapping, import_logs, load_mapping
from ingest.lightgcn import import_lightgcn
from ingest.manifest import RawManifest, SourceTraits, SuggestedSplit, read_manifest
from ingest.movielens import import_movielens
from ingest.raw_io import RawTables, load_raw, write_landing

__all__ = [
    "Mapping",
    "RawManifest",
    "RawTables",
    "SourceTraits",
    "SuggestedSplit",
    "generate",
    "import_lightgcn",
    "import_logs",
    "import_movielens",
    "load_mapping",
    "load_raw",
    "read_manifest",
    "write_landing",
]

"""The warehouse stage: dbt over DuckDB, gated and promoted (``gfm transform``).

Public API:
    run_transform(cfg) -> TransformResult   build, test, gate and promote the marts
    dbt_docs(cfg) -> Path                    generate the dbt docs site of the promoted warehouse
    MARTS                                    the marts and their keys (docs/contracts.md, section 2)
"""

from warehouse.dbt_vars import SplitBoundaries, compute_split
from warehouse.promote import MARTS
from warehouse.transform import TransformResult, dbt_docs, run_transform

__all__ = ["MARTS", "SplitBoundaries", "TransformResult", "compute_split", "dbt_docs", "run_transform"]

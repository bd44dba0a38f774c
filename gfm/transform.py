"""``gfm transform``'s library entry points; the implementation lives in :mod:`gfm.warehouse`."""

from gfm.warehouse import MARTS, SplitBoundaries, TransformResult, dbt_docs, run_transform

__all__ = ["MARTS", "SplitBoundaries", "TransformResult", "dbt_docs", "run_transform"]

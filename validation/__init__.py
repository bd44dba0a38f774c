"""Great Expectations gates: one entry point per stage (raw logs, dbt marts, exported embeddings).

- ``gates``: ``run_raw_gate``, ``run_marts_gate``, ``run_embeddings_gate`` (the public API).
- ``raw_suite`` / ``marts_suite`` / ``embeddings_suite``: each stage's data and expectations.
- ``engine``: the one cached GX context; runs suites on pandas batches, builds Data Docs.
- ``expectations``: the custom dtype expectation and the ``expect`` builder.
- ``results``: ``GateResult`` and ``GateFailed`` (pure Python, no GX import).

Importing this package is cheap: Great Expectations (3-5 s) is imported when a gate first runs.
"""

from validation.gates import run_embeddings_gate, run_marts_gate, run_raw_gate
from validation.results import ExpectationOutcome, GateFailed, GateResult

__all__ = [
    "ExpectationOutcome",
    "GateFailed",
    "GateResult",
    "run_embeddings_gate",
    "run_marts_gate",
    "run_raw_gate",
]

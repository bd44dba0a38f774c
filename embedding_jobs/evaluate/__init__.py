"""Offline evaluation with the seed's protocol (arXiv 2403.05185): metrics, baselines, report."""

from embedding_jobs.evaluate.run import evaluate, report_dir

__all__ = ["evaluate", "report_dir"]

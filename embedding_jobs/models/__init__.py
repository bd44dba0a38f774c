"""Models of the embedding jobs (each file holds layers and model, never a training loop)."""

from embedding_jobs.models.hgnn import HGNN, HeteroSAGEConv, HGNNSpec

__all__ = ["HGNN", "HGNNSpec", "HeteroSAGEConv"]

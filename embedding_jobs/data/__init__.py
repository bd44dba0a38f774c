"""Graph building and sampling for the embedding jobs."""

from embedding_jobs.data.graph import EdgeType, HeteroGraph, build_graph, edge_type_key, graph_from_frames
from embedding_jobs.data.link_sampler import LinkBatch, LinkSampler
from embedding_jobs.data.sampler import CSR, Block, NeighborSampler, all_neighbors, sample_neighbors

__all__ = [
    "CSR",
    "Block",
    "EdgeType",
    "HeteroGraph",
    "LinkBatch",
    "LinkSampler",
    "NeighborSampler",
    "all_neighbors",
    "build_graph",
    "edge_type_key",
    "graph_from_frames",
    "sample_neighbors",
]

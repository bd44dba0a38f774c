"""embedding_jobs package."""

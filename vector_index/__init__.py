"""vector_index package."""

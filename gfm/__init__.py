"""gfm: graph foundation models for personalization, as a shared platform."""

__version__ = "0.1.0"

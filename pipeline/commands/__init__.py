"""CLI command groups, one module per stage. Modules here import only light packages at top level."""

"""Workshop mode: starters, checks and hints for each step (see manifest.toml)."""

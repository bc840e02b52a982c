"""Judging change between versions: `compare` (two specs or reports) and `bisect` (releases)."""

"""The Customer aggregate (pure: no I/O)."""

"""The `bondedzone` command line."""

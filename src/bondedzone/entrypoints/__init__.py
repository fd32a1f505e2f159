"""Entrypoints: HTTP API, CLI."""

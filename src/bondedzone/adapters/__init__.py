"""Adapters: storage and other I/O around the services."""

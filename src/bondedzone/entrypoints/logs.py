"""Structured logs (structlog): console for people, JSON lines for collectors."""

from __future__ import annotations

import logging

import structlog


def configure(level: str = "INFO", fmt: str = "console") -> None:
    """Configure structlog and the standard library root logger once per process."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=getattr(logging, level), format="%(message)s")

"""Engines that run the W2 comparison (:mod:`bondedzone.domain.rules.w2_comparison`): DuckDB, Spark."""

"""The customs model of the zone.

Nothing in this package performs I/O or reads a clock: values and rules only. Adapters and
services pass in whatever the rules need (balances, the current time, the chain head).
"""

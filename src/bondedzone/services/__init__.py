"""Use cases: one function per thing a user does, each taking a unit of work.

A service raises :class:`~bondedzone.domain.errors.BzError` to refuse; the unit of work then
rolls back, so a refusal changes nothing.
"""

"""The API's short-lived cache of authenticated tokens (entrypoints/api/deps.py)."""

from __future__ import annotations

from bondedzone.entrypoints.api.deps import TokenCache
from bondedzone.services.authz import Principal, Role

P = Principal(Role.CUSTOMS, None, "token:1")
Q = Principal(Role.AUDITOR, None, "token:2")


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_token_is_reused_for_ttl_seconds_from_its_lookup_then_looked_up_again() -> None:
    clock = FakeClock()
    cache = TokenCache(2.0, clock=clock)
    assert cache.get("bz_a") is None
    cache.put("bz_a", P, clock())
    clock.t += 1.9
    assert cache.get("bz_a") == P  # use does not renew it
    clock.t += 0.1
    assert cache.get("bz_a") is None
    assert cache.get("bz_b") is None


def test_expiry_counts_from_before_the_lookup_not_from_when_it_answered() -> None:
    clock = FakeClock()
    cache = TokenCache(2.0, clock=clock)
    started = clock()
    clock.t += 1.5  # a slow lookup
    cache.put("bz_a", P, started)
    clock.t += 0.5
    assert cache.get("bz_a") is None


def test_ttl_zero_keeps_nothing() -> None:
    cache = TokenCache(0)
    cache.put("bz_a", P, cache.now())
    assert cache.get("bz_a") is None


def test_keys_are_hashes_and_a_full_cache_starts_over() -> None:
    clock = FakeClock()
    cache = TokenCache(5.0, max_entries=2, clock=clock)
    cache.put("bz_a", P, clock())
    cache.put("bz_b", Q, clock())
    assert all(isinstance(k, bytes) and len(k) == 32 for k in cache._entries)
    assert "bz_a" not in repr(cache._entries)
    cache.put("bz_c", Q, clock())
    assert cache.get("bz_a") is None and cache.get("bz_c") == Q
    cache.clear()
    assert cache.get("bz_c") is None

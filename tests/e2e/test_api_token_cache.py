"""Revoking a token while the API caches authenticated tokens for a few seconds (BONDEDZONE_TOKEN_CACHE_SECONDS)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from bondedzone import bootstrap
from bondedzone.adapters.db import tables
from bondedzone.config import Settings
from bondedzone.entrypoints.api.app import create_app
from bondedzone.entrypoints.api.deps import TokenCache
from tests import factories as f


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _revoke_owner(zone: f.Zone) -> None:
    with zone.container.engine.begin() as conn:
        conn.execute(update(tables.api_tokens).where(tables.api_tokens.c.uscc == f.OWNER_USCC).values(revoked=True))


def test_a_revoked_token_is_refused_once_its_cache_entry_expires(zone: f.Zone) -> None:
    clock = FakeClock()
    app = create_app(zone.container)
    app.state.token_cache = TokenCache(2.0, clock=clock)
    with TestClient(app) as client:
        owner = zone.headers("owner")
        assert client.get("/api/v1/books", headers=owner).status_code == 200
        _revoke_owner(zone)
        # whoami always reads the token table: it answers for the token as it is now.
        assert client.get("/api/v1/whoami", headers=owner).status_code == 401
        # Other routes may reuse the authentication for at most the configured seconds ...
        clock.t += 1.9
        assert client.get("/api/v1/books", headers=owner).status_code == 200
        # ... and then read the table again.
        clock.t += 0.1
        resp = client.get("/api/v1/books", headers=owner)
        assert resp.status_code == 401
        assert resp.json()["code"] == "BZ-AUTH-INVALID"
        assert client.get("/api/v1/books", headers=zone.headers("stranger")).status_code == 200


@pytest.fixture
def uncached_client(zone: f.Zone, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("BONDEDZONE_TOKEN_CACHE_SECONDS", "0")
    c = bootstrap.build(Settings(database_url=zone.container.settings.database_url, load_demo=False))
    with TestClient(create_app(c)) as tc:
        yield tc
    c.engine.dispose()


def test_with_the_cache_off_revocation_takes_effect_at_once(uncached_client: TestClient, zone: f.Zone) -> None:
    owner = zone.headers("owner")
    assert uncached_client.get("/api/v1/books", headers=owner).status_code == 200
    _revoke_owner(zone)
    assert uncached_client.get("/api/v1/books", headers=owner).status_code == 401


def test_only_successful_authentications_are_cached(zone: f.Zone) -> None:
    app = create_app(zone.container)
    with TestClient(app) as client:
        assert client.get("/api/v1/books", headers={"Authorization": "Bearer bz_not-a-token"}).status_code == 401
        assert client.get("/api/v1/books").status_code == 401
        assert app.state.token_cache._entries == {}
        assert client.get("/api/v1/books", headers=zone.headers("owner")).status_code == 200
        assert len(app.state.token_cache._entries) == 1

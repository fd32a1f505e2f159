"""The operator's CLI on a temporary SQLite database: schema, tokens, the demo zone, the audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import inspect
from typer.testing import CliRunner

from bondedzone import bootstrap
from bondedzone.adapters.db import tables
from bondedzone.config import Settings
from bondedzone.entrypoints.cli import demo
from bondedzone.entrypoints.cli.main import app
from bondedzone.services import registry, tokens
from bondedzone.services.authz import Role
from tests import factories as f

runner = CliRunner()


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    u = f"sqlite:///{tmp_path / 'cli' / 'bz.db'}"  # the directory does not exist yet
    monkeypatch.setenv("BONDEDZONE_DATABASE_URL", u)
    return u


@pytest.fixture
def container(url: str) -> Iterator[bootstrap.Container]:
    bootstrap.migrate(url)
    c = bootstrap.build(Settings(database_url=url))
    yield c
    c.engine.dispose()


def run(*args: str) -> tuple[int, str]:
    result: Result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, " ".join(result.output.split())


def principal_of(c: bootstrap.Container, token: str) -> tuple[str, str | None]:
    with c.uow(write=False) as uow:
        p = tokens.authenticate(uow, token)
    return p.role.value, p.uscc


def test_db_upgrade_creates_the_schema_and_is_idempotent(url: str) -> None:
    code, out = run("db", "upgrade")
    assert code == 0, out
    assert "schema up to date" in out
    engine = bootstrap.make_engine(url)
    try:
        names = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {tb.name for tb in tables.metadata.sorted_tables} <= names
    assert "alembic_version" in names
    assert run("db", "upgrade")[0] == 0


@pytest.mark.parametrize("role", ["customs", "gate", "zone_admin", "bank", "auditor"])
def test_token_create_for_each_role(container: bootstrap.Container, role: str) -> None:
    code, out = run("token", "create", "--role", role, "--label", f"test {role}")
    assert code == 0, out
    assert out.startswith("bz_") and " " not in out
    assert principal_of(container, out) == (role, None)


def test_token_create_for_an_enterprise_needs_its_registered_uscc(container: bootstrap.Container) -> None:
    with container.uow() as uow:
        registry.register_enterprise(
            uow, f.CUSTOMS, registry.RegisterEnterprise(f.OWNER_USCC, "5301340001", "测试企业", "aeo_advanced")
        )
        uow.commit()
    code, out = run("token", "create", "--role", "enterprise", "--uscc", f.OWNER_USCC)
    assert code == 0, out
    assert principal_of(container, out) == ("enterprise", f.OWNER_USCC)

    code, out = run("token", "create", "--role", "enterprise")
    assert code == 2 and "BZ-ROLE-INVALID" in out and "--uscc" in out

    code, out = run("token", "create", "--role", "enterprise", "--uscc", f.STRANGER_USCC)
    assert code == 2 and "BZ-ENTERPRISE-NOT-FOUND" in out and f.STRANGER_USCC in out

    code, out = run("token", "create", "--role", "enterprise", "--uscc", f.OWNER_USCC[:-1] + "0")
    assert code == 2 and "BZ-USCC-INVALID" in out


def test_token_create_refuses_a_bad_role(url: str) -> None:
    code, out = run("token", "create", "--role", "superuser")
    assert code == 2
    assert "BZ-ROLE-INVALID" in out
    assert all(r.value in out for r in Role)  # the message lists the roles it accepts
    assert "角色" in out  # and says so in Chinese too


def test_token_create_refuses_a_uscc_on_a_non_enterprise_role(url: str) -> None:
    code, out = run("token", "create", "--role", "customs", "--uscc", f.OWNER_USCC)
    assert (code, "BZ-ROLE-INVALID" in out) == (2, True)


def test_demo_load_then_audit_verify(url: str) -> None:
    code, out = run("demo", "load")
    assert code == 0, out
    assert "demo zone loaded" in out
    counts = {"enterprises": len(demo.ENTERPRISES), "books": len(demo.BOOKS), "lists": len(demo.LISTS), "conversions": 1}
    assert all(f"'{k}': {n}" in out for k, n in counts.items()), out

    code, out = run("audit", "verify")
    assert code == 0, out
    assert f"OK {len(demo.BOOKS)} books" in out

    code, out = run("demo", "load")  # a second load does nothing
    assert code == 0 and "database is not empty" in out
    code, out = run("demo", "load", "--force")  # and a forced one is refused as a whole
    assert code == 2 and "BZ-ENTERPRISE-DUPLICATE" in out
    assert run("audit", "verify")[0] == 0


def test_audit_verify_on_an_empty_database(url: str) -> None:
    assert run("db", "upgrade")[0] == 0
    code, out = run("audit", "verify")
    assert code == 0 and "OK 0 books, 0 links verified" in out

"""Shared pieces of the benchmarks: databases, a synthetic zone, declared lists, the bare tables, machine info.

Everything that is not the thing being measured happens here, before the clock starts.
"""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    UniqueConstraint,
    create_engine,
    text,
)

from bondedzone import bootstrap
from bondedzone.adapters.db import tables as t
from bondedzone.config import Settings
from bondedzone.domain.model import BookItem, InvtLineInput
from bondedzone.entrypoints.cli.demo import make_uscc
from bondedzone.services import audit, invts, registry
from bondedzone.services.authz import Principal, Role

PG_URL = os.environ.get("BONDEDZONE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
CUSTOMS = Principal(Role.CUSTOMS, None, "bench:customs")
RESULTS = Path(__file__).parent / "results"
# The units the factory's items are kept in; quantities are decimal strings, never floats.
UNIT = "001"
HS = "8471300000"


def _admin_engine() -> Engine:
    return create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), connect_args={"connect_timeout": 3})


def pg_problem() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        eng = _admin_engine()
        with eng.connect() as c:
            c.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as e:
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@contextmanager
def database(engine: str) -> Iterator[str]:
    """A freshly migrated database on ``engine`` ("sqlite": a temp file; "postgresql": a fresh schema), removed after."""
    if engine == "sqlite":
        d = tempfile.mkdtemp(prefix="bzbench-")
        url = f"sqlite:///{d}/bench.db"
        try:
            bootstrap.migrate(url)
            yield url
        finally:
            shutil.rmtree(d, ignore_errors=True)
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    eng = _admin_engine()
    with eng.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = pg_schema_url(schema)
        bootstrap.migrate(url)
        yield url
    finally:
        with eng.begin() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        eng.dispose()


def container(url: str, *, pool_size: int = 10) -> bootstrap.Container:
    return bootstrap.build(Settings(database_url=url, load_demo=False, pool_size=pool_size))


def book_no(n: int) -> str:
    return f"T5301W{n:06d}"


def setup_zone(c: bootstrap.Container, items_per_book: Sequence[int]) -> list[str]:
    """One enterprise inside the fence with one logistics book per entry of ``items_per_book``, of that many items.

    Enterprise and books go through the services; the items are validated by the domain
    (:meth:`BookItem.record`) and inserted in one batch, since adding 10,000 items one request at
    a time is not what is measured here.
    """
    owner = make_uscc("MA6B00001")
    putrec = [book_no(n) for n in range(1, len(items_per_book) + 1)]
    with c.uow() as uow:
        registry.register_enterprise(uow, CUSTOMS, registry.RegisterEnterprise(owner, "5301340001", "基准测试企业", "ordinary"))
        for no in putrec:
            registry.open_book(uow, CUSTOMS, registry.OpenBook(no, "logistics", owner, "5301"))
        uow.commit()
    with c.uow() as uow:
        for no, n_items in zip(putrec, items_per_book, strict=True):
            rec = uow.books.get(no)
            assert rec is not None
            rows = []
            for seq in range(1, n_items + 1):
                it = BookItem.record(putrec_seqno=seq, gds_mtno=f"MT-{seq:06d}", gdecd=HS, gds_nm=f"商品{seq}", dcl_unitcd=UNIT)
                rows.append(
                    {
                        "book_id": rec.id,
                        "putrec_seqno": it.putrec_seqno,
                        "gds_mtno": it.gds_mtno,
                        "gdecd": it.gdecd,
                        "gds_nm": it.gds_nm,
                        "dcl_unitcd": it.dcl_unitcd,
                    }
                )
            uow.connection.execute(t.book_items.insert(), rows)
        uow.commit()
    return putrec


def declare_lists(
    c: bootstrap.Container, book: str, specs: Sequence[Sequence[tuple[int, str]]], *, prefix: str, per_tx: int = 20
) -> list[int]:
    """Create and declare one import (核增) list per spec through the services; returns their ids in order."""
    ids: list[int] = []
    for start in range(0, len(specs), per_tx):
        with c.uow() as uow:
            for n, spec in enumerate(specs[start : start + per_tx], start=start):
                lines = [InvtLineInput(i, seq, q, UNIT) for i, (seq, q) in enumerate(spec, start=1)]
                cmd = invts.CreateInvt(
                    etps_inner_invt_no=f"{prefix}-{n:06d}",
                    putrec_no=book,
                    impexp_markcd="I",
                    supv_modecd="5034",
                    flow="first_line",
                    lines=lines,
                )
                invt = invts.create_invt(uow, CUSTOMS, cmd)
                invts.declare_invt(uow, CUSTOMS, invt.id)
                ids.append(invt.id)
            uow.commit()
    return ids


def audit_ok(c: bootstrap.Container) -> bool:
    """After a run (not timed): every chain verifies and every balance equals the sum of its postings."""
    with c.uow(write=False) as uow:
        report = audit.verify_all(uow, CUSTOMS)
    if not report.ok:
        print(f"  !! audit found {len(report.findings)} problems, first: {report.first_broken}")
    return report.ok


def spread_spec(n_lines: int, n_items: int, offset: int) -> list[tuple[int, str]]:
    """``n_lines`` lines on consecutive items starting at ``offset`` (wrapping), quantities with decimals."""
    return [(((offset + i) % n_items) + 1, f"{(i % 97) + 1}.{i % 100:02d}") for i in range(n_lines)]


def bare_table(metadata: MetaData, name: str) -> Table:
    """A table with exactly the columns, keys, unique constraints, index and foreign key of ``postings``."""
    cols = t.postings.c
    Id = BigInteger().with_variant(Integer(), "sqlite")
    table = Table(
        name,
        metadata,
        Column("id", Id, primary_key=True, autoincrement=True),
        Column("book_id", Id, ForeignKey(t.books.c.id), nullable=False),
        *(Column(c.name, c.type, nullable=c.nullable) for c in cols if c.name not in ("id", "book_id")),
        UniqueConstraint("doc_type", "doc_id", "doc_line", "leg", name=f"uq_{name}_doc_line"),
        UniqueConstraint("book_id", "chain_seq", name=f"uq_{name}_chain"),
        Index(f"ix_{name}_balance", "book_id", "putrec_seqno", "stock_status"),
    )
    return table


def _shape(table: Table) -> tuple[Any, ...]:
    return (
        [(c.name, str(c.type), c.nullable, c.primary_key) for c in table.columns],
        sorted(tuple(c.name for c in u.columns) for u in table.constraints if isinstance(u, UniqueConstraint)),
        sorted(tuple(c.name for c in i.columns) for i in table.indexes),
        sorted(fk.target_fullname for fk in table.foreign_keys),
    )


def assert_same_shape(bare: Table) -> None:
    """Refuse to run against a baseline table that drifted from ``postings``."""
    if _shape(bare) != _shape(t.postings):
        raise AssertionError(f"bare table {bare.name} does not have the shape of postings")


def percentile(xs: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def _pg_version() -> str | None:
    try:
        eng = _admin_engine()
        with eng.connect() as c:
            v = c.execute(text("show server_version")).scalar_one()
            sync = c.execute(text("show synchronous_commit")).scalar_one()
            fsync = c.execute(text("show fsync")).scalar_one()
        eng.dispose()
        return f"{v} (fsync={fsync}, synchronous_commit={sync})"
    except Exception:
        return None


def machine_info() -> dict[str, Any]:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    here = Path(__file__).parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False, cwd=here)
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, check=False, cwd=here)
        commit_id = commit.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")
    except OSError:
        commit_id = ""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": _pg_version(),
        "git_commit": commit_id,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }

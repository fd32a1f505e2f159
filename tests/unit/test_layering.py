"""The domain does no I/O, reads no clock and knows no framework (STYLE.md layering; beancount-style)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bondedzone.domain

DOMAIN = Path(bondedzone.domain.__file__).parent
MODULES = sorted(DOMAIN.rglob("*.py"))

FORBIDDEN_IMPORTS = {
    # I/O, processes, network, environment
    "os", "sys", "io", "pathlib", "shutil", "tempfile", "glob", "socket", "ssl", "select", "subprocess",
    "multiprocessing", "threading", "asyncio", "signal", "urllib", "http", "ftplib", "smtplib", "sqlite3",
    "logging", "pickle", "shelve", "csv", "importlib",
    # clocks and randomness: the caller passes time in
    "time", "random", "secrets", "uuid",
    # frameworks and adapters
    "sqlalchemy", "alembic", "psycopg", "fastapi", "starlette", "pydantic", "pydantic_settings", "httpx",
    "requests", "typer", "click", "rich", "structlog", "uvicorn",
    # outer layers of this package
    "bondedzone.services", "bondedzone.adapters", "bondedzone.entrypoints", "bondedzone.bootstrap", "bondedzone.config",
}  # fmt: skip

# What the domain may import at all; anything new must be added here on purpose.
ALLOWED_IMPORTS = {
    "__future__", "abc", "collections", "dataclasses", "decimal", "enum", "functools", "hashlib", "itertools", "json",
    "math", "operator", "re", "string", "typing", "datetime", "stdnum", "unicodedata", "bondedzone.domain",
}  # fmt: skip

FORBIDDEN_CALLS = {"open", "print", "input", "eval", "exec", "compile", "__import__", "breakpoint"}
CLOCK_METHODS = {"now", "utcnow", "today", "fromtimestamp", "utcfromtimestamp", "time", "monotonic", "perf_counter"}


def _matches(module: str, names: set[str]) -> bool:
    return any(module == n or module.startswith(n + ".") for n in names)


def violations(source: str, filename: str = "<src>") -> list[str]:
    """Every import or call in ``source`` that the domain must not make."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: stays inside the domain package
                continue
            modules = [node.module or ""]
        for m in modules:
            if _matches(m, FORBIDDEN_IMPORTS):
                found.append(f"{filename}:{node.lineno} imports {m}")
            elif not _matches(m, ALLOWED_IMPORTS):
                found.append(f"{filename}:{node.lineno} imports {m}, which is not on the domain's allowed list")
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in FORBIDDEN_CALLS:
                found.append(f"{filename}:{node.lineno} calls {f.id}()")
            if isinstance(f, ast.Attribute) and f.attr in CLOCK_METHODS:
                found.append(f"{filename}:{node.lineno} reads a clock ({ast.unparse(f)}())")
    return found


def test_the_domain_has_modules_to_check() -> None:
    names = {p.relative_to(DOMAIN).as_posix() for p in MODULES}
    assert {"values.py", "errors.py", "model.py", "ledger.py", "chain.py", "rules/m9_status_conversion.py"} <= names


@pytest.mark.parametrize("path", MODULES, ids=[p.relative_to(DOMAIN).as_posix() for p in MODULES])
def test_domain_module_does_no_io_and_knows_no_framework(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8"), path.name) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "import os",
        "import os.path",
        "from pathlib import Path",
        "import socket",
        "from sqlalchemy import select",
        "import fastapi",
        "from pydantic import BaseModel",
        "from bondedzone.services import audit",
        "from bondedzone.adapters.db import uow",
        "import bondedzone.config",
        "import time",
        "import toml",
        "from datetime import datetime\nx = datetime.now()",
        "import datetime\nx = datetime.datetime.utcnow()",
        "from datetime import date\nx = date.today()",
        "x = open('f')",
        "print('hi')",
    ],
)
def test_the_checker_catches_what_it_should(snippet: str) -> None:
    assert violations(snippet) != []


@pytest.mark.parametrize(
    "snippet",
    [
        "from datetime import UTC, datetime\ndef f(d: datetime) -> datetime: return d.astimezone(UTC)",
        "from decimal import Decimal",
        "from stdnum.cn import uscc",
        "from bondedzone.domain.errors import BzError",
        "from . import values",
        "Book.open(putrec_no='x')",  # a classmethod named open is not the builtin
    ],
)
def test_the_checker_allows_pure_code(snippet: str) -> None:
    assert violations(snippet) == []

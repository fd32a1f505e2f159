"""Stable error codes: each in Chinese and English, and each raise site fills every placeholder."""

from __future__ import annotations

import ast
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import pytest

import bondedzone
from bondedzone.domain.errors import CATALOGUE, BzError, Collector, ErrorGroup, Kind

SRC = Path(bondedzone.__file__).parent
CODE_RE = re.compile(r"BZ-[A-Z0-9-]+")
CJK = re.compile(r"[\u4e00-\u9fff]")


def fields(template: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


@dataclass(frozen=True)
class RaiseSite:
    where: str
    code: str
    keywords: frozenset[str] | None  # None when the call passes **kwargs we cannot see
    zh_texts: tuple[str, ...]


def raise_sites() -> list[RaiseSite]:
    """Every ``BzError("BZ-…", key=…)`` call in the package, found by parsing the source."""
    sites: list[RaiseSite] = []
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "BzError"):
                continue
            if not (node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                continue
            names = [k.arg for k in node.keywords]
            zh: list[str] = []
            for k in node.keywords:
                # only literal text can be checked here; a variable is checked where it is defined
                if k.arg and k.arg.endswith("_zh") and isinstance(k.value, (ast.Constant, ast.JoinedStr)):
                    parts = [k.value] if isinstance(k.value, ast.Constant) else k.value.values
                    zh.append("".join(p.value for p in parts if isinstance(p, ast.Constant) and isinstance(p.value, str)))
            sites.append(
                RaiseSite(
                    f"{path.relative_to(SRC)}:{node.lineno}",
                    node.args[0].value,
                    None if None in names else frozenset(n for n in names if n),
                    tuple(zh),
                )
            )
    return sites


SITES = raise_sites()


def test_raise_sites_were_found() -> None:
    # guards the parser above: if it found nothing, every check below would pass vacuously
    assert len(SITES) > 40
    assert {s.code for s in SITES} >= {"BZ-QTY-INVALID", "BZ-LEDGER-NEGATIVE", "BZ-CONV-DUPLICATE"}


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_code_has_a_kind_and_both_languages(code: str) -> None:
    spec = CATALOGUE[code]
    assert CODE_RE.fullmatch(code), code
    assert spec.kind in get_args(Kind)
    assert spec.zh.strip() and spec.en.strip()
    assert spec.zh != spec.en
    # the Chinese template is Chinese, unless the raise site supplies the whole Chinese text
    assert CJK.search(spec.zh) or fields(spec.zh) == {"reason_zh"}, spec.zh
    assert not CJK.search(spec.en), spec.en


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_both_languages_use_the_same_placeholders(code: str) -> None:
    spec = CATALOGUE[code]

    def neutral(names: set[str]) -> set[str]:
        return {n for n in names if not n.endswith(("_zh", "_en"))}

    assert neutral(fields(spec.zh)) == neutral(fields(spec.en))
    assert not {n for n in fields(spec.zh) if n.endswith("_en")}
    assert not {n for n in fields(spec.en) if n.endswith("_zh")}


@pytest.mark.parametrize("site", SITES, ids=[f"{s.code}@{s.where}" for s in SITES])
def test_every_raise_site_fills_the_placeholders_of_its_code(site: RaiseSite) -> None:
    assert site.code in CATALOGUE, f"{site.where} raises unknown {site.code}"
    if site.keywords is None:
        pytest.skip("passes **kwargs")
    spec = CATALOGUE[site.code]
    missing = (fields(spec.zh) | fields(spec.en)) - site.keywords
    assert not missing, f"{site.where}: {site.code} needs {sorted(missing)}"
    err = BzError(site.code, **{k: f"<{k}>" for k in site.keywords})
    for lang in ("zh", "en"):
        msg = err.message(lang)
        assert "{" not in msg, msg
    for text in site.zh_texts:
        assert CJK.search(text), f"{site.where}: Chinese text has no Chinese: {text!r}"


def test_every_code_is_raised_somewhere() -> None:
    raised = {s.code for s in SITES}
    assert set(CATALOGUE) - raised == set()


def test_every_code_string_in_the_source_is_catalogued() -> None:
    seen: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE_RE.fullmatch(node.value):
                seen.add(node.value)
    assert seen - set(CATALOGUE) == set()


# ---- behaviour of the error types -------------------------------------------------------------


def test_message_in_both_languages() -> None:
    e = BzError("BZ-BOOK-NOT-FOUND", putrecNo="T5301W100001")
    assert e.message("zh") == "账册 T5301W100001 不存在"
    assert e.message("zh-CN") == "账册 T5301W100001 不存在"
    assert e.message("en") == "Book T5301W100001 does not exist"
    assert str(e) == e.message("en")
    assert e.kind == "not_found"


def test_unknown_code_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        BzError("BZ-NO-SUCH-CODE")


def test_missing_placeholder_never_hides_the_error() -> None:
    e = BzError("BZ-BOOK-NOT-FOUND")
    assert e.message("en") == CATALOGUE["BZ-BOOK-NOT-FOUND"].en


def test_public_detail_drops_message_helpers() -> None:
    e = BzError("BZ-CORRECTION-INVALID", reason_zh="中文", reason_en="english", id=3)
    assert e.public_detail() == {"id": 3}
    assert e.message("zh") == "中文" and e.message("en") == "english"


def test_collector_and_group() -> None:
    c = Collector()
    assert c.check(lambda: 5) == 5
    c.raise_if_any()  # nothing kept yet

    def bad() -> int:
        raise BzError("BZ-UNIT-INVALID", value="x")

    assert c.check(bad) is None
    c.add(BzError("BZ-CUSCD-INVALID", value="y"))
    with pytest.raises(ErrorGroup) as exc:
        c.raise_if_any()
    assert [e.code for e in exc.value.errors] == ["BZ-UNIT-INVALID", "BZ-CUSCD-INVALID"]
    assert exc.value.code == "BZ-UNIT-INVALID" and exc.value.detail == {"value": "x"}
    with pytest.raises(ValueError):
        ErrorGroup([])

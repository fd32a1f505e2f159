"""L3 hash chain without storage: extend/verify round trip, and each kind of tamper found where it is."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bondedzone.domain import chain
from bondedzone.domain.chain import GENESIS, ChainHead, StoredLink

BOOK = "T5301W100001"
T0 = datetime(2026, 11, 23, 8, 0, 0, tzinfo=UTC)


def payload(seq: int) -> dict[str, Any]:
    """Alternate state changes and postings, as a real book does."""
    at = T0 + timedelta(milliseconds=seq)
    if seq % 3 == 1:
        return chain.event_payload(
            putrec_no=BOOK,
            seq=seq,
            doc_type="invt",
            doc_id=seq,
            from_status=None,
            to_status="draft",
            actor="test:owner",
            reason=None,
            recorded_at=at,
        )
    return chain.posting_payload(
        putrec_no=BOOK,
        seq=seq,
        putrec_seqno=seq % 4 + 1,
        stock_status="bonded",
        delta_units=seq * 100_000,
        doc_type="invt",
        doc_id=seq,
        doc_line=1,
        leg=0,
        corrects=None,
        recorded_at=at,
    )


def build(n: int) -> tuple[list[StoredLink], ChainHead]:
    payloads = [payload(s) for s in range(1, n + 1)]
    new, head = chain.extend(ChainHead(0, GENESIS), payloads)
    links = [StoredLink(nl.seq, p["kind"], 1000 + nl.seq, p, nl.prev_hash, nl.hash) for nl, p in zip(new, payloads, strict=True)]
    return links, head


def first(links: list[StoredLink], head: ChainHead) -> tuple[int, str]:
    findings = chain.verify(BOOK, links, head)
    assert findings, "tampering went unnoticed"
    assert all(f.putrec_no == BOOK for f in findings)
    return findings[0].seq, findings[0].problem


def altered(link: StoredLink) -> StoredLink:
    p = dict(link.payload)
    if p["kind"] == "posting":
        p["delta"] += 1
    else:
        p["to"] = "approved"
    return replace(link, payload=p)


# ---- round trip -------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 17])
def test_extend_then_verify_finds_nothing(n: int) -> None:
    links, head = build(n)
    assert head.seq == n
    assert chain.verify(BOOK, links, head) == []


def test_extend_continues_from_a_head_in_batches() -> None:
    whole, head = build(6)
    first_half, mid = chain.extend(ChainHead(0, GENESIS), [payload(s) for s in range(1, 4)])
    second_half, end = chain.extend(mid, [payload(s) for s in range(4, 7)])
    assert [nl.hash for nl in first_half + second_half] == [link.hash for link in whole]
    assert end == head
    assert second_half[0].prev_hash == first_half[-1].hash
    assert first_half[0].prev_hash == GENESIS


def test_extend_refuses_a_payload_out_of_sequence() -> None:
    with pytest.raises(ValueError, match="seq 3 where 2 was due"):
        chain.extend(ChainHead(1, "a" * 64), [payload(3)])


def test_hash_commits_to_every_field_and_to_the_previous_link() -> None:
    p = payload(2)
    h = chain.link_hash(GENESIS, p)
    assert len(h) == 64
    assert chain.link_hash("1" * 64, p) != h
    for k in p:
        q = dict(p)
        q[k] = "x" if q[k] != "x" else "y"
        assert chain.link_hash(GENESIS, q) != h, k


def test_canonical_is_independent_of_key_order_and_keeps_chinese() -> None:
    a = {"b": 1, "a": "保税", "c": None}
    b = {"c": None, "a": "保税", "b": 1}
    assert chain.canonical(a) == chain.canonical(b) == '{"a":"保税","b":1,"c":null}'


def test_timestamp_is_the_same_for_aware_and_naive_utc() -> None:
    naive = datetime(2026, 1, 2, 3, 4, 5, 6)
    aware = naive.replace(tzinfo=UTC)
    shifted = aware.astimezone(timezone(timedelta(hours=8)))
    assert chain.timestamp(naive) == chain.timestamp(aware) == chain.timestamp(shifted) == "2026-01-02T03:04:05.000006Z"


# ---- each tamper, found where it happened (L3) ------------------------------------------------


@pytest.mark.parametrize("pos", [0, 3, 9])
def test_altered_payload_is_a_hash_mismatch_at_that_seq(pos: int) -> None:
    links, head = build(10)
    links[pos] = altered(links[pos])
    findings = chain.verify(BOOK, links, head)
    assert [(f.seq, f.problem, f.kind, f.ref) for f in findings] == [(pos + 1, "hash_mismatch", links[pos].kind, 1000 + pos + 1)]


@pytest.mark.parametrize("pos", [0, 4, 8])
def test_deleted_link_is_a_gap_at_its_seq(pos: int) -> None:
    links, head = build(10)
    del links[pos]
    findings = chain.verify(BOOK, links, head)
    assert (findings[0].seq, findings[0].problem) == (pos + 1, "gap")
    assert findings[0].detail == f"links {pos + 1}..{pos + 1} are missing"
    assert findings[1].problem == "prev_mismatch"  # the next link no longer follows


def test_deleting_several_links_names_the_range() -> None:
    links, head = build(10)
    del links[2:5]
    f = chain.verify(BOOK, links, head)[0]
    assert (f.seq, f.problem, f.detail) == (3, "gap", "links 3..5 are missing")


def test_repeated_sequence_number_is_a_gap() -> None:
    links, head = build(5)
    links.insert(3, links[2])
    assert first(links, head) == (3, "gap")


@pytest.mark.parametrize("pos", [0, 5, 9])
def test_replaced_link_does_not_follow_the_previous_one(pos: int) -> None:
    """A link forged from another chain hashes correctly but does not follow its predecessor."""
    links, head = build(10)
    forged = altered(links[pos])
    fake_prev = "f" * 64
    links[pos] = replace(forged, prev_hash=fake_prev, hash=chain.link_hash(fake_prev, forged.payload))
    assert first(links, head) == (pos + 1, "prev_mismatch")


def test_rehashed_link_breaks_at_the_next_one() -> None:
    """A forger who rehashes one link from its true predecessor is caught by the next link."""
    links, head = build(10)
    forged = altered(links[4])
    links[4] = replace(forged, hash=chain.link_hash(forged.prev_hash, forged.payload))
    assert first(links, head) == (6, "prev_mismatch")


def test_rehashed_last_link_breaks_at_the_head() -> None:
    links, head = build(10)
    forged = altered(links[9])
    links[9] = replace(forged, hash=chain.link_hash(forged.prev_hash, forged.payload))
    assert first(links, head) == (10, "head_mismatch")


def test_overwritten_stored_hash_is_a_hash_mismatch_then_the_next_does_not_follow() -> None:
    links, head = build(10)
    links[2] = replace(links[2], hash="0" * 64)
    findings = chain.verify(BOOK, links, head)
    assert [(f.seq, f.problem) for f in findings] == [(3, "hash_mismatch"), (4, "prev_mismatch")]


@pytest.mark.parametrize("keep", [0, 1, 7, 9])
def test_truncated_tail_is_a_head_mismatch_at_the_first_missing_seq(keep: int) -> None:
    links, head = build(10)
    findings = chain.verify(BOOK, links[:keep], head)
    assert [(f.seq, f.problem) for f in findings] == [(keep + 1, "head_mismatch")]
    assert findings[0].detail == f"book head is at 10, chain ends at {keep}"


def test_head_moved_forward_or_back() -> None:
    links, head = build(10)
    assert chain.verify(BOOK, links, ChainHead(12, head.hash))[0].seq == 11  # first link the head claims but lacks
    assert [(f.seq, f.problem) for f in chain.verify(BOOK, links, ChainHead(4, head.hash))] == [(4, "head_mismatch")]
    assert [(f.seq, f.problem) for f in chain.verify(BOOK, links, ChainHead(10, "e" * 64))] == [(10, "head_mismatch")]


def test_first_finding_is_the_first_broken_link_when_several_are() -> None:
    links, head = build(12)
    links[8] = altered(links[8])
    links[3] = altered(links[3])
    del links[10]
    findings = chain.verify(BOOK, links, head)
    assert [(f.seq, f.problem) for f in findings][:3] == [(4, "hash_mismatch"), (9, "hash_mismatch"), (11, "gap")]
    assert [f.seq for f in findings] == sorted(f.seq for f in findings)


TAMPERS = ["alter", "delete", "forge", "overwrite_hash"]


@given(n=st.integers(2, 40), data=st.data())
def test_tamper_at_a_random_position_is_found_exactly_there(n: int, data: st.DataObject) -> None:
    links, head = build(n)
    kind = data.draw(st.sampled_from(TAMPERS))
    # deleting the last link is a truncation, covered above; keep the deletion inside the chain
    pos = data.draw(st.integers(0, n - 2 if kind == "delete" else n - 1))
    expected = {"alter": "hash_mismatch", "delete": "gap", "forge": "prev_mismatch", "overwrite_hash": "hash_mismatch"}[kind]
    if kind == "alter":
        links[pos] = altered(links[pos])
    elif kind == "delete":
        del links[pos]
    elif kind == "forge":
        prev = data.draw(st.text("0123456789abcdef", min_size=64, max_size=64).filter(lambda h: h != links[pos].prev_hash))
        forged = altered(links[pos])
        links[pos] = replace(forged, prev_hash=prev, hash=chain.link_hash(prev, forged.payload))
    else:
        links[pos] = replace(links[pos], hash=data.draw(st.text("0123456789abcdef", min_size=64, max_size=64)))
        if links[pos].hash == chain.link_hash(links[pos].prev_hash, links[pos].payload):
            return  # drew the true hash: no tamper
    assert first(links, head) == (pos + 1, expected)


@given(
    seq=st.integers(1, 2**62),
    putrec_seqno=st.integers(1, 999_999_999),
    status=st.sampled_from(["bonded", "non_bonded"]),
    delta=st.integers(-(2**62), 2**62),
    doc_type=st.sampled_from(["invt", "conversion", "correction"]),
    doc_id=st.integers(1, 2**62),
    line=st.integers(1, 10_000),
    leg=st.integers(0, 1),
    corrects=st.none() | st.integers(1, 2**62),
    when=st.datetimes(timezones=st.just(UTC)),
)
def test_posting_text_is_the_canonical_json_of_the_payload(
    seq: int,
    putrec_seqno: int,
    status: str,
    delta: int,
    doc_type: str,
    doc_id: int,
    line: int,
    leg: int,
    corrects: int | None,
    when: datetime,
) -> None:
    # L3: the fast rendering used when posting is exactly what the chain commits to.
    payload = chain.posting_payload(
        putrec_no="T5301W000001",
        seq=seq,
        putrec_seqno=putrec_seqno,
        stock_status=status,
        delta_units=delta,
        doc_type=doc_type,
        doc_id=doc_id,
        doc_line=line,
        leg=leg,
        corrects=corrects,
        recorded_at=when,
    )
    text = chain.posting_text(
        "T5301W000001", seq, putrec_seqno, status, delta, doc_type, doc_id, line, leg, corrects, chain.timestamp(when)
    )
    assert text == chain.canonical(payload) == chain.canonical_text(payload)


def test_posting_text_refuses_non_integers_so_a_tampered_float_is_caught() -> None:
    # SQLite keeps a REAL written into an INTEGER column; it must not hash like the integer.
    payload = chain.posting_payload(
        putrec_no="T5301W000001",
        seq=1,
        putrec_seqno=1,
        stock_status="bonded",
        delta_units=500000,
        doc_type="invt",
        doc_id=1,
        doc_line=1,
        leg=0,
        corrects=None,
        recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    tampered = {**payload, "delta": 500000.4}
    assert chain.link_hash("0" * 64, tampered) != chain.link_hash("0" * 64, payload)
    assert chain.canonical_text(tampered) == chain.canonical(tampered)

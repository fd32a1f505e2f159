"""Tamper evidence: one hash chain per book over its postings and state changes (L3).

Each link stores ``hash = sha256(prev_hash ‖ canonical(payload))`` where the payload is every
field of the stored row that matters. A chain per book means books never wait on each other.
:func:`verify` returns every finding, ordered, so the first one is the first broken link:

* ``hash_mismatch`` — the row's content no longer produces its stored hash (the row was edited);
* ``prev_mismatch`` — the row does not follow the previous link (a link was replaced);
* ``gap`` — sequence numbers are missing (a link was deleted);
* ``head_mismatch`` — the book's head no longer matches its last link (the tail was cut).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

GENESIS = "0" * 64


def canonical(payload: Mapping[str, Any]) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# The canonical JSON of a posting payload, written out: the keys of posting_payload() in sorted
# order. Approving a 1,000-line list makes 1,000 links, and rendering each through json.dumps
# was most of the approval's cost; this renders the same text several times faster. A unit
# test holds it equal to canonical() for any payload.
_POSTING_KEYS = (
    "corrects", "delta", "docId", "docLine", "docType", "kind", "leg",
    "putrecNo", "putrecSeqno", "recordedAt", "seq", "stockStatus",
)  # fmt: skip
_POSTING_TEXT = "{" + ",".join(f'"{k}":%s' for k in _POSTING_KEYS) + "}"


@lru_cache(maxsize=4096)
def _json_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def posting_text(
    putrec_no: str,
    seq: int,
    putrec_seqno: int,
    stock_status: str,
    delta_units: int,
    doc_type: str,
    doc_id: int,
    doc_line: int,
    leg: int,
    corrects: int | None,
    recorded_at: str,
) -> str:
    """``canonical(posting_payload(...))`` without building the payload (``recorded_at`` as text).

    Only exact ``int`` values are rendered here: anything else (a float a tamperer wrote into an
    integer column, say) raises TypeError, and the caller falls back to :func:`canonical`, which
    renders it as it is, so the hash no longer matches.
    """
    if not (
        type(delta_units) is int
        and type(doc_id) is int
        and type(doc_line) is int
        and type(leg) is int
        and type(putrec_seqno) is int
        and type(seq) is int
        and (corrects is None or type(corrects) is int)
    ):
        raise TypeError("posting_text renders exact ints only")
    return _POSTING_TEXT % (
        "null" if corrects is None else corrects,
        delta_units,
        doc_id,
        doc_line,
        _json_str(doc_type),
        '"posting"',
        leg,
        _json_str(putrec_no),
        putrec_seqno,
        _json_str(recorded_at),
        seq,
        _json_str(stock_status),
    )


def canonical_text(payload: Mapping[str, Any]) -> str:
    """The text a link's hash covers: :func:`canonical`, by the faster road for postings."""
    if payload.get("kind") == "posting" and len(payload) == len(_POSTING_KEYS):
        try:
            return posting_text(
                payload["putrecNo"],
                payload["seq"],
                payload["putrecSeqno"],
                payload["stockStatus"],
                payload["delta"],
                payload["docType"],
                payload["docId"],
                payload["docLine"],
                payload["leg"],
                payload["corrects"],
                payload["recordedAt"],
            )
        except (KeyError, TypeError, ValueError):
            pass
    return canonical(payload)


def text_hash(prev_hash: str, text: str) -> str:
    """The hash of one link from its canonical text."""
    return hashlib.sha256((prev_hash + "\n" + text).encode()).hexdigest()


def link_hash(prev_hash: str, payload: Mapping[str, Any]) -> str:
    """The hash of one link."""
    return text_hash(prev_hash, canonical_text(payload))


@lru_cache(maxsize=1024)
def timestamp(dt: datetime) -> str:
    """UTC, microseconds: the same text whether the engine returned it aware or naive."""
    aware = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def posting_payload(
    *,
    putrec_no: str,
    seq: int,
    putrec_seqno: int,
    stock_status: str,
    delta_units: int,
    doc_type: str,
    doc_id: int,
    doc_line: int,
    leg: int,
    corrects: int | None,
    recorded_at: datetime,
) -> dict[str, Any]:
    """What a posting link commits to."""
    return {
        "kind": "posting",
        "putrecNo": putrec_no,
        "seq": seq,
        "putrecSeqno": putrec_seqno,
        "stockStatus": stock_status,
        "delta": delta_units,
        "docType": doc_type,
        "docId": doc_id,
        "docLine": doc_line,
        "leg": leg,
        "corrects": corrects,
        "recordedAt": timestamp(recorded_at),
    }


def event_payload(
    *,
    putrec_no: str,
    seq: int,
    doc_type: str,
    doc_id: int,
    from_status: str | None,
    to_status: str,
    actor: str,
    reason: str | None,
    recorded_at: datetime,
) -> dict[str, Any]:
    """What a state-change link commits to."""
    return {
        "kind": "event",
        "putrecNo": putrec_no,
        "seq": seq,
        "docType": doc_type,
        "docId": doc_id,
        "from": from_status,
        "to": to_status,
        "actor": actor,
        "reason": reason,
        "recordedAt": timestamp(recorded_at),
    }


@dataclass(frozen=True)
class ChainHead:
    """The last link of a book's chain as the book row records it."""

    seq: int
    hash: str


@dataclass(frozen=True)
class NewLink:
    """A link about to be stored."""

    seq: int
    prev_hash: str
    hash: str


def extend(head: ChainHead, payloads: Iterable[Mapping[str, Any]]) -> tuple[list[NewLink], ChainHead]:
    """Links for ``payloads`` appended after ``head``; each payload must carry its ``seq``."""
    links: list[NewLink] = []
    prev, seq = head.hash, head.seq
    for payload in payloads:
        seq += 1
        if payload["seq"] != seq:
            raise ValueError(f"payload seq {payload['seq']} where {seq} was due")
        h = link_hash(prev, payload)
        links.append(NewLink(seq, prev, h))
        prev = h
    return links, ChainHead(seq, prev)


@dataclass(frozen=True)
class StoredLink:
    """A link as read back from storage: the payload rebuilt from the row's own columns."""

    seq: int
    kind: str
    ref: int
    payload: Mapping[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainFinding:
    """One broken link."""

    putrec_no: str
    seq: int
    problem: str
    kind: str | None
    ref: int | None
    detail: str


def verify(putrec_no: str, links: Iterable[StoredLink], head: ChainHead) -> list[ChainFinding]:
    """Every finding of one book's chain, in sequence order; ``links`` must come sorted by seq."""
    findings: list[ChainFinding] = []
    expected, prev = 1, GENESIS
    last_seq = 0
    for link in links:
        if link.seq != expected:
            if link.seq > expected:
                findings.append(
                    ChainFinding(putrec_no, expected, "gap", None, None, f"links {expected}..{link.seq - 1} are missing")
                )
            else:
                findings.append(ChainFinding(putrec_no, link.seq, "gap", link.kind, link.ref, "sequence number repeated"))
        if link.prev_hash != prev:
            findings.append(
                ChainFinding(putrec_no, link.seq, "prev_mismatch", link.kind, link.ref, "does not follow the previous link")
            )
        if link_hash(link.prev_hash, link.payload) != link.hash:
            findings.append(ChainFinding(putrec_no, link.seq, "hash_mismatch", link.kind, link.ref, "stored content was altered"))
        prev, last_seq = link.hash, link.seq
        expected = link.seq + 1
    if last_seq != head.seq or prev != head.hash:
        findings.append(
            ChainFinding(
                putrec_no,
                min(last_seq + 1, head.seq) if head.seq else last_seq,
                "head_mismatch",
                None,
                None,
                f"book head is at {head.seq}, chain ends at {last_seq}",
            )
        )
    return findings

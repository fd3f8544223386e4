"""The audit log's hash chain: canonical entry hashing and chain verification."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from pydantic_core import to_jsonable_python

from postmortem.model import AuditEntry

GENESIS_HASH = "0" * 64


class AuditVerification(BaseModel):
    """Result of checking the audit chain: `ok` only when no problem was found."""

    ok: bool
    entries: int
    problems: list[str] = Field(default_factory=list)
    head_hash: str | None = None


def canonical_json(value: Any) -> str:
    """Deterministic JSON text: sorted keys, no spaces, UTF-8, finite numbers only."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def normalise_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload exactly as it reads back from a JSON column (datetimes, tuples, ... made JSON-native)."""
    return json.loads(canonical_json(to_jsonable_python(payload)))


def entry_hash(
    seq: int, ts: datetime, actor: str, action: str, subject: str, payload: dict[str, Any], prev_hash: str
) -> str:
    """sha256 over the canonical JSON of the entry's fields and the previous entry's hash."""
    doc = {
        "seq": seq,
        "ts": ts.isoformat(),
        "actor": actor,
        "action": action,
        "subject": subject,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()


def _recomputed(entry: AuditEntry) -> str:
    return entry_hash(
        entry.seq, entry.ts, entry.actor, entry.action, entry.subject, entry.payload, entry.prev_hash
    )


def verify_chain(entries: Iterable[AuditEntry]) -> AuditVerification:
    """Check a chain given in `seq` order: content hashes, seq gaps, prev_hash links and time order."""
    problems: list[str] = []
    rows = list(entries)
    seq_by_hash = {e.hash: e.seq for e in rows}
    prev: AuditEntry | None = None
    for entry in rows:
        expected_seq = prev.seq + 1 if prev else 1
        if entry.seq > expected_seq:
            missing = (
                f"{expected_seq}" if entry.seq == expected_seq + 1 else f"{expected_seq}-{entry.seq - 1}"
            )
            problems.append(f"seq {missing}: missing (deleted) before seq {entry.seq}")
        if _recomputed(entry) != entry.hash:
            problems.append(f"seq {entry.seq}: content changed (stored hash does not match the entry)")
        expected_prev = prev.hash if prev else GENESIS_HASH
        if entry.prev_hash != expected_prev:
            linked = seq_by_hash.get(entry.prev_hash)
            expected = f"seq {prev.seq}" if prev else "the chain start"
            if linked is not None:
                problems.append(f"seq {entry.seq}: reordered (follows seq {linked} instead of {expected})")
            elif entry.prev_hash == GENESIS_HASH:
                problems.append(f"seq {entry.seq}: reordered (follows the chain start instead of {expected})")
            else:
                problems.append(
                    f"seq {entry.seq}: broken link (follows an entry that is no longer in the log)"
                )
        if prev is not None and entry.ts < prev.ts:
            problems.append(f"seq {entry.seq}: reordered (timestamp earlier than seq {prev.seq})")
        prev = entry
    return AuditVerification(
        ok=not problems, entries=len(rows), problems=problems, head_hash=prev.hash if prev else None
    )

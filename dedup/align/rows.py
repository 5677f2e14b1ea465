"""Rows of the ``alignments`` table from a sentence alignment."""

from __future__ import annotations

import json
from typing import Any

from dedup.align.sentences import Alignment

__all__ = ["alignment_rows"]


def alignment_rows(doc_a: int, doc_b: int, alignment: Alignment) -> list[dict[str, Any]]:
    """Rows of the ``alignments`` table (:data:`dedup.schema.ALIGNMENTS`) for one pair.

    Args:
        doc_a: ``doc_id`` of A.
        doc_b: ``doc_id`` of B.
        alignment: Their alignment.

    Returns:
        One dict per op, in op order; ``words`` is a JSON list of word opcodes or null.
    """
    rows = []
    for op in alignment.ops:
        has_a, has_b = op.a_hi > op.a_lo, op.b_hi > op.b_lo
        rows.append(
            {
                "doc_a": doc_a,
                "doc_b": doc_b,
                "op": op.tag,
                "a_index": op.a_lo if has_a else None,
                "b_index": op.b_lo if has_b else None,
                "a_lo": op.a_lo,
                "a_hi": op.a_hi,
                "b_lo": op.b_lo,
                "b_hi": op.b_hi,
                "a_text": alignment.a_text(op) if has_a else None,
                "b_text": alignment.b_text(op) if has_b else None,
                "score": op.score,
                "words": json.dumps([list(w) for w in op.words]) if op.words else None,
            }
        )
    return rows

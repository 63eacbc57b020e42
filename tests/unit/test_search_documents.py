"""Chunking: every chunk within the model's limit (counted with its own tokenizer), transcripts in
overlapping windows of whole turns, prose split at paragraph boundaries, a context line on every chunk."""

from __future__ import annotations

from core.search.documents import (
    MAX_CHUNK_PIECES,
    OVERLAP_PIECES,
    DocumentIn,
    chunk_paragraphs,
    chunk_turns,
    count_pieces,
    estimate_pieces,
)

TURNS = [
    f"{'Nick' if i % 2 else 'Jo'}: turn {i} about autopay, ACH returns and training at community {i}."
    for i in range(60)
]


def test_transcript_windows_hold_whole_turns_overlap_and_stay_within_the_limit() -> None:
    chunks = chunk_turns("Ashford <> PayReady — Check-in", TURNS)
    assert len(chunks) > 2
    bodies = [c.split("\n")[1:] for c in chunks]
    for chunk, body in zip(chunks, bodies, strict=True):
        assert chunk.startswith("Ashford <> PayReady — Check-in\n")
        assert count_pieces(chunk) <= MAX_CHUNK_PIECES
        assert set(body) <= set(TURNS)  # whole turns only
    for before, after in zip(bodies, bodies[1:]):
        carried = [t for t in after if t in before]
        assert carried and after[: len(carried)] == before[-len(carried) :]
        assert sum(count_pieces(t) for t in carried) <= OVERLAP_PIECES
    assert [t for t in TURNS if not any(t in b for b in bodies)] == []  # nothing lost


def test_prose_is_whole_when_it_fits_else_split_at_paragraphs() -> None:
    assert chunk_paragraphs("Note", "Short body.") == ("Note\nShort body.",)
    paragraphs = [f"Paragraph {i}. " + "The rollout covers resident messaging and payments. " * 6 for i in range(12)]
    chunks = chunk_paragraphs("Long email", "\n\n".join(paragraphs))
    assert len(chunks) > 1
    for c in chunks:
        assert c.startswith("Long email\n") and count_pieces(c) <= MAX_CHUNK_PIECES
        assert all(p.strip() in {q.strip() for q in paragraphs} for p in c.split("\n", 1)[1].split("\n\n"))
    one_huge = "word " * 3000 + "supercalifragilistic" * 200
    assert all(count_pieces(c) <= MAX_CHUNK_PIECES for c in chunk_paragraphs("Huge", one_huge))


def test_the_cheap_estimate_never_undercounts_business_text_much() -> None:
    texts = TURNS + [
        "Invoice INV-2025-000214 to Quarry Housing Partners: 990.27 USD, due 2025-03-03.",
        "Heads up: Ridgeline Real Estate Services asked for pricing on ResCenter + Collect Central.",
    ]
    for t in texts:
        assert estimate_pieces(t) >= 0.8 * count_pieces(t), t


def test_the_content_hash_follows_text_and_metadata() -> None:
    doc = DocumentIn(source="gong", external_id="calls/1", type="call", title="T", text="x", chunks=("T\nx",))
    same = DocumentIn(source="gong", external_id="calls/1", type="call", title="T", text="x", chunks=("T\nx",))
    moved = DocumentIn(
        source="gong", external_id="calls/1", type="call", title="T", text="x", chunks=("T\nx",), account_id=7
    )
    assert doc.content_hash == same.content_hash != moved.content_hash

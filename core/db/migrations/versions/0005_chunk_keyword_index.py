"""keyword index over chunks: FTS5 on SQLite, a tsvector GIN index on PostgreSQL

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 09:00:00

SQLite: ``chunks_fts`` is an external-content FTS5 table over ``chunks.text`` (the text lives once, in
``chunks``); three triggers keep it in step with every insert, delete and update of a chunk, in the same
transaction. Ranking is FTS5's BM25. The Porter stemmer over unicode61 matches "payments" with "payment";
exact tokens such as invoice numbers are split at punctuation by unicode61 and found as phrases.

PostgreSQL: an expression GIN index on ``to_tsvector('english', text)``; queries use the same expression so
the index serves them (no extra column, so the table matches its model).
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: Must match core.search.service (which builds queries against it).
PG_TS_CONFIG = "english"

SQLITE_UP = [
    """CREATE VIRTUAL TABLE chunks_fts USING fts5(
        text, content='chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END""",
    """CREATE TRIGGER chunks_fts_update AFTER UPDATE OF text ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    "INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')",  # chunks written before this revision
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS chunks_fts_update",
    "DROP TRIGGER IF EXISTS chunks_fts_delete",
    "DROP TRIGGER IF EXISTS chunks_fts_insert",
    "DROP TABLE IF EXISTS chunks_fts",
]
PG_UP = [
    f"CREATE INDEX IF NOT EXISTS ix_chunks_text_tsv ON chunks USING GIN (to_tsvector('{PG_TS_CONFIG}', text))",
]
PG_DOWN = ["DROP INDEX IF EXISTS ix_chunks_text_tsv"]


def _run(statements: dict[str, list[str]]) -> None:
    dialect = op.get_bind().dialect.name
    if dialect not in statements:
        raise RuntimeError(f"no keyword index for the {dialect} dialect")
    for sql in statements[dialect]:
        op.execute(sql)


def upgrade() -> None:
    _run({"sqlite": SQLITE_UP, "postgresql": PG_UP})


def downgrade() -> None:
    _run({"sqlite": SQLITE_DOWN, "postgresql": PG_DOWN})

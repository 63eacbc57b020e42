"""The embedded vector backend (the default): an inverted-file index in memory over a SQLite store on disk.

Chosen by measurement (see ``core/search/README.md``): a FAISS inverted file with flat lists of half-precision
vectors (``IndexIVFScalarQuantizer``, fp16) and inner product on unit vectors (cosine). Below ``IVF_MIN_VECTORS`` vectors it is an exact flat index (brute force is then
fast and needs no training).

Storage and processes. The backend's truth on disk is ``<data_dir>/index/embedded/vectors.db`` (SQLite in
WAL mode): one row per chunk with its vector, its filter metadata and its inverted list number; a ``log``
of the chunk ids written, in order; and ``meta`` (the IVF centroids, a generation number). The sync engine
(in the scheduler, or the CLI) writes it through ``upsert``/``delete``; every process that queries (the
API, the app, the CLI) keeps the index in memory and, before each query, reads the log after its own
position and applies those changes (two indexed reads when nothing changed). Training the centroids and
assigning every vector to a list is done by the writer, stored, and marked by a new generation, upon which
readers reload in full; loading never trains nor assigns (the list numbers are stored), so it is only
reading. The writer itself never loads the index.

Filters (``VectorFilter``) are evaluated over metadata columns held in arrays indexed by chunk id and
passed to FAISS as a bitmap selector, so they are applied inside the search. A selective filter leaves
fewer allowed vectors in the probed lists, so the number of lists probed grows as the filter narrows
(``nprobe / selectivity``); at the limit every list is probed, which is an exact search of the allowed
vectors.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.db.batches import in_batches
from core.errors import BackendUnavailable, ConfigError, InvalidInput
from core.observability.logging import get_logger
from core.search.backends.base import BackendKey, ChunkVector, VectorFilter

if TYPE_CHECKING:
    from core.config import Settings

__all__ = ["EmbeddedBackend"]

log = get_logger("search.embedded")

#: Below this many vectors the index is exact (flat): at 20,000 x 384 a brute-force query takes well under a
#: millisecond, and an inverted file needs enough vectors to train its centroids on.
IVF_MIN_VECTORS = 20_000
#: Lists per vector count: about 4 * sqrt(n), a power of two (1,024 at 100k, 4,096 at 1M).
LISTS_PER_SQRT = 4
MAX_LISTS = 16_384
#: Retrain the centroids when the collection has grown this many times since they were trained.
RETRAIN_GROWTH = 4.0
#: Training sample per list (FAISS warns below 39); more costs k-means time for no measured recall.
TRAIN_POINTS_PER_LIST = 64
KMEANS_ITERATIONS = 12
KMEANS_SEED = 1234
#: Lists probed by an unfiltered query. Measured on 1M vectors (4,096 lists): recall@10 0.997 at 8,
#: 0.999 at 16, each under a millisecond; 16 leaves margin for the top 100 that fusion asks for.
DEFAULT_NPROBE = 16
#: Log rows kept for readers catching up; a reader further behind reloads in full.
LOG_KEEP = 200_000
ASSIGN_BATCH = 20_000
SQLITE_TIMEOUT_S = 30

SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    chunk_id INTEGER PRIMARY KEY,
    list_no INTEGER NOT NULL DEFAULT -1,
    document_id INTEGER NOT NULL,
    source TEXT NOT NULL,
    type TEXT NOT NULL,
    account_id INTEGER,
    owner TEXT,
    occurred_at REAL,
    min_role TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB);
"""
COLUMNS = "chunk_id, list_no, document_id, source, type, account_id, owner, occurred_at, min_role, vector"


def _faiss() -> Any:
    try:
        import faiss
    except ModuleNotFoundError:
        raise ConfigError("the embedded vector index needs faiss; install it: pip install faiss-cpu==1.15.1") from None
    return faiss


def _epoch(at: datetime | None) -> float | None:
    if at is None:
        return None
    if at.tzinfo is None:
        raise InvalidInput(f"naive datetime {at!r}: pass an aware datetime (UTC)")
    return at.timestamp()


def n_lists(n: int) -> int:
    """The number of inverted lists for ``n`` vectors (a power of two near ``4 * sqrt(n)``)."""
    target = LISTS_PER_SQRT * math.sqrt(max(n, 1))
    return int(min(MAX_LISTS, max(64, 2 ** round(math.log2(target)))))


# ---- what one process holds in memory -------------------------------------------------------------------


class _Codes:
    """Small integer codes for the string metadata (sources, types, owners, roles); -1 is none."""

    def __init__(self) -> None:
        self.by_value: dict[str, int] = {}

    def code(self, value: str | None) -> int:
        if value is None:
            return -1
        got = self.by_value.get(value)
        if got is None:
            got = self.by_value[value] = len(self.by_value)
        return got

    def lookup(self, values: Sequence[str]) -> list[int]:
        return [self.by_value[v] for v in values if v in self.by_value]


@dataclass
class _Memory:
    """The index and the filter columns, both addressed by chunk id."""

    dim: int
    generation: int
    seq: int
    index: Any  # faiss IndexIDMap2(IndexFlatIP) or IndexIVFScalarQuantizer (fp16) with ids = chunk ids
    nlist: int  # 0: flat
    present: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    source: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    type: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    account: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    owner: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    occurred: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    role: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    codes: dict[str, _Codes] = field(default_factory=lambda: {k: _Codes() for k in ("source", "type", "owner", "role")})
    count: int = 0
    masks: dict[tuple, tuple[np.ndarray, int]] = field(default_factory=dict)  # cached until a change

    def grow(self, max_id: int) -> None:
        size = len(self.present)
        if max_id < size:
            return
        new = max(max_id + 1, size * 2, 1024)

        def extend(arr: np.ndarray, fill: Any) -> np.ndarray:
            out = np.full(new, fill, dtype=arr.dtype)
            out[:size] = arr
            return out

        self.present = extend(self.present, False)
        self.source, self.type = extend(self.source, -1), extend(self.type, -1)
        self.account, self.owner = extend(self.account, -1), extend(self.owner, -1)
        self.occurred, self.role = extend(self.occurred, np.nan), extend(self.role, -1)

    def set_rows(self, rows: Sequence[tuple]) -> None:
        """Record metadata of rows (as selected with COLUMNS)."""
        if not rows:
            return
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        self.grow(int(ids.max()))
        was = self.present[ids]
        self.count += int(len(np.unique(ids[~was])))
        self.present[ids] = True
        c = self.codes
        self.source[ids] = [c["source"].code(r[3]) for r in rows]
        self.type[ids] = [c["type"].code(r[4]) for r in rows]
        self.account[ids] = [-1 if r[5] is None else r[5] for r in rows]
        self.owner[ids] = [c["owner"].code(r[6].lower() if r[6] else None) for r in rows]
        self.occurred[ids] = [np.nan if r[7] is None else r[7] for r in rows]
        self.role[ids] = [c["role"].code(r[8]) for r in rows]
        self.masks.clear()

    def unset(self, ids: np.ndarray) -> None:
        ids = ids[ids < len(self.present)]
        ids = np.unique(ids[self.present[ids]])
        self.present[ids] = False
        self.count -= len(ids)
        self.masks.clear()

    def mask(self, where: VectorFilter | None) -> tuple[np.ndarray | None, int]:
        """(allowed-by-chunk-id mask or None for everything, how many are allowed)."""
        if where is None:
            return None, self.count
        key = (
            tuple(where.sources),
            tuple(where.types),
            tuple(where.account_ids),
            where.owner,
            where.since,
            where.until,
            tuple(where.roles),
        )
        if key == ((), (), (), None, None, None, ()):
            return None, self.count
        cached = self.masks.get(key)
        if cached is not None:
            return cached
        m = self.present.copy()
        c = self.codes
        if where.sources:
            m &= np.isin(self.source, c["source"].lookup(list(where.sources)))
        if where.types:
            m &= np.isin(self.type, c["type"].lookup(list(where.types)))
        if where.account_ids:
            m &= np.isin(self.account, np.asarray(list(where.account_ids), np.int64))
        if where.owner:
            m &= self.owner == (c["owner"].lookup([where.owner.lower()]) or [-2])[0]
        if where.since is not None:
            m &= self.occurred >= _epoch(where.since)
        if where.until is not None:
            m &= self.occurred <= _epoch(where.until)
        if where.roles:
            m &= np.isin(self.role, c["role"].lookup(list(where.roles)))
        result = (m, int(m.sum()))
        if len(self.masks) > 64:
            self.masks.clear()
        self.masks[key] = result
        return result


# ---- the backend ----------------------------------------------------------------------------------------


class EmbeddedBackend:
    """See the module notes. Thread-safe; one instance per process is enough."""

    name = "embedded"

    def __init__(
        self,
        root: Path,
        *,
        dim: int = 384,
        model: str | None = None,
        nprobe: int = DEFAULT_NPROBE,
        ivf_min_vectors: int = IVF_MIN_VECTORS,
    ) -> None:
        self.root = Path(root)
        self.dim = dim
        self.model = model  # the embedding model whose vectors it holds (None: not checked)
        self.nprobe = nprobe
        self.ivf_min_vectors = ivf_min_vectors
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._mem: _Memory | None = None
        self._writer_centroids: tuple[int, np.ndarray | None] | None = None  # (generation, centroids)

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddedBackend:
        from core.search.embeddings import make_embedder

        embedder = make_embedder(settings)
        return cls(settings.data_dir / "index" / "embedded", dim=embedder.dim, model=embedder.model_name)

    # ---- the store ----------------------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    self.root / "vectors.db", timeout=SQLITE_TIMEOUT_S, check_same_thread=False, isolation_level=None
                )
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(SCHEMA)
                self._check_model(conn)
            except sqlite3.Error as exc:
                raise BackendUnavailable(f"embedded index at {self.root}: {exc}") from None
            except OSError as exc:
                raise BackendUnavailable(f"embedded index at {self.root}: {exc.strerror}") from None
            self._conn = conn
        return self._conn

    def _check_model(self, conn: sqlite3.Connection) -> None:
        """The store holds vectors of one model. Opened for another (the embedding model was changed), it is
        emptied: those vectors cannot answer the new model's queries, and re-embedding under the new model
        logs every chunk, so the sync engine fills the store again (and a deleted chunk cannot linger)."""
        stored = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('dim', 'model')").fetchall())
        same_dim = "dim" not in stored or int(stored["dim"]) == self.dim
        same_model = self.model is None or stored.get("model") in (None, self.model)
        if same_dim and same_model:
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('dim', ?)", (self.dim,))
            if self.model is not None:
                conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('model', ?)", (self.model,))
            return
        log.warning(
            "embedded index holds another model's vectors: emptied for re-embedding",
            root=str(self.root),
            held=stored.get("model"),
            held_dim=stored.get("dim"),
            model=self.model,
            dim=self.dim,
        )
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM vectors")
        conn.execute("DELETE FROM log")
        conn.execute("DELETE FROM meta WHERE key IN ('centroids', 'trained_on', 'log_floor')")
        generation = conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        conn.executemany(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
            [("dim", self.dim), ("model", self.model), ("generation", (int(generation[0]) if generation else 0) + 1)],
        )
        conn.execute("COMMIT")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = self._db()
            try:
                db.execute("BEGIN IMMEDIATE")
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One consistent snapshot across several statements (WAL readers never block the writer)."""
        with self._lock:
            db = self._db()
            db.execute("BEGIN")
            try:
                yield db
            finally:
                db.execute("COMMIT")

    @staticmethod
    def _meta(db: sqlite3.Connection, key: str, default: Any = None) -> Any:
        row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else row[0]

    @staticmethod
    def _set_meta(db: sqlite3.Connection, key: str, value: Any) -> None:
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def _centroids(self, db: sqlite3.Connection) -> np.ndarray | None:
        blob = self._meta(db, "centroids")
        return None if blob is None else np.frombuffer(blob, dtype="<f4").reshape(-1, self.dim)

    # ---- writing (the sync engine) -------------------------------------------------------------------------

    def upsert(self, items: Sequence[ChunkVector]) -> None:
        if not items:
            return
        vectors = np.stack([np.asarray(i.vector, dtype=np.float32).reshape(-1) for i in items])
        if vectors.shape[1] != self.dim:
            raise InvalidInput(f"vectors have {vectors.shape[1]} dimensions; the embedded index holds {self.dim}")
        try:
            with self._write() as db:
                centroids = self._writer_view(db)
                lists = self._assign(centroids, vectors) if centroids is not None else np.full(len(items), -1)
                db.executemany(
                    f"INSERT OR REPLACE INTO vectors ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [
                        (
                            i.chunk_id,
                            int(l_),
                            i.document_id,
                            i.source,
                            i.type,
                            i.account_id,
                            i.owner,
                            _epoch(i.occurred_at),
                            i.min_role,
                            v.astype("<f4").tobytes(),
                        )
                        for i, l_, v in zip(items, lists, vectors, strict=True)
                    ],
                )
                db.executemany("INSERT INTO log(chunk_id) VALUES (?)", [(i.chunk_id,) for i in items])
            self._maintain()
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"embedded index at {self.root}: {exc}") from None

    def delete(self, chunk_ids: Sequence[BackendKey]) -> None:
        ids = [(i,) for i in chunk_ids if isinstance(i, int)]  # its keys are integers: nothing else is held
        if not ids:
            return
        try:
            with self._write() as db:
                db.executemany("DELETE FROM vectors WHERE chunk_id=?", ids)
                db.executemany("INSERT INTO log(chunk_id) VALUES (?)", ids)
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"embedded index at {self.root}: {exc}") from None

    def clear(self) -> None:
        with self._write() as db:
            db.execute("DELETE FROM vectors")
            db.execute("DELETE FROM log")
            db.execute("DELETE FROM meta WHERE key IN ('centroids', 'trained_on', 'log_floor')")
            self._set_meta(db, "generation", int(self._meta(db, "generation", 0)) + 1)

    def _writer_view(self, db: sqlite3.Connection) -> np.ndarray | None:
        generation = int(self._meta(db, "generation", 0))
        if self._writer_centroids is None or self._writer_centroids[0] != generation:
            self._writer_centroids = (generation, self._centroids(db))
        return self._writer_centroids[1]

    @staticmethod
    def _assign(centroids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        return np.argmax(vectors @ centroids.T, axis=1)

    def _maintain(self) -> None:
        """Train (or retrain) the inverted lists when the collection has outgrown them; trim the log."""
        with self._lock:
            db = self._db()
            n = db.execute("SELECT count(*) FROM vectors").fetchone()[0]
            trained_on = int(self._meta(db, "trained_on", 0) or 0)
            if n >= self.ivf_min_vectors and (trained_on == 0 or n >= RETRAIN_GROWTH * trained_on):
                self.train()
            top = db.execute("SELECT max(seq) FROM log").fetchone()[0] or 0
            floor = int(self._meta(db, "log_floor", 0) or 0)
            if top - floor > 2 * LOG_KEEP:
                with self._write() as wdb:
                    wdb.execute("DELETE FROM log WHERE seq <= ?", (top - LOG_KEEP,))
                    self._set_meta(wdb, "log_floor", top - LOG_KEEP)

    def train(self) -> None:
        """Train the centroids on a sample of the stored vectors and assign every vector to its list, in one
        transaction; readers then reload (new generation)."""
        faiss = _faiss()
        with self._write() as db:
            ids = np.fromiter((r[0] for r in db.execute("SELECT chunk_id FROM vectors")), np.int64)
            if len(ids) == 0:
                return
            nlist = min(n_lists(len(ids)), max(1, len(ids) // TRAIN_POINTS_PER_LIST))
            rng = np.random.default_rng(KMEANS_SEED)
            sample = np.sort(rng.choice(ids, size=min(len(ids), nlist * TRAIN_POINTS_PER_LIST), replace=False))
            x = np.empty((len(sample), self.dim), np.float32)
            start = 0
            for part in in_batches(sample.tolist()):
                marks = ",".join("?" * len(part))
                by_id = dict(db.execute(f"SELECT chunk_id, vector FROM vectors WHERE chunk_id IN ({marks})", part))
                for j, cid in enumerate(part):
                    x[start + j] = np.frombuffer(by_id[cid], dtype="<f4")
                start += len(part)
            kmeans = faiss.Kmeans(
                self.dim,
                nlist,
                niter=KMEANS_ITERATIONS,
                seed=KMEANS_SEED,
                spherical=True,
                max_points_per_centroid=TRAIN_POINTS_PER_LIST,
                verbose=False,
            )
            kmeans.train(x)
            centroids = np.ascontiguousarray(kmeans.centroids, dtype=np.float32)
            quantizer = faiss.IndexFlatIP(self.dim)
            quantizer.add(centroids)
            last = -1
            while True:
                rows = db.execute(
                    "SELECT chunk_id, vector FROM vectors WHERE chunk_id > ? ORDER BY chunk_id LIMIT ?",
                    (last, ASSIGN_BATCH),
                ).fetchall()
                if not rows:
                    break
                last = rows[-1][0]
                xb = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(-1, self.dim)
                _, lists = quantizer.search(xb, 1)
                db.executemany(
                    "UPDATE vectors SET list_no=? WHERE chunk_id=?",
                    [(int(l_), r[0]) for l_, r in zip(lists[:, 0], rows, strict=True)],
                )
            self._set_meta(db, "centroids", centroids.astype("<f4").tobytes())
            self._set_meta(db, "trained_on", len(ids))
            self._set_meta(db, "generation", int(self._meta(db, "generation", 0)) + 1)
            db.execute("DELETE FROM log")

    # ---- reading ------------------------------------------------------------------------------------------

    def _refresh(self) -> _Memory:
        """Bring this process's index up to the store: a full load on a new generation (or when this process
        fell behind the kept log), else the changes logged since the last look."""
        with self._read() as db:
            generation = int(self._meta(db, "generation", 0))
            top = db.execute("SELECT max(seq) FROM log").fetchone()[0] or 0
            mem = self._mem
            if mem is not None and mem.generation == generation and mem.seq >= top:
                return mem
            floor = int(self._meta(db, "log_floor", 0) or 0)
            if mem is None or mem.generation != generation or mem.seq < floor:
                self._mem = self._load(db, generation, top)
                return self._mem
            changed = [r[0] for r in db.execute("SELECT DISTINCT chunk_id FROM log WHERE seq > ?", (mem.seq,))]
            rows = []
            for part in in_batches(changed):
                marks = ",".join("?" * len(part))
                rows += db.execute(f"SELECT {COLUMNS} FROM vectors WHERE chunk_id IN ({marks})", part).fetchall()
        self._apply(mem, np.asarray(changed, np.int64), rows)
        mem.seq = top
        return mem

    def _new_index(self, centroids: np.ndarray | None) -> tuple[Any, int]:
        faiss = _faiss()
        if centroids is None:
            return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim)), 0
        quantizer = faiss.IndexFlatIP(self.dim)
        quantizer.add(centroids)
        # the lists hold half-precision copies: half the memory of float32 in every process that queries, the
        # same recall and faster scans (measured in core/search/README.md); the store keeps float32
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, self.dim, len(centroids), faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        )
        index.by_residual = False  # codes are the vectors themselves; fp16 needs no training
        index.own_fields = True
        quantizer.this.disown()
        index.is_trained = True
        return index, len(centroids)

    def _load(self, db: sqlite3.Connection, generation: int, top: int) -> _Memory:
        index, nlist = self._new_index(self._centroids(db))
        mem = _Memory(dim=self.dim, generation=generation, seq=top, index=index, nlist=nlist)
        cursor = db.execute(f"SELECT {COLUMNS} FROM vectors ORDER BY chunk_id")
        while rows := cursor.fetchmany(50_000):
            self._add(mem, rows)
        return mem

    def _add(self, mem: _Memory, rows: Sequence[tuple]) -> None:
        faiss = _faiss()
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        x = np.frombuffer(b"".join(r[9] for r in rows), dtype="<f4").reshape(-1, self.dim)
        if mem.nlist:
            lists = np.fromiter((r[1] for r in rows), np.int64, len(rows))
            if (lists < 0).any() or (lists >= mem.nlist).any():  # written before training: assign here
                bad = (lists < 0) | (lists >= mem.nlist)
                _, fixed = mem.index.quantizer.search(np.ascontiguousarray(x[bad]), 1)
                lists[bad] = fixed[:, 0]
            x = np.ascontiguousarray(x)
            mem.index.add_core(len(ids), faiss.swig_ptr(x), faiss.swig_ptr(ids), faiss.swig_ptr(lists))
        else:
            mem.index.add_with_ids(np.ascontiguousarray(x), ids)
        mem.set_rows(rows)

    def _apply(self, mem: _Memory, changed: np.ndarray, rows: Sequence[tuple]) -> None:
        if len(changed):
            known = changed[(changed < len(mem.present))]
            known = known[mem.present[known]]
            if len(known):
                mem.index.remove_ids(
                    _faiss().IDSelectorBatch(len(known), _faiss().swig_ptr(np.ascontiguousarray(known)))
                )
                mem.unset(known)
        if rows:
            self._add(mem, rows)

    def query(self, vector: np.ndarray, *, k: int, where: VectorFilter | None = None) -> list[tuple[int, float]]:
        if k <= 0:
            return []
        q = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if q.shape[1] != self.dim:
            raise InvalidInput(f"the query vector has {q.shape[1]} dimensions; the embedded index holds {self.dim}")
        faiss = _faiss()
        with self._lock:
            try:
                mem = self._refresh()
            except sqlite3.Error as exc:
                raise BackendUnavailable(f"embedded index at {self.root}: {exc}") from None
            mask, allowed = mem.mask(where)
            if allowed == 0 or mem.count == 0:
                return []
            k = min(k, allowed)
            selector = bits = None
            if mask is not None and allowed < mem.count:
                bits = np.packbits(mask, bitorder="little")
                selector = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))
            if mem.nlist:
                # a narrower filter leaves fewer allowed vectors per list: probe more lists (all: exact)
                nprobe = min(mem.nlist, math.ceil(self.nprobe * mem.count / allowed))
                params = (
                    faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
                    if selector
                    else faiss.SearchParametersIVF(nprobe=nprobe)
                )
            else:
                params = faiss.SearchParameters(sel=selector) if selector else None
            scores, ids = mem.index.search(q, k, params=params)
            del bits
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    # ---- the rest of the contract -------------------------------------------------------------------------

    def count(self) -> int:
        with self._read() as db:
            return int(db.execute("SELECT count(*) FROM vectors").fetchone()[0])

    def ids(self) -> Iterator[int]:
        last = -1
        while True:
            with self._read() as db:
                page = [
                    r[0]
                    for r in db.execute(
                        "SELECT chunk_id FROM vectors WHERE chunk_id > ? ORDER BY chunk_id LIMIT 10000", (last,)
                    )
                ]
            if not page:
                return
            yield from page
            last = page[-1]

    def fetch(self, chunk_ids: Sequence[int]) -> dict[int, ChunkVector]:
        """What is stored for these chunks (reconcile's spot check)."""
        out: dict[int, ChunkVector] = {}
        ids = [int(i) for i in chunk_ids]
        with self._read() as db:
            for part in in_batches(ids):
                marks = ",".join("?" * len(part))
                for r in db.execute(f"SELECT {COLUMNS} FROM vectors WHERE chunk_id IN ({marks})", part):
                    out[r[0]] = ChunkVector(
                        chunk_id=r[0],
                        vector=np.frombuffer(r[9], dtype="<f4").copy(),
                        document_id=r[2],
                        source=r[3],
                        type=r[4],
                        account_id=r[5],
                        owner=r[6],
                        occurred_at=None if r[7] is None else datetime.fromtimestamp(r[7], UTC),
                        min_role=r[8],
                    )
        return out

    def ping(self) -> None:
        try:
            with self._read() as db:
                db.execute("SELECT 1 FROM vectors LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"embedded index at {self.root}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._mem = None

"""mem0's parts replaced for Sophia (see ``mem0_bridge``): classes over mem0's own bases, so importing this
module imports mem0: ``mem0_bridge.build_memory`` imports it after setting mem0's environment."""

from __future__ import annotations

from typing import Any

from mem0.embeddings.base import EmbeddingBase
from mem0.llms.base import LLMBase
from mem0.memory.storage import SQLiteManager
from mem0.vector_stores.base import VectorStoreBase

from core.errors import ConfigError
from core.memory.store import Hit, MemoryStore, payload_of
from core.search.embeddings import Embedder


class SqlVectorStore(VectorStoreBase):
    """mem0's vector store contract over ``MemoryStore`` (scores: cosine, floored at 0).

    What mem0 2.2.1's ``Memory`` calls (memory/main.py): ``insert(vectors=, ids=, payloads=)`` on add;
    ``search(query=, vectors=, top_k=max(4 * limit, 60), filters=)`` on search (and with ``top_k=10``
    before an LLM extraction); ``keyword_search`` (the base's None: no BM25 here); ``get(vector_id=)``,
    ``update(vector_id=, vector=, payload=)`` and ``delete(vector_id=)`` on get/update/delete; ``list(
    filters=, top_k=)`` on get_all and delete_all; ``delete_col``/``reset`` on reset only."""

    collection_name = "memories"

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def create_col(self, name: Any, vector_size: Any, distance: Any) -> None:
        return None  # the table is made by the migrations

    def insert(self, vectors: Any, payloads: Any = None, ids: Any = None) -> None:
        if payloads is None or ids is None:
            raise ValueError("every memory needs its id and payload")
        self.store.insert(list(vectors), list(payloads), [str(i) for i in ids])

    def search(self, query: Any, vectors: Any, top_k: int = 5, filters: Any = None) -> list[Hit]:
        today = self.store.runtime.clock.now().date()
        found = self.store.search(vectors, filters or {}, top_k=top_k, today=today)
        for hit in found:
            hit.score = max(0.0, hit.score or 0.0)
        return found

    def delete(self, vector_id: Any) -> None:
        self.store.delete([str(vector_id)])

    def update(self, vector_id: Any, vector: Any = None, payload: Any = None) -> None:
        self.store.update(str(vector_id), vector, payload)

    def get(self, vector_id: Any) -> Hit | None:
        return self.store.get_hit(str(vector_id))

    def list_cols(self) -> list[str]:
        return [self.collection_name]

    def delete_col(self) -> None:
        raise NotImplementedError("the memories table is dropped by a migration, not through mem0")

    def col_info(self) -> dict[str, Any]:
        return {"name": self.collection_name}

    def list(self, filters: Any = None, top_k: Any = None) -> list[list[Hit]]:
        rows = self.store.list_rows(filters or {}, limit=top_k)
        return [[Hit(id=r.id, score=None, payload=payload_of(r._mapping)) for r in rows]]

    def reset(self) -> None:
        raise NotImplementedError("memories are deleted by core.memory (forget, retention), not reset")


class NoEntities(VectorStoreBase):
    """An entity store that keeps nothing (mem0 boosts memories sharing an entity with the query)."""

    def create_col(self, name: Any, vector_size: Any, distance: Any) -> None:
        return None

    def insert(self, vectors: Any, payloads: Any = None, ids: Any = None) -> None:
        return None

    def search(self, query: Any, vectors: Any, top_k: int = 5, filters: Any = None) -> list[Hit]:
        return []

    def delete(self, vector_id: Any) -> None:
        return None

    def update(self, vector_id: Any, vector: Any = None, payload: Any = None) -> None:
        return None

    def get(self, vector_id: Any) -> None:
        return None

    def list_cols(self) -> list[str]:
        return []

    def delete_col(self) -> None:
        return None

    def col_info(self) -> dict[str, Any]:
        return {}

    def list(self, filters: Any = None, top_k: Any = None) -> list[list[Hit]]:
        return [[]]

    def reset(self) -> None:
        return None


class SophiaEmbedding(EmbeddingBase):
    """mem0's embedder contract over ours (queries through the embedder's query cache)."""

    def __init__(self, embedder: Embedder) -> None:
        super().__init__(None)
        self.embedder = embedder

    def embed(self, text: Any, memory_action: Any = None) -> Any:
        if memory_action == "search":
            return self.embedder.embed_query(str(text))
        return self.embedder.embed([str(text)])[0]

    def embed_batch(self, texts: Any, memory_action: Any = "add") -> list[Any]:
        return list(self.embedder.embed([str(t) for t in texts]))


class NoHistory(SQLiteManager):
    """mem0's SQLite file without history: it would keep every memory's text after it is forgotten."""

    def add_history(self, *args: Any, **kwargs: Any) -> None:
        return None

    def batch_add_history(self, records: Any) -> None:
        return None


class NoLLM(LLMBase):
    """No LLM is configured for memory: mem0 must not reach one (its default is OpenAI's API)."""

    def generate_response(self, *args: Any, **kwargs: Any) -> str:
        raise ConfigError("memory has no LLM (SOPHIA_MEMORY_INFER is off): facts are stored as said")

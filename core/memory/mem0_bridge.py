"""mem0's ``Memory``, assembled for Sophia: our store, our embedder, no history, and an LLM only when configured.

mem0 2.2.1 builds its parts from provider names and refuses names it does not know, so the ``Memory`` is
built with stand-ins that touch nothing (an in-memory qdrant client, the ``openai`` embedder and LLM with a
placeholder key, never called) and its parts are then replaced, as ``../shared/reference/agents.md`` does:

- ``vector_store`` → ``SqlVectorStore`` over the ``memories`` table (``core.memory.store``);
- ``embedding_model`` → ``SophiaEmbedding`` over the local all-MiniLM-L6-v2;
- ``_entity_store`` (entity links for boosting, filled only when spaCy is installed) → one that keeps
  nothing: no second copy of a user's words to forget;
- ``db`` → mem0's SQLite file under ``<data>/mem0`` with history writes off (mem0's history keeps every
  text, deleted ones too); its ``messages`` (the context of LLM extraction) stay, and forgetting purges them;
- ``llm`` → one that refuses, unless ``SOPHIA_MEMORY_INFER`` is on and an LLM is configured.

Importing this module imports mem0 (about 1.5 s): ``core.memory`` imports it only to add and to search.
"""

from __future__ import annotations

import os
import threading
import warnings
import weakref
from typing import Any

from core.config import Settings
from core.errors import ConfigError
from core.memory.history import history_db_path, mem0_dir
from core.memory.store import Hit, MemoryStore, payload_of
from core.runtime import Runtime
from core.search.embeddings import Embedder


def prepare_mem0_env(settings: Settings) -> None:
    """What mem0 reads from the environment at import: no telemetry (it would phone an analytics host), and
    its folder (it writes ``config.json`` there) under the data folder rather than ``~/.mem0``."""
    os.environ["MEM0_TELEMETRY"] = "False"
    os.environ.setdefault("MEM0_DIR", str(mem0_dir(settings)))
    settings.ensure_data_dir()
    mem0_dir(settings).mkdir(mode=0o700, exist_ok=True)


def build_memory(runtime: Runtime, store: MemoryStore, embedder: Embedder) -> Any:
    """A mem0 ``Memory`` over ``store`` (see the module notes)."""
    settings = runtime.settings
    prepare_mem0_env(settings)
    from mem0 import Memory
    from qdrant_client import QdrantClient

    _no_spacy_download()
    infer_llm = _infer_llm_config(settings)
    config = {
        "vector_store": {
            "provider": "qdrant",
            "config": {"client": QdrantClient(location=":memory:"), "embedding_model_dims": embedder.dim},
        },
        "embedder": {"provider": "openai", "config": {"api_key": "unused-replaced-below"}},
        "llm": infer_llm or {"provider": "openai", "config": {"api_key": "unused-replaced-below"}},
        "history_db_path": str(history_db_path(settings)),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # qdrant's local mode warns that payload indexes do nothing there
        memory = Memory.from_config(config)
    classes = _classes()
    memory.vector_store = classes.SqlVectorStore(store)
    memory.embedding_model = classes.SophiaEmbedding(embedder)
    memory._entity_store = classes.NoEntities()
    memory.db.close()
    memory.db = classes.NoHistory(str(history_db_path(settings)))
    os.chmod(history_db_path(settings), 0o600)
    if infer_llm is None:
        memory.llm = classes.NoLLM()
    return memory


def _no_spacy_download() -> None:
    """mem0 lemmatises and extracts entities with spaCy when it is installed, and when spaCy's English model
    is missing it downloads it (a download at run time): without the model installed, both are off, quietly
    (mem0 would log a warning on each process's first add and search)."""
    import importlib.util

    from mem0.utils import spacy_models

    installed = False
    if importlib.util.find_spec("spacy") is not None:
        import spacy

        installed = bool(spacy.util.is_package("en_core_web_sm"))
    if not installed:
        spacy_models._load_failed_full = True
        spacy_models._load_failed_lemma = True


def memory_infers(settings: Settings) -> bool:
    """Whether what is remembered goes through an LLM that extracts its facts: ``SOPHIA_MEMORY_INFER`` when set,
    else whenever the agents' model speaks the OpenAI API (a base URL, ``openai/<model>`` or a bare name)."""
    if settings.memory_infer is not None:
        return settings.memory_infer
    model = settings.llm_model or ""
    return bool(model) and (bool(settings.llm_base_url) or model.startswith("openai/") or "/" not in model)


def _infer_llm_config(settings: Settings) -> dict[str, Any] | None:
    """mem0's LLM config when facts are to be extracted by an LLM (``memory_infers``), else None.

    The LLM's settings (``SOPHIA_LLM_MODEL``, ``SOPHIA_LLM_BASE_URL``, ``SOPHIA_LLM_API_KEY``) belong to the
    agents; mem0 is given an OpenAI-compatible one: with a base URL any model name the server knows (an
    ``openai/`` prefix dropped), else ``openai/<model>`` or a bare model name."""
    if not memory_infers(settings):
        return None
    model = settings.llm_model
    if not model:
        raise ConfigError("SOPHIA_MEMORY_INFER: extracting facts needs an LLM; set SOPHIA_LLM_MODEL or turn it off")
    provider, _, name = str(model).rpartition("/")
    if settings.llm_base_url:
        provider, name = "openai", str(model).removeprefix("openai/")
    if provider not in ("", "openai"):
        raise ConfigError(
            f"SOPHIA_MEMORY_INFER: memory extraction speaks the OpenAI API only (openai/<model>, with "
            f"SOPHIA_LLM_BASE_URL for a compatible server), not {provider}/"
        )
    config: dict[str, Any] = {"model": name, "api_key": settings.llm_api_key or "not-needed"}
    if settings.llm_base_url:
        config["openai_base_url"] = settings.llm_base_url
    return {"provider": "openai", "config": config}


# ---- the parts (classes over mem0's bases, defined once mem0 is imported) ------------------------------------


class _Classes:
    def __init__(self) -> None:
        from mem0.embeddings.base import EmbeddingBase
        from mem0.llms.base import LLMBase
        from mem0.memory.storage import SQLiteManager
        from mem0.vector_stores.base import VectorStoreBase

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

        self.SqlVectorStore = SqlVectorStore
        self.NoEntities = NoEntities
        self.SophiaEmbedding = SophiaEmbedding
        self.NoHistory = NoHistory
        self.NoLLM = NoLLM


_classes_lock = threading.Lock()
_classes_made: list[_Classes] = []


def _classes() -> _Classes:
    with _classes_lock:
        if not _classes_made:
            _classes_made.append(_Classes())
        return _classes_made[0]


# ---- one Memory per runtime ----------------------------------------------------------------------------------

_memories: dict[int, tuple[weakref.ref[Runtime], Any]] = {}
_memories_lock = threading.Lock()


def mem0_for(runtime: Runtime) -> Any:
    """This runtime's mem0 ``Memory`` (built on first use: mem0's import and set-up take about 2 s)."""
    from core.memory.embedding import memory_embedder
    from core.memory.store import store_for

    with _memories_lock:
        entry = _memories.get(id(runtime))
        if entry is not None and entry[0]() is runtime:
            return entry[1]
        memory = build_memory(runtime, store_for(runtime), memory_embedder())
        key = id(runtime)

        def forget(_ref: weakref.ref[Runtime]) -> None:
            _memories.pop(key, None)

        _memories[key] = (weakref.ref(runtime, forget), memory)
        return memory

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

mem0 is imported (about 1.5 s) when the first ``Memory`` is built; the replacement parts are in ``mem0_parts``.
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
from core.memory.store import MemoryStore
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
    from core.memory import mem0_parts as parts

    memory.vector_store = parts.SqlVectorStore(store)
    memory.embedding_model = parts.SophiaEmbedding(embedder)
    memory._entity_store = parts.NoEntities()
    memory.db.close()
    memory.db = parts.NoHistory(str(history_db_path(settings)))
    os.chmod(history_db_path(settings), 0o600)
    if infer_llm is None:
        memory.llm = parts.NoLLM()
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

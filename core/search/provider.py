"""Provider embeddings: OpenAI, or any server that speaks its embeddings API (Azure OpenAI's v1 endpoint,
Ollama, vLLM, a LiteLLM proxy), through the official ``openai`` client.

Chosen with ``SOPHIA_EMBEDDING_PROVIDER=openai`` (``SOPHIA_EMBEDDING_MODEL``, ``SOPHIA_EMBEDDING_API_KEY``,
``SOPHIA_EMBEDDING_BASE_URL``, ``SOPHIA_EMBEDDING_DIMENSIONS``). The model's name is recorded with every
stored vector (``openai:<model>``, with ``@<dimensions>`` when they are set), so switching to it, or from it,
or to another model, re-embeds every chunk on the next indexing run (``core.search.indexing``) and never
compares vectors of two models.

The client retries 429 and 5xx itself (honouring ``Retry-After``), ``MAX_RETRIES`` times. What is left is
turned into the project's errors at this edge: a refused key or an unknown model is a ``ConfigError`` naming
the setting to fix; a provider that cannot be reached, or keeps failing, is ``BackendUnavailable``.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.errors import BackendUnavailable, ConfigError, InvalidInput
from core.search.embeddings import Progress

__all__ = ["KNOWN_DIMENSIONS", "OpenAIEmbedder"]

#: Output sizes of OpenAI's models (others are asked once, with a one-word probe).
KNOWN_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
#: Texts per request: OpenAI takes up to 2,048 inputs and 300,000 tokens per request; chunks are at most a few
#: hundred tokens, so 256 stays far inside both while keeping round trips few.
REQUEST_TEXTS = 256
#: One input may hold 8,192 tokens; a chunk never comes near it, a query or an odd file might.
MAX_CHARS = 24_000
MAX_RETRIES = 5
TIMEOUT_S = 60.0
QUERY_CACHE = 512


class OpenAIEmbedder:
    """The ``Embedder`` contract over the embeddings API. Thread-safe; one instance per process is enough."""

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        base_url: str | None = None,
        dimensions: int | None = None,
        max_retries: int = MAX_RETRIES,
        timeout: float = TIMEOUT_S,
    ) -> None:
        from openai import OpenAI

        if not model:
            raise ConfigError("SOPHIA_EMBEDDING_MODEL is empty: name the provider's embedding model")
        self.model = model
        self.dimensions = dimensions
        self.model_name = f"openai:{model}" + (f"@{dimensions}" if dimensions else "")
        self._dim = dimensions or KNOWN_DIMENSIONS.get(model)
        # a server such as Ollama needs no key, but the client insists on one
        self._client = OpenAI(api_key=api_key or "unused", base_url=base_url, max_retries=max_retries, timeout=timeout)
        self._where = base_url or "OpenAI"
        self._lock = threading.Lock()
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()

    @property
    def dim(self) -> int:
        if self._dim is None:  # an unfamiliar model: its first vector tells
            self._dim = int(self._request(["dimension probe"]).shape[1])
        return self._dim

    def embed(
        self, texts: Sequence[str], *, batch_size: int = REQUEST_TEXTS, progress: Progress | None = None
    ) -> np.ndarray:
        del batch_size  # the request size is the API's concern (REQUEST_TEXTS), not the caller's
        for t in texts:
            if not isinstance(t, str):
                raise InvalidInput(f"a text to embed is {type(t).__name__}, not str")
        if not texts:
            return np.empty((0, self.dim), np.float32)
        out = []
        for start in range(0, len(texts), REQUEST_TEXTS):
            out.append(self._request(texts[start : start + REQUEST_TEXTS]))
            if progress is not None:
                progress(min(len(texts), start + REQUEST_TEXTS), len(texts))
        vectors = np.concatenate(out)
        if self._dim is None:
            self._dim = vectors.shape[1]
        elif vectors.shape[1] != self._dim:
            raise ConfigError(
                f"{self._where} returned {vectors.shape[1]}-dimensional vectors for {self.model}, not {self._dim}; "
                "set SOPHIA_EMBEDDING_DIMENSIONS to what the model makes"
            )
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        if not isinstance(text, str):
            raise InvalidInput(f"the query is {type(text).__name__}, not str")
        key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key].copy()
        vector = self.embed([text])[0]
        with self._lock:
            self._cache[key] = vector
            while len(self._cache) > QUERY_CACHE:
                self._cache.popitem(last=False)
        return vector.copy()

    def _request(self, texts: Sequence[str]) -> np.ndarray:
        import openai

        # the API refuses an empty input; a blank chunk still needs a row
        inputs = [t[:MAX_CHARS] if t.strip() else " " for t in texts]
        extra: dict[str, Any] = {"dimensions": self.dimensions} if self.dimensions else {}
        try:
            response = self._client.embeddings.create(model=self.model, input=inputs, encoding_format="float", **extra)
        except openai.AuthenticationError:
            raise ConfigError(f"{self._where} refused the embedding API key: check SOPHIA_EMBEDDING_API_KEY") from None
        except openai.PermissionDeniedError as exc:
            raise ConfigError(f"{self._where} does not let this key use {self.model}: {_message(exc)}") from None
        except openai.NotFoundError as exc:
            raise ConfigError(
                f"{self._where} has no embedding model {self.model!r} (SOPHIA_EMBEDDING_MODEL): {_message(exc)}"
            ) from None
        except openai.BadRequestError as exc:
            raise ConfigError(
                f"{self._where} refused the embedding request for {self.model}: {_message(exc)}"
            ) from None
        except (openai.APIConnectionError, openai.APITimeoutError):
            raise BackendUnavailable(f"the embedding provider at {self._where} is unreachable") from None
        except openai.APIStatusError as exc:  # 429 or 5xx still, after the client's retries
            raise BackendUnavailable(
                f"the embedding provider at {self._where} answered {exc.status_code} after {MAX_RETRIES} retries: "
                f"{_message(exc)}"
            ) from None
        rows = sorted(response.data, key=lambda d: d.index)
        if len(rows) != len(inputs):
            raise BackendUnavailable(f"{self._where} returned {len(rows)} vectors for {len(inputs)} texts")
        vectors = np.asarray([_floats(r.embedding) for r in rows], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)  # OpenAI's are unit length; not every server's
        return vectors / np.clip(norms, 1e-12, None)


def _floats(embedding: Any) -> Any:
    if isinstance(embedding, str):  # base64, from a server that ignores encoding_format
        return np.frombuffer(base64.b64decode(embedding), dtype="<f4")
    return embedding


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
    return str(exc)[:300]

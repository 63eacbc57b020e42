"""The model memories are embedded with: always the local all-MiniLM-L6-v2 (a memory is what a user told an
agent; it is not sent to an embedding provider, whatever search uses), one instance per process.

One ONNX Runtime thread: memory embeds one short text at a time (a fact to add, a message to recall for), and
one text gains little from a second thread while it loses much when the cores are busy. Measured on 2 cores
with a sync running beside it, a 15-word query: 7 ms p50 / 8 ms p95 with one thread, 13 / 18 ms with two (the
default of search's instance, which batches chunks). It is the instance ``sophia search`` uses for its query.
"""

from __future__ import annotations

from core.search.embeddings import Embedder, local_embedder

MEMORY_EMBED_THREADS = 1


def memory_embedder() -> Embedder:
    return local_embedder(threads=MEMORY_EMBED_THREADS)

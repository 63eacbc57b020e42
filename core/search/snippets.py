"""Snippets: a window of a result's best chunk around its densest run of query words, those words marked
``**like this**``; ``plain`` drops the marks for output that shows no markdown."""

from __future__ import annotations

import re
from functools import lru_cache

from core.search.query import ALNUM, Terms

__all__ = ["SNIPPET_CHARS", "make_snippet", "plain"]

SNIPPET_CHARS = 240
_WORD = re.compile(r"[\w][\w\-'.@/]*[\w]|[\w]", re.UNICODE)
_SUFFIXES = ("ing", "ers", "ies", "ed", "es", "er", "ly", "s")


@lru_cache(maxsize=65_536)
def _stem(word: str) -> str:
    w = word.lower()
    for suffix in _SUFFIXES:
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def plain(snippet: str) -> str:
    """The snippet without its ``**`` marks."""
    return snippet.replace("**", "")


def _spans(body: str, terms: Terms) -> list[tuple[int, int]]:
    stems = {_stem(p) for w in terms.words if w not in terms.exact for p in ALNUM.findall(w)}
    spans: list[tuple[int, int]] = []
    for token in terms.exact:
        for m in re.finditer(r"(?<![\w])" + re.escape(token) + r"(?![\w])", body, re.IGNORECASE):
            spans.append((m.start(), m.end()))
    for m in _WORD.finditer(body):
        if _stem(m.group()) in stems or m.group().lower() in stems:
            spans.append((m.start(), m.end()))
    return _merge(sorted(spans))


def _window(body: str, spans: list[tuple[int, int]], size: int) -> tuple[int, int]:
    """(start, end) of the window holding the most marks, cut at word boundaries."""
    start = 0
    if spans and len(body) > size:
        best, best_n = spans[0][0], 0
        for s, _ in spans:
            n = sum(1 for a, b in spans if s <= a and b <= s + size)
            if n > best_n:
                best, best_n = s, n
        start = max(0, best - size // 4)
        if start:
            nxt = body.find(" ", start)
            start = nxt + 1 if 0 <= nxt < best else start
    end = min(len(body), start + size)
    if end < len(body):
        cut = body.rfind(" ", start, end)
        end = cut if cut > start + size // 2 else end
    return start, end


def make_snippet(chunk_text: str, terms: Terms, size: int = SNIPPET_CHARS) -> str:
    """A window of ``chunk_text`` around its densest run of query words, with those words in **bold**.
    The chunk's first line (its context: the title) is left out, since a result shows the title anyway."""
    body = chunk_text.split("\n", 1)[1] if "\n" in chunk_text else chunk_text
    body = " ".join(body.split())
    spans = _spans(body, terms)
    start, end = _window(body, spans, size)
    out, pos = [], start
    for a, b in spans:
        if b <= start or a >= end:
            continue
        a, b = max(a, start), min(b, end)
        out += [body[pos:a], "**", body[a:b], "**"]
        pos = b
    out.append(body[pos:end])
    return ("…" if start > 0 else "") + "".join(out) + ("…" if end < len(body) else "")


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged

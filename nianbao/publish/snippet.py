"""Highlighted excerpts of report text for search hits, in the text as printed.

Why not FTS5's own snippet()/highlight(): `sections_fts` is an external-content index over
`sections`, and the build indexes each Chinese character as its own token (archive.search). FTS5's
auxiliary functions read the column back from `sections` and re-tokenise the original text with
unicode61, where a run of Chinese characters is one token, so the index's token positions do not
line up and no hit is ever marked (`highlight()` returns the text unmarked). Here the original text
is tokenised exactly as archive.search.cjk_tokens does for the index, each token keeping its
character offsets in the original, and a term matches where FTS5's phrase query matches: its tokens
consecutive, whatever punctuation, spaces or line breaks lie between them in print ("不予，公开"
matches 不予公开 in the index, so it is marked here too). The marks are then cut back to the
original characters, so the excerpt reads as printed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from nianbao.archive.search import _TOKEN, cjk_tokens, query_terms

_BREAKS = re.compile(r"\s*[\r\n]+\s*")


@dataclass(frozen=True)
class Token:
    text: str  # folded as FTS5's unicode61 folds it (lower case, no diacritics)
    start: int  # offsets in the original text
    end: int


def _fold(token: str) -> str:
    decomposed = unicodedata.normalize("NFD", token.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokens_with_offsets(text: str) -> list[Token]:
    """The index's tokens of `text` (archive.search.cjk_tokens), each with its span in `text`.

    cjk_tokens NFKC-normalises the whole text first; normalising character by character keeps a
    map from each normalised character back to the original one (NFKC of CJK and full-width text
    is per character)."""
    normalised: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        n = unicodedata.normalize("NFKC", ch)
        normalised.append(n)
        origin.extend([i] * len(n))
    flat = "".join(normalised)
    return [Token(_fold(m.group(0)), origin[m.start()], origin[m.end() - 1] + 1)
            for m in _TOKEN.finditer(flat)]


def phrases(query: str | None) -> list[list[str]]:
    """Each query term as the token list FTS5 matches as a phrase (archive.search.cjk_query)."""
    out = []
    for term in query_terms(query):
        toks = [_fold(t) for t in cjk_tokens(term).split()]
        if toks and toks not in out:
            out.append(toks)
    return out


def hits(tokens: list[Token], query_phrases: list[list[str]]) -> list[tuple[int, int, int]]:
    """(first token, last token + 1, phrase index) of every phrase occurrence, in text order."""
    words = [t.text for t in tokens]
    found = []
    for p, phrase in enumerate(query_phrases):
        n = len(phrase)
        for i in range(len(words) - n + 1):
            if words[i] == phrase[0] and words[i:i + n] == phrase:
                found.append((i, i + n, p))
    found.sort()
    return found


def highlight(text: str | None, query: str | None, width: int = 36) -> tuple[list[tuple[str, bool]], int]:
    """An excerpt of about 2 × `width` characters around the densest hits, as segments
    (text, is_hit), with "…" where it is cut; and the number of hits in the whole text.

    The window starts at the hit whose following 2 × `width` characters hold the most distinct
    terms (the earliest on a tie), as FTS5's snippet() prefers the fragment with the most phrases.
    Line breaks read as spaces. No hit: the text's beginning, unmarked."""
    if not text:
        return [], 0
    tokens = tokens_with_offsets(text)
    found = hits(tokens, phrases(query))
    spans = [(tokens[a].start, tokens[b - 1].end, p) for a, b, p in found]
    if not spans:
        return [(_flat(text[: 2 * width]) + ("…" if len(text) > 2 * width else ""), False)], 0
    best, best_score = spans[0][0], -1
    for start, _, _ in spans:
        score = len({p for s, e, p in spans if start <= s and e <= start + 2 * width})
        if score > best_score:
            best, best_score = start, score
    lo = max(0, best - width // 2)
    hi = min(len(text), lo + 2 * width)
    segments: list[tuple[str, bool]] = [("…", False)] if lo > 0 else []
    at = lo
    for s, e, _ in spans:
        if e <= lo or s >= hi or s < at:
            continue
        if s > at:
            segments.append((_flat(text[at:s]), False))
        segments.append((_flat(text[s:min(e, hi)]), True))
        at = min(e, hi)
    if at < hi:
        segments.append((_flat(text[at:hi]), False))
    if hi < len(text):
        segments.append(("…", False))
    return _merge(segments), len(spans)


def _flat(s: str) -> str:
    return _BREAKS.sub(" ", s)


def _merge(segments: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    for text, hit in segments:
        if out and out[-1][1] == hit:
            out[-1] = (out[-1][0] + text, hit)
        elif text:
            out.append((text, hit))
    return out

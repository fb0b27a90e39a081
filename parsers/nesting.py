"""Flatten HTML nested deeper than libxml2 builds, before a second parse.

libxml2 stops at a fixed element depth (256; 2048 with huge_tree) with a fatal error and keeps only
the tree built so far: every table after that point is silently lost. Real pages never need that
depth; what reaches it is wrapper chains (a CMS or an export nesting <div>/<font>/<table> hundreds of
times around the article) or hostile input. Only pages that hit the limit come here (the caller reads
the parser's error log), so the pass costs nothing on ordinary pages.

What is dropped, in order of preference:
- the middle of a *run* of opening tags with nothing but whitespace between them (a wrapper chain:
  its elements hold no text of their own) — the first few and the last `_RUN_TAIL` of a run are kept,
  so the article's own structure right before its text (its <table><tr><td>) survives;
- any opening tag that would still take the depth past `budget` (text kept, structure flattened),
  except table structure, kept for `_TABLE_MARGIN` more levels so a report's tables survive.
The closing tag of every dropped element is dropped with it. Tags are found with a regular expression
(scripts, styles and comments skipped whole): approximate HTML, good enough for a fallback whose
alternative is an empty tree.
"""

from __future__ import annotations

import re

_TOKEN_RE = re.compile(
    r"<!--.*?(?:-->|\Z)|<(script|style)\b.*?(?:</\1\s*>|\Z)|<(/?)([A-Za-z][A-Za-z0-9:_-]*)\b[^>]*>",
    re.I | re.S)
VOID = frozenset(("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
                  "source", "track", "wbr", "basefont", "frame", "isindex", "keygen"))
# an opening tag libxml2 reads as closing an open element of these names first (HTML's implied ends)
_IMPLIED = {"td": ("td", "th"), "th": ("td", "th"), "tr": ("td", "th", "tr"), "p": ("p",),
            "li": ("li",), "option": ("option",), "dt": ("dt", "dd"), "dd": ("dt", "dd")}
_RUN_HEAD, _RUN_TAIL = 4, 32
# past the budget only table structure is kept (the report's tables under a deep text-bearing nest),
# up to this many more levels
TABLE_TAGS = frozenset(("table", "thead", "tbody", "tfoot", "tr", "td", "th"))
_TABLE_MARGIN = 300


def _runs(tokens: list[tuple[int, int, str, str]], text: str) -> set[int]:
    """Indexes of opening tags in the middle of a wrapper run (see the module doc)."""
    dropped: set[int] = set()
    run: list[int] = []

    def close_run() -> None:
        if len(run) > _RUN_HEAD + _RUN_TAIL:
            dropped.update(run[_RUN_HEAD:-_RUN_TAIL])
        run.clear()

    previous_end = 0
    for i, (start, end, slash, name) in enumerate(tokens):
        opening = bool(name) and not slash and name not in VOID
        if opening and run and not text[previous_end:start].strip():
            run.append(i)
        else:
            close_run()
            if opening:
                run.append(i)
        previous_end = end
    close_run()
    return dropped


def flatten(text: str, budget: int) -> tuple[str, int]:
    """`text` with wrapper chains collapsed and no element deeper than `budget`; (text, tags dropped)."""
    tokens = []
    for match in _TOKEN_RE.finditer(text):
        name = (match.group(3) or "").lower()
        closing = match.group(2) or ""
        if name and match.group(0).endswith("/>"):
            name = ""  # <x/>: no content, no depth
        tokens.append((match.start(), match.end(), closing, name))
    in_run = _runs(tokens, text)
    stack: list[tuple[str, bool]] = []  # (name, kept)
    open_count: dict[str, int] = {}
    depth = 0  # kept elements on the stack
    out: list[str] = []
    position = 0
    dropped = 0

    def pop() -> bool:
        nonlocal depth
        name, kept = stack.pop()
        open_count[name] -= 1
        depth -= kept
        return kept

    for i, (start, end, closing, name) in enumerate(tokens):
        if not name or name in VOID:
            continue
        out.append(text[position:start])
        position = end
        if closing:
            if not open_count.get(name):
                out.append(text[start:end])  # a stray close: libxml2 ignores it, so may we
                continue
            while stack[-1][0] != name:
                pop()
            if pop():
                out.append(text[start:end])
            else:
                dropped += 1
            continue
        implied = _IMPLIED.get(name)
        if implied and stack and stack[-1][0] in implied:
            pop()
        keep = i not in in_run and (depth < budget or (name in TABLE_TAGS and depth < budget + _TABLE_MARGIN))
        stack.append((name, keep))
        open_count[name] = open_count.get(name, 0) + 1
        if keep:
            depth += 1
            out.append(text[start:end])
        else:
            dropped += 1
    out.append(text[position:])
    return "".join(out), dropped

"""Fuzz the parsers with mutated real pages, seeds, fixtures and generated reports (issue 15, point 6).

    .venv/bin/python bench/fuzz.py                  # 100,000 inputs over every core
    .venv/bin/python bench/fuzz.py --count 2000     # a quick check
    .venv/bin/python bench/fuzz.py --count 500 --classes deep_nest,encoding_swap --workers 1

The contract under test: `parse_report` and `parse_document` never raise, whatever the bytes; the status
is one of the documented ones; every cell's value is an int, a float or None. Input i is fully
determined by (--seed, i), so a finding is replayed with `--replay i` (prints the input's class, base and
the report's status and warnings; `--dump FILE` writes its bytes).

Bases (read in place, never copied): ../shared/real/*.html, ../shared/seeds/*, tests/fixtures/**/*.html,
generated reports (parsers.render, every style), and the PDF/DOCX/OFD/XLSX fixtures
(tests/fixtures/{formats,layout}; through parsers.document.parse_document). Document inputs are
--doc-share of the total (they cost 10-50 times an HTML page).

Mutation classes (one per input): byte_flip, truncate, tag_delete, tag_dup, deep_nest (300 / 1,000 /
5,000 and now and then 100,000 nested <div>/<table>/<font>), encoding_swap (re-encoded as GBK / UTF-16 /
UTF-32, with a BOM or not, with a lying or a right declaration, stray bytes), huge_number (20+ digits in
cells), fullwidth_dash (full-width digits, "—" in cells), span_values (colspan/rowspan 0, negative,
10^9, junk), label_merge_split (adjacent cells merged, a label split in two cells); for documents:
zip_damage (DOCX/XLSX/OFD: truncated, central directory hit, member dropped / truncated / garbage, a
large member), pdf_damage (stream bytes, xref/trailer gone, /Length lies, truncation), byte_flip, truncate.

Printed: inputs, escaped exceptions (must be 0), the parsers' own caught errors ("parser error" /
"document error" warnings — not escapes, but a bug's trace), bad statuses and bad values, the status
histogram, per-class counts, median/p99/max CPU time per input (and wall time: on this VM the process
CPU clock sometimes reads 0 for a millisecond parse, so a low CPU median is a lower bound), max RSS growth per
input (ru_maxrss high-water mark of the worker before/after each input), and the slowest inputs with their classes.
Inputs that run past --stall CPU seconds are stopped (SIGPROF: CPU, not wall time, so a loaded machine
does not make stalls) and counted as stalls.

Why one module of ~550 lines: it is a script, run as a file (`python bench/fuzz.py`) and loaded by path by
tests/parsers/test_fuzz_properties.py, which draws from the same mutation classes. The mutators are the
script's vocabulary (a short function each, named in TEXT_MUTATIONS / DOC_MUTATIONS), and the runner and the
summary are what make them a benchmark. bench/ is not a package, so a split would need import-path tricks in
both callers.
"""

from __future__ import annotations

import argparse
import collections
import glob
import io
import logging
import math
import multiprocessing
import os
import random
import re
import resource
import signal
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nianbao.parsers import parse_report  # noqa: E402
from nianbao.parsers.document import parse_document  # noqa: E402
from nianbao.parsers.render import STYLES, random_report, render_report  # noqa: E402

SHARED = REPO.parent / "shared"
STATUSES = {"parsed", "partial", "no_tables", "pre2019", "not_a_report",
            "image_only", "unsupported_format", "unreadable"}
DOC_SUFFIXES = ("pdf", "docx", "ofd", "xlsx")
TEXT_CLASSES = ("byte_flip", "truncate", "tag_delete", "tag_dup", "deep_nest", "encoding_swap",
                "huge_number", "fullwidth_dash", "span_values", "label_merge_split")
DOC_CLASSES = {"pdf": ("pdf_damage", "byte_flip", "truncate"),
               "docx": ("zip_damage", "byte_flip", "truncate"),
               "xlsx": ("zip_damage", "byte_flip", "truncate"),
               "ofd": ("zip_damage", "byte_flip", "truncate")}
GENERATED = 48  # generated reports per worker (deterministic: the same in every worker)


class Stall(BaseException):
    """Raised by SIGPROF: a BaseException, so the parsers' `except Exception` nets cannot swallow it."""


# ------------------------------------------------------------------ bases

def load_bases() -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """(text bases, document bases): (name, bytes)."""
    texts: list[tuple[str, bytes]] = []
    for path in sorted(glob.glob(str(SHARED / "real" / "*.html"))):
        texts.append((f"real/{Path(path).name}", Path(path).read_bytes()))
    for path in sorted(glob.glob(str(SHARED / "seeds" / "*"))):
        texts.append((f"seed/{Path(path).name}", Path(path).read_bytes()))
    for path in sorted(glob.glob(str(REPO / "tests" / "fixtures" / "**" / "*.html"), recursive=True)):
        texts.append((f"fixture/{Path(path).relative_to(REPO / 'tests' / 'fixtures')}", Path(path).read_bytes()))
    rng = random.Random(20261204)
    for n in range(GENERATED):
        edition = ("2019", "2021")[n % 2]
        report = random_report(rng, edition=edition, blank_rate=rng.choice([0.0, 0.3]))
        style = STYLES[n % len(STYLES)]
        texts.append((f"generated/{style}-{edition}-{n}", render_report(report, style=style).encode("utf-8")))
    docs: list[tuple[str, bytes]] = []
    for sub in ("formats", "layout"):
        for path in sorted(glob.glob(str(REPO / "tests" / "fixtures" / sub / "*"))):
            if path.rsplit(".", 1)[-1] in DOC_SUFFIXES:
                docs.append((f"fixture/{sub}/{Path(path).name}", Path(path).read_bytes()))
    return texts, docs


# ------------------------------------------------------------------ text mutations

_TAG_RE = re.compile(r"<[^<>]{0,300}>")
_CELL_RE = re.compile(r"(<t[dh]\b[^>]*>)(.*?)(</t[dh]>)", re.S | re.I)
_DIGITS_RE = re.compile(r"\d+")
_FULL = str.maketrans("0123456789", "０１２３４５６７８９")
_META_RE = re.compile(r"<meta[^>]*charset[^>]*>", re.I)


def _text(data: bytes) -> str:
    from nianbao.parsers.decode import decode_bytes

    return decode_bytes(data)[0]


def byte_flip(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 40)):
        if out:
            out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def tag_delete(rng: random.Random, data: bytes) -> bytes:
    text = _text(data)
    tags = list(_TAG_RE.finditer(text))
    if not tags:
        return data
    drop = {m.start() for m in rng.sample(tags, min(len(tags), rng.randint(1, 60)))}
    return _rebuild(text, tags, drop, "").encode("utf-8")


def _rebuild(text: str, tags: list[re.Match], chosen: set[int], how: str) -> str:
    """`text` with the chosen tags dropped (how "") or repeated int(how) times."""
    out, position = [], 0
    for m in tags:
        if m.start() in chosen:
            out.append(text[position:m.start()])
            out.append("" if how == "" else m.group(0) * int(how))
            position = m.end()
    out.append(text[position:])
    return "".join(out)


def tag_dup(rng: random.Random, data: bytes) -> bytes:
    text = _text(data)
    tags = list(_TAG_RE.finditer(text))
    if not tags:
        return data
    if rng.random() < 0.5:  # single tags repeated
        chosen = {m.start() for m in rng.sample(tags, min(len(tags), rng.randint(1, 30)))}
        return _rebuild(text, tags, chosen, str(rng.randint(2, 4))).encode("utf-8")
    start = rng.randrange(len(text))  # a chunk (rows, tables, half a tag) doubled
    end = min(len(text), start + rng.randint(1, 5000))
    return (text[:end] + text[start:end] + text[end:]).encode("utf-8")


def deep_nest(rng: random.Random, data: bytes) -> bytes:
    text = _text(data)
    depth = rng.choice([300, 300, 1000, 1000, 5000, 5000, 2049, 257]) if rng.random() > 0.01 else 100_000
    kind = rng.choice(["div", "table", "font", "mixed", "unclosed"])
    if kind == "table":
        opening, closing = "<table><tr><td>" * depth, "</td></tr></table>" * depth
    elif kind == "mixed":
        opening, closing = "<div class='w'>\n<font size=2>" * depth, "</font></div>" * depth
    elif kind == "unclosed":
        opening, closing = "<div><span>" * depth, ""
    else:
        opening, closing = f"<{kind}>" * depth, f"</{kind}>" * depth
    body = re.search(r"<body[^>]*>", text, re.I)
    end = text.lower().rfind("</body>")
    if body and end > body.end():
        text = text[: body.end()] + opening + text[body.end(): end] + closing + text[end:]
    else:
        text = opening + text + closing
    return text.encode("utf-8")


def encoding_swap(rng: random.Random, data: bytes) -> bytes:
    text = _text(data)
    target = rng.choice(["gbk", "gb18030", "utf-16-le", "utf-16-be", "utf-16", "utf-32", "utf-8-sig", "utf-8"])
    declared = rng.choice(["gbk", "utf-8", "utf-16", "gb2312", "big5", "iso-8859-1", None, "nonsense-charset"])
    text = _META_RE.sub("", text)
    if declared:
        meta = f'<meta http-equiv="Content-Type" content="text/html; charset={declared}">'
        head = re.search(r"<head[^>]*>", text, re.I)
        text = text[: head.end()] + meta + text[head.end():] if head else meta + text
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}.get(target, b"") if rng.random() < 0.7 else b""
    out = bom + text.encode(target, "replace")
    stray = rng.choice(["none", "odd", "surrogate", "utf8_tail", "nul", "reversed_bom"])
    if stray == "odd":
        out += b"\x41"
    elif stray == "surrogate":
        at = rng.randrange(len(out) + 1) & ~1
        out = out[:at] + b"\x00\xd8" + out[at:]
    elif stray == "utf8_tail":
        out += "尾部 <p>１２３</p>".encode()
    elif stray == "nul":
        at = rng.randrange(len(out) + 1)
        out = out[:at] + b"\x00" * rng.randint(1, 9) + out[at:]
    elif stray == "reversed_bom":
        at = rng.randrange(len(out) + 1)
        out = out[:at] + b"\xfe\xff" + out[at:]
    return out


def _cells(rng: random.Random, data: bytes, change: Callable[[str], str], share: float) -> bytes:
    text = _text(data)

    def edit(m: re.Match) -> str:
        return m.group(1) + change(m.group(2)) + m.group(3) if rng.random() < share else m.group(0)

    return _CELL_RE.sub(edit, text).encode("utf-8")


def huge_number(rng: random.Random, data: bytes) -> bytes:
    def change(inner: str) -> str:
        big = str(rng.choice([10**19, 2**63, 2**64, 10**20 + 7, int("9" * rng.randint(20, 60))]))
        return _DIGITS_RE.sub(lambda _: big, inner, count=1)

    if b"<t" not in data[:2_000_000]:  # text pages: numbers in the running text and tab tables
        text = _text(data)
        return _DIGITS_RE.sub(lambda m: str(10**20 + int(m.group(0))) if rng.random() < 0.2 else m.group(0),
                              text).encode("utf-8")
    return _cells(rng, data, change, rng.choice([0.02, 0.2, 1.0]))


def fullwidth_dash(rng: random.Random, data: bytes) -> bytes:
    def change(inner: str) -> str:
        return rng.choice([inner.translate(_FULL), "—", "－", "——", "―", "/", "无", "１，２３４"])

    if b"<t" not in data[:2_000_000]:
        return _text(data).translate(_FULL).replace("\t0\t", "\t—\t").encode("utf-8")
    return _cells(rng, data, change, rng.choice([0.05, 0.3, 1.0]))


def span_values(rng: random.Random, data: bytes) -> bytes:
    text = _text(data)
    values = ["0", "-1", "-7", str(10**9), "65535", "abc", "", "2.5", "1e9", " 3 ", "99999999999999999999"]

    def edit(m: re.Match) -> str:
        if rng.random() > 0.15:
            return m.group(0)
        attr = rng.choice(["colspan", "rowspan"])
        tag = re.sub(rf'\s{attr}\s*=\s*"?[^\s">]*"?', "", m.group(1), flags=re.I)
        return tag[:-1] + f' {attr}="{rng.choice(values)}">' + m.group(2) + m.group(3)

    return _CELL_RE.sub(edit, text).encode("utf-8")


def label_merge_split(rng: random.Random, data: bytes) -> bytes:
    text = _text(data)
    cells = list(_CELL_RE.finditer(text))
    if not cells:
        return data
    out, position = [], 0
    for m in cells:
        roll = rng.random()
        if roll < 0.05:  # merged with the next cell: the closing and the next opening tag gone
            out.append(text[position:m.start()] + m.group(1) + m.group(2))
            position = m.end()
            nxt = re.match(r"\s*<t[dh]\b[^>]*>", text[position:], re.I)
            if nxt:
                position += nxt.end()
        elif roll < 0.10 and len(m.group(2)) > 2:  # split in two cells
            cut = rng.randrange(1, len(m.group(2)))
            out.append(text[position:m.start()] + m.group(1) + m.group(2)[:cut] + m.group(3) + m.group(1)
                       + m.group(2)[cut:] + m.group(3))
            position = m.end()
    out.append(text[position:])
    return "".join(out).encode("utf-8")


# ------------------------------------------------------------------ document mutations

def zip_damage(rng: random.Random, data: bytes) -> bytes:
    how = rng.choice(["truncate", "central_directory", "drop_member", "truncate_member", "garbage_member",
                      "large_member", "flip_member"])
    if how == "truncate":
        return data[: rng.randrange(len(data))]
    if how == "central_directory":
        at = data.rfind(b"PK\x01\x02")
        out = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            i = rng.randrange(max(at, 0), len(out))
            out[i] = rng.randrange(256)
        return bytes(out)
    try:
        source = zipfile.ZipFile(io.BytesIO(data))
        members = source.infolist()
    except Exception:  # noqa: BLE001 - an already broken base: flip bytes instead
        return byte_flip(rng, data)
    victim = rng.choice(members).filename if members else ""
    xml_members = [m.filename for m in members if m.filename.endswith(".xml")]
    if how != "drop_member" and xml_members and rng.random() < 0.8:
        victim = rng.choice(xml_members)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for member in members:
            body = source.read(member.filename)
            if member.filename == victim:
                if how == "drop_member":
                    continue
                if how == "truncate_member":
                    body = body[: rng.randrange(len(body) + 1)]
                elif how == "garbage_member":
                    body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 2000)))
                elif how == "flip_member":
                    body = byte_flip(rng, body)
                elif how == "large_member":
                    body = body + b" " * 30_000_000  # 30 MB of blanks, ~30 KB compressed
            target.writestr(member.filename, body)
    return buffer.getvalue()


def pdf_damage(rng: random.Random, data: bytes) -> bytes:
    how = rng.choice(["stream_bytes", "no_xref", "length_lie", "truncate", "objects_dup", "header_only"])
    if how == "stream_bytes":
        starts = [m.end() for m in re.finditer(rb"stream\r?\n", data)]
        out = bytearray(data)
        for _ in range(rng.randint(1, 50)):
            base = rng.choice(starts) if starts else 0
            i = min(len(out) - 1, base + rng.randrange(2000))
            out[i] = rng.randrange(256)
        return bytes(out)
    if how == "no_xref":
        return re.sub(rb"xref.*?trailer", b"", data, count=1, flags=re.S).replace(b"startxref", b"startxrex")
    if how == "length_lie":
        return re.sub(rb"/Length (\d+)", lambda m: b"/Length " + str(rng.choice([0, 1, 10**9, -5])).encode(),
                      data)
    if how == "truncate":
        return data[: rng.randrange(len(data))]
    if how == "objects_dup":
        objects = list(re.finditer(rb"\d+ 0 obj.*?endobj", data, re.S))
        if objects:
            m = rng.choice(objects)
            return data[: m.end()] + b"\n" + m.group(0) * rng.randint(2, 50) + data[m.end():]
        return data
    return data[:1024]


TEXT_MUTATIONS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    "byte_flip": byte_flip, "truncate": truncate, "tag_delete": tag_delete, "tag_dup": tag_dup,
    "deep_nest": deep_nest, "encoding_swap": encoding_swap, "huge_number": huge_number,
    "fullwidth_dash": fullwidth_dash, "span_values": span_values, "label_merge_split": label_merge_split}
assert tuple(TEXT_MUTATIONS) == TEXT_CLASSES
DOC_MUTATIONS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    "zip_damage": zip_damage, "pdf_damage": pdf_damage, "byte_flip": byte_flip, "truncate": truncate}


# ------------------------------------------------------------------ one input

_BASES: tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]] | None = None


def _init() -> None:
    global _BASES
    logging.disable(logging.WARNING)  # pdfminer's per-object complaints about damaged PDFs: noise here
    _BASES = load_bases()


def make_input(seed: int, i: int, doc_share: float, classes: tuple[str, ...] | None
               ) -> tuple[str, str, str, bytes, str | None]:
    """(class, base name, door, bytes, filename) of input i: a pure function of (seed, i)."""
    assert _BASES is not None
    texts, docs = _BASES
    rng = random.Random(seed * 1_000_003 + i)
    if docs and rng.random() < doc_share and (classes is None or set(classes) & set(DOC_MUTATIONS)):
        name, base = rng.choice(docs)
        kind = name.rsplit(".", 1)[-1]
        allowed = [c for c in DOC_CLASSES[kind] if classes is None or c in classes] or list(DOC_CLASSES[kind])
        cls = rng.choice(allowed)
        filename = rng.choice([Path(name).name, None, "report.html", "年报.pdf"])
        return cls, name, "document", DOC_MUTATIONS[cls](rng, base), filename
    name, base = rng.choice(texts)
    allowed = [c for c in TEXT_CLASSES if classes is None or c in classes] or list(TEXT_CLASSES)
    cls = rng.choice(allowed)
    data = TEXT_MUTATIONS[cls](rng, base)
    door = rng.choice(["report", "report", "report_str", "document"])
    return cls, name, door, data, None


def run_one(seed: int, i: int, doc_share: float, classes: tuple[str, ...] | None, stall: float
            ) -> dict[str, Any]:
    cls, name, door, data, filename = make_input(seed, i, doc_share, classes)
    result: dict[str, Any] = {"i": i, "cls": cls, "base": name, "door": door, "size": len(data)}
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start, wall = time.process_time(), time.perf_counter()
    signal.setitimer(signal.ITIMER_PROF, stall)
    try:
        if door == "document":
            report = parse_document(data, filename=filename)
        elif door == "report_str":
            report = parse_report(data.decode("utf-8", "replace"))
        else:
            report = parse_report(data)
    except Stall:
        result.update(escaped=None, stalled=True, status="stalled")
        report = None
    except BaseException as error:  # noqa: BLE001 - what the fuzz is looking for
        result.update(escaped=f"{type(error).__name__}: {error}"[:300], status="escaped")
        report = None
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
    result["cpu"] = time.process_time() - start
    result["wall"] = time.perf_counter() - wall
    result["rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    if report is not None:
        result["status"] = report.get("status")
        caught = [w for w in report.get("warnings", []) if w.startswith(("parser error", "document error"))]
        result["caught"] = caught[0][:300] if caught else None
        bad = [c for key in ("active", "requests", "appeals") for c in report.get(key, [])
               if not (c.get("value") is None or (type(c["value"]) in (int, float)
                                                   and (type(c["value"]) is int or math.isfinite(c["value"]))))]
        result["bad_values"] = len(bad)
    return result


def _alarm(_signum: int, _frame: Any) -> None:
    raise Stall()


def _work(args: tuple[int, list[int], float, tuple[str, ...] | None, float]) -> list[dict[str, Any]]:
    seed, indexes, doc_share, classes, stall = args
    if _BASES is None:
        _init()
    signal.signal(signal.SIGPROF, _alarm)
    return [run_one(seed, i, doc_share, classes, stall) for i in indexes]


# ------------------------------------------------------------------ report

def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def summarize(results: list[dict[str, Any]], wall: float) -> int:
    escaped = [r for r in results if r.get("escaped")]
    stalled = [r for r in results if r.get("stalled")]
    caught = [r for r in results if r.get("caught")]
    bad_status = [r for r in results if r["status"] not in STATUSES and r["status"] not in ("escaped", "stalled")]
    bad_values = [r for r in results if r.get("bad_values")]
    cpu = [r["cpu"] for r in results]
    print(f"inputs                 {len(results):,}  (wall {wall:.0f} s, {len(results) / max(wall, 1e-9):.0f}/s)")
    print(f"escaped exceptions     {len(escaped)}")
    print(f"stalls (> --stall)     {len(stalled)}")
    print(f"caught parser errors   {len(caught)}  (warnings 'parser error'/'document error': no escape)")
    print(f"undocumented statuses  {len(bad_status)}")
    print(f"non-number values      {len(bad_values)}")
    print("statuses               " + ", ".join(f"{k} {v:,}" for k, v in
                                                 collections.Counter(r["status"] for r in results).most_common()))
    print("classes                " + ", ".join(f"{k} {v:,}" for k, v in
                                                 sorted(collections.Counter(r["cls"] for r in results).items())))
    print(f"CPU per input          median {_p(cpu, .5) * 1e3:.1f} ms, p99 {_p(cpu, .99) * 1e3:.0f} ms, "
          f"max {max(cpu, default=0) * 1e3:.0f} ms")
    walls = [r["wall"] for r in results]
    print(f"wall per input         median {_p(walls, .5) * 1e3:.1f} ms, p99 {_p(walls, .99) * 1e3:.0f} ms, "
          f"max {max(walls, default=0) * 1e3:.0f} ms  (shared machine: includes waiting for a core)")
    by_class = collections.defaultdict(list)
    for r in results:
        by_class[r["cls"]].append(r["cpu"])
    print("p99 / max by class     " + "; ".join(f"{k} {_p(v, .99) * 1e3:.0f}/{max(v) * 1e3:.0f} ms"
                                                for k, v in sorted(by_class.items())))
    top_rss = max(results, key=lambda r: r["rss_kb"], default=None)
    if top_rss:
        print(f"max RSS growth/input   {top_rss['rss_kb'] / 1024:.1f} MB (input {top_rss['i']}, {top_rss['cls']}, "
              f"{top_rss['base']}, {top_rss['size']:,} bytes)")
    print("slowest 5:")
    for r in sorted(results, key=lambda r: -r["cpu"])[:5]:
        print(f"  {r['cpu'] * 1e3:8.0f} ms  input {r['i']:>6}  {r['cls']:<17} {r['door']:<10} {r['base']} "
              f"({r['size']:,} bytes) -> {r['status']}")
    for title, rows, key in (("escaped", escaped, "escaped"), ("stalled", stalled, "base"),
                             ("caught", caught, "caught"), ("bad status", bad_status, "status"),
                             ("bad values", bad_values, "bad_values")):
        if rows:
            print(f"{title} (first 10 of {len(rows)}; replay with --replay I):")
            kinds = collections.Counter(str(r[key])[:120] for r in rows)
            for text, n in kinds.most_common(10):
                example = next(r for r in rows if str(r[key])[:120] == text)
                print(f"  {n:6} x {text}  (e.g. input {example['i']}, {example['cls']}, {example['base']})")
    return 1 if escaped or bad_status or bad_values else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000, help="inputs (default 100,000)")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--doc-share", type=float, default=0.03, help="share of document inputs (default 0.03)")
    parser.add_argument("--classes", help="comma-separated mutation classes (default: all)")
    parser.add_argument("--stall", type=float, default=60.0, help="CPU seconds before an input is stopped")
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--replay", type=int, help="run input I alone and print its report's status and warnings")
    parser.add_argument("--dump", help="with --replay: write the input's bytes to this file")
    args = parser.parse_args()
    classes = tuple(args.classes.split(",")) if args.classes else None

    if args.replay is not None:
        _init()
        cls, name, door, data, filename = make_input(args.seed, args.replay, args.doc_share, classes)
        if args.dump:
            Path(args.dump).write_bytes(data)
        report = parse_document(data, filename=filename) if door == "document" else (
            parse_report(data.decode("utf-8", "replace")) if door == "report_str" else parse_report(data))
        print(f"input {args.replay}: {cls} of {name} via {door}, {len(data):,} bytes -> {report['status']}")
        for warning in report["warnings"]:
            print("  warning:", warning[:300])
        return 0

    indexes = list(range(args.count))
    jobs = [(args.seed, indexes[k:k + args.chunk], args.doc_share, classes, args.stall)
            for k in range(0, len(indexes), args.chunk)]
    results: list[dict[str, Any]] = []
    started = time.monotonic()
    step = max(1, len(jobs) // 50)
    if args.workers <= 1:
        batches = map(_work, jobs)
    else:
        pool = multiprocessing.get_context("fork").Pool(args.workers, initializer=_init)
        batches = pool.imap_unordered(_work, jobs)
    for n, batch in enumerate(batches, 1):
        results.extend(batch)
        for r in batch:
            if r["cpu"] > 5 or r.get("escaped") or r.get("stalled"):
                print(f"  slow/escaped input {r['i']}: {r['cpu']:.1f} s CPU, {r['cls']} of {r['base']} via "
                      f"{r['door']} -> {r['status']}", file=sys.stderr, flush=True)
        if n % step == 0:
            escaped = sum(1 for r in results if r.get("escaped"))
            slowest = max(r["cpu"] for r in results)
            print(f"  ... {len(results):,} inputs, {time.monotonic() - started:.0f} s, {escaped} escaped, "
                  f"max {slowest * 1e3:.0f} ms", file=sys.stderr, flush=True)
    return summarize(results, time.monotonic() - started)


if __name__ == "__main__":
    sys.exit(main())

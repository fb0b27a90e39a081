"""Bytes → text: a BOM, else strict UTF-8, else the declared charset, else GB18030, else a guess.

Strict UTF-8 goes before the declaration because non-ASCII text that is valid UTF-8 practically
never is GBK, while GB18030 decodes almost any bytes without error — a page mislabelled gbk
would otherwise come out as mojibake. GB2312 and GBK are subsets of GB18030, so a page declaring
either is decoded as GB18030 (pages labelled gb2312 routinely contain GBK-only characters).
"""

from __future__ import annotations

import codecs
import re

_DECLARED_RE = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{2,40})""", re.I)
_XML_DECL_RE = re.compile(rb"""<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030",
              "cp936": "gb18030", "ms936": "gb18030", "windows-936": "gb18030", "euc-cn": "gb18030",
              "iso-8859-1": "cp1252", "latin-1": "cp1252", "us-ascii": "utf-8", "ascii": "utf-8"}
# UTF-32 before UTF-16: the UTF-32-LE BOM starts with UTF-16-LE's (a UTF-16 page whose first
# character is U+0000 looks the same: decided by which decodes, see _from_bom)
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_COMMON_HAN = "的一是在了和有中人政府公开信息年报告"


def declared_charset(data: bytes) -> str | None:
    head = data[:4096]
    match = _XML_DECL_RE.search(head) or _DECLARED_RE.search(head)
    if not match:
        return None
    name = match.group(1).decode("ascii", "replace").strip().lower()
    name = _SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _plausible_chinese(text: str) -> bool:
    sample = text[:20000]
    return any(ch in sample for ch in _COMMON_HAN) or not any(ord(ch) > 0x7F for ch in sample)


_RUN = 3  # markup characters in a row on the other byte parity: the text shifted (not a chance match)


def _realignments(body: bytes, name: str) -> list[int]:
    """Where a UTF-16 body's code units shift by a byte (a stray byte inserted or lost): the
    offsets from which it decodes aligned again. HTML's '<' is the code unit 3C 00 (LE) / 00 3C
    (BE); aligned, every one sits at an even offset. A run of `_RUN` on the other parity marks a
    shift (a lone odd one is two CJK characters that happen to contain those bytes)."""
    unit = b"<\x00" if name == "utf-16-le" else b"\x00<"
    parity, starts, pending = 0, [], []
    at = body.find(unit)
    while at != -1:
        if at % 2 == parity:
            pending.clear()
        else:
            pending.append(at)
            if len(pending) == _RUN:
                starts.append(pending[0])
                parity = 1 - parity
                pending.clear()
        at = body.find(unit, at + 1)
    return starts


def _from_bom(data: bytes, warnings: list[str]) -> tuple[str, str] | None:
    """A page that starts with a byte-order mark, decoded by it: strictly if it can be, else with
    U+FFFD for the stray bytes (odd length, lone surrogates, a fragment in another charset) and a
    warning. A UTF-8 BOM on a body that is not UTF-8 (an editor's BOM on a GBK page) is not trusted:
    None, and the caller reads the body like any other page."""
    for bom, name in _BOMS:
        if not data.startswith(bom):
            continue
        body = data[len(bom):]
        if name.startswith("utf-16"):
            starts = _realignments(body, name)
            if starts:
                pieces = zip([0, *starts], [*starts, len(body)])
                text = "".join(body[a:b].decode(name, errors="replace") for a, b in pieces)
                warnings.append(f"{name.upper()} page (byte-order mark) with stray bytes that shift the text: "
                                f"realigned at byte(s) {', '.join(str(at + len(bom)) for at in starts[:5])}"
                                f"{' …' if len(starts) > 5 else ''}; the text just before each is garbled")
                return text, name
        try:
            text = body.decode(name)
        except UnicodeDecodeError as error:
            if name == "utf-8":
                warnings.append(f"UTF-8 byte-order mark, but the body is not UTF-8 ({error.reason} at byte "
                                f"{error.start + len(bom)}); read by its declaration or content instead")
                return None
            text = body.decode(name, errors="replace")
            bad = text.count("\ufffd") - body.decode(name, errors="ignore").count("\ufffd")
            if name == "utf-32-le" and data.startswith(codecs.BOM_UTF16_LE) and bad * 100 > len(text):
                continue  # FF FE 00 00 that is not UTF-32: a UTF-16-LE page starting with U+0000
            warnings.append(f"{name.upper()} page (byte-order mark) with {bad} undecodable byte sequence(s) "
                            f"(first at byte {error.start + len(bom)}: {error.reason}); replaced by U+FFFD")
            return text, name
        strays = text.count("\ufffe") + text.count("\uffff")
        if strays:  # a reversed BOM or misaligned bytes inside: noncharacters, dropped by the parser
            warnings.append(f"{name.upper()} page (byte-order mark) with {strays} noncharacter(s) U+FFFE/U+FFFF "
                            "(stray bytes?)")
        return text, name
    return None


def decode_bytes(data: bytes) -> tuple[str, str, list[str]]:
    """(text, encoding used, warnings). Never raises."""
    warnings: list[str] = []
    found = _from_bom(data, warnings)
    if found is not None:
        return found[0], found[1], warnings
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]  # a UTF-8 BOM on a body in another charset (warned)
    declared = declared_charset(data)
    if declared:
        declared = _SUPERSETS.get(declared, declared)
    try:
        text = data.decode("utf-8")
        if declared not in (None, "utf-8") and not text.isascii():
            warnings.append(f"declared charset {declared}, but the page is valid UTF-8; read as UTF-8")
        return text, "utf-8", warnings
    except UnicodeDecodeError:
        pass
    if declared and declared != "utf-8":
        try:
            return data.decode(declared), declared, warnings
        except (UnicodeDecodeError, LookupError):
            warnings.append(f"declared charset {declared} does not decode the page; guessed instead")
    elif declared == "utf-8":
        warnings.append("declared charset utf-8 does not decode the page; guessed instead")
    try:
        text = data.decode("gb18030")
        if _plausible_chinese(text):
            return text, "gb18030", warnings
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:200000]).best()
        if best is not None and best.encoding:
            name = _SUPERSETS.get(best.encoding, best.encoding)
            warnings.append(f"encoding guessed as {name}")
            return data.decode(name, errors="replace"), name, warnings
    except Exception:  # noqa: BLE001 - a guesser failure must not stop the parse
        pass
    warnings.append("encoding unknown; decoded as gb18030 with replacement characters")
    return data.decode("gb18030", errors="replace"), "gb18030", warnings

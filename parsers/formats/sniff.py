"""What a file is, from its bytes: magic numbers first, the name and the HTTP content type only to break ties.

Why bytes first: portals mislabel attachments all the time (a PDF served as text/html, a DOCX saved as
`.doc`, a WPS file as `application/octet-stream`), so the declared type is evidence of last resort. The
name and content type decide only what the bytes cannot: that an OLE2 Word file or a DOCX came from
Kingsoft WPS when it carries no marker of its own, or which kind a broken file was meant to be.

Kinds: html (HTML/XHTML/plain text, any charset), pdf, docx, doc, wps, rtf, ofd, xlsx, xls, png, jpeg,
tiff, gif, bmp, webp; `None` for bytes we do not know (the signature says what they look like).
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass

IMAGE_KINDS = ("png", "jpeg", "tiff", "gif", "bmp", "webp")
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Kingsoft WPS Office stamps every file it saves with this custom property (docProps/custom.xml in a
# DOCX, the DocumentSummaryInformation stream in an OLE2 file, stored as UTF-16 or 8-bit text)
_KSO_MARK = "KSOProductBuildVer"
_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"II*\x00", "tiff"),
                (b"MM\x00*", "tiff"), (b"GIF87a", "gif"), (b"GIF89a", "gif"))
_EXT_KINDS = {"htm": "html", "html": "html", "shtml": "html", "xhtml": "html", "txt": "html", "pdf": "pdf",
              "docx": "docx", "doc": "doc", "wps": "wps", "wpt": "wps", "rtf": "rtf", "ofd": "ofd",
              "xlsx": "xlsx", "xls": "xls", "et": "xls", "png": "png", "jpg": "jpeg", "jpeg": "jpeg",
              "tif": "tiff", "tiff": "tiff", "gif": "gif", "bmp": "bmp", "webp": "webp"}
_TYPE_KINDS = (("pdf", "pdf"), ("wordprocessingml", "docx"), ("msword", "doc"), ("ms-works", "wps"),
               ("kswps", "wps"), ("wps", "wps"), ("ofd", "ofd"), ("spreadsheetml", "xlsx"),
               ("ms-excel", "xls"), ("rtf", "rtf"), ("html", "html"), ("text/", "html"), ("png", "png"),
               ("jpeg", "jpeg"), ("tiff", "tiff"), ("gif", "gif"), ("bmp", "bmp"), ("webp", "webp"))
# bytes that never occur in text in any charset we meet (C0 controls other than \t \n \f \r and ESC)
_BINARY_RE = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


@dataclass(frozen=True)
class Sniffed:
    """`kind` (None: unknown), the `signature` the bytes showed, and `error` when a container is broken."""

    kind: str | None
    signature: str
    error: str | None = None


def declared_kind(content_type: str | None, filename: str | None) -> str | None:
    """The kind the file name's extension, else the HTTP content type, claims (a claim, not evidence)."""
    name = (filename or "").lower().rsplit("/", 1)[-1].split("?", 1)[0]
    if "." in name and (kind := _EXT_KINDS.get(name.rsplit(".", 1)[-1])):
        return kind
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    return next((kind for needle, kind in _TYPE_KINDS if needle in ctype), None) if ctype else None


def sniff(data: bytes, content_type: str | None = None, filename: str | None = None) -> Sniffed:
    """The kind of `data` by its magic bytes; the declared kind only breaks ties (see the module doc)."""
    declared = declared_kind(content_type, filename)
    head = data[:1024]
    if b"%PDF-" in head:
        return Sniffed("pdf", "%PDF-")
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return _zip(data, declared)
    if data[:8] == _OLE2:
        return _ole2(data, declared)
    if data[:5] == b"{\\rtf":
        return Sniffed("rtf", "{\\rtf")
    for magic, kind in _IMAGE_MAGIC:
        if data.startswith(magic):
            return Sniffed(kind, repr(magic))
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return Sniffed("webp", "RIFF WEBP")
    if data[:2] == b"BM" and len(data) >= 26 and data[6:10] == b"\x00\x00\x00\x00" \
            and int.from_bytes(data[14:18], "little") in (12, 40, 52, 56, 64, 108, 124):
        return Sniffed("bmp", "BM")
    if _is_text(data):
        return Sniffed("html", "text")
    return Sniffed(None, _signature(data))


def _zip(data: bytes, declared: str | None) -> Sniffed:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            try:  # only a marker: a damaged member here is the converter's to report
                custom = archive.read("docProps/custom.xml") if "docProps/custom.xml" in names else b""
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError, ValueError, NotImplementedError):
                custom = b""
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError, ValueError, NotImplementedError) as error:
        kind = declared if declared in ("docx", "xlsx", "ofd", "wps") else "zip"
        return Sniffed(kind, "zip archive", f"broken zip archive: {error}")
    members = set(names)
    if "word/document.xml" in members:
        kso = _KSO_MARK.encode() in custom
        return Sniffed("wps" if kso or declared == "wps" else "docx",
                       "zip with word/document.xml" + (f" and {_KSO_MARK}" if kso else ""))
    if "OFD.xml" in members:
        return Sniffed("ofd", "zip with OFD.xml")
    if "xl/workbook.xml" in members:
        return Sniffed("xlsx", "zip with xl/workbook.xml")
    shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
    return Sniffed(None, f"zip archive without a known document ({shown or 'empty'})")


def _ole2(data: bytes, declared: str | None) -> Sniffed:
    """OLE2 compound file: the stream names sit UTF-16LE in the directory sectors, so a byte search
    finds them without walking the FAT (a broken file then fails in its converter, with its error)."""
    def has(name: str) -> bool:
        return name.encode("utf-16-le") in data

    sector = 1 << int.from_bytes(data[30:32], "little") if len(data) >= 512 else 512
    directory = int.from_bytes(data[48:52], "little") if len(data) >= 512 else 0
    if len(data) < 512 or sector not in (512, 4096) or (directory + 2) * sector > len(data):
        kind = declared if declared in ("doc", "wps", "xls") else "ole2"
        return Sniffed(kind, "OLE2 compound file", "broken OLE2 file: its directory lies past the end (truncated?)")

    if has("EncryptedPackage"):  # a password-protected DOCX/XLSX travels inside an OLE2 wrapper
        kind = declared if declared in ("docx", "doc", "wps", "xlsx", "xls") else "ole2"
        return Sniffed(kind, "OLE2 with an EncryptedPackage stream", "password-protected document")
    if has("WordDocument"):
        kso = _KSO_MARK.encode("utf-16-le") in data or _KSO_MARK.encode() in data
        return Sniffed("wps" if kso or declared == "wps" else "doc",
                       "OLE2 with a WordDocument stream" + (f" and {_KSO_MARK}" if kso else ""))
    if has("Workbook") or has("Book"):
        return Sniffed("xls", "OLE2 with a Workbook stream")
    if has("CONTENTS") and declared == "wps":  # Microsoft Works word processor, which LibreOffice reads
        return Sniffed("wps", "OLE2 with a CONTENTS stream (Works)")
    streams = [name for name in ("PowerPoint Document", "CONTENTS", "VisioDocument")
               if has(name)]
    return Sniffed(None, "OLE2 compound file" + (f" with {', '.join(streams)}" if streams else ""))


def _is_text(data: bytes) -> bool:
    """Text in some charset: a UTF-16/UTF-32 BOM, BOM-less UTF-16 (see _utf16_without_bom), or
    (almost) no C0 control bytes in the first 4 KB."""
    if data[:4] in (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00") or data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    if _utf16_without_bom(data[:4096]):
        return True
    sample = data[:4096]
    return not sample or len(_BINARY_RE.findall(sample)) * 100 <= len(sample)


def _utf16_without_bom(sample: bytes) -> bool:
    """UTF-16 LE or BE without a BOM (parse_report reads it), as HTML saved as "Unicode" is: at least
    30% of the code units ASCII (the markup; CJK text fills the rest), a '<' among them, and (almost)
    no C0 control characters, which binary data with zero bytes is full of."""
    pairs = len(sample) // 2
    if pairs < 8:
        return False
    for zero, char in ((1, 0), (0, 1)):  # LE: the high byte (second) is zero; BE: the first
        units = list(zip(sample[zero::2][:pairs], sample[char::2][:pairs]))
        ascii_units = sum(1 for h, c in units if h == 0 and (32 <= c < 127 or c in (9, 10, 13)))
        controls = sum(1 for h, c in units if h == 0 and c < 32 and c not in (9, 10, 12, 13))
        if ascii_units * 10 >= pairs * 3 and controls * 100 <= pairs and (0, 60) in units:
            return True
    return False


def _signature(data: bytes) -> str:
    """The first bytes, shown so a reader can look them up: hex and the printable ASCII."""
    head = data[:16]
    ascii_ = "".join(chr(b) if 32 <= b < 127 else "." for b in head)
    return f"first bytes {head.hex(' ')} ({ascii_!r})" if head else "empty"

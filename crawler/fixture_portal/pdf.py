"""A tiny PDF writer for fixtures: CJK text lines and ruled tables that pdfplumber can read back.

No reportlab in the environment, and fixtures need only text: a Type0 font (Identity-H, CID =
Unicode code point) with a ToUnicode CMap, no embedded glyphs. Viewers show boxes; text
extraction is exact. `image_only=True` makes a page with no text at all (a scanned report).
"""

from __future__ import annotations


def _hex(text: str) -> str:
    return "".join(f"{ord(c):04X}" for c in text if ord(c) <= 0xFFFF)


def _to_unicode(chars: set[str]) -> bytes:
    codes = sorted(ord(c) for c in chars if ord(c) <= 0xFFFF)
    out = ["/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
           "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
           "/CMapName /Adobe-Identity-UCS def", "/CMapType 2 def",
           "1 begincodespacerange", "<0000> <FFFF>", "endcodespacerange"]
    for i in range(0, len(codes), 100):
        chunk = codes[i:i + 100]
        out.append(f"{len(chunk)} beginbfchar")
        out.extend(f"<{c:04X}> <{c:04X}>" for c in chunk)
        out.append("endbfchar")
    out += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(out).encode("ascii")


def make_pdf(lines: list[str], table: list[list[str]] | None = None, image_only: bool = False) -> bytes:
    """One A4 page: `lines` of text from the top, then `table` as a ruled grid."""
    ops: list[str] = []
    chars: set[str] = set()
    size, y = 11, 800
    if not image_only:
        for line in lines:
            chars.update(line)
            ops.append(f"BT /F1 {size} Tf 50 {y} Td <{_hex(line)}> Tj ET")
            y -= 18
        if table:
            y -= 10
            ncols = max(len(r) for r in table)
            col_w, row_h, x0 = 480 / ncols, 18, 50
            for r, row in enumerate(table):
                top = y - r * row_h
                for c in range(ncols):
                    x = x0 + c * col_w
                    ops.append(f"{x:.1f} {top - row_h:.1f} {col_w:.1f} {row_h} re S")
                    cell = row[c] if c < len(row) else ""
                    chars.update(cell)
                    if cell:
                        ops.append(f"BT /F1 9 Tf {x + 3:.1f} {top - row_h + 5:.1f} Td <{_hex(cell)}> Tj ET")
    else:
        ops.append("0.5 g 50 400 495 400 re f")  # a grey block standing in for a scanned image
    stream = "\n".join(ops).encode("ascii")
    cmap = _to_unicode(chars)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /Identity-H /DescendantFonts [6 0 R] "
        b"/ToUnicode 7 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /STSong-Light "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
        b"/FontDescriptor 8 0 R /DW 1000 /CIDToGIDMap /Identity >>",
        b"<< /Length %d >>\nstream\n" % len(cmap) + cmap + b"\nendstream",
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 4 /FontBBox [0 -200 1000 900] /ItalicAngle 0 "
        b"/Ascent 880 /Descent -120 /CapHeight 880 /StemV 80 >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)

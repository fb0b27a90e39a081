"""Benchmark the OCR of scanned reports (parsers.ocr): pages/min on one core, per stage, at 150 and 200 dpi,
and what was read (per-cell accuracy against the fixtures' truth, share of cells flagged low-confidence).

Run from the repository root (one command):

    .venv/bin/python bench/ocr.py                 # the scan fixtures at 150 and 200 dpi
    .venv/bin/python bench/ocr.py --dpi 200 --engines   # also tesserocr vs pytesseract per cell

Stages, CPU seconds of this process (time.process_time, so "one core" even on a shared box; tesseract
runs in-process with OMP_THREAD_LIMIT=1): render (pypdfium2 page → greyscale image; for image fixtures
the decode), layout (binarise, deskew, ruling lines, cells), ocr (every cell, then the page's text
outside the tables). Image fixtures (photographed pages) are read at their own resolution.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nianbao.parsers import parse_report  # noqa: E402
from nianbao.parsers.ocr import THRESHOLD, scan_images, scan_pdf  # noqa: E402
from nianbao.parsers.ocr.engine import Engine  # noqa: E402

SCANS = REPO / "tests" / "fixtures" / "scans"
FIXTURES = ("county_2023", "shanghai_2019", "pingtan_2025", "broken_text_2022")
KEYS = {"active": ("row", "measure"), "requests": ("row", "column"), "appeals": ("procedure", "outcome")}


def read(name: str, dpi: int, engine: Engine) -> dict:
    pdf = SCANS / f"{name}.pdf"
    if pdf.exists():
        return scan_pdf(pdf.read_bytes(), dpi, engine=engine)
    return scan_images([p.read_bytes() for p in sorted(SCANS.glob(f"{name}_p*"))], engine=engine)


def accuracy(name: str, result: dict) -> tuple[int, int, int, int]:
    """(cells, exact, flagged, confident-but-wrong) against the fixture's truth."""
    report = parse_report(result["html"])
    truth = json.loads((SCANS / f"{name}.truth.json").read_text(encoding="utf-8"))
    at = {}
    for cell in result["cells"]:
        for dr in range(cell["rowspan"]):
            for dc in range(cell["colspan"]):
                at[(cell["table"], cell["row"] + dr, cell["col"] + dc)] = cell
    total = exact = flagged = confident_wrong = 0
    for table, keys in KEYS.items():
        parsed = {tuple(c[k] for k in keys): c for c in report[table]}
        for want in truth[table]:
            got = parsed.get(tuple(want[k] for k in keys)) or {}
            pos = got.get("position")
            ocr = at.get((pos["table"], pos["row"], pos["col"])) if pos else None
            ok = got.get("value") == want["value"]
            total += 1
            exact += ok
            flagged += bool(ocr and ocr["low_confidence"])
            confident_wrong += (not ok) and bool(ocr and ocr["confidence"] >= THRESHOLD)
    return total, exact, flagged, confident_wrong


def engines(samples: int = 200) -> None:
    """Per-cell time of one reused tesserocr API against pytesseract (a tesseract process per call)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 30)
    cells = []
    for i in range(samples):
        image = Image.new("L", (140, 50), 255)
        ImageDraw.Draw(image).text((10, 8), str(i * 37 % 1000), font=font, fill=0)
        cells.append(image)
    engine = Engine()
    started = time.process_time(), time.perf_counter()
    for image in cells:
        engine.read(image, "digits", 200)
    tess = (time.process_time() - started[0]) / samples, (time.perf_counter() - started[1]) / samples
    try:
        import pytesseract
    except ImportError:
        print(f"per cell: tesserocr {tess[1] * 1000:.1f} ms wall ({tess[0] * 1000:.1f} ms CPU); "
              "pytesseract not installed")
        return
    config = "--psm 7 -c tessedit_char_whitelist=0123456789.-"
    started = time.perf_counter()
    for image in cells[:50]:
        pytesseract.image_to_string(image, lang="eng", config=config)
    py = (time.perf_counter() - started) / 50
    print(f"per digit cell (wall, incl. child processes): tesserocr {tess[1] * 1000:.1f} ms, "
          f"pytesseract {py * 1000:.1f} ms ({py / tess[1]:.0f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dpi", type=int, nargs="*", default=[150, 200])
    parser.add_argument("--engines", action="store_true", help="also time tesserocr against pytesseract")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; CPU seconds of one process, "
          f"OMP_THREAD_LIMIT={os.environ['OMP_THREAD_LIMIT']}")
    engine = Engine()
    engine.read(__import__("PIL.Image", fromlist=["Image"]).new("L", (60, 30), 255), "line")  # load models first
    header = f"{'fixture':<18}{'dpi':>5}{'pages':>6}{'render':>8}{'layout':>8}{'ocr':>8}{'s/page':>8}" \
             f"{'pages/min':>10}{'cells':>7}{'exact':>7}{'flagged':>8}{'conf.wrong':>11}"
    for dpi in args.dpi:
        print()
        print(header)
        sums = {"pages": 0, "render": 0.0, "layout": 0.0, "ocr": 0.0, "cells": 0, "exact": 0, "flagged": 0, "cw": 0}
        for name in FIXTURES:
            if not (SCANS / f"{name}.pdf").exists() and dpi != args.dpi[-1]:
                continue   # page images have one resolution: read once, in the last dpi's table
            started = time.process_time()
            result = read(name, dpi, engine)
            total_cpu = time.process_time() - started
            pages = len(result["pages"])
            stage = {k: sum(p["timings"][k] for p in result["pages"]) for k in ("render", "layout", "ocr")}
            cells, exact, flagged, cw = accuracy(name, result)
            page_dpi = result["pages"][0]["dpi"]
            print(f"{name:<18}{page_dpi:>5}{pages:>6}{stage['render'] / pages:>8.2f}{stage['layout'] / pages:>8.2f}"
                  f"{stage['ocr'] / pages:>8.2f}{total_cpu / pages:>8.2f}{60 * pages / total_cpu:>10.1f}"
                  f"{cells:>7}{exact / cells:>7.1%}{flagged / cells:>8.1%}{cw:>11}")
            sums["pages"] += pages
            for k in ("render", "layout", "ocr"):
                sums[k] += stage[k]
            sums["cells"] += cells
            sums["exact"] += exact
            sums["flagged"] += flagged
            sums["cw"] += cw
            sums.setdefault("cpu", 0.0)
            sums["cpu"] = sums.get("cpu", 0.0) + total_cpu
        p = sums["pages"]
        print(f"{'all':<18}{dpi:>5}{p:>6}{sums['render'] / p:>8.2f}{sums['layout'] / p:>8.2f}{sums['ocr'] / p:>8.2f}"
              f"{sums['cpu'] / p:>8.2f}{60 * p / sums['cpu']:>10.1f}{sums['cells']:>7}"
              f"{sums['exact'] / sums['cells']:>7.1%}{sums['flagged'] / sums['cells']:>8.1%}{sums['cw']:>11}")
    print(f"\ntesseract calls: {engine.calls}")
    if args.engines:
        engines()


if __name__ == "__main__":
    main()

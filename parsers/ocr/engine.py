"""Tesseract, through tesserocr: one API instance per configuration, reused for every cell.

Why tesserocr and not pytesseract: pytesseract starts a `tesseract` process per call (model load
each time: 98-225 ms a digit cell measured, against 2.4-4.7 ms here); a page has 100-300 cells,
so only an in-process API reused across cells meets 10 s/page (bench/ocr.py --engines measures both).
OMP_THREAD_LIMIT=1 before tesseract loads: its OpenMP threads only add contention on a shared box, and the
target is per core.

`calls` counts recognitions, so a test can assert that a cached rebuild makes none.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from PIL import Image  # noqa: E402

_TESSDATA_DIRS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)
DIGITS = "0123456789.-"


def tessdata_dir() -> str | None:
    """Debian's tessdata (where tesseract-ocr-chi-sim puts chi_sim), or $TESSDATA_PREFIX."""
    env = os.environ.get("TESSDATA_PREFIX")
    for candidate in ([env] if env else []) + list(_TESSDATA_DIRS):
        if candidate and Path(candidate, "chi_sim.traineddata").exists():
            return candidate
    return None


@dataclass(frozen=True)
class Reading:
    """What tesseract read: text (whitespace kept as tesseract gave it) and confidence 0-1
    (the lowest word confidence: one doubtful digit makes the whole number doubtful)."""

    text: str
    confidence: float


class Engine:
    """Lazily opened tesserocr APIs: `digits` (eng, whitelist, one line), `line`/`block` (chi_sim)."""

    def __init__(self) -> None:
        self.calls = 0
        self._apis: dict[str, object] = {}
        self._lock = threading.Lock()

    def available(self) -> bool:
        try:
            import tesserocr  # noqa: F401
        except ImportError:
            return False
        return tessdata_dir() is not None

    def _api(self, kind: str):
        api = self._apis.get(kind)
        if api is not None:
            return api
        import tesserocr

        path = tessdata_dir()
        if kind in ("digits", "digits_cjk"):
            lang = "eng" if kind == "digits" else "chi_sim"
            api = tesserocr.PyTessBaseAPI(path=path, lang=lang, psm=tesserocr.PSM.SINGLE_LINE)
            api.SetVariable("tessedit_char_whitelist", DIGITS)
        else:
            psm = {"line": tesserocr.PSM.SINGLE_LINE, "block": tesserocr.PSM.SINGLE_BLOCK}[kind]
            api = tesserocr.PyTessBaseAPI(path=path, lang="chi_sim", psm=psm)
            api.SetVariable("preserve_interword_spaces", "1")
        self._apis[kind] = api
        return api

    def read(self, image: Image.Image, kind: str, dpi: int = 200) -> Reading:
        """One recognition of a small image (a cell, or a line of text)."""
        with self._lock:
            api = self._api(kind)
            self.calls += 1
            api.SetImage(image)
            api.SetSourceResolution(int(dpi))
            text = api.GetUTF8Text().strip()
            confidences = [c for c in api.AllWordConfidences()]
        confidence = min(confidences) / 100 if confidences and text else 0.0
        return Reading(text, round(max(0.0, min(1.0, confidence)), 3))

    def lines(self, image: Image.Image, dpi: int = 200) -> list[tuple[str, float, tuple[int, int, int, int]]]:
        """Text lines of a page region (chi_sim, automatic layout): (text, confidence, box)."""
        import tesserocr

        with self._lock:
            api = self._api("block")
            self.calls += 1
            api.SetPageSegMode(tesserocr.PSM.AUTO)
            try:
                api.SetImage(image)
                api.SetSourceResolution(int(dpi))
                api.Recognize()
                out = []
                iterator = api.GetIterator()
                level = tesserocr.RIL.TEXTLINE
                while iterator is not None:
                    text = iterator.GetUTF8Text(level) if not iterator.Empty(level) else ""
                    if text and text.strip():
                        box = iterator.BoundingBox(level)
                        out.append((text.strip(), iterator.Confidence(level) / 100, tuple(box)))
                    if not iterator.Next(level):
                        break
            finally:
                api.SetPageSegMode(tesserocr.PSM.SINGLE_BLOCK)
        return out

    def orientation(self, image: Image.Image) -> tuple[int, float]:
        """(degrees counter-clockwise that make the page upright, OSD confidence): a page scanned
        sideways or upside down (tesseract's osd model; ~0.3 s a page at 200 dpi)."""
        import tesserocr

        with self._lock:
            api = self._apis.get("osd")
            if api is None:
                api = tesserocr.PyTessBaseAPI(path=tessdata_dir(), lang="osd", psm=tesserocr.PSM.OSD_ONLY)
                self._apis["osd"] = api
            self.calls += 1
            api.SetImage(image)
            try:
                found = api.DetectOrientationScript() or {}
            except RuntimeError:   # too little text to tell
                return 0, 0.0
        return int(found.get("orient_deg", 0)), float(found.get("orient_conf", 0.0))

    def close(self) -> None:
        for api in self._apis.values():
            api.End()  # type: ignore[attr-defined]
        self._apis.clear()


_DEFAULT: Engine | None = None


def default_engine() -> Engine:
    """The process-wide engine (models loaded once per process)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Engine()
    return _DEFAULT

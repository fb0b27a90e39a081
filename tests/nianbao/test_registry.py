"""The registry's one reader (nianbao.registry): the crawler's validated view and the archive's tolerant
rows come from the same file reading, and the bundled registry is found without importing the crawler."""

from __future__ import annotations

from pathlib import Path

import pytest

from nianbao.archive.sources import source_rows
from nianbao.registry import DEFAULT_REGISTRY, RegistryError, Source, load_sources, read_entries

REPO = Path(__file__).resolve().parents[2]


def test_bundled_registry_is_the_crawlers_file() -> None:
    assert DEFAULT_REGISTRY.resolve() == (REPO / "crawler" / "sources.yaml").resolve()
    validated = load_sources()
    raw = read_entries()
    assert [s.name for s in validated] == [str(e["name"]) for e in raw]
    assert len(validated) >= 1 and all(isinstance(s, Source) for s in validated)
    # the archive's rows are the same entries, sorted by name
    assert [r["name"] for r in source_rows()] == sorted(s.name for s in validated)


def test_crawler_reexports_the_one_reader() -> None:
    import nianbao.registry as one
    from nianbao.crawler import registry as crawler_registry

    for name in ("DEFAULT_REGISTRY", "RegistryError", "Source", "adhoc_source", "load_sources"):
        assert getattr(crawler_registry, name) is getattr(one, name)


def test_tolerant_and_strict_reading(tmp_path: Path) -> None:
    missing = tmp_path / "none.yaml"
    assert read_entries(missing, missing_ok=True) == []
    assert source_rows(missing) == []
    with pytest.raises(RegistryError, match="cannot read registry"):
        read_entries(missing)
    with pytest.raises(RegistryError, match="cannot read registry"):
        load_sources(missing)

    empty = tmp_path / "empty.yaml"
    empty.write_text("sources:\n", encoding="utf-8")
    assert read_entries(empty, missing_ok=True) == []
    with pytest.raises(RegistryError, match="top-level 'sources:' list"):
        load_sources(empty)

    bare = tmp_path / "bare.yaml"
    bare.write_text("- name: b\n  start_urls: http://b.example/x/\n- just a string\n- {note: no name}\n",
                    encoding="utf-8")
    assert read_entries(bare) == [{"name": "b", "start_urls": "http://b.example/x/"}]
    with pytest.raises(RegistryError, match="top-level 'sources:' list"):
        load_sources(bare)  # the crawler insists on the documented shape


def test_archive_rows_keep_every_key(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("sources:\n"
                    "  - {name: zz, start_urls: 'http://z.example/a/', agency: 某局, custom: 7}\n"
                    "  - {name: aa, start_urls: ['http://a.example/1/', 'http://a.example/2/'], platform: trs}\n",
                    encoding="utf-8")
    rows = source_rows(path)
    assert rows == [
        {"name": "aa", "start_urls": ["http://a.example/1/", "http://a.example/2/"], "platform": "trs"},
        {"name": "zz", "start_urls": ["http://z.example/a/"], "agency": "某局", "custom": 7},
    ]
    sources = load_sources(path)
    assert [(s.name, s.start_urls, s.platform, s.extra) for s in sources] == [
        ("zz", ("http://z.example/a/",), "generic", {"custom": 7}),
        ("aa", ("http://a.example/1/", "http://a.example/2/"), "trs", {}),
    ]

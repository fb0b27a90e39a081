"""The incremental build's copy of the database (archive/build.py copy_file): past the page cache
where the file system allows O_DIRECT, else through it; the same bytes either way."""

from __future__ import annotations

import os

import pytest

from nianbao.archive import dbfile as build


def test_a_direct_copy_gives_the_same_bytes_whatever_the_size(tmp_path, monkeypatch):
    probe = tmp_path / "probe"
    probe.write_bytes(b"x")
    try:
        build._copy_direct(probe, tmp_path / "probe2")
    except OSError as exc:
        pytest.skip(f"no O_DIRECT on {tmp_path}: {exc}")
    monkeypatch.setattr(build, "_DIRECT_CHUNK", 1 << 16)  # several chunks, a short last block
    for size in (0, 4096, 10_000, 3 * (1 << 16) + 123):
        src, dst = tmp_path / f"a{size}", tmp_path / f"b{size}"
        data = os.urandom(size)
        src.write_bytes(data)
        dst.write_bytes(b"x" * (size + 5000))  # an older, longer file is replaced
        build._copy_direct(src, dst)
        assert dst.read_bytes() == data


def test_without_o_direct_the_copy_goes_through_the_page_cache(tmp_path, monkeypatch):
    def refuse(src, dst):
        dst.write_bytes(b"half")  # a failed direct copy may leave a partial file behind
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(build, "_copy_direct", refuse)
    src, dst = tmp_path / "a", tmp_path / "b"
    src.write_bytes(b"0123456789" * 1000)
    build.copy_file(src, dst)
    assert dst.read_bytes() == src.read_bytes()


def test_a_just_written_file_copies_whole(tmp_path):
    """Dirty pages of the source are written back before a direct read sees them."""
    src, dst = tmp_path / "a", tmp_path / "b"
    with open(src, "wb") as fh:
        fh.write(os.urandom(1 << 20))
        fh.flush()  # in the page cache, not necessarily on disk
        build.copy_file(src, dst)
    assert dst.read_bytes() == src.read_bytes()

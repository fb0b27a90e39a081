"""nianbao.stamps: the one definition of the payload digest and of time text, as every stage uses it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from io import BytesIO

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from nianbao import nightly, stamps
from nianbao.archive import ids, readers
from nianbao.crawler import state, warc
from nianbao.publish import original


def test_payload_digest_is_what_warcio_writes():
    for body in (b"", b"<html>\xe5\xb9\xb4\xe6\x8a\xa5</html>", bytes(range(256)) * 40):
        buf = BytesIO()
        writer = WARCWriter(buf, gzip=True)
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record("http://example.test/", "response",
                                                      payload=BytesIO(body), http_headers=http))
        buf.seek(0)
        record = next(iter(ArchiveIterator(buf)))
        assert stamps.payload_digest(body) == record.rec_headers.get_header("WARC-Payload-Digest")
    assert stamps.payload_digest(b"abc") == "sha1:VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE5"


def test_every_stage_uses_the_one_digest_and_time_text():
    assert warc.payload_digest is ids.payload_digest is original.sha1_base32 is stamps.payload_digest
    assert state.iso is stamps.utc_iso and state.parse_iso is stamps.parse_utc_iso
    assert readers.utc_iso is nightly._iso is stamps.utc_iso


def test_time_text_is_utc_whole_seconds_with_z():
    when = datetime(2024, 1, 2, 3, 4, 5, 678, tzinfo=timezone(timedelta(hours=8)))
    assert stamps.utc_iso(when) == "2024-01-01T19:04:05Z"
    assert stamps.utc_iso(0) == stamps.utc_iso(datetime(1970, 1, 1)) == "1970-01-01T00:00:00Z"
    assert stamps.parse_utc_iso("2024-01-01T19:04:05Z") == datetime(2024, 1, 1, 19, 4, 5, tzinfo=UTC)
    assert stamps.parse_utc_iso("") is None and stamps.parse_utc_iso(None) is None
    assert stamps.run_id(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "20240102T030405Z"
    assert len(stamps.run_id()) == 16 and stamps.run_id().endswith("Z")

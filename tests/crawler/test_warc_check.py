"""`warcio check` on the WARCs the tests and benchmarks generate beside the crawler's own (those are checked in
test_warc_writer, test_crawl_fixture_portal and test_warc_replay): the benchmark's synthetic archive (the
crawler's WarcRecorder), the publish tests' archive fixture and the archive tests' small writer, so no test
reads a WARC a standard tool would reject."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench import synthetic
from tests.archive.helpers import Warc, body, canonical
from tests.publish import archive_fixture


def warcio_check(paths: list[Path]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import sys; from warcio.cli import main; sys.exit(main())",
                           "check", "-v", *map(str, paths)], capture_output=True, text=True)


def test_generated_warcs_pass_warcio_check(tmp_path):
    synthetic.build(tmp_path / "bench" / "nianbao.db", 40, warc_dir=tmp_path / "bench" / "warcs")
    archive_fixture.build(tmp_path / "publish")
    small = tmp_path / "archive" / "small.warc.gz"
    small.parent.mkdir()
    warc = Warc(small)
    rid, digest = warc.response("http://a.gov.cn/nb/1.html", body(canonical("甲区", 2023)), date="2026-01-01T00:00:00Z")
    warc.revisit("http://a.gov.cn/nb/1.html", digest, rid, date="2026-01-02T00:00:00Z")
    warc.summary({"source": "testsrc", "complete": True}, date="2026-01-02T00:00:01Z")
    warc.close()
    files = sorted(tmp_path.glob("*/warcs/*.warc.gz")) + [small]
    assert len(files) == 3, files
    proc = warcio_check(files)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "digest failed" not in proc.stdout and proc.stdout.count("digest pass") >= 40

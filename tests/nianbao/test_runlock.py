import subprocess
import sys

import pytest

from nianbao.runlock import RunLocked, run_lock


def test_second_holder_is_refused_and_names_the_first(tmp_path):
    lock = tmp_path / "nightly.lock"
    with run_lock(lock):
        with pytest.raises(RunLocked, match=r"pid \d+"):
            with run_lock(lock):
                pass


def test_lock_is_free_again_after_release_and_across_processes(tmp_path):
    lock = tmp_path / "nightly.lock"
    with run_lock(lock):
        other = subprocess.run(
            [sys.executable, "-c",
             "import sys; from pathlib import Path; from nianbao.runlock import run_lock, RunLocked\n"
             "try:\n    run_lock(Path(sys.argv[1])).__enter__()\nexcept RunLocked:\n    sys.exit(7)\n",
             str(lock)],
        )
        assert other.returncode == 7
    with run_lock(lock):
        pass

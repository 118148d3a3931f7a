"""A first run in a fresh container costs what a later one does: the optimised copy of the main
index starts only once a client has lived a while, is never waited for at exit, and can be turned
off; a cache that cannot be written is never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from idc_index import IDCClient
from idc_index.query.index_tables import OPTIMIZE_DELAY_SECONDS

ONE_SHOT = "from idc_index import IDCClient; c = IDCClient(); print(len(c.get_collections()))"


def run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("IDC_")} | env
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=300,
                          check=False)


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_one_shot_process_writes_nothing_and_exits_clean(tmp_path: Path) -> None:
    done = run(ONE_SHOT, {"IDC_INDEX_CACHE_DIR": str(tmp_path)})
    assert done.returncode == 0 and int(done.stdout) > 100, done.stderr
    assert done.stderr == ""
    assert not [f for f in files_under(tmp_path) if "optimized" in f]  # no copy, no partial file, no lock


def test_a_cache_that_cannot_be_written_is_no_traceback(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    code = ONE_SHOT + f"; import time; time.sleep({OPTIMIZE_DELAY_SECONDS + 2})"  # the rewrite starts and fails
    done = run(code, {"IDC_INDEX_CACHE_DIR": str(blocked / "cache")})
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


def test_a_client_that_lives_on_writes_the_copy_and_the_next_one_reads_it(tmp_path: Path) -> None:
    first = IDCClient(cache_dir=tmp_path)
    assert first._engine.wait_optimized("index") is not None  # after the delay, in the background
    copy = [f for f in files_under(tmp_path) if f.endswith("idc_index.parquet")]
    assert len(copy) == 1 and "optimized" in copy[0]
    later = IDCClient(cache_dir=tmp_path)
    assert later._engine.table_path("index") == str(tmp_path / copy[0])


def test_the_copy_can_be_turned_off_by_argument_variable_or_flag(tmp_path: Path, monkeypatch) -> None:
    plain = IDCClient(cache_dir=tmp_path / "a", optimize_index=False)
    assert plain._engine.wait_optimized("index") is None
    monkeypatch.setenv("IDC_INDEX_OPTIMIZE", "0")
    from_env = IDCClient(cache_dir=tmp_path / "b")
    assert from_env._engine.wait_optimized("index") is None
    assert IDCClient(cache_dir=tmp_path / "c", optimize_index=True)._engine.wait_optimized("index") is not None
    monkeypatch.delenv("IDC_INDEX_OPTIMIZE")
    code = ("import sys, time; from idc_index.cli import idc; sys.argv = ['idc', '--no-optimize-index', 'sql', "
            "'SELECT 1 AS one']; idc(standalone_mode=False); time.sleep(" + str(OPTIMIZE_DELAY_SECONDS + 1) + ")")
    done = run(code, {"IDC_INDEX_CACHE_DIR": str(tmp_path / "d")})
    assert done.returncode == 0, done.stderr
    assert not [f for f in files_under(tmp_path / "d") if "optimized" in f]  # on, it would have started

"""`idc cache`: what the cache holds, pruning the optimised copies no client reads, clearing it;
nothing outside ``<cache>/indices`` and ``<cache>/headers`` is touched."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner
from idc_index import IDCClient
from idc_index.cli import idc
from idc_index.headers.cache import HeaderCache
from idc_testdata import REAL_INDEX


def _cache(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """A cache with the optimised copy a client reads (the shipped file stands in for it), one
    an earlier idc-index-data left, clinical tables, and a file of someone else's beside
    ``indices``."""
    root = tmp_path / "cache"
    current = IDCClient(cache_dir=root)._tables.optimized_copy
    assert current is not None
    current.parent.mkdir(parents=True)
    shutil.copyfile(REAL_INDEX, current)
    stale = current.parent.parent / "layout3-0-0" / current.name
    stale.parent.mkdir()
    stale.write_bytes(b"y" * 5000)
    clinical = current.parent.parent.parent / "clinical_data" / "idc_v25_clinical" / "t.parquet"
    clinical.parent.mkdir(parents=True)
    clinical.write_bytes(b"z" * 700)
    other = root / "not-ours.txt"
    other.write_text("kept")
    HeaderCache(root).put_prefix("idc-open-data", "0a/1.dcm", b"h" * 900, 10_000)
    return root, current, stale, other


def test_the_cache_is_listed_pruned_and_cleared(tmp_path: Path) -> None:
    root, current, stale, other = _cache(tmp_path)
    runner = CliRunner(env={"IDC_INDEX_CACHE_DIR": str(root)})
    listed = runner.invoke(idc, ["cache", "--format", "csv"])
    assert listed.exit_code == 0, listed.output
    rows = listed.output.splitlines()
    assert rows[0] == "release,what,size,path"
    assert any("clinical tables" in r and ",700 B," in r for r in rows)
    assert sum("optimised copy" in r for r in rows) == 2
    assert rows[-1].startswith("any,DICOM headers and series listings") and rows[-1].endswith(str(root / "headers"))

    pruned = runner.invoke(idc, ["cache", "--prune"])
    assert pruned.exit_code == 0, pruned.output
    assert "Removed 1 item(s)" in pruned.output and "5.00 kB freed" in pruned.output
    assert current.exists() and not stale.parent.exists()

    cleared = runner.invoke(idc, ["cache", "--clear"])
    assert cleared.exit_code == 0, cleared.output
    assert not [p for p in (root / "indices").rglob("*") if p.is_file()]
    assert not (root / "headers").exists()
    assert HeaderCache(root).prefix("idc-open-data", "0a/1.dcm") is None
    assert other.read_text() == "kept"


def test_prune_and_clear_together_are_refused(tmp_path: Path) -> None:
    out = CliRunner(env={"IDC_INDEX_CACHE_DIR": str(tmp_path)}).invoke(idc, ["cache", "--prune", "--clear"])
    assert out.exit_code == 2 and "give one" in out.output

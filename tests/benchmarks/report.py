"""Render a pytest-benchmark JSON file as the markdown table of docs/benchmarks.md.

    python tests/benchmarks/report.py .benchmarks/latest.json
"""

from __future__ import annotations

import json
import sys


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def main(path: str) -> None:
    with open(path) as f:
        data = json.load(f)
    print("| benchmark | idc-index (this) | idc-index 0.13.4 | DuckDB, shipped file | DuckDB, optimised copy | ratio |")
    print("|---|---|---|---|---|---|")
    for b in data["benchmarks"]:
        extra = b.get("extra_info", {})
        ours = extra.get("in_process_s", b["stats"]["median"])
        v013 = extra.get("v013_in_process_s", extra.get("v013_median_s"))
        duck = extra.get("duckdb_median_s")
        duck_opt = extra.get("duckdb_optimized_copy_median_s")
        baseline = v013 if v013 is not None else duck
        ratio = f"{baseline / ours:.1f}x faster" if baseline else ""
        if baseline and baseline < ours:
            ratio = f"{ours / baseline:.2f}x slower"
        cells = [b["name"], ms(ours)] + [ms(x) if x is not None else "" for x in (v013, duck, duck_opt)] + [ratio]
        print("| " + " | ".join(cells) + " |")
        if "rss_mb" in extra:
            print(
                f"| resident memory after start-up | {extra['rss_mb']:.0f} MB (peak {extra['peak_rss_mb']:.0f}) | "
                f"{extra['v013_rss_mb']:.0f} MB (peak {extra['v013_peak_rss_mb']:.0f}) | | | "
                f"{extra['v013_rss_mb'] / extra['rss_mb']:.1f}x less |"
            )


if __name__ == "__main__":
    main(sys.argv[1])

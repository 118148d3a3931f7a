"""Render a pytest-benchmark JSON file as the markdown table of docs/benchmarks.md.

    python tests/benchmarks/report.py .benchmarks/latest.json
"""

from __future__ import annotations

import json
import sys


def ms(seconds: float) -> str:
    if seconds < 0.001:
        return f"{seconds * 1000:.2g} ms"
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def downloads(benchmarks: list[dict]) -> None:
    """One row per download case, one column per tool, and the ratio of idc-index to s5cmd."""
    tools = [
        "idc-index", "idc-index-sizes-only", "s5cmd-defaults", "s5cmd-same-concurrency", "server-ceiling", "curl-to-disk"
    ]
    rows: dict[str, dict[str, dict]] = {}
    for b in benchmarks:
        rows.setdefault(b["group"], {})[b["params"]["tool"]] = b
    print("| case | " + " | ".join(tools) + " | vs s5cmd defaults: checksums, sizes only |")
    print("|---" * (len(tools) + 2) + "|")
    for group, by_tool in rows.items():
        if "first byte" in group:
            first = {t: f"{b['extra_info']['first_file_s'] * 1000:.0f} ms" for t, b in by_tool.items()}
            cells = {"idc-index": first.get("idc-index", ""), "s5cmd-defaults": first.get("s5cmd-run-manifest", "")}
            print(f"| {group} | " + " | ".join(cells.get(t, "") for t in tools) + " | |")
            continue
        small = "small" in group
        cells = {}
        for t, b in by_tool.items():
            e = b["extra_info"]
            if small:
                cells[t] = f"{e['files_per_s']:,.0f} files/s, {e['cpu_ms_per_file']:.2f} ms CPU/file"
            else:
                cells[t] = f"{e['MB_per_s']:,.0f} MB/s"
        key = "files_per_s" if small else "MB_per_s"
        s5 = by_tool.get("s5cmd-defaults")
        ratio = ", ".join(
            f"{by_tool[t]['extra_info'][key] / s5['extra_info'][key]:.2f}x"
            for t in ("idc-index", "idc-index-sizes-only")
            if s5 and t in by_tool
        )
        print(f"| {group} | " + " | ".join(cells.get(t, "") for t in tools) + f" | {ratio} |")


def _link_fill(e: dict) -> str:
    """Through a capped link (``IDC_BENCH_RATE_MBIT``): the tool's MB/s and how full it kept the link."""
    return f", {e['MB_per_s']:.1f} MB/s = {e['link_fill']:.0%} of the link" if e.get("link_Mbit") else ""


def cli_downloads(benchmarks: list[dict]) -> None:
    """The command-line downloads (tests/benchmarks/test_download_cli.py): wall and CPU seconds per
    tool, one row per case and network, and the speed of idc-index relative to s5cmd's defaults."""
    tools = ["idc-index", "idc-index-sizes-only", "s5cmd-defaults", "s5cmd-same-concurrency"]
    rows: dict[str, dict[str, dict]] = {}
    for b in benchmarks:
        rows.setdefault(b["group"], {})[b["params"]["tool"]] = b["extra_info"]
    print("| case | " + " | ".join(tools) + " | server CPU | vs s5cmd defaults: checksums, sizes only |")
    print("|---" * (len(tools) + 3) + "|")
    for group, by_tool in rows.items():
        cells = [f"{e['wall_s']:.2f} s, {e['cpu_s']:.2f} CPU-s" + _link_fill(e) if e else ""
                 for e in map(by_tool.get, tools)]
        server = ", ".join(f"{e['server_cpu_s']:.1f}" for e in by_tool.values())
        s5 = by_tool.get("s5cmd-defaults")
        ratio = ", ".join(
            f"{s5['wall_s'] / by_tool[t]['wall_s']:.2f}x" for t in tools[:2] if s5 and t in by_tool
        )
        print(f"| {group.removeprefix('cli ')} | " + " | ".join(cells) + f" | {server} | {ratio} |")


def dask_downloads(benchmarks: list[dict]) -> None:
    """A plan on a Dask cluster against ``plan.run()`` of the same plan
    (tests/benchmarks/test_download_distributed.py): wall and CPU seconds of each, the overhead,
    the cluster's start-up and its first download, and where the Dask run's time went."""
    print("| case | `plan.run()` | `distributed.download` | server CPU-s | Dask ÷ `plan.run()`: best, paired median "
          "| cluster start | first run on new workers |")
    print("|---" * 7 + "|")
    for b in benchmarks:
        e = b["extra_info"]
        print(
            f"| {b['group'].removeprefix('dask: ')}, {e['shards']} shards | {e['single_wall_s']:.2f} s, "
            f"{e['single_cpu_s']:.2f} CPU-s | {e['dask_wall_s']:.2f} s, {e['dask_client_cpu_s']:.2f} + "
            f"{e['dask_workers_cpu_s']:.2f} CPU-s | {e['single_server_cpu_s']:.1f}, {e['dask_server_cpu_s']:.1f} | "
            f"{e['overhead_ratio']:.2f}x, {e['paired_ratio_median']:.2f}x | {e['cluster_start_s']:.2f} s, "
            f"{e['cluster_start_cpu_s']:.2f} CPU-s | {e['first_run_wall_s']:.2f} s |"
        )
    print()
    print("| case | call to first shard | shard run times | workers idle | last shard to report (results, merge) "
          "| shards in sequence on one machine | native downloader CPU-s (`plan.run()`, Dask) "
          "| idle cluster CPU-s per s (client, workers) |")
    print("|---" * 8 + "|")
    for b in benchmarks:
        e, s = b["extra_info"], b["extra_info"]["breakdown"]
        print(
            f"| {e['shards']} shards | {s['to_first_shard'] * 1000:.0f} ms | {s['shard_min']:.2f}-{s['shard_max']:.2f} s "
            f"| {s['workers_idle'] * 1000:.0f} ms | {s['last_shard_to_report'] * 1000:.0f} ms "
            f"({s['results'] * 1000:.0f}, {s['merge'] * 1000:.1f} ms) | {e['shards_in_sequence_s']:.2f} s "
            f"| {e['single_native_cpu_s']:.2f}, {e['dask_native_cpu_s']:.2f} "
            f"| {e['idle_client_cpu_per_s']:.3f}, {e['idle_workers_cpu_per_s']:.3f} |"
        )


def peak_memory(benchmarks: list[dict]) -> None:
    """tests/benchmarks/test_download_memory.py: per number of files, each tool's peak resident
    memory, its bytes per file beyond a baseline (idc-index: its dry run of the same manifest;
    both: the same tool at the smallest number of files), wall, CPU and files/s."""
    rows: dict[int, dict[str, dict]] = {}
    for b in benchmarks:
        rows.setdefault(b["extra_info"]["files"], {})[b["params"]["tool"]] = b["extra_info"]

    def per_file(e: dict) -> str:
        over = [f"{e[k]:,.0f} B over {what}" for k, what in (("bytes_per_file_over_dry_run", "dry run"),
                                                              ("bytes_per_file_over_smallest", "smallest N"))
                if k in e]
        return f" ({', '.join(over)})" if over else ""

    def run(e: dict | None) -> str:
        if not e:
            return ""
        return f"{e['peak_mb']:,.0f} MB{per_file(e)}; {e['wall_s']:.1f} s, {e['cpu_s']:.1f} CPU-s, {e['files_per_s']:,.0f} files/s"

    print("| files | idc-index --dry-run: peak | idc-index: peak (per file); wall, CPU, files/s "
          "| s5cmd, defaults: peak (per file); wall, CPU, files/s | server CPU-s (ours, s5cmd) | peak: s5cmd ÷ ours |")
    print("|---" * 6 + "|")
    for n, by_tool in sorted(rows.items()):
        dry, ours, s5 = (by_tool.get(t) for t in ("idc-index-dry-run", "idc-index", "s5cmd-defaults"))
        server = ", ".join(f"{e['server_cpu_s']:.0f}" for e in (ours, s5) if e)
        ratio = f"{s5['peak_mb'] / ours['peak_mb']:.2f}x" if ours and s5 else ""
        baseline = f"{dry['peak_mb']:,.0f} MB" if dry else ""
        print(f"| {n:,} | {baseline} | {run(ours)} | {run(s5)} | {server} | {ratio} |")


def queries(benchmarks: list[dict]) -> None:
    """The query catalog (tests/benchmarks/test_queries.py): the median of idc-index against
    DuckDB's over the shipped main index and over the optimised copy, and the ratio of ours to
    the faster DuckDB (below 1: idc-index is faster; above, in bold). idc-index 0.13.4's median
    is shown when the run measured it."""
    with_v013 = any("v013_median_s" in b.get("extra_info", {}) for b in benchmarks)
    header = ["query", "idc-index (this)", "DuckDB, shipped file", "DuckDB, optimised copy", "idc-index / best DuckDB"]
    header += ["idc-index 0.13.4"] if with_v013 else []
    print("| " + " | ".join(header) + " |")
    print("|---" * len(header) + "|")
    slower = []
    compared = 0
    for b in benchmarks:
        extra = b.get("extra_info", {})
        name = b["params"]["name"]
        if extra.get("kind") == "helper":
            name = f"`{name}`"
        ours = b["stats"]["median"]
        duck = [extra.get(k) for k in ("duckdb_median_s", "duckdb_optimized_copy_median_s")]
        known = [d for d in duck if d is not None]
        ratio = ""
        if known:
            compared += 1
            r = round(ours / min(known), 2)
            ratio = f"**{r:.2f}**" if r > 1 else f"{r:.2f}"
            if r > 1:
                slower.append(f"{name} ({r:.2f}x)")
        cells = [name, ms(ours)] + [ms(d) if d is not None else "" for d in duck] + [ratio]
        if with_v013:
            v013 = extra.get("v013_median_s")
            cells.append(ms(v013) if v013 is not None else "")
        print("| " + " | ".join(cells) + " |")
    print()
    print(f"{compared - len(slower)} of {compared} queries at most as slow as the faster DuckDB.", end=" ")
    print(f"Slower: {', '.join(slower)}." if slower else "")


def memory(benchmark: dict) -> None:
    """Resident memory of a process of its own (tests/benchmarks/memory_probe.py)."""
    e = benchmark["extra_info"]
    print("| resident memory (MB) | in all | peak | anonymous (heap) | file-backed (mapped) |")
    print("|---|---|---|---|---|")
    for label, key in (("after `IDCClient()`", "after_start"), (f"after the {e['queries']} SQL queries", "after_queries")):
        m = e[key]
        print(f"| {label} | {m['rss']:.0f} | {m['peak']:.0f} | {m['anon']:.0f} | {m['file']:.0f} |")
    held = ", ".join(f"`{name}` {mb:.1f} MB" for name, mb in sorted(e["held_mb"].items()))
    print(f"\nIndices held in memory as Arrow after the queries: {held or 'none'}.")


def remote(benchmarks: list[dict]) -> None:
    """tests/benchmarks/test_remote.py: per network and mode, each step's wall, CPU and bytes."""
    steps = ["open", "lookup", "second lookup", "filtered count", "scan"]
    print("| network | mode | " + " | ".join(steps) + " |")
    print("|---" * (len(steps) + 2) + "|")
    for b in benchmarks:
        e = b["extra_info"]
        cells = [f"{e[s + ' s'] * 1000:.0f} ms, {e[s + ' cpu_s']:.3f} CPU-s, {e[s + ' MB']:.2f} MB" for s in steps]
        print(f"| {b['params']['network']} | {b['params']['mode']} | " + " | ".join(cells) + " |")


def planning(benchmarks: list[dict]) -> None:
    """tests/benchmarks/test_planning.py: planning and sharding all of IDC, in process and by `idc plan`."""
    print("| step | wall | CPU |")
    print("|---|---|---|")
    for b in benchmarks:
        e = b["extra_info"]
        if "plan_s" in e:
            print(f"| plan_download, all of IDC ({e['series']:,} series) | {e['plan_s']:.2f} s | {e['plan_cpu_s']:.2f} s |")
            print(f"| plan.shard(64), largest {e['largest_over_mean']:.4f}x the mean | {e['shard_s']:.2f} s | "
                  f"{e['shard_cpu_s']:.2f} s |")
        else:
            print(f"| idc plan ... --shards 64 ({e['manifests']} manifests) | {e['wall_s']:.1f} s | {e['cpu_s']:.1f} s |")


def main(path: str) -> None:
    with open(path) as f:
        data = json.load(f)
    dl = [b for b in data["benchmarks"] if b["group"] and b["group"].startswith("download")]
    if dl:
        downloads(dl)
        print()
    cli = [b for b in data["benchmarks"] if b["group"] and b["group"].startswith("cli ")]
    if cli:
        cli_downloads(cli)
        print()
    peaks = [b for b in data["benchmarks"] if b["group"] and b["group"].startswith("peak memory: ")]
    if peaks:
        peak_memory(peaks)
        print()
    dask = [b for b in data["benchmarks"] if b["group"] and b["group"].startswith("dask: ")]
    if dask:
        dask_downloads(dask)
        print()
    catalog = [b for b in data["benchmarks"] if b["group"] == "queries"]
    if catalog:
        queries(catalog)
        print()
    mem = [b for b in data["benchmarks"] if b["group"] == "memory"]
    for b in mem:
        memory(b)
        print()
    rem = [b for b in data["benchmarks"] if b["name"].startswith("test_remote_release")]
    if rem:
        remote(rem)
        print()
    plans = [b for b in data["benchmarks"] if "all_of_idc" in b["name"]]
    if plans:
        planning(plans)
        print()
    dl += cli + peaks + dask + catalog + mem + rem + plans
    if all(b in dl for b in data["benchmarks"]):
        return
    print("| benchmark | idc-index (this) | idc-index 0.13.4 | DuckDB, shipped file | DuckDB, optimised copy | ratio |")
    print("|---|---|---|---|---|---|")
    for b in data["benchmarks"]:
        if b in dl:
            continue
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

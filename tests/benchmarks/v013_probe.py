"""Times idc-index 0.13 operations inside its own virtualenv; prints JSON.

Run by the benchmarks as `<venv>/bin/python v013_probe.py OP [ARG...]`; it must not import
anything from this repository.
"""

from __future__ import annotations

import json
import sys
import time


def status_mb(key: str) -> float:
    """VmRSS (now) or VmHWM (peak; unlike ru_maxrss it is not inherited across fork+exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    op = sys.argv[1]
    t0 = time.perf_counter()
    from idc_index import IDCClient

    client = IDCClient()
    startup = time.perf_counter() - t0
    out: dict[str, float] = {
        "startup_s": startup,
        "rss_mb": status_mb("VmRSS"),
        "peak_rss_mb": status_mb("VmHWM"),
    }
    if op != "startup":
        repeat = int(sys.argv[2])
        args = sys.argv[3:]
        fn = {
            "get_dicom_series": lambda: client.get_dicom_series(args[0]),
            "get_series_size": lambda: client.get_series_size(args[0]),
            "sql": lambda: client.sql_query(args[0]),
        }[op]
        fn()  # warm-up, as the benchmarks of idc-index itself do
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        times.sort()
        out["median_s"] = times[len(times) // 2]
    print(json.dumps(out))


if __name__ == "__main__":
    main()

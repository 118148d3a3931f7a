"""s3s-fs, the reference S3 server of the download benchmarks: where it and the other tools are,
how it is started on 127.0.0.1, and how objects are uploaded through it (each with a CRC32, as
S3 stores one for objects uploaded with a checksum)."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

TOOLS_DIR = Path(os.environ.get("IDC_BENCH_TOOLS", Path.home() / ".cache/idc-index/tools"))
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/idc-index/target"))
#: Where downloads are written: a tmpfs keeps the file system out of the comparison (see
#: docs/benchmarks.md); ``IDC_BENCH_DEST`` picks another directory.
DEST_DIR = os.environ.get("IDC_BENCH_DEST") or ("/dev/shm" if os.path.isdir("/dev/shm") else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    proc.kill()
    pytest.fail(f"{proc.args} did not listen on {port}")


def executable(name: str, *candidates: Path) -> str:
    """The first of ``candidates`` that exists, else ``name`` on the PATH; skips the benchmark
    when there is none."""
    for c in (*candidates, shutil.which(name)):
        if c and os.path.exists(c):
            return os.fspath(c)
    pytest.skip(f"{name} is not installed (scripts/bench.sh installs it)")


def proc_cpu(pid: int) -> float:
    """User + system seconds of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_s3s(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    """s3s-fs serving the buckets under ``root`` (one directory each) on 127.0.0.1, without
    credentials; the process and its endpoint."""
    server = executable("s3s-fs", TOOLS_DIR / "bin" / "s3s-fs")
    port = free_port()
    proc = subprocess.Popen([server, "--host", "127.0.0.1", "--port", str(port), os.fspath(root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, f"http://127.0.0.1:{port}"


#: ``md5`` uploads every object without a checksum of its own, so that it states only the MD5
#: of its ETag, as most of IDC's objects on AWS do (they were uploaded before S3 kept CRCs);
#: default ``crc32``: each with a CRC32, as S3 stores one for objects uploaded with a checksum.
CHECKSUM = os.environ.get("IDC_BENCH_CHECKSUM", "crc32").lower()


def anonymous_client(endpoint: str) -> Any:
    """A boto3 S3 client of ``endpoint`` that signs nothing, as IDC's buckets are read."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    # botocore adds a CRC32 to every upload unless told to add one only when required.
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"},
                                      request_checksum_calculation="when_required"))


def put_object(s3: Any, bucket: str, key: str, size: int, rnd: random.Random, block: bytes) -> None:
    """Upload ``size`` bytes of ``block`` repeated, the first 8 of them random, with a CRC32
    (or, with ``IDC_BENCH_CHECKSUM=md5``, with none: the object states only its ETag's MD5)."""
    body = (block * (size // len(block) + 1))[:size]
    body = rnd.getrandbits(64).to_bytes(8, "little") + body[8:]
    if CHECKSUM == "md5":
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    else:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ChecksumAlgorithm="CRC32")


def destination() -> Path:
    """A new empty directory for one benchmark's downloads, under :data:`DEST_DIR`."""
    return Path(tempfile.mkdtemp(prefix="idc-bench-", dir=DEST_DIR))

"""A real S3-compatible server for the download tests, and a fault-injecting proxy in front of it.

- :class:`MotoS3`: moto's server (``moto[server]``) on 127.0.0.1, buckets readable anonymously
  (a public bucket policy), seeded through boto3 like any S3 server.
- :func:`seed_idc_layout`: an IDC-like layout ``<bucket>/<crdc_series_uuid>/<crdc_instance_uuid>.dcm``
  whose series come from the real index (idc-index-data's ``idc_index.parquet``).
- :class:`FaultProxy`: an HTTP/1.1 proxy on 127.0.0.1 that forwards to the server and, for the
  keys it is told about, answers 503 SlowDown, resets the connection, truncates or corrupts the
  body, stalls, or trickles bytes slowly, and counts how each trickled response ended (the
  whole body sent, or cut off by the client closing the connection).
"""

from __future__ import annotations

import hashlib
import http.client
import http.server
import json
import random
import socket
import socketserver
import struct
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

IDC_BUCKETS = ("idc-open-data", "idc-open-data-two", "idc-open-data-cr")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoS3:
    """moto's S3 server on 127.0.0.1 with the IDC buckets, readable without credentials."""

    def __init__(self, buckets: tuple[str, ...] = IDC_BUCKETS) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        import boto3

        self.client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        )
        for b in buckets:
            self.create_bucket(b)

    def create_bucket(self, bucket: str) -> None:
        self.client.create_bucket(Bucket=bucket)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        }
        self.client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))

    def put(self, bucket: str, key: str, data: bytes) -> None:
        """Upload ``data`` with a full-object CRC32, which the server then states (as S3 does for
        objects uploaded with one) besides the MD5 ETag."""
        self.client.put_object(Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm="CRC32")

    def stop(self) -> None:
        self._server.stop()


@dataclass
class Series:
    bucket: str
    crdc_series_uuid: str
    series_instance_uid: str
    collection_id: str
    #: key -> content
    objects: dict[str, bytes] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"{self.crdc_series_uuid}/"

    @property
    def size(self) -> int:
        return sum(len(d) for d in self.objects.values())


def content(seed: int, size: int) -> bytes:
    """Deterministic bytes that look like nothing in particular (cheap to make, not compressible)."""
    rnd = random.Random(seed)
    block = rnd.randbytes(65536)
    reps = size // len(block) + 1
    # Vary every block so that a byte swapped between blocks is detected.
    out = b"".join(struct.pack("<Q", i) + block[8:] for i in range(reps))
    return out[:size]


def real_series(index_parquet: Path, per_bucket: dict[str, int], skip: int = 0) -> list[dict[str, str]]:
    """Series of each bucket in the real index, as many as asked per bucket, after the first `skip`."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pq.read_table(
        index_parquet, columns=["crdc_series_uuid", "aws_bucket", "SeriesInstanceUID", "collection_id"]
    )
    out: list[dict[str, str]] = []
    for bucket, n in per_bucket.items():
        rows = t.filter(pc.equal(t["aws_bucket"], bucket)).slice(skip, n).to_pylist()
        assert len(rows) == n, f"the index has fewer than {n} series in {bucket}"
        out.extend(rows)
    return out


def seed_idc_layout(
    s3: MotoS3,
    index_parquet: Path,
    per_bucket: dict[str, int],
    instances: tuple[int, int] = (3, 6),
    sizes: tuple[int, int] = (100_000, 2_000_000),
    seed: int = 25,
    skip: int = 0,
) -> list[Series]:
    """Put made-up instances (``<crdc_instance_uuid>.dcm``) of real series into the buckets."""
    rnd = random.Random(seed)
    out = []
    for row in real_series(index_parquet, per_bucket, skip):
        s = Series(row["aws_bucket"], row["crdc_series_uuid"], row["SeriesInstanceUID"], row["collection_id"])
        for _ in range(rnd.randint(*instances)):
            key = f"{s.crdc_series_uuid}/{uuid.UUID(int=rnd.getrandbits(128), version=4)}.dcm"
            data = content(rnd.getrandbits(32), rnd.randint(*sizes))
            s3.put(s.bucket, key, data)
            s.objects[key] = data
        out.append(s)
    return out


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# ---------------------------------------------------------------------------------------------
# Fault-injecting proxy

FAULTS = ("slowdown", "reset", "truncate", "stall", "corrupt", "trickle", "error500")


class FaultProxy:
    """Forwards HTTP/1.1 requests to ``upstream`` and injects faults for chosen object keys.

    ``fault(key, "reset", "truncate")`` makes the next two requests of ``key`` fail that way;
    ``fault_always(key, "corrupt")`` makes every request of it fail. Keys are matched on the
    request path ``/<bucket>/<key>``.
    """

    def __init__(self, upstream: str, stall_seconds: float = 30.0, trickle_bytes: int = 16384) -> None:
        u = urlsplit(upstream)
        self.upstream_host = u.hostname or "127.0.0.1"
        self.upstream_port = u.port or 80
        self.stall_seconds = stall_seconds
        self.trickle_bytes = trickle_bytes
        self._lock = threading.Lock()
        self._next: dict[str, deque[str]] = defaultdict(deque)
        self._always: dict[str, str] = {}
        self.requests: dict[str, int] = defaultdict(int)
        #: Every request (listings too), and the body bytes sent whole for each key.
        self.all_requests = 0
        self.bytes_sent: dict[str, int] = defaultdict(int)
        #: Trickled responses: how many began, and how those that ended did: "sent" (the whole
        #: body went out), "cut" (the client closed the connection first), "stopped" (by stop()).
        self.trickles_started = 0
        self.trickles_ended: dict[str, int] = defaultdict(int)
        self._stop = threading.Event()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                proxy._handle(self, "HEAD")

            def do_GET(self) -> None:
                proxy._handle(self, "GET")

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def fault(self, key: str, *faults: str) -> None:
        assert all(f in FAULTS for f in faults), faults
        with self._lock:
            self._next[key].extend(faults)

    def fault_always(self, key: str, fault: str | None) -> None:
        with self._lock:
            if fault is None:
                self._always.pop(key, None)
            else:
                assert fault in FAULTS
                self._always[key] = fault

    def clear(self) -> None:
        with self._lock:
            self._next.clear()
            self._always.clear()

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def trickling(self) -> int:
        """How many trickled responses are still being sent."""
        with self._lock:
            return self.trickles_started - sum(self.trickles_ended.values())

    def cut_trickles(self) -> int:
        """How many trickled responses ended with the client closing the connection."""
        with self._lock:
            return self.trickles_ended["cut"]

    def _take_fault(self, key: str) -> str | None:
        with self._lock:
            self.requests[key] += 1
            q = self._next.get(key)
            if q:
                return q.popleft()
            return self._always.get(key)

    def _handle(self, h: http.server.BaseHTTPRequestHandler, method: str) -> None:
        with self._lock:
            self.all_requests += 1
        path = unquote(urlsplit(h.path).path)
        parts = path.lstrip("/").split("/", 1)
        key = parts[1] if len(parts) == 2 else ""
        fault = self._take_fault(key) if key else None
        if fault == "reset":
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.close_connection = True
            h.connection.close()
            return
        if fault in ("slowdown", "error500"):
            code, name = (503, "SlowDown") if fault == "slowdown" else (500, "InternalError")
            body = f'<?xml version="1.0"?><Error><Code>{name}</Code><Message>injected</Message></Error>'.encode()
            h.send_response(code)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        headers = {k: v for k, v in h.headers.items() if k.lower() in ("range", "user-agent", "accept")}
        conn.request(method, h.path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length", "server", "date"):
                h.send_header(k, v)
        length = int(resp.getheader("Content-Length") or len(body)) if method == "HEAD" else len(body)
        h.send_header("Content-Length", str(length))
        h.end_headers()
        if method == "HEAD":
            return
        if fault == "corrupt" and body and resp.status in (200, 206):
            i = len(body) // 2
            body = body[:i] + bytes([body[i] ^ 0xFF]) + body[i + 1 :]
        if fault == "truncate" and resp.status in (200, 206):
            h.wfile.write(body[: len(body) // 3])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "stall" and resp.status in (200, 206):
            h.wfile.write(body[: len(body) // 4])
            h.wfile.flush()
            self._stop.wait(self.stall_seconds)
            h.close_connection = True
            return
        if fault == "trickle" and resp.status in (200, 206):
            step = self.trickle_bytes
            with self._lock:
                self.trickles_started += 1
            outcome = "sent"
            try:
                for i in range(0, len(body), step):
                    if i:
                        time.sleep(0.05)
                    if self._stop.is_set():
                        outcome = "stopped"
                        break
                    h.wfile.write(body[i : i + step])
                    h.wfile.flush()
            except OSError:
                outcome = "cut"
                h.close_connection = True
            finally:
                with self._lock:
                    self.trickles_ended[outcome] += 1
            return
        with self._lock:
            self.bytes_sent[key] += len(body)
        h.wfile.write(body)

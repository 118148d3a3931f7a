"""A server whose TLS certificate is not trusted: refused at once, with what to set; trusted once
``SSL_CERT_FILE`` names its certificate authority (as on networks whose proxy re-signs HTTPS).

The server is real (Python's ``ssl`` on 127.0.0.1) with a certificate authority made here; each
case runs in a process of its own, since the core reads ``SSL_CERT_FILE`` once per process.
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

FETCH = """
import sys
from idc_index.download.documents import get
from idc_index.errors import DownloadError
try:
    doc = get(sys.argv[1], max_bytes=1000, deadline=60)
    print("STATUS", doc.status, doc.body.decode())
except DownloadError as e:
    print("ERROR", e)
"""


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A certificate authority, and a certificate for 127.0.0.1 that it signed: the CA's PEM, the
    server's chain and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idc-index test proxy CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    ca_pem, chain, key_pem = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_pem.write_bytes(ca.public_bytes(pem))
    chain.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    key_pem.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return ca_pem, chain, key_pem


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello over TLS"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, list[int]]]:
    """An HTTPS server on 127.0.0.1: its URL, the CA that signed its certificate, and the count of
    TLS handshakes it was offered."""
    ca, chain, key = _certificates(tmp_path_factory.mktemp("tls"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, key)
    handshakes = [0]

    class Server(http.server.ThreadingHTTPServer):
        def get_request(self):  # type: ignore[no-untyped-def]
            sock, address = super().get_request()
            handshakes[0] += 1
            return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

        def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
            pass  # a client that refuses the certificate ends the handshake

    server = Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/doc", ca, handshakes
    finally:
        server.shutdown()


def _fetch(url: str, **env: str | None) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in env}
    environment.update({k: v for k, v in env.items() if v is not None})
    out = subprocess.run([sys.executable, "-c", FETCH, url], capture_output=True, text=True, timeout=120,
                         env=environment, check=True)
    return out.stdout.strip()


def test_an_untrusted_certificate_is_refused_at_once_naming_ssl_cert_file(https) -> None:
    url, _, handshakes = https
    before = handshakes[0]
    out = _fetch(url, SSL_CERT_FILE=None)
    assert out.startswith("ERROR"), out
    assert "not trusted" in out and "SSL_CERT_FILE" in out
    assert handshakes[0] - before == 1, "a certificate that is not trusted is not retried"


def test_the_certificate_authority_in_ssl_cert_file_is_trusted(https) -> None:
    url, ca, _ = https
    assert _fetch(url, SSL_CERT_FILE=str(ca)) == "STATUS 200 hello over TLS"


def test_an_unreadable_ssl_cert_file_says_so(https, tmp_path: Path) -> None:
    url, _, _ = https
    out = _fetch(url, SSL_CERT_FILE=str(tmp_path / "missing.pem"))
    assert out.startswith("ERROR") and "SSL_CERT_FILE=" in out and "cannot be read" in out, out

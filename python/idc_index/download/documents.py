"""Small documents at plain URLs, fetched through the native client: the same HTTP stack,
timeouts and retries as downloads (release listings and manifests, the HEAD that checks an
index read remotely, DOI records).

Example:
    >>> doc = get("https://example.org/releases.json", max_bytes=64 << 20, deadline=120)  # doctest: +SKIP
    >>> doc.status, len(doc.body)
    (200, 2048)
"""

from __future__ import annotations

from dataclasses import dataclass

from idc_index import _core
from idc_index.download.transfer import download_config, origin

#: The attempts a document gets (transient failures only: resets, 5xx, stalls).
ATTEMPTS = 3


@dataclass(frozen=True)
class Document:
    """A server's answer: ``status`` 2xx with the ``body``, or 403/404 (not published) and no body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def published(self) -> bool:
        return self.status not in (403, 404)


def get(url: str, *, max_bytes: int, deadline: float, stall_timeout: float = 30.0, head: bool = False,
        accept: str | None = None) -> Document:
    """The document at ``url`` (only its status and headers with ``head``), read whole: at most
    ``max_bytes`` bytes within ``deadline`` seconds, retries included; ``stall_timeout``
    seconds without a byte end an attempt.

    Raises:
        DownloadError: the server cannot be reached, answers an error other than 403/404,
            sends more than ``max_bytes`` or not within ``deadline`` (the message says which).
    """
    config = download_config(origin(url), stall_timeout=stall_timeout, max_attempts=ATTEMPTS)
    status, headers, body = _core.fetch_document(url, config, max_bytes=max_bytes, deadline=deadline, head=head,
                                                 accept=accept)
    return Document(status, headers, body)


__all__ = ["ATTEMPTS", "Document", "get"]

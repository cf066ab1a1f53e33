"""TLS settings for qbarr's HTTP clients: certificates are loaded only where a URL needs them.

httpx builds an SSL context for every ``Client`` and, by default, loads certifi's CA bundle
into it (~2.5 MB per client, ~20 ms) even when every request goes to ``http://``. qBittorrent
and the Arrs usually sit on plain HTTP next to qbarr, and qbarr's clients never follow
redirects, so for an ``http://`` base URL the context is never used: it gets a bare context
that trusts no certificate (a request that somehow went to https would fail to verify,
never pass unverified).
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit


def verify_for(url: str) -> ssl.SSLContext | bool:
    """What to pass as httpx's ``verify=`` for a client whose base URL is ``url``."""
    if urlsplit(url).scheme.lower() == "http":
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, trusts nothing: unused
    return True

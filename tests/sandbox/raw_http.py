"""A bare HTTP/1.1 GET with the standard library: no retries, so dropped connections stay visible."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit


def get(url: str, token: str, *, raise_errors: bool = False) -> tuple[int | None, bytes | str]:
    """(status, body), or (None, "reset"/"closed") when the server drops the connection."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("GET", target, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = connection.getresponse()
        return response.status, response.read()
    except ConnectionResetError:
        if raise_errors:
            raise
        return None, "reset"
    except http.client.RemoteDisconnected:
        if raise_errors:
            raise
        return None, "closed"
    finally:
        connection.close()

"""One spelling per server, so the keyring, the config file and cookie lookups agree on the server meant."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from mmtakeout.api import normalize_server_url
from mmtakeout.credentials.errors import CredentialError


@dataclass(frozen=True)
class ServerAddress:
    """A Mattermost server's base URL, split into what cookie stores and the keyring need."""

    url: str
    """The API client's canonical spelling (`normalize_server_url`): no trailing slash, no `/api/v4`."""
    host: str
    """The host name as browsers store it in their cookie tables: lower case, IDNA, no port, no brackets."""
    path: str
    """The site's sub-path ('' at the root, else e.g. '/mattermost'); the login cookie is scoped to it."""

    @classmethod
    def parse(cls, text: str) -> ServerAddress:
        if "://" not in text:
            raise CredentialError(
                f"{text.strip()!r} is not a server address: give the full URL you open in the browser, "
                "e.g. https://chat.example.com"
            )
        try:
            url = normalize_server_url(text)
        except ValueError as error:
            raise CredentialError(str(error)) from None
        parts = urlsplit(url)
        return cls(url=url, host=(parts.hostname or "").rstrip("."), path=parts.path.rstrip("/"))

    def cookie_path_matches(self, cookie_path: str) -> bool:
        """Would a browser send a cookie with this path to the server's pages (RFC 6265 path-match)?"""
        site_path = self.path or "/"
        cookie_path = cookie_path or "/"
        if site_path == cookie_path:
            return True
        prefix = cookie_path if cookie_path.endswith("/") else cookie_path + "/"
        return (site_path + "/").startswith(prefix)

    def cookie_host_matches(self, cookie_host: str) -> bool:
        """Exactly this host: a host-only cookie, or a domain cookie set for this very host."""
        cookie_host = cookie_host.lower()
        return cookie_host in (self.host, "." + self.host, f"[{self.host}]")

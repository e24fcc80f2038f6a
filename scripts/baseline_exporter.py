#!/usr/bin/env python3
"""A sequential Mattermost exporter, written the way the existing user-side exporters work.

It is the benchmark's yardstick, not part of the product: one request at a time over one keep-alive
connection (the better peers use a requests.Session), `per_page=200`, a `before=` cursor walk from
the newest post down, then every attachment of every post, then the users. Standard library only.

    printf '%s\n' "$TOKEN" | scripts/baseline_exporter.py http://127.0.0.1:8065 --out DIR
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

CHAT_TYPES = {"O", "P", "D", "G"}


class Connection:
    """One keep-alive HTTP connection; every request waits for the previous one."""

    def __init__(self, server_url: str, token: str) -> None:
        parts = urlsplit(server_url)
        if parts.scheme == "https":
            self._http: http.client.HTTPConnection = http.client.HTTPSConnection(parts.netloc, timeout=60)
        else:
            self._http = http.client.HTTPConnection(parts.netloc, timeout=60)
        self._prefix = parts.path.rstrip("/") + "/api/v4"
        self._headers = {"Authorization": f"Bearer {token}", "X-Requested-With": "XMLHttpRequest"}
        self.requests = 0

    def get(self, path: str, params: dict[str, str] | None = None, body: Any = None) -> bytes:
        status, data = self.fetch(path, params, body)
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status}")
        return data

    def fetch(self, path: str, params: dict[str, str] | None = None, body: Any = None) -> tuple[int, bytes]:
        target = self._prefix + path + (f"?{urlencode(params)}" if params else "")
        headers = dict(self._headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.requests += 1
        self._http.request("POST" if body is not None else "GET", target, body=payload, headers=headers)
        response = self._http.getresponse()
        return response.status, response.read()

    def json(self, path: str, params: dict[str, str] | None = None, body: Any = None) -> Any:
        return json.loads(self.get(path, params, body))


def export(connection: Connection, out: Path) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "files").mkdir(exist_ok=True)
    me = connection.json("/users/me")
    channels = [c for c in connection.json("/users/me/channels") if c.get("type") in CHAT_TYPES]
    user_ids = {me["id"]}
    posts_total = files_total = files_failed = 0
    for channel in channels:
        posts: dict[str, Any] = {}
        params = {"per_page": "200"}
        while True:
            page = connection.json(f"/channels/{channel['id']}/posts", params)
            posts.update(page["posts"])
            if not page["order"] or not page.get("prev_post_id"):
                break
            params = {"per_page": "200", "before": page["order"][-1]}
        with (out / f"{channel['id']}.jsonl").open("w", encoding="utf-8") as handle:
            for post in sorted(posts.values(), key=lambda p: p["create_at"]):
                handle.write(json.dumps(post) + "\n")
                user_ids.add(post["user_id"])
                for info in (post.get("metadata") or {}).get("files") or []:
                    status, data = connection.fetch(f"/files/{info['id']}")
                    if status == 200:
                        (out / "files" / info["id"]).write_bytes(data)
                        files_total += 1
                    else:
                        files_failed += 1
        posts_total += len(posts)
    ordered_ids = sorted(user_ids)
    users = []
    for start in range(0, len(ordered_ids), 200):
        users.extend(connection.json("/users/ids", body=ordered_ids[start : start + 200]))
    (out / "users.json").write_text(json.dumps(users), encoding="utf-8")
    return {
        "posts": posts_total,
        "files": files_total,
        "files_failed": files_failed,
        "requests": connection.requests,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="Sequential baseline exporter (reads the token from stdin).")
    parser.add_argument("server_url")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    token = sys.stdin.readline().strip()
    summary = export(Connection(args.server_url, token), args.out)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

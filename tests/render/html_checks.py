"""Checks that rendered HTML contains nothing that could run script or load from outside.

A real HTML parser walks the output and collects every tag and attribute, so the checks do not
depend on how the renderer happens to format its markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

ALLOWED_SCHEMES = ("http", "https", "mailto")
URL_ATTRIBUTES = {"href", "src", "poster", "action", "srcset", "formaction", "data", "background", "cite"}
DANGEROUS_TAGS = {
    "script",
    "iframe",
    "object",
    "embed",
    "frame",
    "frameset",
    "style",
    "base",
    "form",
    "svg",
    "math",
    "link",
    "meta",
    "template",
    "applet",
}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]


class Collected(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.script_bodies: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {name: value or "" for name, value in attrs}))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.script_bodies.append(data)


def parse(html: str) -> Collected:
    collected = Collected()
    collected.feed(html)
    collected.close()
    return collected


def fragment_problems(html: str) -> list[str]:
    """Problems in a message fragment: no dangerous tags, handlers, styles or foreign loads."""
    problems = []
    for element in parse(html).elements:
        if element.tag in DANGEROUS_TAGS:
            problems.append(f"tag <{element.tag}>")
        for name, value in element.attrs.items():
            if name.startswith("on"):
                problems.append(f"event handler {name}= on <{element.tag}>")
            if name == "style":
                problems.append(f"style attribute on <{element.tag}>")
            if name in URL_ATTRIBUTES:
                problems.extend(_url_problems(element.tag, name, value))
    return problems


def _url_problems(tag: str, name: str, value: str) -> list[str]:
    compact = re.sub(r"[\x00-\x20]", "", unquote(value)).lower()
    scheme = urlsplit(compact).scheme
    if name == "href" and tag == "a":
        if scheme and scheme not in ALLOWED_SCHEMES:
            return [f"{tag} {name} with scheme {scheme!r}: {value!r}"]
        return []
    if scheme or compact.startswith("//"):
        return [f"{tag} {name} loads {value!r}"]
    return []


def page_problems(html: str, page: Path, archive_dir: Path) -> list[str]:
    """Problems in a whole page: a CSP meta, only external scripts, and local loads inside the archive."""
    collected = parse(html)
    problems = []
    csp = [
        el
        for el in collected.elements
        if el.tag == "meta" and el.attrs.get("http-equiv", "").lower() == "content-security-policy"
    ]
    if len(csp) != 1 or "default-src 'none'" not in csp[0].attrs.get("content", ""):
        problems.append("missing or weak Content-Security-Policy")
    elif "unsafe" in csp[0].attrs["content"]:
        problems.append("CSP allows unsafe-*")
    if collected.script_bodies:
        problems.append("inline script")
    root = archive_dir.resolve()
    for element in collected.elements:
        for name in element.attrs:
            if name.startswith("on"):
                problems.append(f"event handler {name}= on <{element.tag}>")
            if name == "style":
                problems.append(f"style attribute on <{element.tag}>")
        if element.tag in {"iframe", "object", "embed", "frame", "base", "svg", "math", "style"}:
            problems.append(f"tag <{element.tag}>")
        for name in ("src", "href", "poster", "action"):
            value = element.attrs.get(name)
            if value is None:
                continue
            problems.extend(_page_url_problems(element, name, value, page, root))
    return problems


def _page_url_problems(element: Element, name: str, value: str, page: Path, root: Path) -> list[str]:
    compact = re.sub(r"[\x00-\x20]", "", value).lower()
    scheme = urlsplit(compact).scheme
    if scheme:
        if element.tag == "a" and name == "href" and scheme in ALLOWED_SCHEMES:
            if "noopener" not in element.attrs.get("rel", "") and scheme != "mailto":
                return [f"external link without rel=noopener: {value!r}"]
            return []
        return [f"<{element.tag} {name}> with scheme {scheme!r}: {value!r}"]
    if compact.startswith("//"):
        return [f"<{element.tag} {name}> network-path reference {value!r}"]
    target = urlsplit(urljoin(page.resolve().as_uri(), value))
    resolved = Path(unquote(target.path)).resolve()
    if resolved != root and root not in resolved.parents:
        return [f"<{element.tag} {name}> leaves the archive: {value!r}"]
    return []

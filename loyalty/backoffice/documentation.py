"""The documentation (docs/*.md) inside the back office, so that a screen can link to the page that
explains it instead of naming a file path. Rendered with markdown-it-py (CommonMark with tables;
raw HTML in the files is not passed through)."""

from __future__ import annotations

import functools
import re

from django.conf import settings
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from markdown_it import MarkdownIt

DOCS = settings.BASE_DIR / "docs"
PAGE_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
# Links between the pages (href="api.md#errors") stay inside the back office.
LINK_TO_PAGE = re.compile(r'href="([a-z][a-z0-9-]*)\.md(#[^"]*)?"')


def urls(site) -> list:
    return [
        path(
            "documentation/<slug:name>/",
            site.admin_view(lambda request, name: page(site, request, name)),
            name="documentation",
        )
    ]


def page(site, request, name: str):
    if not PAGE_NAME.match(name) or not (DOCS / f"{name}.md").is_file():
        raise Http404
    body, title = _rendered(name)
    context = {**site.each_context(request), "title": title, "body": body, "name": name}
    return TemplateResponse(request, "admin/documentation.html", context)


@functools.cache
def _rendered(name: str) -> tuple[str, str]:
    text = (DOCS / f"{name}.md").read_text(encoding="utf-8")
    html = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    html = LINK_TO_PAGE.sub(lambda m: f'href="{reverse("admin:documentation", args=[m[1]])}{m[2] or ""}"', html)
    heading = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), name)
    return html, heading

"""The `{items, _meta, _links}` envelope shared by every collection."""

from __future__ import annotations

from flask import url_for


def total_pages(total_items: int, per_page: int) -> int:
    return -(-total_items // per_page)


def envelope(items: list, page: int, per_page: int, total_items: int, endpoint: str, **params) -> dict:
    """Wrap one page; `params` (e.g. the search) are carried into the links."""
    pages = total_pages(total_items, per_page)
    params = {key: value for key, value in params.items() if value}

    def link(number: int) -> str:
        return url_for(endpoint, page=number, per_page=per_page, **params)

    return {
        "items": items,
        "_meta": {"page": page, "per_page": per_page, "total_pages": pages, "total_items": total_items},
        "_links": {
            "self": link(page),
            "next": link(page + 1) if page < pages else None,
            "prev": link(min(page - 1, max(pages, 1))) if page > 1 else None,
        },
    }

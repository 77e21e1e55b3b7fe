"""List lookup and paging (docs/five9-contract.md, REST)."""

from __future__ import annotations

from typing import Any

from .conftest import MakeCaller
from .helpers import Five9Caller


def test_lookup_by_name_gives_a_stable_list_id(make_caller: MakeCaller) -> None:
    one = make_caller(lists=("demo", "Nightly"))
    two = make_caller(lists=("Nightly",))
    response = one.http.get(
        one.lists_path(), params={"filter": "name=='Nightly'"}, headers=one.auth()
    )
    assert response.status_code == 200
    body = response.json()
    assert body["paging"] == {"next": None}
    [item] = body["items"]
    assert item["name"] == "Nightly"
    assert item["size"] == 0
    assert item["listId"] == two.list_id("Nightly")
    assert item["listId"] == one.server.sandbox.add_list("Nightly")


def test_unknown_name_gives_empty_items(five9: Five9Caller) -> None:
    response = five9.http.get(
        five9.lists_path(), params={"filter": "name=='Nope'"}, headers=five9.auth()
    )
    assert response.json() == {"items": [], "paging": {"next": None}}


def test_all_lists_are_paged_with_next_urls(make_caller: MakeCaller) -> None:
    names = ("a", "b", "c", "d", "e")
    five9 = make_caller(lists=names)
    url: str | None = five9.lists_path() + "?pageLimit=2"
    seen: list[str] = []
    pages = 0
    while url is not None:
        response = five9.http.get(url, headers=five9.auth())
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        assert len(body["items"]) <= 2
        seen += [item["name"] for item in body["items"]]
        url = body["paging"]["next"]
        assert url is None or url.startswith(five9.server.base_url)
        pages += 1
    assert seen == list(names)
    assert pages == 3


def test_size_counts_stored_records(five9: Five9Caller) -> None:
    five9.upload([{"fields": {"number1": "5551208111"}, "guardTime": _window()}])
    response = five9.http.get(five9.lists_path(), headers=five9.auth())
    assert response.json()["items"][0]["size"] == 1


def test_bad_filter_limit_or_cursor_is_400(five9: Five9Caller) -> None:
    for params in (
        {"filter": "name=demo"},
        {"filter": "id=='x'"},
        {"pageLimit": "0"},
        {"pageLimit": "many"},
        {"pageCursor": "garbage!"},
    ):
        response = five9.http.get(five9.lists_path(), params=params, headers=five9.auth())
        assert response.status_code == 400, params
        assert set(response.json()) == {"error", "message"}


def test_unknown_domain_is_404(five9: Five9Caller) -> None:
    response = five9.http.get(five9.lists_path("other-domain"), headers=five9.auth())
    assert response.status_code == 404


def _window() -> dict[str, str]:
    return {"start": "2026-12-01T14:05:00Z", "end": "2026-12-01T21:00:00Z"}

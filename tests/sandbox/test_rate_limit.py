"""The per-credential sliding window over real HTTP (docs/five9-contract.md, limits)."""

from __future__ import annotations

import time

from .conftest import MakeCaller
from .helpers import contact


def test_sixth_upload_in_the_window_is_429_and_accepted_after_retry_after(
    make_caller: MakeCaller,
) -> None:
    five9 = make_caller(max_requests=5, window_seconds=2.0)
    sandbox = five9.server.sandbox
    five9.list_id()
    # token, whoami and lookups are not counted
    five9.http.get("/users/v1/users/whoami", headers=five9.auth())
    statuses = [five9.upload([contact(f"555120811{i}")]).status_code for i in range(5)]
    assert statuses == [200] * 5
    refused = five9.upload([contact("5551208119")])
    assert refused.status_code == 429
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 2
    assert five9.upload([contact("5551208119")]).status_code == 429
    assert len(sandbox.upload_times()) == 5  # the 429s were not counted
    assert len(sandbox.events_of("rate_limited")) == 2
    time.sleep(retry_after)
    assert five9.upload([contact("5551208119")]).status_code == 200
    times = sandbox.upload_times("sandbox-key")
    assert len(times) == 6
    assert times == sorted(times)
    assert sandbox.max_in_any_window() == 5
    assert sandbox.upload_times("someone-else") == []


def test_window_slides_instead_of_resetting(make_caller: MakeCaller) -> None:
    five9 = make_caller(max_requests=5, window_seconds=2.0)
    five9.list_id()
    for i in range(3):
        assert five9.upload([contact(f"555120811{i}")]).status_code == 200
    time.sleep(1.2)
    for i in range(3, 5):
        assert five9.upload([contact(f"555120811{i}")]).status_code == 200
    time.sleep(0.9)  # the first three have left the window, the last two have not
    results = [five9.upload([contact("5551208119")]).status_code for _ in range(4)]
    assert results == [200, 200, 200, 429]
    assert five9.server.sandbox.max_in_any_window() == 5


def test_refused_requests_do_not_count(make_caller: MakeCaller) -> None:
    five9 = make_caller(max_requests=2, window_seconds=30.0)
    five9.list_id()
    assert five9.upload([contact()], token="bad").status_code == 401
    assert five9.post_contacts({"contacts": [contact()]}, list_id="nope").status_code == 404
    assert five9.upload([contact()]).status_code == 200
    assert five9.upload([contact("5551208112")]).status_code == 200
    assert five9.upload([contact("5551208113")]).status_code == 429
    assert len(five9.server.sandbox.upload_times()) == 2

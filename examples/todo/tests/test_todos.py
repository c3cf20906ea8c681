"""Integration tests of the todo service, written in Python against the service splice
starts (see splice.yaml)."""

from __future__ import annotations

import httpx

from splice._internal.pytest.handles import SpliceEnv


def test_a_todo_is_created_and_read_back(client: httpx.Client) -> None:
    """POST then GET returns the same todo."""
    created = client.post("/todos", json={"title": "buy milk"})
    assert created.status_code == 201
    todo = client.get(f"/todos/{created.json()['id']}").json()
    assert todo == {**created.json(), "title": "buy milk", "done": False}


def test_a_missing_title_is_rejected(client: httpx.Client) -> None:
    """Validation errors name the field."""
    response = client.post("/todos", json={})
    assert response.status_code == 422
    assert response.json()["details"] == [{"field": "title", "message": "is required"}]


def test_the_environment_lists_the_service(splice_env: SpliceEnv) -> None:
    """splice_env.services has every service of splice.yaml, with its address."""
    assert set(splice_env.services) == {"app"}
    app = splice_env.services["app"]
    assert app.url == f"http://127.0.0.1:{app.port}"

"""Fixtures of the example's tests, built on splice's (`splice_app` comes from the
service `app` in splice.yaml)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from splice._internal.pytest.handles import ServiceHandle


@pytest.fixture
def client(splice_app: ServiceHandle) -> Iterator[httpx.Client]:
    """An HTTP client for the todo service. Using `splice_app` makes every test that
    uses this fixture an integration test (marked `integration` by splice)."""
    with httpx.Client(base_url=splice_app.url, timeout=5) as client:
        yield client

"""The client's and the smoke test's tests run against the real handler: they share its moto fixture."""

from __future__ import annotations

from tests.api.runtime.conftest import aws  # noqa: F401  (the fixture, for test_client and test_smoke_test)

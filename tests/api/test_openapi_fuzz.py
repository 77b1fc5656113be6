"""Schemathesis over the API's own OpenAPI spec: generated requests to every operation, as a logged-in
service manager and as nobody, never get a 5xx."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.tenancy import Role
from tests.api_world import World

EXAMPLES_PER_OPERATION = 6
SKIPPED = {("GET", "/api/v1/events/alerts")}  # a stream that stays open; tests/api/test_events.py covers it


def test_no_server_errors_on_generated_requests(world: World) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app_client.app)
    headers = world.headers(Role.SERVICE_MANAGER, "A")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 10
    for operation in operations:
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), authenticated=st.booleans())
        def run(case: Any, authenticated: bool) -> None:
            response = case.call(headers=headers if authenticated else None)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

        run()
    assert not failures, "\n".join(sorted(set(failures))[:20])

"""A store that enables automatic proposals gets a proposed booking for each new critical alert when
the notifier dispatches the alert's event; other alerts and other stores get none."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from api.notifications.dispatch import dispatch
from predict.catalog import FailureMode
from predict.dtc_kb import Severity
from store.db import make_engine
from store.service_tables import bookings, outbox, store_settings
from tests.api_world import World, raise_test_alert


def test_critical_alert_gets_a_proposal_when_the_store_enabled_it(world: World, db_url: str) -> None:
    a, b = world.stores["A"], world.stores["B"]
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(update(store_settings).where(store_settings.c.store_id == a.store_id)
                     .values(auto_propose_critical=True))  # fmt: skip
        critical_a = raise_test_alert(conn, store_id=a.store_id, vehicle_id=a.vehicle_id,
                                      mode=FailureMode.OVERHEATING, severity=Severity.CRITICAL)  # fmt: skip
        critical_b = raise_test_alert(conn, store_id=b.store_id, vehicle_id=b.vehicle_id,
                                      mode=FailureMode.OVERHEATING, severity=Severity.CRITICAL)  # fmt: skip
    with engine.begin() as conn:
        dispatch(conn, datetime.now(UTC))
    with engine.connect() as conn:
        proposed = {r.alert_id: r for r in conn.execute(select(bookings).where(bookings.c.state == "proposed"))}
        events = list(conn.scalars(select(outbox.c.subject_id).where(outbox.c.event_type == "booking.proposed")))
    engine.dispose()
    assert set(proposed) == {critical_a}, "only store A's critical alert (A enabled it; B did not; A's warning not)"
    assert proposed[critical_a].op_code == "COOL-DIAG"
    assert events == [proposed[critical_a].id]
    assert critical_b not in proposed and a.alert_id not in proposed
    shown = world.call("GET", f"/api/v1/bookings/{proposed[critical_a].id}").json()
    assert shown["state"] == "proposed"

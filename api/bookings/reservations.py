"""Part reservations of a booking: reserve when it is confirmed, release when it is cancelled.

The stock row is updated first (`reserved += qty` locks it, and the check constraint
`reserved <= on_hand + incoming_qty` refuses an over-reservation with CheckViolation); then the
returned figures tell whether the part is on hand or arrives in time for the booking's day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import Connection, insert, update

from api.bookings.errors import PartsUnavailable
from api.bookings.slots import PartNeed
from store.service_tables import part_reservations, part_stock


def reserve_parts(
    conn: Connection, *, booking_id: int, store_id: int, needs: Sequence[PartNeed], day: date, today: date
) -> None:
    """Reserve every part for a booking on local `day`; raise PartsUnavailable if one is not there by then.

    Parts are locked in part number order, so two bookings never wait on each other's stock rows.
    A CheckViolation (more reserved than the store has or expects) propagates for the caller to map.
    """
    for need in sorted(needs, key=lambda n: n.part_no):
        p = part_stock.c
        row = conn.execute(
            update(part_stock)
            .where(p.store_id == store_id, p.part_no == need.part_no)
            .values(reserved=p.reserved + need.qty)
            .returning(p.on_hand, p.reserved, p.incoming_qty, p.incoming_on)
        ).first()
        if row is None:
            raise PartsUnavailable(f"the store does not stock {need.part_no}", details={"part_no": need.part_no})
        available_on = today if row.reserved <= row.on_hand else row.incoming_on
        if available_on is None or available_on > day:
            raise PartsUnavailable(
                f"{need.part_no} is not available by {day}",
                details={"part_no": need.part_no, "available_on": None if available_on is None else str(available_on)},
            )
        conn.execute(
            insert(part_reservations).values(
                booking_id=booking_id, store_id=store_id, part_no=need.part_no, qty=need.qty, available_on=available_on
            )
        )


def release_parts(conn: Connection, *, booking_id: int) -> list[tuple[str, int]]:
    """Release a booking's reserved parts back to the stock; return (part_no, qty) released."""
    r = part_reservations.c
    released = conn.execute(
        update(part_reservations)
        .where(r.booking_id == booking_id, r.state == "reserved")
        .values(state="released")
        .returning(r.store_id, r.part_no, r.qty)
    ).all()
    for row in sorted(released, key=lambda x: x.part_no):
        p = part_stock.c
        conn.execute(
            update(part_stock)
            .where(p.store_id == row.store_id, p.part_no == row.part_no)
            .values(reserved=p.reserved - row.qty)
        )
    return [(row.part_no, row.qty) for row in released]

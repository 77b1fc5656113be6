"""Parts fitted during a work order: consume the booking's reservations first, then free stock.

Stock moves with the part: on_hand goes down by what is fitted, reserved by what came from a
reservation. Free stock is on_hand minus reserved (parts held for other bookings are not free).
A reservation larger than what is fitted is split: the fitted quantity is consumed, the rest stays
reserved (and is released when the work order closes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from api.errors import Conflict, Invalid
from api.tenancy import StoreScope
from api.work_orders.schemas import PartUseIn, WorkOrderDetail
from api.work_orders.service import get_detail, lock_open
from store.service_tables import part_reservations, part_stock, parts, work_order_parts


class NotEnoughStock(Conflict):
    code = "not_enough_stock"


@dataclass(frozen=True, slots=True)
class Held:
    """A reservation of the booking for the part: its id and quantity."""

    reservation_id: int
    qty: int


@dataclass(frozen=True, slots=True)
class Draw:
    """Where some of the fitted quantity comes from: a reservation, or free stock (None)."""

    reservation_id: int | None
    qty: int


@dataclass(frozen=True, slots=True)
class Shortage:
    """Why a part cannot be fitted: what was asked, what could be drawn."""

    requested: int
    reserved: int
    free: int
    on_hand: int


def allocate(needed: int, held: Sequence[Held], *, on_hand: int, reserved: int) -> list[Draw] | Shortage:
    """Split `needed` over the reservations (oldest first), then free stock; a Shortage if it does not fit.

    Free stock is on_hand - reserved; everything drawn must also be on hand (a reserved part that has
    not arrived yet cannot be fitted).
    """
    draws: list[Draw] = []
    left = needed
    for h in held:
        if left == 0:
            break
        take = min(h.qty, left)
        draws.append(Draw(h.reservation_id, take))
        left -= take
    free = max(on_hand - reserved, 0)
    if left > free or needed > on_hand:
        return Shortage(requested=needed, reserved=needed - left, free=free, on_hand=on_hand)
    if left:
        draws.append(Draw(None, left))
    return draws


def use_part(conn: Connection, *, scope: StoreScope, work_order_id: int, body: PartUseIn) -> WorkOrderDetail:
    """Record a fitted part and move the stock; raise NotEnoughStock (409) when it is not there."""
    row = lock_open(conn, scope=scope, work_order_id=work_order_id)
    if conn.scalar(select(parts.c.part_no).where(parts.c.part_no == body.part_no)) is None:
        raise Invalid(f"no part {body.part_no}", details={"field": "part_no"})
    stock = conn.execute(
        select(part_stock)
        .where(part_stock.c.store_id == row.store_id, part_stock.c.part_no == body.part_no)
        .with_for_update()
    ).first()
    on_hand, reserved = (0, 0) if stock is None else (stock.on_hand, stock.reserved)
    held = _held(conn, row.booking_id, body.part_no)
    plan = allocate(body.qty, held, on_hand=on_hand, reserved=reserved)
    if isinstance(plan, Shortage):
        raise NotEnoughStock(
            f"not enough {body.part_no} in stock for {body.qty}",
            details=_shortage_details(body.part_no, plan),
        )
    for draw in plan:
        reservation_id = _consume(conn, held, draw)
        conn.execute(
            insert(work_order_parts).values(
                work_order_id=row.id, part_no=body.part_no, qty=draw.qty, reservation_id=reservation_id
            )
        )
    from_reservations = sum(d.qty for d in plan if d.reservation_id is not None)
    conn.execute(
        update(part_stock)
        .where(part_stock.c.store_id == row.store_id, part_stock.c.part_no == body.part_no)
        .values(on_hand=part_stock.c.on_hand - body.qty, reserved=part_stock.c.reserved - from_reservations)
    )
    return get_detail(conn, scope=scope, work_order_id=work_order_id)


def _shortage_details(part_no: str, shortage: Shortage) -> dict[str, Any]:
    return {
        "part_no": part_no,
        "requested": shortage.requested,
        "from_reservation": shortage.reserved,
        "free": shortage.free,
        "on_hand": shortage.on_hand,
    }


def _held(conn: Connection, booking_id: int | None, part_no: str) -> list[Held]:
    if booking_id is None:
        return []
    r = part_reservations.c
    rows = conn.execute(
        select(r.id, r.qty)
        .where(r.booking_id == booking_id, r.part_no == part_no, r.state == "reserved")
        .order_by(r.id)
        .with_for_update()
    )
    return [Held(x.id, x.qty) for x in rows]


def _consume(conn: Connection, held: Sequence[Held], draw: Draw) -> int | None:
    """Mark a draw's reservation consumed (splitting it if only part is fitted); return the consumed id."""
    if draw.reservation_id is None:
        return None
    whole = next(h for h in held if h.reservation_id == draw.reservation_id)
    r = part_reservations.c
    if draw.qty == whole.qty:
        conn.execute(update(part_reservations).where(r.id == whole.reservation_id).values(state="consumed"))
        return whole.reservation_id
    original = conn.execute(select(part_reservations).where(r.id == whole.reservation_id)).one()
    conn.execute(update(part_reservations).where(r.id == whole.reservation_id).values(qty=whole.qty - draw.qty))
    split = {k: original._mapping[k] for k in ("booking_id", "store_id", "part_no", "available_on")}
    consumed_id = conn.scalar(insert(part_reservations).values(**split, qty=draw.qty, state="consumed").returning(r.id))
    return int(consumed_id)

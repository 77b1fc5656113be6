"""Set up a store's workshop: opening hours, technicians with skills and shifts, bays, parts stock.

Used by `pitcall demo`, the API benchmark and tests; a real store enters the same through the
capacity routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from sqlalchemy import Connection, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from store.fleet import ensure_store
from store.service_tables import (
    bays,
    opening_hours,
    part_stock,
    parts,
    store_settings,
    technician_shifts,
    technicians,
)
from store.tables import stores

SKILLS = ("electrical", "cooling", "engine", "exhaust", "general")
WORKDAYS = (1, 2, 3, 4, 5, 6)  # Monday to Saturday


@dataclass(frozen=True, slots=True)
class Workshop:
    store_id: int
    group_id: int
    technician_ids: list[int]
    bay_ids: list[int]


def seed_workshop(
    conn: Connection,
    *,
    group_name: str,
    store_code: str,
    store_name: str,
    timezone: str = "Asia/Shanghai",
    technician_count: int = 4,
    bay_count: int = 3,
    stock_per_part: int = 5,
    opens_at: time = time(8, 30),
    closes_at: time = time(18, 0),
) -> Workshop:
    """Create (or extend) a store with a working workshop; every technician covers two skills."""
    store_id = ensure_store(
        conn, group_name=group_name, store_code=store_code, store_name=store_name, timezone=timezone
    )
    group_id = int(conn.execute(select(stores.c.group_id).where(stores.c.id == store_id)).scalar_one())
    conn.execute(pg_insert(store_settings).values(store_id=store_id).on_conflict_do_nothing())
    conn.execute(
        pg_insert(opening_hours)
        .values([{"store_id": store_id, "weekday": d, "opens_at": opens_at, "closes_at": closes_at} for d in WORKDAYS])
        .on_conflict_do_nothing()
    )
    technician_ids = []
    for i in range(technician_count):
        skills = [SKILLS[i % len(SKILLS)], SKILLS[(i + 1) % len(SKILLS)], "general"]
        tech_id = int(
            conn.scalar(
                insert(technicians)
                .values(store_id=store_id, name=f"{store_code} tech {i + 1}", skills=sorted(set(skills)))
                .returning(technicians.c.id)
            )
        )
        conn.execute(
            insert(technician_shifts),
            [{"technician_id": tech_id, "weekday": d, "starts_at": opens_at, "ends_at": closes_at} for d in WORKDAYS],
        )
        technician_ids.append(tech_id)
    bay_ids = [
        int(conn.scalar(insert(bays).values(store_id=store_id, name=f"bay {i + 1}").returning(bays.c.id)))
        for i in range(bay_count)
    ]
    part_numbers = list(conn.scalars(select(parts.c.part_no)))
    conn.execute(
        pg_insert(part_stock)
        .values([{"store_id": store_id, "part_no": p, "on_hand": stock_per_part} for p in part_numbers])
        .on_conflict_do_nothing()
    )
    return Workshop(store_id, group_id, technician_ids, bay_ids)

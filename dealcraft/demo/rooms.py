"""Deal rooms: cross-functional teams around the strategic (grade A) accounts of 华东 and 西南.

The specialists serve on some rooms and not others, so their access (the accounts of their
deal rooms) is visibly narrower than a director's.
"""

from __future__ import annotations

from typing import Any

from dealcraft.demo.builder import DemoBuilder

# (specialist, which of the rooms they sit in: every n-th, starting at offset)
MEMBERSHIP = {
    "architect": (2, 0),
    "delivery": (3, 0),
    "legal": (2, 1),
}


def build_deal_rooms(b: DemoBuilder) -> None:
    acc = b.accounts
    rng = b.rng("deal_rooms")
    strategic = [
        i for i, grade in enumerate(acc.grade) if grade == "A" and acc.region[i] in ("华东", "西南")
    ]
    chosen = strategic[: max(4, b.scale.accounts // 100)]
    rooms: list[dict[str, Any]] = []
    for i in chosen:
        rooms.append(
            {
                "name": f"{acc.short_name[i]}项目作战单元",
                "account": acc.ids[i],
                "lead": acc.owner[i],
                "status": "open" if rng.random() < 0.85 else "closed",
            }
        )
    room_ids = b.write("deal_room", rooms, step="deal_room")

    members: list[dict[str, Any]] = []
    for n, (room_id, i) in enumerate(zip(room_ids, chosen, strict=True)):
        members.append({"deal_room": room_id, "user": acc.owner[i], "role": "sales_rep"})
        for username, (every, offset) in MEMBERSHIP.items():
            user_id = b.org.users.get(username)
            if user_id is not None and n % every == offset:
                role = {
                    "architect": "solution_architect",
                    "delivery": "delivery_expert",
                    "legal": "legal_counsel",
                }[username]
                members.append({"deal_room": room_id, "user": user_id, "role": role})
    b.write("deal_room_member", members, step="deal_room_member")

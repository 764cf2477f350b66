"""Segment ids and names: the published contract, written once.

Tables, dbt tests and dashboards key on these ids, so they are never renumbered. Ids 0-4 are the
five names of the original guide, ids 5-9 the wider catalogue of RFM practice.
"""

from __future__ import annotations

BIG_SPENDERS, AT_RISK, OCCASIONAL, CHAMPIONS, LOYAL = 0, 1, 2, 3, 4
NEW_CUSTOMERS, POTENTIAL_LOYALISTS, ONE_TIME, HIBERNATING, CANT_LOSE = 5, 6, 7, 8, 9

#: Segment id -> name (the published contract: never renumber).
SEGMENT_NAMES: dict[int, str] = {
    BIG_SPENDERS: "Big Spenders",
    AT_RISK: "At-Risk (Lapsing)",
    OCCASIONAL: "Occasional Shoppers",
    CHAMPIONS: "Champions (VIPs)",
    LOYAL: "Loyal Customers",
    NEW_CUSTOMERS: "New Customers",
    POTENTIAL_LOYALISTS: "Potential Loyalists",
    ONE_TIME: "One-time Buyers",
    HIBERNATING: "Hibernating / Lost",
    CANT_LOSE: "Can't Lose Them",
}
#: The five names of the original guide, and the wider catalogue given when none of them fits.
ORIGINAL_IDS: tuple[int, ...] = (BIG_SPENDERS, AT_RISK, OCCASIONAL, CHAMPIONS, LOYAL)
WIDER_IDS: tuple[int, ...] = (NEW_CUSTOMERS, POTENTIAL_LOYALISTS, ONE_TIME, HIBERNATING, CANT_LOSE)


def name_of(segment_id: int) -> str:
    """The name of ``segment_id``."""
    return SEGMENT_NAMES[segment_id]

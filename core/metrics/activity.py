"""Team activity: calls."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import Account, Call
from core.metrics.filters import DashboardFilters, day_after, scope_by_account_segment, start_of_day

WEEK_DAYS = 7
CALLS_BY_OWNER_COLUMNS = ["owner", "calls"]
NO_OWNER = "(no owner)"


@dataclass(frozen=True)
class CallsWeek:
    """Calls that started in the 7 days ending ``as_of`` (UTC days ``start``..``end``, both included).

    Scoped by the rep who ran the call (``Call.owner``) and by the segment of the call's account."""

    count: int
    start: date
    end: date
    by_owner: pd.DataFrame = field(repr=False)  # CALLS_BY_OWNER_COLUMNS, most calls first


def calls_this_week(*, session: Session, filters: DashboardFilters) -> CallsWeek:
    start = filters.as_of - timedelta(days=WEEK_DAYS - 1)
    stmt = (
        select(Call.owner)
        .select_from(Call)
        .outerjoin(Account, Call.account_id == Account.id)
        .where(Call.started_at >= start_of_day(start), Call.started_at < day_after(filters.as_of))
    )
    if filters.owner:
        stmt = stmt.where(Call.owner == filters.owner)
    stmt = scope_by_account_segment(stmt, filters)
    owners = Counter(owner or NO_OWNER for owner in session.scalars(stmt))
    by_owner = pd.DataFrame(
        [{"owner": o, "calls": n} for o, n in sorted(owners.items(), key=lambda on: (-on[1], on[0]))],
        columns=CALLS_BY_OWNER_COLUMNS,
    )
    return CallsWeek(count=sum(owners.values()), start=start, end=filters.as_of, by_owner=by_owner)

"""``metric_anomaly``: a daily series leaves its expected band, judged against the same weekday.

Each of the last ``window_days`` complete days (the days before the detection day) is compared with the same
weekday in the ``weeks`` weeks before it: the baseline is their median, its spread the median absolute
deviation (MAD) scaled by 1.4826 (the standard deviation of a normal series). A day is out of band when

    |value - median| > k x max(1.4826 x MAD, mad_floor_pct x |median|, min_scale)

(``min_scale`` is ``min_scale_usd`` for a money series, ``min_scale_count`` for a count)
so a Monday is measured against Mondays (weekly seasonality costs no alarm), one odd week in the baseline
does not move it (median and MAD are robust), and a flat series (MAD 0) does not alarm on a small wiggle (the
floors). A day needs ``min_weeks`` baseline days on or after the series' first record, or it is not judged.

The series (``series``, by name; ``SERIES`` below) are company-wide daily series from the model: customers'
invoice payments collected (``payments.paid_at``/``amount``, succeeded; NetSuite), failed payment attempts, and
new customers (``accounts.customer_since``). The model holds no daily series per account (rent volume is monthly),
so the subject is the company: Subject("company", "payready", "PayReady"); ``detect_series`` takes any
subject, for a per-account series when one exists.

Only the harmful direction is raised (less collected, fewer new customers, more failures) unless
``both_directions`` is on. Severity: high when the worst day is out by twice the band in the harmful direction
(``Series.bad``), medium when it is out in the harmful direction, low when it moved the good way. Score: the
worst day's |value - median| / (2 x band), at most 1. One finding per subject and series (``key`` the series):
it holds while any day of the window is out of band, and resolves itself once the window is clear.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.models import Account, Payment
from core.insights.findings import DetectContext, Evidence, Finding, Subject
from core.metrics.filters import start_of_day, utc_date

TYPE = "metric_anomaly"
DESCRIPTION = (
    "A daily series (payments collected, failed payments, new customers) leaves its band: the last "
    "`window_days` days against the same weekday over `weeks` weeks (median ± `k` x scaled MAD)."
)
DEFAULTS = {
    "series": ["payments_collected", "payments_failed", "new_customers"],
    "weeks": 8,
    "min_weeks": 6,
    "k": 3.5,
    "mad_floor_pct": 0.10,
    "min_scale_usd": 1_000.0,
    "min_scale_count": 1.0,
    "window_days": 7,
    "both_directions": False,
}
COMPANY = Subject("company", "payready", "PayReady")
MAD_SCALE = 1.4826  # MAD x this estimates the standard deviation of a normal series
EVIDENCE_MAX = 10  # records behind the worst day shown with the finding

Daily = Callable[[Session, datetime, datetime], dict[date, float]]
First = Callable[[Session], date | None]
Records = Callable[[Session, date], list[Evidence]]


@dataclass(frozen=True)
class Series:
    name: str
    label: str
    unit: str  # USD | a count's noun
    bad: str  # the harmful direction: "down" | "up"
    daily: Daily  # values by UTC day for [start, end); a day without records is 0
    first: First  # the first day with a record (the series starts there)
    records: Records  # the records behind one day's value


@dataclass(frozen=True)
class DayCheck:
    day: date
    value: float
    median: float
    band: float  # k x the scale
    history: int  # baseline days used
    scaled_mad: float  # 1.4826 x MAD of the baseline

    @property
    def deviation(self) -> float:
        return self.value - self.median

    @property
    def out(self) -> bool:
        return abs(self.deviation) > self.band


# ---- the series ---------------------------------------------------------------------------------------------


def _payments(status: str, *, amount: bool) -> Daily:
    def daily(session: Session, start: datetime, end: datetime) -> dict[date, float]:
        q = select(Payment.paid_at, Payment.amount).where(
            Payment.status == status, Payment.paid_at >= start, Payment.paid_at < end
        )
        out: dict[date, float] = defaultdict(float)
        for at, value in session.execute(q):
            out[utc_date(at)] += float(value or 0) if amount else 1.0
        return out

    return daily


def _payments_first(status: str) -> First:
    def first(session: Session) -> date | None:
        at = session.scalar(select(func.min(Payment.paid_at)).where(Payment.status == status))
        return utc_date(at) if at is not None else None

    return first


def _payment_records(status: str) -> Records:
    def records(session: Session, day: date) -> list[Evidence]:
        q = (
            select(Payment.id, Payment.external_id, Payment.amount, Payment.paid_at)
            .where(
                Payment.status == status,
                Payment.paid_at >= start_of_day(day),
                Payment.paid_at < start_of_day(day + timedelta(days=1)),
            )
            .order_by(Payment.amount.desc())
            .limit(EVIDENCE_MAX)
        )
        return [
            Evidence("payments", ext, label=f"Payment {ext} ({status}) ${amt:,.2f}, {at:%Y-%m-%d %H:%M}", id=pid)
            for pid, ext, amt, at in session.execute(q)
        ]

    return records


def _customers_daily(session: Session, start: datetime, end: datetime) -> dict[date, float]:
    q = select(Account.customer_since).where(
        Account.customer_since >= start.date(), Account.customer_since < end.date()
    )
    out: dict[date, float] = defaultdict(float)
    for (day,) in session.execute(q):
        if day is not None:  # the WHERE clause
            out[day] += 1.0
    return out


def _customers_first(session: Session) -> date | None:
    return session.scalar(select(func.min(Account.customer_since)))


def _customer_records(session: Session, day: date) -> list[Evidence]:
    q = select(Account.id, Account.external_id, Account.name).where(Account.customer_since == day).limit(EVIDENCE_MAX)
    return [
        Evidence("accounts", ext, label=f"Account {name}, customer since {day}", id=aid)
        for aid, ext, name in session.execute(q)
    ]


SERIES: dict[str, Series] = {
    s.name: s
    for s in (
        Series(
            "payments_collected",
            "Payments collected",
            "USD",
            "down",
            _payments("succeeded", amount=True),
            _payments_first("succeeded"),
            _payment_records("succeeded"),
        ),
        Series(
            "payments_failed",
            "Failed payments",
            "payments",
            "up",
            _payments("failed", amount=False),
            _payments_first("failed"),
            _payment_records("failed"),
        ),
        Series(
            "new_customers",
            "New customers",
            "accounts",
            "down",
            _customers_daily,
            _customers_first,
            _customer_records,
        ),
    )
}


# ---- detection ----------------------------------------------------------------------------------------------


def detect(ctx: DetectContext) -> list[Finding]:
    findings = []
    for name in ctx.params["series"]:
        series = SERIES.get(str(name))
        if series is None:
            raise ValueError(f"metric_anomaly: no series {name!r}; expected one of {', '.join(SERIES)}")
        finding = detect_series(ctx, series, subject=COMPANY)
        if finding is not None:
            findings.append(finding)
    return findings


def detect_series(
    ctx: DetectContext, series: Series, *, subject: Subject, account_id: int | None = None
) -> Finding | None:
    """The finding for one series of one subject over the window, or None when every day is in band."""
    p = ctx.params
    weeks, min_weeks, window = int(p["weeks"]), int(p["min_weeks"]), max(1, int(p["window_days"]))
    first = series.first(ctx.session)
    if first is None:
        return None
    last_day = ctx.today - timedelta(days=1)  # the last complete day
    start = last_day - timedelta(days=window - 1 + 7 * weeks)
    values = series.daily(ctx.session, start_of_day(max(start, first)), ctx.now)
    min_scale = float(p["min_scale_usd"] if series.unit == "USD" else p["min_scale_count"])
    checks = []
    for offset in range(window - 1, -1, -1):
        day = last_day - timedelta(days=offset)
        if day < first:
            continue
        check = check_day(
            day,
            values,
            first=first,
            weeks=weeks,
            min_weeks=min_weeks,
            k=float(p["k"]),
            floor_pct=float(p["mad_floor_pct"]),
            min_scale=min_scale,
        )
        if check is not None:
            checks.append(check)
    both = bool(p["both_directions"])
    out = [c for c in checks if c.out and (both or _harmful(series, c))]
    if not out:
        return None
    worst = max(out, key=lambda c: abs(c.deviation) / c.band)
    high = abs(worst.deviation) >= 2 * worst.band
    severity = ("high" if high else "medium") if _harmful(series, worst) else "low"
    direction = "below" if worst.deviation < 0 else "above"
    k, floor_pct = float(p["k"]), float(p["mad_floor_pct"])
    reasons = [
        f"{series.label} {_fmt(c.value, series.unit)} on {c.day:%a %Y-%m-%d} vs {_fmt(c.median, series.unit)} "
        f"median of the same weekday over {c.history} weeks: {_fmt(abs(c.deviation), series.unit)} "
        f"{'below' if c.deviation < 0 else 'above'}, beyond the band of ±{_fmt(c.band, series.unit)} (threshold "
        f"{k:g} x scale {_fmt(c.band / k, series.unit)}; scaled MAD {_fmt(c.scaled_mad, series.unit)}, floor "
        f"{100 * floor_pct:.0f} % of the median or {_fmt(min_scale, series.unit)})."
        for c in out
    ]
    if len(out) < len(checks):
        reasons.append(f"{len(checks) - len(out)} other day(s) of the last {window} were within their band.")
    chart_start = max(first, last_day - timedelta(days=7 * weeks + window - 1))
    points = [
        [chart_start + timedelta(days=i), round(values.get(chart_start + timedelta(days=i), 0.0), 2)]
        for i in range((last_day - chart_start).days + 1)
    ]
    return Finding(
        type=TYPE,
        subject=subject,
        severity=severity,
        title=f"{series.label} {direction} the usual {worst.day:%A} on {worst.day:%Y-%m-%d}: "
        f"{_fmt(worst.value, series.unit)} vs {_fmt(worst.median, series.unit)}",
        score=min(1.0, abs(worst.deviation) / (2 * worst.band)),
        reasons=reasons,
        evidence=series.records(ctx.session, worst.day),
        account_id=account_id,
        details={
            "series_name": series.name,
            "days": [
                {"day": c.day, "value": round(c.value, 2), "median": round(c.median, 2), "band": round(c.band, 2)}
                for c in out
            ],
            "k": k,
            "weeks": weeks,
            "series": {"label": series.label, "unit": series.unit, "points": points},
        },
        key=series.name,
    )


def check_day(
    day: date,
    values: dict[date, float],
    *,
    first: date,
    weeks: int,
    min_weeks: int,
    k: float,
    floor_pct: float,
    min_scale: float,
) -> DayCheck | None:
    """One day against the same weekday of the ``weeks`` weeks before it; None with too little history."""
    baseline = [values.get(d, 0.0) for d in (day - timedelta(days=7 * w) for w in range(1, weeks + 1)) if d >= first]
    if len(baseline) < max(1, min_weeks):
        return None
    median = statistics.median(baseline)
    mad = statistics.median(abs(v - median) for v in baseline)
    scale = max(MAD_SCALE * mad, floor_pct * abs(median), min_scale)
    return DayCheck(day, values.get(day, 0.0), median, k * scale, len(baseline), MAD_SCALE * mad)


def _harmful(series: Series, check: DayCheck) -> bool:
    return (check.deviation < 0) == (series.bad == "down")


def _fmt(value: float, unit: str) -> str:
    if unit == "USD":
        return f"${value:,.0f}"
    return f"{value:,.0f} {unit}" if float(value).is_integer() else f"{value:,.1f} {unit}"

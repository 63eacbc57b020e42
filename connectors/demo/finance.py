"""NetSuite invoices and payment attempts: one subscription invoice per customer per month (that
month's MRR), implementation services invoices, and card/ACH/wire attempts with failures."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from connectors.demo.accounts import Acct
from connectors.demo.common import Clock, hubspot_ref, rng_for

HISTORY_MONTHS = 24
NET_DAYS = 30
LAST_N = 6  # chronic late payers: at least LATE_MIN of the last LAST_N subscription invoices late
LATE_MIN = 3
CLEAN_TAIL = 9  # non-planted accounts have no late invoice among their last 9
SERVICES_FEE = {"smb": (2_500, 6_000), "mid_market": (7_500, 18_000), "enterprise": (20_000, 45_000)}


@dataclass(slots=True)
class Inv:
    acct: Acct
    kind: str
    period_start: date | None
    issued_on: date
    amount: float
    late: bool = False
    void: bool = False
    ext_id: str = ""
    number: str = ""

    @property
    def due_on(self) -> date:
        return self.issued_on + timedelta(days=NET_DAYS)


@dataclass
class Ledger:
    invoices: list[dict] = field(default_factory=list)
    payments: list[dict] = field(default_factory=list)
    late: dict[str, list[Inv]] = field(default_factory=dict)  # account -> its late subscription invoices


def build_ledger(*, seed: int, clock: Clock, accts: list[Acct]) -> Ledger:
    invs: list[Inv] = []
    ledger = Ledger()
    for acct in accts:
        if not acct.is_customer:
            continue
        rng = rng_for(seed, "invoices", acct.ext_id)
        subs = _subscriptions(clock, acct)
        _plan_lateness(rng, clock, acct, subs)
        if any(i.late for i in subs):
            ledger.late[acct.ext_id] = [i for i in subs if i.late]
        invs += subs + _services(rng, clock, acct)
    invs.sort(key=lambda i: (i.issued_on, i.acct.idx, i.kind))
    for n, inv in enumerate(invs, start=1):
        inv.ext_id, inv.number = f"inv-{n:07d}", f"INV-{inv.issued_on.year}-{n:06d}"
    for inv in invs:
        rng = rng_for(seed, "payments", inv.ext_id)
        paid_on = _paid_on(rng, clock, inv)
        ledger.invoices.append(_invoice_record(rng, clock, inv, paid_on))
        ledger.payments += _attempts(rng, clock, inv, paid_on)
    for n, pay in enumerate(ledger.payments, start=1):
        pay["external_id"] = f"pay-{n:07d}"
    return ledger


def _subscriptions(clock: Clock, acct: Acct) -> list[Inv]:
    subs = []
    for k in range(HISTORY_MONTHS - 1, -1, -1):
        month = clock.month(k)
        if month < acct.customer_since or (acct.churned_on and month >= acct.churned_on):
            continue
        subs.append(Inv(acct, "subscription", month, month, acct.mrr_on(month)))
    return subs


def _plan_lateness(rng: random.Random, clock: Clock, acct: Acct, subs: list[Inv]) -> None:
    """Planted late payers: 3-5 of the last 6 late; near misses: exactly 2; others none recently."""
    due = [i for i in subs[-LAST_N:] if i.due_on < clock.as_of]
    if "late_payer" in acct.flags:
        chosen = rng.sample(due, k=rng.randint(LATE_MIN, min(5, len(due))))
    elif "late_twice" in acct.flags:
        chosen = rng.sample(due, k=LATE_MIN - 1)
    else:
        chosen = [i for i in subs[:-CLEAN_TAIL] if rng.random() < 0.06]
    for inv in chosen:
        inv.late = True


def _services(rng: random.Random, clock: Clock, acct: Acct) -> list[Inv]:
    issued = acct.customer_since + timedelta(days=rng.randint(1, 5))
    if issued >= clock.as_of or issued < clock.month(HISTORY_MONTHS - 1):
        return []
    lo, hi = SERVICES_FEE[acct.segment]
    inv = Inv(acct, "services", None, issued, float(rng.randrange(lo, hi, 250)))
    inv.void = rng.random() < 0.08
    return [inv]


def _paid_on(rng: random.Random, clock: Clock, inv: Inv) -> date | None:
    """When it was (or will be) paid; None when void. A date on/after as_of means still open."""
    if inv.void:
        return None
    if inv.late:
        return inv.due_on + timedelta(days=rng.randint(3, 40))
    return inv.issued_on + timedelta(days=rng.randint(2, NET_DAYS - 2))


def _invoice_record(rng: random.Random, clock: Clock, inv: Inv, paid_on: date | None) -> dict:
    paid = paid_on is not None and paid_on < clock.as_of
    status = "void" if inv.void else "paid" if paid else "open"
    issued_at = clock.moment_on(rng, inv.issued_on) if inv.issued_on < clock.as_of else clock.on(inv.issued_on, 0)
    updated = clock.moment_on(rng, paid_on) if paid else issued_at
    return {
        "external_id": inv.ext_id,
        "account_ref": hubspot_ref(inv.acct.ext_id),
        "number": inv.number,
        "kind": inv.kind,
        "period_start": inv.period_start,
        "issued_on": inv.issued_on,
        "due_on": inv.due_on,
        "amount": inv.amount,
        "currency": "USD",
        "status": status,
        "paid_on": paid_on if paid else None,
        "created_at": issued_at,
        "updated_at": updated,
    }


def _method(rng: random.Random, acct: Acct) -> str:
    weights = {"smb": (65, 33, 2), "mid_market": (80, 10, 10), "enterprise": (50, 0, 50)}[acct.segment]
    return rng.choices(("ach", "card", "wire"), weights=weights)[0]


def _attempts(rng: random.Random, clock: Clock, inv: Inv, paid_on: date | None) -> list[dict]:
    """Payment attempts: failures (NSF, card declined) before the success that paid it, if any."""
    if paid_on is None:
        return []
    method = _method(rng, inv.acct)
    rows = []
    failed_p = 0.6 if inv.late else 0.06
    first_try = inv.due_on - timedelta(days=rng.randint(1, 4)) if inv.late else paid_on - timedelta(days=3)
    if rng.random() < failed_p and inv.issued_on < first_try < min(paid_on, clock.as_of):
        rows.append(_payment(rng, clock, inv, first_try, "failed", method))
    if paid_on < clock.as_of:
        rows.append(_payment(rng, clock, inv, paid_on, "succeeded", method))
    return rows


def _payment(rng: random.Random, clock: Clock, inv: Inv, on: date, status: str, method: str) -> dict:
    at = clock.moment_on(rng, on)
    return {
        "external_id": "",
        "invoice_ref": inv.ext_id,
        "account_ref": hubspot_ref(inv.acct.ext_id),
        "amount": inv.amount,
        "currency": "USD",
        "paid_at": at,
        "status": status,
        "method": method,
        "created_at": at,
        "updated_at": at,
    }

"""PayReady's own people (Lattice): employees by role, reporting lines, review cycles and goals."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import date, timedelta

from faker import Faker

from connectors.demo import hr_text
from connectors.demo.common import Clock, add_months, midday, rng_for
from connectors.demo.names import EMAIL_DOMAIN, has_competitor

# role -> (title, department, manager role)
ROLES = {
    "ceo": ("Chief Executive Officer", "Executive", None),
    "cro": ("Chief Revenue Officer", "Executive", "ceo"),
    "vp_cs": ("VP of Customer Success", "Customer Success", "ceo"),
    "cfo": ("Chief Financial Officer", "Finance", "ceo"),
    "cto": ("Chief Technology Officer", "Engineering", "ceo"),
    "sales_manager": ("Sales Manager", "Sales", "cro"),
    "ae": ("Account Executive", "Sales", "sales_manager"),
    "sdr": ("Sales Development Representative", "Sales", "sales_manager"),
    "se": ("Solutions Engineer", "Sales", "sales_manager"),
    "cs_manager": ("Customer Success Manager Lead", "Customer Success", "vp_cs"),
    "csm": ("Customer Success Manager", "Customer Success", "cs_manager"),
    "support": ("Support Specialist", "Support", "cto"),
    "payments_ops": ("Payments Operations Analyst", "Payments Operations", "cfo"),
    "finance": ("Senior Accountant", "Finance", "cfo"),
    "engineering": ("Software Engineer", "Engineering", "cto"),
    "marketing": ("Marketing Manager", "Marketing", "cro"),
    "people": ("People Partner", "People", "ceo"),
}
EXECS = ("ceo", "cro", "vp_cs", "cfo", "cto")


@dataclass(slots=True)
class Emp:
    ext_id: str
    role: str
    first: str
    last: str
    email: str
    slack_id: str
    hired_on: date
    manager: Emp | None = None

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass
class Staff:
    people: list[Emp] = field(default_factory=list)
    by_role: dict[str, list[Emp]] = field(default_factory=dict)
    by_email: dict[str, Emp] = field(default_factory=dict)

    def role(self, role: str) -> list[Emp]:
        return self.by_role.get(role, [])

    @property
    def reps(self) -> list[Emp]:
        """The people who run customer calls: account executives and customer success managers."""
        return self.role("ae") + self.role("csm")


def headcount(accounts: int) -> dict[str, int]:
    ae = max(4, round(accounts / 25))
    csm = max(4, round(accounts / 22))
    counts = {r: 1 for r in EXECS}
    counts.update(
        sales_manager=max(1, ae // 6),
        ae=ae,
        sdr=max(2, ae // 2),
        se=max(1, ae // 4),
        cs_manager=max(1, csm // 7),
        csm=csm,
        support=2 + accounts // 100,
        payments_ops=1 + accounts // 250,
        finance=2 + accounts // 400,
        engineering=4 + accounts // 60,
        marketing=1 + accounts // 500,
        people=1 + accounts // 1000,
    )
    return counts


def build_staff(*, fake: Faker, seed: int, clock: Clock, accounts: int) -> Staff:
    rng = rng_for(seed, "staff")
    staff = Staff()
    for role, n in headcount(accounts).items():
        for _ in range(n):
            emp = _new_emp(fake, rng, clock, staff, role)
            staff.people.append(emp)
            staff.by_role.setdefault(role, []).append(emp)
            staff.by_email[emp.email] = emp
    for role, emps in staff.by_role.items():
        bosses = staff.role(ROLES[role][2]) if ROLES[role][2] else []
        for i, emp in enumerate(emps):
            emp.manager = bosses[i % len(bosses)] if bosses else None
    return staff


def _new_emp(fake: Faker, rng: random.Random, clock: Clock, staff: Staff, role: str) -> Emp:
    while True:
        first, last = fake.first_name(), fake.last_name()
        if not has_competitor(f"{first} {last}"):
            break
    local = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
    email, n = f"{local}@{EMAIL_DOMAIN}", 2
    while email in staff.by_email:
        email, n = f"{local}{n}@{EMAIL_DOMAIN}", n + 1
    years = 6.0 if role in EXECS else 4.5
    hired = clock.day(rng.randint(75, int(365 * years)))
    slack_id = "U0" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=9))
    return Emp(f"emp-{len(staff.people) + 1:05d}", role, first, last, email, slack_id, hired)


def employee_records(staff: Staff) -> list[dict]:
    return [
        {
            "external_id": e.ext_id,
            "name": e.name,
            "email": e.email,
            "title": ROLES[e.role][0],
            "department": ROLES[e.role][1],
            "manager_email": e.manager.email if e.manager else None,
            "hired_on": e.hired_on,
            "status": "active",
            "created_at": midday(e.hired_on),
            "updated_at": midday(e.hired_on),
        }
        for e in staff.people
    ]


def review_cycles(clock: Clock) -> list[tuple[str, date]]:
    """The two latest half-year cycles whose reviews were due (35 days after the half ends)."""
    cycles = []
    end = date(clock.as_of.year, 12, 31)
    while len(cycles) < 2:
        if end + timedelta(days=35) < clock.as_of:
            cycles.append((f"{end.year} {'H2' if end.month == 12 else 'H1'}", end))
        end = date(end.year, 6, 30) if end.month == 12 else date(end.year - 1, 12, 31)
    return cycles


def review_records(*, staff: Staff, seed: int, clock: Clock) -> list[dict]:
    records = []
    for cycle, end in review_cycles(clock):
        for emp in staff.people:
            if emp.manager is None or emp.hired_on > end - timedelta(days=60):
                continue
            rng = rng_for(seed, "review", cycle, emp.ext_id)
            rating = rng.choices((1, 2, 3, 4, 5), weights=(2, 8, 40, 35, 15))[0]
            submitted = clock.moment_on(rng, end + timedelta(days=rng.randint(8, 30)))
            records.append(
                {
                    "external_id": f"rev-{cycle.replace(' ', '').lower()}-{emp.ext_id}",
                    "employee_ref": emp.ext_id,
                    "reviewer_email": emp.manager.email,
                    "cycle": cycle,
                    "rating": rating,
                    "body": hr_text.review_body(rng, emp.first, emp.role, rating),
                    "submitted_at": submitted,
                    "created_at": submitted,
                    "updated_at": submitted,
                }
            )
    return records


def goal_records(*, staff: Staff, seed: int, clock: Clock) -> list[dict]:
    q_start = clock.as_of.replace(month=(clock.as_of.month - 1) // 3 * 3 + 1, day=1)
    q_end = add_months(q_start, 3) - timedelta(days=1)
    elapsed = (clock.as_of - q_start).days / max(1, (q_end - q_start).days)
    records = []
    for emp in staff.people:
        rng = rng_for(seed, "goals", emp.ext_id)
        for i, title in enumerate(hr_text.goal_titles(rng, emp.role, q_start)):
            status = rng.choices(("on_track", "at_risk", "off_track", "done"), weights=(50, 22, 10, 18))[0]
            progress = _goal_progress(rng, status, elapsed)
            created = clock.moment_on(rng, q_start - timedelta(days=rng.randint(1, 12)))
            records.append(
                {
                    "external_id": f"goal-{emp.ext_id}-{q_start:%Y%m}-{i + 1}",
                    "employee_ref": emp.ext_id,
                    "title": title,
                    "status": status,
                    "progress": progress,
                    "due_on": q_end,
                    "created_at": created,
                    "updated_at": created,
                }
            )
    return records


def _goal_progress(rng: random.Random, status: str, elapsed: float) -> float:
    if status == "done":
        return 1.0
    base = {"on_track": 1.0, "at_risk": 0.7, "off_track": 0.4}[status] * elapsed
    return round(min(0.95, max(0.0, base + rng.uniform(-0.08, 0.08))), 2)

"""Outside signals: job changes of customer contacts (UserGems) and prospect lists (Apollo)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from faker import Faker

from connectors.demo import names
from connectors.demo.accounts import Acct, Contact
from connectors.demo.common import Clock, hubspot_ref, pick_weighted, rng_for

PROMOTED = {
    "Director of Operations": "VP of Operations",
    "VP of Property Management": "SVP of Property Management",
    "VP of Operations": "COO",
    "Director of Resident Experience": "VP of Resident Experience",
    "Director of Technology": "VP of Technology",
    "Chief Financial Officer": "Chief Executive Officer",
    "COO": "President",
}


@dataclass(slots=True)
class JobMove:
    ext_id: str
    acct: Acct
    contact: Contact
    new_company: str
    new_title: str
    detected_at: datetime

    @property
    def left(self) -> bool:
        return self.new_company != self.acct.name


def build_job_moves(*, seed: int, clock: Clock, accts: list[Acct], elsewhere: list[str]) -> list[JobMove]:
    """Planted: champions who left for another company. Near misses: champions promoted in place,
    and non-champions who left."""
    rng = rng_for(seed, "job-changes")
    moves = []
    for acct in accts:
        champ = acct.champion
        if "champion_left" in acct.flags:
            moves.append(_move(rng, clock, acct, champ, rng.choice(elsewhere)))
        if "champion_promoted" in acct.flags:
            moves.append(_move(rng, clock, acct, champ, acct.name, PROMOTED.get(champ.title, f"Senior {champ.title}")))
        if "contact_left" in acct.flags:
            contact = rng.choice([c for c in acct.contacts if not c.is_champion])
            moves.append(_move(rng, clock, acct, contact, rng.choice(elsewhere)))
    moves.sort(key=lambda m: m.detected_at)
    for n, m in enumerate(moves, start=1):
        m.ext_id = f"jc-{n:06d}"
    return moves


def _move(
    rng: random.Random, clock: Clock, acct: Acct, contact: Contact, company: str, title: str | None = None
) -> JobMove:
    title = title or rng.choice([t for t, senior in names.TITLES_CUSTOMER if senior])
    return JobMove("", acct, contact, company, title, clock.moment(rng, rng.randint(3, 80)))


def job_change_records(moves: list[JobMove]) -> list[dict]:
    return [
        {
            "external_id": m.ext_id,
            "contact_ref": hubspot_ref(m.contact.ext_id),
            "account_ref": hubspot_ref(m.acct.ext_id),
            "person_name": m.contact.name,
            "email": m.contact.email,
            "previous_company": m.acct.name,
            "previous_title": m.contact.title,
            "new_company": m.new_company,
            "new_title": m.new_title,
            "detected_at": m.detected_at,
            "created_at": m.detected_at,
            "updated_at": m.detected_at,
        }
        for m in moves
    ]


def build_prospects(*, fake: Faker, seed: int, clock: Clock, count: int, taken: set[str]) -> list[dict]:
    rng = rng_for(seed, "apollo")
    records = []
    for n in range(1, count + 1):
        while True:
            company = names.company_name(rng, fake.last_name())
            first, last = fake.first_name(), fake.last_name()
            if company not in taken and not names.has_competitor(f"{company} {first} {last}"):
                break
        taken.add(company)
        domain = names.domain_for(company)
        seg = pick_weighted(rng, names.SEGMENT_WEIGHTS)
        lo, hi = names.SEGMENT_UNITS[seg]
        city, state = rng.choice(names.METROS)
        at = clock.moment(rng, rng.randint(1, 240))
        records.append(
            {
                "external_id": f"ap-{n:06d}",
                "company_name": company,
                "domain": domain,
                "units_managed": rng.randrange(lo, hi, 10),
                "person_name": f"{first} {last}",
                "title": rng.choice([t for t, senior in names.TITLES_CUSTOMER if senior]),
                "email": f"{first}.{last}@{domain}".lower().replace("'", ""),
                "city": city,
                "state": state,
                "pms": pick_weighted(rng, names.PMS, names.PMS_WEIGHTS),
                "created_at": at,
                "updated_at": at,
            }
        )
    return records

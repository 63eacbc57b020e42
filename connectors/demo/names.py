"""Vocabulary of the demo business: products, PMS vendors, competitors, places, titles, company names.

Competitor names live here and nowhere else; only the competitor beats of a call transcript use them
(``competitor_mentions`` in the truth depends on no other text naming one).
"""

from __future__ import annotations

import random

EMAIL_DOMAIN = "payready.com"

PRODUCTS = ("ResCenter", "Buzz", "EvictionCenter", "Collect Central", "Debt Marketplace")
# list price per unit per month, by product (USD); every customer has ResCenter
UNIT_PRICE = {
    "ResCenter": 0.85,
    "Buzz": 0.40,
    "EvictionCenter": 0.30,
    "Collect Central": 0.35,
    "Debt Marketplace": 0.15,
}
MIN_MRR = 450.0  # platform minimum per month

PMS = ("Yardi", "RealPage", "AppFolio", "Buildium", "Rent Manager", "Entrata", "ResMan")
PMS_WEIGHTS = (28, 20, 18, 9, 10, 10, 5)

COMPETITORS = ("ClickPay", "Zego", "RentCafe Payments", "Rentec Direct", "PayLease")

SEGMENT_UNITS = {"smb": (250, 1_999), "mid_market": (2_000, 14_999), "enterprise": (15_000, 60_000)}
SEGMENT_WEIGHTS = {"smb": 44, "mid_market": 45, "enterprise": 11}

METROS = (
    ("Austin", "TX"),
    ("Dallas", "TX"),
    ("Houston", "TX"),
    ("San Antonio", "TX"),
    ("Atlanta", "GA"),
    ("Phoenix", "AZ"),
    ("Scottsdale", "AZ"),
    ("Denver", "CO"),
    ("Charlotte", "NC"),
    ("Raleigh", "NC"),
    ("Nashville", "TN"),
    ("Orlando", "FL"),
    ("Tampa", "FL"),
    ("Miami", "FL"),
    ("Jacksonville", "FL"),
    ("Las Vegas", "NV"),
    ("Salt Lake City", "UT"),
    ("Boise", "ID"),
    ("Seattle", "WA"),
    ("Portland", "OR"),
    ("Sacramento", "CA"),
    ("San Diego", "CA"),
    ("Irvine", "CA"),
    ("Columbus", "OH"),
    ("Indianapolis", "IN"),
    ("Kansas City", "MO"),
    ("Minneapolis", "MN"),
    ("Chicago", "IL"),
    ("Richmond", "VA"),
    ("Birmingham", "AL"),
    ("Oklahoma City", "OK"),
    ("Omaha", "NE"),
    ("Greenville", "SC"),
    ("Louisville", "KY"),
    ("Albuquerque", "NM"),
)

_PLACE_WORDS = (
    "Cascade",
    "Summit",
    "Harbor",
    "Granite",
    "Willow",
    "Cedar",
    "Ridgeline",
    "Magnolia",
    "Bluebonnet",
    "Prairie",
    "Lakeshore",
    "Ironwood",
    "Canyon",
    "Riverstone",
    "Oakmont",
    "Sterling",
    "Meridian",
    "Pinnacle",
    "Keystone",
    "Evergreen",
    "Silverleaf",
    "Highland",
    "Copperfield",
    "Redbud",
    "Stonegate",
    "Westbrook",
    "Northpoint",
    "Sunbelt",
    "Palmetto",
    "Juniper",
    "Aspen",
    "Crescent",
    "Landmark",
    "Heritage",
    "Bayview",
    "Foxhall",
    "Sagebrush",
    "Trailhead",
    "Brightwater",
    "Kingsley",
    "Marlowe",
    "Tidewater",
    "Fairhaven",
    "Blue Ridge",
    "Mesa Verde",
    "Old Town",
    "Parkside",
    "Monarch",
    "Wildflower",
    "Ashford",
    "Belmont",
    "Cypress",
    "Drexel",
    "Hawthorne",
    "Larkspur",
    "Mariner",
    "Orchard",
    "Quarry",
    "Riverbend",
    "Saddleback",
    "Timberline",
    "Union Square",
)
_COMPANY_SUFFIXES = (
    "Residential",
    "Property Management",
    "Living",
    "Communities",
    "Apartment Homes",
    "Properties",
    "Property Group",
    "Realty Management",
    "Management Co.",
    "Multifamily",
    "Housing Partners",
    "Residential Partners",
    "Asset Management",
    "Homes",
    "Real Estate Services",
)

TITLES_CUSTOMER = (
    ("VP of Property Management", True),
    ("Director of Operations", True),
    ("COO", True),
    ("Director of Resident Experience", True),
    ("Chief Financial Officer", True),
    ("VP of Operations", True),
    ("Regional Property Manager", False),
    ("Controller", False),
    ("Accounts Receivable Manager", False),
    ("Property Manager", False),
    ("Director of Technology", True),
    ("Asset Manager", False),
    ("Leasing Director", False),
    ("Senior Accountant", False),
)

AGENCIES = ("Ridgeway Recovery Group", "National Credit Partners", "Summit Receivables", "TrueNorth Collections")


def has_competitor(text: str) -> bool:
    low = text.lower()
    return any(c.lower() in low for c in COMPETITORS)


def company_name(rng: random.Random, surname: str) -> str:
    """A property-management company name: a place word or a founder's surname, and a suffix."""
    head = rng.choice(_PLACE_WORDS) if rng.random() < 0.6 else surname
    return f"{head} {rng.choice(_COMPANY_SUFFIXES)}"


def domain_for(name: str) -> str:
    words = [
        w for w in name.lower().replace(".", "").replace("&", " ").split() if w not in ("co", "property", "management")
    ]
    return "".join(words[:2]) + ".com"


def segment_for(units: int) -> str:
    if units < 2_000:
        return "smb"
    return "mid_market" if units < 15_000 else "enterprise"


def unit_price(products: list[str], units: int) -> float:
    """Monthly price per unit for a product set, with volume discounts for large portfolios."""
    per_unit = sum(UNIT_PRICE[p] for p in products)
    discount = 0.0 if units < 2_000 else 0.10 if units < 15_000 else 0.22
    return per_unit * (1 - discount)


def mrr_for(products: list[str], units: int) -> float:
    return round(max(MIN_MRR, units * unit_price(products, units)), 2)

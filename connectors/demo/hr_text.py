"""Text of Lattice reviews and goals, by role and rating."""

from __future__ import annotations

import random
from datetime import date

STRENGTHS = {
    "ae": [
        "Ran a disciplined pipeline this half and forecast within a few percent every month.",
        "Excellent at discovery; prospects open up about delinquency and NSF pain in the first call.",
        "Closed two of our largest Yardi shops by getting finance and operations in the same room.",
        "Multithreads well and is rarely single-threaded on a deal past the demo stage.",
        "Handles pricing conversations with confidence and protects margin on ResCenter bundles.",
    ],
    "sdr": [
        "Consistently beats the meeting quota, and the meetings are well qualified.",
        "Writes outbound that sounds like an operator, not a vendor; reply rates are among the best on the team.",
        "Researches portfolios carefully before reaching out, and it shows in the conversion to discovery.",
    ],
    "csm": [
        "Took a difficult book of accounts and brought portal adoption up across most of them.",
        "First to spot a payments issue, and loops in Payments Ops before the customer notices.",
        "Runs tight QBRs: usage, failed-payment trends and a clear ask for expansion.",
        "Handled a tough escalation about returned ACH payments with calm and follow-through.",
        "Keeps onboarding plans moving and holds customers to their go-live dates.",
    ],
    "se": [
        "Builds demos that mirror the prospect's PMS setup, which shortens technical validation.",
        "Answers integration questions precisely and knows when to bring in engineering.",
    ],
    "support": [
        "Resolves resident payment tickets quickly and writes clear internal notes.",
        "Created the troubleshooting guide for payments not posting back to the PMS ledger.",
    ],
    "payments_ops": [
        "Cut the time to reconcile ACH returns from days to hours.",
        "Monitors NSF and chargeback rates closely and flags anomalies early.",
    ],
    "finance": [
        "Closed the books on time every month and tightened follow-up on late invoices.",
        "Built the ARR bridge that leadership now uses every month.",
    ],
    "engineering": [
        "Shipped the Yardi and RealPage sync improvements that reduced posting delays.",
        "Owns the payment retry service and has made it much more reliable.",
        "A thoughtful reviewer who raises the bar for the whole team.",
    ],
    "default": [
        "Dependable, collaborative and easy to work with across teams.",
        "Takes ownership and follows through without reminders.",
        "Communicates clearly in Slack and in meetings.",
    ],
}
GROWTH = [
    "The main growth area is delegating earlier instead of carrying everything personally.",
    "Next half I'd like to see {n} bring more structure to weekly planning.",
    "{n} should push back sooner when priorities conflict rather than absorbing the extra work.",
    "I'd like {n} to document decisions more so others can pick up the context.",
    "Forecast accuracy slipped late in the quarter; tighter deal reviews would help.",
    "More proactive updates to stakeholders would make a good half a great one.",
    "{n} can sharpen executive communication: lead with the number, then the story.",
]
BY_RATING = {
    1: "Performance this half did not meet expectations and we have agreed on a written improvement plan.",
    2: "This half was uneven; some goals were missed and we agreed on specific changes for next half.",
    3: "Overall {n} met expectations this half.",
    4: "Overall {n} exceeded expectations this half and is a strong contributor to the team.",
    5: "An outstanding half: {n} is operating at the next level and is a model for the team.",
}

GOALS = {
    "ae": [
        "Close {money} in new ARR in {q}",
        "Build {k}x pipeline coverage for next quarter",
        "Win {c} new logos on Yardi or RealPage in {q}",
        "Attach Buzz to half of new ResCenter deals in {q}",
    ],
    "sdr": [
        "Book {m} qualified meetings in {q}",
        "Convert 30% of meetings to discovery in {q}",
        "Launch an outbound sequence for AppFolio operators",
    ],
    "csm": [
        "Keep gross churn in my book under 4% in {q}",
        "Take {c} onboarding accounts live in {q}",
        "Run QBRs with every enterprise account in {q}",
        "Lift portal adoption above 70% across my book",
    ],
    "se": ["Cut average technical validation time to under three weeks"],
    "support": ["Hold first response time under two hours in {q}", "Publish five new help-center articles"],
    "payments_ops": ["Reduce ACH return rate to under 1.5% in {q}", "Automate the daily NSF report"],
    "finance": ["Close the books in five business days in {q}", "Bring DSO under 35 days"],
    "engineering": [
        "Ship the Entrata integration beta in {q}",
        "Reduce payment retry failures by 20%",
        "Bring p95 portal load time under one second",
    ],
    "default": [
        "Deliver the {q} team plan on time",
        "Complete the leadership training programme",
        "Improve cross-team handoffs with Sales and Customer Success",
    ],
}


def review_body(rng: random.Random, first: str, role: str, rating: int) -> str:
    strengths = STRENGTHS.get(role, []) + STRENGTHS["default"]
    good = " ".join(rng.sample(strengths, k=min(2, len(strengths))))
    grow = " ".join(rng.sample(GROWTH, k=1 if rating >= 4 else 2))
    return f"{BY_RATING[rating]}\n\nStrengths: {good}\n\nGrowth areas: {grow}".format(n=first)


def goal_titles(rng: random.Random, role: str, quarter_start: date) -> list[str]:
    pool = GOALS.get(role, GOALS["default"])
    q = f"Q{(quarter_start.month - 1) // 3 + 1} {quarter_start.year}"
    slots = {
        "q": q,
        "money": f"${rng.choice([150, 200, 250, 300, 400])}k",
        "k": rng.choice([3, 4]),
        "c": rng.randint(3, 8),
        "m": rng.randint(30, 60),
    }
    return [t.format(**slots) for t in rng.sample(pool, k=min(len(pool), rng.randint(1, 3)))]

"""Text of HubSpot activities (emails, meetings, notes, tasks) by topic.

Each topic has subjects, lines written to the customer (emails) and internal lines (notes, meeting
notes, task details). Slots are filled from the activity's account, contact, deal and owner.
"""

from __future__ import annotations

import random

TOPICS: dict[str, dict[str, list[str]]] = {
    "outreach": {
        "subjects": [
            "Rent collection at {account}",
            "Quick question about NSF payments",
            "{pms} + resident payments",
            "Idea for {account}'s delinquency",
            "Returned payments at {units} units",
        ],
        "email": [
            "I work with property management teams running {pms} who are tired of chasing returned ACH payments.",
            "Operators your size usually spend a week every month on delinquency follow-up; we automate most of it.",
            "Would it be worth 20 minutes to see how teams like yours moved most residents to autopay?",
            "We help multifamily operators collect rent, message residents and manage evictions in one place.",
            "I noticed {account} has been growing in {city}; congrats on the new communities.",
        ],
        "note": ["Outbound sequence step; no reply yet.", "Left a voicemail for {first} and sent a follow-up email."],
    },
    "follow_up": {
        "subjects": ["Great speaking today", "Next steps with PayReady", "Recap: rent payments at {account}"],
        "email": [
            "Thanks for the time today; it was helpful to hear how your team handles returned payments.",
            "As promised, I've attached a short overview of ResCenter and how it posts back to {pms}.",
            "Would {day} work for a deeper discovery with your regional managers?",
            "I've included two case studies from operators of a similar size.",
        ],
        "note": [
            "{first} confirmed budget owner is the COO; timing tied to next year's budget.",
            "Qualified: {units} units on {pms}, delinquency pain, evaluating this quarter.",
        ],
    },
    "discovery": {
        "subjects": ["Discovery: {account}", "PayReady discovery call", "Discovery with {first} and team"],
        "email": ["Looking forward to our conversation; I'll come with a few questions about your payment flow."],
        "note": [
            "Discovery notes: {units} units across the portfolio, all on {pms}.",
            "Main pain is NSF and returned ACH payments plus manual late-fee reversals.",
            "They send former-resident balances to an agency after 90 days and recover very little.",
            "Decision process: {first} recommends, COO and CFO sign. Wants a demo for regionals.",
            "Site teams still accept money orders at two properties.",
        ],
    },
    "demo": {
        "subjects": ["Demo recap and resources", "Follow-up from today's demo", "Your PayReady demo"],
        "email": [
            "Thanks for joining the demo today. The recording and the slides are attached.",
            "You asked about card fees; they can be passed through or absorbed, by property.",
            "I've also included the {pms} integration guide for your IT team.",
            "Happy to set up a sandbox so your AR team can try the returned-payment workflow.",
        ],
        "note": [
            "Demo went well; strongest reaction to the NSF workflow and the {pms} posting.",
            "Concern about site-team adoption; propose phased rollout.",
            "They want pricing for {products} before the next call.",
        ],
    },
    "proposal": {
        "subjects": ["Proposal for {account}", "PayReady proposal: {products}", "Send proposal to {first}"],
        "email": [
            "Attached is our proposal for {products} across {units} units.",
            "The proposal annual value is {amount}, with no setup fee for ResCenter.",
            "Let me know if you'd like to walk through it with your CFO.",
        ],
        "note": [
            "Proposal sent at {amount} ACV. Next step: review with CFO.",
            "Pricing discussed per unit; they expect a volume discount above 10,000 units.",
        ],
    },
    "negotiation": {
        "subjects": ["Redlines on the order form", "Contract terms", "Follow up on pricing for {account}"],
        "email": [
            "Our legal team has reviewed the redlines; most are fine, and I've noted two open points.",
            "We can hold pricing for 60 days if we sign by the end of {month}.",
            "I've updated the order form with the one-year term you asked for.",
        ],
        "note": [
            "Negotiating term length; they want one year, we proposed two with a price hold.",
            "Procurement asked for a SOC 2 report and a certificate of insurance.",
        ],
    },
    "nudge": {
        "subjects": ["Checking in", "Any update on your side?", "Still a priority for {account}?"],
        "email": [
            "Just checking in on where things stand on your side.",
            "I know month end is busy; is there anything I can send to help the internal conversation?",
            "If the timing has changed, no problem; let me know and I'll follow up next quarter.",
        ],
        "note": ["No response since the last meeting; {first} went quiet.", "Deal slipping; need a new champion."],
    },
    "won": {
        "subjects": ["Closed won: {account}", "Welcome to PayReady!", "Kickoff next steps"],
        "email": [
            "Welcome aboard! Your onboarding manager will reach out this week to schedule the kickoff.",
            "Thanks for trusting us with rent collection across {units} units.",
        ],
        "note": ["Closed won at {amount}. Handoff to CS scheduled.", "Signed after legal review; {products}."],
    },
    "lost": {
        "subjects": ["Closed lost: {account}", "Deal review: {account}"],
        "email": ["Thanks for letting me know. I'd love to stay in touch as your priorities change."],
        "note": [
            "Lost: budget frozen for the year.",
            "Lost: decided to stay with their current process for now.",
            "Lost: {pms} integration concerns from IT.",
            "Lost on price; they chose a cheaper option.",
        ],
    },
    "onboarding": {
        "subjects": [
            "Onboarding kickoff for {account}",
            "Property mapping next steps",
            "{pms} credentials",
            "Resident invite plan",
            "Go-live checklist",
        ],
        "email": [
            "To keep us on track, we still need read/write credentials for {pms}.",
            "Attached is the property mapping sheet; please confirm the GL accounts for each community.",
            "Next up is training for site managers; can we book two sessions next week?",
            "We're ready to send resident invites once you approve the email copy.",
        ],
        "note": [
            "Onboarding: waiting on {pms} credentials from their IT.",
            "Mapping complete for the first wave.",
            "Training scheduled with regionals.",
            "Go-live date at risk; customer owner changed roles.",
        ],
    },
    "check_in": {
        "subjects": ["Monthly check-in", "Payments summary for {last_month}", "Quick check-in", "Adoption update"],
        "email": [
            "Here's your monthly summary: portal adoption is up and failed payments are at {fail_pct}.",
            "Anything on your side we should know about before the first of the month?",
            "Autopay enrollment grew again last month; the top properties are above 60%.",
            "Sharing a few tips to move more residents off money orders.",
        ],
        "note": [
            "Check-in with {first}: happy overall, asked about reporting by region.",
            "Customer asked for a property-level export of failed payments.",
            "Site teams at two properties still accept checks; follow up with regional.",
            "They're acquiring new communities next quarter; opportunity to add units.",
        ],
    },
    "qbr": {
        "subjects": ["QBR: {account}", "Quarterly business review", "QBR prep for {account}"],
        "email": [
            "Looking forward to the QBR. I'll cover payment trends, resident messaging and the roadmap.",
            "Please bring any questions from your regional managers; we'll leave time for them.",
        ],
        "note": [
            "QBR: failed payments at {fail_pct}, delinquency down, asked about EvictionCenter.",
            "QBR attendees: {first} plus two regionals; they want more property-level reporting.",
        ],
    },
    "renewal": {
        "subjects": ["Your renewal in {month}", "Renewal options for {account}", "Prepare renewal quote"],
        "email": [
            "Your agreement renews in {month}; I've attached two options for the renewal.",
            "We'd like to hold your per-unit price with a two-year term.",
        ],
        "note": [
            "Renewal: customer asked for flat pricing; manager approval needed for discount.",
            "Renewal risk: concerned about failed payments earlier this year.",
        ],
    },
    "expansion": {
        "subjects": ["{product} for {account}", "Adding {product}", "Expansion proposal"],
        "email": [
            "Following our QBR, here is a proposal to add {product} across the portfolio.",
            "Customers with a similar delinquency profile saw fast payback from {product}.",
        ],
        "note": ["Expansion opportunity: {product}. Sponsor is {first}.", "Expansion pricing sent."],
    },
    "payments_issue": {
        "subjects": ["Failed payments this month", "Follow-up on returned payments", "Posting delays to {pms}"],
        "email": [
            "We've seen an increase in failed payments at your properties this month; here's what we found.",
            "The affected payments have been reposted to {pms}, and we've reversed the fees.",
            "We'll send a property-level report of returned payments by end of week.",
        ],
        "note": [
            "Failure rate spiked to {fail_pct} last month; escalated to Payments Ops.",
            "Customer frustrated with NSF returns; offered a fee credit.",
            "Payments Ops traced returns to a bank file delay; monitoring in place.",
        ],
    },
    "late_invoice": {
        "subjects": ["Invoice {invoice} past due", "Reminder: invoice {invoice}", "Payment reminder from PayReady"],
        "email": [
            "Our records show invoice {invoice} was due on {due} and remains unpaid.",
            "Could you confirm when we can expect payment, or let us know if there is an issue with the invoice?",
            "You can pay by ACH or wire; remittance details are on the invoice.",
        ],
        "note": ["Invoice {invoice} past due; AP contact says it is in the approval queue."],
    },
    "churn": {
        "subjects": ["Offboarding {account}", "Account closed: {account}"],
        "email": ["We're sorry to see you go; we'll export your payment history for your records."],
        "note": [
            "Churned: moving to their PMS's built-in payments.",
            "Churned after acquisition by a larger operator.",
            "Churned: budget cuts and poor adoption at sites.",
        ],
    },
}
SIGNOFFS = ["Best,", "Thanks,", "Talk soon,", "Cheers,", "Thank you,"]
TASK_PREFIX = ["Follow up: ", "Send: ", "Call {first}: ", "Prepare: ", ""]


def render_activity(rng: random.Random, kind: str, topic: str, slots: dict[str, str]) -> tuple[str, str]:
    """(subject, body) for an activity of type ``kind`` about ``topic``."""
    spec = TOPICS[topic]
    subject = rng.choice(spec["subjects"])
    if kind == "email":
        lines = _in_order(rng, spec["email"], rng.randint(2, 3))
        body = "Hi {first},\n\n" + " ".join(lines) + "\n\n" + rng.choice(SIGNOFFS) + "\n{rep}"
    elif kind == "task":
        subject = rng.choice(TASK_PREFIX) + subject
        body = rng.choice(spec["note"])
    elif kind == "meeting":
        body = "Agenda and notes. " + " ".join(_in_order(rng, spec["note"], 2))
    else:
        body = " ".join(_in_order(rng, spec["note"], rng.randint(1, 3)))
    return subject.format_map(slots), body.format_map(slots)


def _in_order(rng: random.Random, lines: list[str], k: int) -> list[str]:
    """k of the lines, kept in the order they are written (openers first)."""
    picked = sorted(rng.sample(range(len(lines)), k=min(k, len(lines))))
    return [lines[i] for i in picked]

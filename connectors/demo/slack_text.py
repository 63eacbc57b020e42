"""Text of Slack messages by topic. Slots come from the message's account, deal and author."""

from __future__ import annotations

import random

TEXT: dict[str, list[str]] = {
    "win": [
        ":tada: Closed {account}! {products}, {units} units on {pms}, {amount} ACV. Thanks {helper} for the demo support.",
        "Signed! {account} is officially a PayReady customer: {amount} ACV, {units} units in {city}. :rocket:",
        ":bell: {account} just signed for {products}. {amount} ACV. Big thanks to {helper}.",
        "Expansion closed at {account}: adding {products}. {amount} in new ARR. :moneybag:",
    ],
    "win_reply": [
        "Let's gooo :fire:",
        "Huge! Congrats {author}",
        "Great work, that one took persistence.",
        "Nice! {pms} shops keep coming.",
        ":clap: :clap:",
        "Well deserved, {author}!",
        "Awesome. CS is ready for the kickoff.",
        "Love it. That's a great logo for {state}.",
    ],
    "deal_update": [
        "Update on {account}: {stage} went well, {contact} is pulling in their controller. Proposal out by {day}.",
        "{account} ({units} units, {pms}) moved to {stage}. Main pain is NSF returns and late-fee reversals.",
        "Heads up: {account} asked for pricing on {products}. Working on it with {manager}.",
        "{account} wants a sandbox for their AR team before the next step. Any objections?",
        "Good call with {account} today. They're comparing options; decision expected in {month}.",
    ],
    "deal_reply": [
        "What's the close date looking like?",
        "Who's the economic buyer there?",
        "Nice. Do they need the {pms} integration on day one?",
        "Let me know if you want me on the next call.",
        "Make sure legal sees the redlines early.",
        "Is Buzz in the proposal?",
    ],
    "stalled_ping": [
        "<@{owner_id}> any movement on {account}? It's been sitting in {stage} for a few weeks.",
        "Deal review: {account} hasn't moved since {entered}. What's the plan to re-engage?",
        "<@{owner_id}> {account} close date slipped again. Is this still real for this quarter?",
    ],
    "stalled_reply": [
        "Champion went quiet. Trying the COO directly this week.",
        "They paused for budget. I'll push for a decision by month end.",
        "Waiting on their IT review. I'll chase tomorrow.",
        "Honestly it's at risk. Will update the forecast.",
    ],
    "sdr_booked": [
        "Booked a discovery with {account}: {units} units on {pms} in {city}. <@{owner_id}> it's yours.",
        "Meeting booked! {contact} at {account} replied to the NSF sequence. {units} units.",
    ],
    "sdr_reply": ["Nice one!", "Great, I'll prep.", "Thanks! Adding to my calendar."],
    "escalation": [
        ":rotating_light: {account} is seeing a spike in failed payments at several properties. Escalation call with {contact} scheduled.",
        "{account} says payments aren't posting to {pms} on time and residents are getting late fees. Need Payments Ops eyes.",
        "Escalation: {account} had duplicate charges on a handful of residents. Customer is upset.",
        "{account} is frustrated about ACH returns this month. Can someone pull the return codes?",
    ],
    "escalation_reply": [
        "Looking now. Most of the returns are R01 (NSF) with a few R02s.",
        "The posting queue to {pms} backed up overnight; it's caught up now.",
        "I'll prepare a property-level report for the call.",
        "We can credit the NSF fees. Want me to join the call?",
        "Root cause is on our side; incident review to follow.",
        "Added this to the incident doc.",
    ],
    "stuck": [
        "Onboarding for {account} is stuck: still waiting on {pms} credentials from their IT after several weeks.",
        "{account} has been in onboarding for a while. Their project lead changed roles; need a new owner on their side.",
        "Go-live for {account} slipped again. They haven't scheduled site-manager training.",
    ],
    "stuck_reply": [
        "Want me to reach out to their COO?",
        "Let's bring this to the CS pipeline review.",
        "I can offer a white-glove mapping session.",
        "Flagging to leadership.",
    ],
    "champion_left": [
        "Heads up: {contact} ({title}) left {account}. They were our champion. Need to re-establish the relationship.",
        "UserGems alert: our champion at {account}, {contact}, moved to another company. Renewal risk.",
    ],
    "champion_reply": [
        "Do we know who replaces them?",
        "Let's get an exec sponsor call on the calendar.",
        "Good news is their new company is a prospect. Looping in sales.",
    ],
    "ops_daily": [
        "Daily settlement complete: ACH return rate {rate} across the book, card declines normal.",
        "NSF report posted for yesterday. Returns within range, nothing unusual.",
        "First-of-month volume is in: processing looks healthy, queue to PMS posting under 5 minutes.",
        "Reminder: bank holiday Monday, ACH settlement shifts by one day.",
        "Weekly returns summary: {rate} return rate, top reason R01 (insufficient funds).",
        "Card processor maintenance window tonight 1-2am ET. No resident impact expected.",
    ],
    "ops_account": [
        "Failure rate for {account} jumped to {rate} last month, well above the book. Investigating the return codes.",
        "{account}: returns concentrated at two properties. Looks like residents paying from closed accounts.",
    ],
    "ops_reply": [
        "Thanks for flagging.",
        "Can we add this to the weekly review?",
        "Looping in the CSM.",
        "I'll check if it's one bank.",
        "Noted.",
    ],
    "incident_open": [
        ":red_circle: Incident: payment posting to {pms} delayed. Payments are collected; ledger updates lagging.",
        ":red_circle: Incident: elevated card authorization failures. Investigating with the processor.",
        ":red_circle: Incident: resident portal login errors for some users.",
        ":red_circle: Incident: Buzz messages delayed in the outbound queue.",
    ],
    "incident_update": [
        "Identified the cause, a stuck worker in the sync service. Restarting.",
        "Mitigation in place; backlog draining.",
        "Processor confirms the issue on their side.",
        "Customer comms drafted for CSMs.",
        "About 40% of the backlog processed.",
    ],
    "incident_resolved": [
        ":large_green_circle: Resolved. All delayed payments have posted. Postmortem to follow.",
        ":large_green_circle: Resolved. Error rates back to normal.",
    ],
    "ar_late": [
        "AR: {account} has {count} invoices past due. CSM, can you help with a contact in AP?",
        "Collections update: {account} paid late again this month. Pattern now.",
    ],
    "ar_reply": [
        "I'll raise it on my next check-in.",
        "Their AP person changed; I'll get the new contact.",
        "Let's talk before we escalate.",
    ],
}


def render_slack(rng: random.Random, topic: str, slots: dict[str, str]) -> str:
    return rng.choice(TEXT[topic]).format_map(slots)

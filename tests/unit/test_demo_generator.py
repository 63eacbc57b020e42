"""The demo generator: deterministic, sized, and internally consistent; its truth follows from its records."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

import pytest

from connectors.demo import SIZES, generate
from connectors.demo.generator import plan
from core.errors import InvalidInput

AS_OF = date(2026, 3, 15)
NOW = datetime.combine(AS_OF, time(0), tzinfo=UTC)
COMPETITORS = ("ClickPay", "Zego", "RentCafe Payments", "Rentec Direct", "PayLease")
PRODUCTS = {"ResCenter", "Buzz", "EvictionCenter", "Collect Central", "Debt Marketplace"}
PMS = {"Yardi", "RealPage", "AppFolio", "Buildium", "Rent Manager", "Entrata", "ResMan"}
DOCUMENTS = ("calls", "activities", "slack_messages", "reviews")


def digest(data) -> str:
    h = hashlib.sha256()
    for b in data.batches:
        h.update(f"{b.source}/{b.entity}".encode())
        for rec in b.records:
            h.update(json.dumps(rec, sort_keys=True, default=str).encode())
    return h.hexdigest()


@cache
def medium():
    return generate(size="medium", seed=42, as_of=AS_OF)


def records(data, entity: str) -> list[dict]:
    return next(b.records for b in data.batches if b.entity == entity)


def ref(value) -> str:
    return value["external_id"] if isinstance(value, dict) else value


# ---- determinism and sizes ----------------------------------------------------------------------


def test_same_seed_gives_identical_records():
    assert digest(generate(size="small", seed=42, as_of=AS_OF)) == digest(generate(size="small", seed=42, as_of=AS_OF))


def test_records_do_not_depend_on_the_process_hash_seed():
    code = (
        "from datetime import date; from tests.unit.test_demo_generator import digest; "
        "from connectors.demo import generate; print(digest(generate(size='small', seed=5, as_of=date(2026, 3, 15))))"
    )
    outs = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, PYTHONPATH=".")
        outs.add(
            subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            ).stdout.strip()
        )
    assert outs == {digest(generate(size="small", seed=5, as_of=AS_OF))}


def test_different_seeds_give_different_businesses():
    a, b = generate(size="small", seed=1, as_of=AS_OF), generate(size="small", seed=2, as_of=AS_OF)
    assert digest(a) != digest(b)
    names_a = {r["name"] for r in records(a, "accounts")}
    names_b = {r["name"] for r in records(b, "accounts")}
    assert len(names_a & names_b) < len(names_a) / 2
    assert a.truth["stalled_deals"] != b.truth["stalled_deals"]


def test_unknown_size_is_refused():
    with pytest.raises(InvalidInput, match=r"unknown demo size 'huge'; expected one of small, medium, large"):
        generate(size="huge")


def test_as_of_defaults_to_today_in_utc():
    data = generate(size="small", seed=3)
    assert data.as_of == datetime.now(UTC).date()
    assert data.truth["as_of"] == data.as_of.isoformat() and data.truth["size"] == "small"


def test_counts_match_batches_in_dependency_order():
    data = generate(size="small", seed=42, as_of=AS_OF)
    assert data.counts == {b.entity: len(b.records) for b in data.batches}
    order = [b.entity for b in data.batches]
    for before, after in (
        ("employees", "accounts"),
        ("accounts", "contacts"),
        ("contacts", "deals"),
        ("deals", "activities"),
        ("deals", "calls"),
        ("invoices", "payments"),
        ("contacts", "job_changes"),
        ("employees", "reviews"),
    ):
        assert order.index(before) < order.index(after)


def test_sizes_are_ordered_and_large_reaches_100k_documents():
    # large is counted on the planning path (every record planned, no text written): ~10 s instead of ~20 s
    counts = {size: {s.entity: s.count for s in plan(size=size, seed=42, as_of=AS_OF)[1]} for size in SIZES}
    for entity in counts["small"]:
        assert counts["small"][entity] < counts["medium"][entity] < counts["large"][entity], entity
    assert 50 <= counts["small"]["accounts"] <= 70 and 250 <= counts["medium"]["accounts"] <= 350
    assert sum(counts["large"][e] for e in DOCUMENTS) >= 100_000


# ---- field semantics -------------------------------------------------------------------------------


def test_accounts_follow_the_field_rules():
    accounts = records(medium(), "accounts")
    onboarding_stuck = {i["external_id"] for i in medium().truth["stuck_accounts"]}
    for a in accounts:
        units = a["units_managed"]
        assert a["segment"] == ("smb" if units < 2_000 else "mid_market" if units < 15_000 else "enterprise")
        assert set(a["products"]) <= PRODUCTS and a["pms"] in PMS
        if a["lifecycle_stage"] == "prospect":
            assert a["health"] is None and a["health_score"] is None and a["arr"] == 0 and not a["customer_since"]
            continue
        score = a["health_score"]
        assert a["health"] == ("healthy" if score >= 70 else "at_risk" if score >= 40 else "critical")
        assert (a["arr"] == 0) == (a["lifecycle_stage"] == "churned")
        assert (a["churned_on"] is not None) == (a["lifecycle_stage"] == "churned")
        if a["lifecycle_stage"] == "onboarding" and a["external_id"] not in onboarding_stuck:
            assert a["stage_changed_at"] >= NOW - timedelta(days=40)
    assert {a["lifecycle_stage"] for a in accounts} == {"prospect", "onboarding", "live", "churned"}


def test_arr_is_twelve_times_the_latest_subscription_invoice():
    latest: dict[str, dict] = {}
    for inv in records(medium(), "invoices"):
        key = ref(inv["account_ref"])
        if inv["kind"] == "subscription" and (key not in latest or inv["period_start"] > latest[key]["period_start"]):
            latest[key] = inv
    live = [a for a in records(medium(), "accounts") if a["lifecycle_stage"] == "live"]
    for a in live:
        assert abs(12 * latest[a["external_id"]]["amount"] - a["arr"]) < 0.01


def test_invoices_are_monthly_and_payments_retry_after_failures():
    seen = set()
    for inv in records(medium(), "invoices"):
        assert re.fullmatch(r"INV-\d{4}-\d{6}", inv["number"])
        assert inv["due_on"] == inv["issued_on"] + timedelta(days=30)
        if inv["kind"] == "subscription":
            assert inv["period_start"].day == 1 and inv["issued_on"] == inv["period_start"]
            assert (ref(inv["account_ref"]), inv["period_start"]) not in seen
            seen.add((ref(inv["account_ref"]), inv["period_start"]))
        assert (inv["status"] == "paid") == (inv["paid_on"] is not None)
    attempts = defaultdict(list)
    for p in records(medium(), "payments"):
        attempts[p["invoice_ref"]].append(p)
    for tries in attempts.values():
        statuses = [p["status"] for p in sorted(tries, key=lambda p: p["paid_at"])]
        assert statuses.count("succeeded") <= 1 and ("succeeded" not in statuses or statuses[-1] == "succeeded")
    assert any(len(t) > 1 for t in attempts.values())


def test_deal_stage_history_is_consistent():
    stalled = {i["external_id"] for i in medium().truth["stalled_deals"]}
    deals = records(medium(), "deals")
    for d in deals:
        history = d["stage_history"]
        assert history[-1]["stage"] == d["stage"] and history[-1]["entered_at"] == d["stage_entered_at"]
        assert [h["entered_at"] for h in history] == sorted(h["entered_at"] for h in history)
        closed = d["stage"].startswith("closed_")
        assert (d["closed_at"] is not None) == closed
        if not closed and d["external_id"] not in stalled:
            assert d["stage_entered_at"] > NOW - timedelta(days=20)
    assert 300 <= len(deals) <= 800
    won = [d for d in deals if d["stage"] == "closed_won" and d["closed_at"] > NOW - timedelta(days=730)]
    assert len({(d["closed_at"].year, d["closed_at"].month) for d in won}) >= 20  # a bookings trend


def test_timestamps_are_aware_and_in_the_past():
    for b in medium().batches:
        for rec in b.records:
            for key, value in rec.items():
                if isinstance(value, datetime):
                    assert value.tzinfo is not None and value <= NOW, (b.entity, key)


def test_calls_have_consistent_speakers_and_talk_time():
    for call in records(medium(), "calls"):
        segments, people = call["segments"], {p["speaker_id"]: p for p in call["participants"]}
        assert call["call_type"] in ("discovery", "demo", "renewal", "escalation", "check_in")
        assert -1 <= call["sentiment"] <= 1 and len(segments) >= 8
        assert {p["affiliation"] for p in people.values()} == {"internal", "external"}
        talk = defaultdict(float)
        for prev, seg in zip(segments, segments[1:]):
            assert prev["end_s"] <= seg["start_s"]
        for seg in segments:
            talk[seg["speaker_id"]] += seg["end_s"] - seg["start_s"]
        for sid, p in people.items():
            assert abs(p["talk_time_s"] - talk[sid]) < 0.01
        assert call["duration_s"] >= segments[-1]["end_s"]


def test_every_email_used_as_an_owner_is_an_employee():
    staff = {e["email"] for e in records(medium(), "employees")}
    assert all(e.endswith("@payready.com") for e in staff)
    for entity, field in (
        ("accounts", "owner"),
        ("deals", "owner"),
        ("activities", "owner"),
        ("calls", "owner"),
        ("reviews", "reviewer_email"),
    ):
        assert {r[field] for r in records(medium(), entity)} <= staff, entity


# ---- the truth follows from the records ------------------------------------------------------------


def _shares(call: dict) -> tuple[float, float]:
    emails = {p["speaker_id"]: (p["email"], p["affiliation"]) for p in call["participants"]}
    total = owner = internal = 0.0
    for seg in call["segments"]:
        length = seg["end_s"] - seg["start_s"]
        email, aff = emails[seg["speaker_id"]]
        total += length
        owner += length if email == call["owner"] else 0
        internal += length if aff == "internal" else 0
    return owner / total, internal / total


def test_talk_share_reads_the_same_counting_the_owner_or_every_internal_speaker():
    by_rep = defaultdict(list)
    for call in records(medium(), "calls"):
        owner, internal = _shares(call)
        assert (owner > 0.7) == (internal > 0.7)
        by_rep[call["owner"]].append((owner, internal))
    talkers = {i["email"] for i in medium().truth["talkative_reps"]}
    for rep, shares in by_rep.items():
        avg_owner = sum(s[0] for s in shares) / len(shares)
        avg_internal = sum(s[1] for s in shares) / len(shares)
        assert (avg_owner > 0.7) == (avg_internal > 0.7) == (rep in talkers)
    assert {c["external_id"] for c in records(medium(), "calls") if _shares(c)[0] > 0.7} == {
        i["external_id"] for i in medium().truth["talkative_calls"]
    }


def test_competitors_are_named_only_in_the_planted_calls():
    planted = {(i["external_id"], i["competitor"]) for i in medium().truth["competitor_mentions"]}
    found = set()
    for call in records(medium(), "calls"):
        text = " ".join(s["text"] for s in call["segments"]).lower()
        found |= {(call["external_id"], c) for c in COMPETITORS if c.lower() in text}
    assert found == planted and len(planted) >= 8
    for entity, fields in (("activities", ("subject", "body")), ("slack_messages", ("text",)), ("reviews", ("body",))):
        for rec in records(medium(), entity):
            text = " ".join(rec[f] or "" for f in fields).lower()
            assert not any(c.lower() in text for c in COMPETITORS), entity


def test_stalled_deals_and_stuck_accounts_follow_the_rule():
    data = medium()
    stalled = {
        d["external_id"]
        for d in records(data, "deals")
        if not d["stage"].startswith("closed_") and d["stage_entered_at"] <= NOW - timedelta(days=21)
    }
    assert stalled == {i["external_id"] for i in data.truth["stalled_deals"]}
    stuck = {
        a["external_id"]
        for a in records(data, "accounts")
        if a["lifecycle_stage"] == "onboarding" and a["stage_changed_at"] < NOW - timedelta(days=45)
    }
    assert stuck == {i["external_id"] for i in data.truth["stuck_accounts"]} and len(stuck) >= 3


def test_volume_drops_and_failure_rates_follow_the_rule():
    data = medium()
    by = defaultdict(dict)
    for v in records(data, "rent_payment_volumes"):
        by[ref(v["account_ref"])][v["month"]] = v
    last, prior = date(2026, 2, 1), (date(2026, 1, 1), date(2025, 12, 1), date(2025, 11, 1))
    drops = {
        a
        for a, ms in by.items()
        if last in ms
        and all(p in ms for p in prior)
        and ms[last]["volume"] < 0.85 * sum(ms[p]["volume"] for p in prior) / 3
    }
    failing = {a for a, ms in by.items() if last in ms and ms[last]["failed_count"] > 0.05 * ms[last]["payments_count"]}
    assert drops == {i["external_id"] for i in data.truth["payment_volume_drops"]}
    assert failing == {i["external_id"] for i in data.truth["high_failure_rate"]}
    others = [ms[last] for a, ms in by.items() if last in ms and a not in failing]
    assert all(v["failed_count"] < 0.03 * v["payments_count"] for v in others)


def test_late_payers_and_champions_follow_the_rule():
    data = medium()
    subs = defaultdict(list)
    for inv in records(data, "invoices"):
        if inv["kind"] == "subscription":
            subs[ref(inv["account_ref"])].append(inv)
    late = set()
    for acct, invs in subs.items():
        last6 = sorted(invs, key=lambda i: i["period_start"])[-6:]
        n = sum(
            1
            for i in last6
            if (i["paid_on"] and i["paid_on"] > i["due_on"]) or (i["status"] == "open" and i["due_on"] < AS_OF)
        )
        late |= {acct} if n >= 3 else set()
    assert late == {i["external_id"] for i in data.truth["chronic_late_payers"]}
    contacts = {c["external_id"]: c for c in records(data, "contacts")}
    names = {a["external_id"]: a["name"] for a in records(data, "accounts")}
    left = {
        ref(j["contact_ref"])
        for j in records(data, "job_changes")
        if contacts[ref(j["contact_ref"])]["is_champion"]
        and j["new_company"] != names[contacts[ref(j["contact_ref"])]["account_ref"]]
    }
    assert left == {i["external_id"] for i in data.truth["champions_left"]}


def test_declining_engagement_follows_the_rule():
    data = medium()
    before, recent = (NOW - timedelta(days=120), NOW - timedelta(days=60)), (NOW - timedelta(days=60), NOW)
    sent = defaultdict(lambda: {"b": [], "r": []})
    touches = defaultdict(lambda: {"b": 0, "r": 0})
    for c in records(data, "calls"):
        for w, (lo, hi) in (("b", before), ("r", recent)):
            if lo <= c["started_at"] < hi:
                sent[ref(c["account_ref"])][w].append(c["sentiment"])
                touches[ref(c["account_ref"])][w] += 1
    for a in records(data, "activities"):
        for w, (lo, hi) in (("b", before), ("r", recent)):
            if lo <= a["occurred_at"] < hi:
                touches[a["account_ref"]][w] += 1
    declining = {
        acct
        for acct, s in sent.items()
        if s["b"]
        and s["r"]
        and sum(s["r"]) / len(s["r"]) < sum(s["b"]) / len(s["b"])
        and touches[acct]["r"] < touches[acct]["b"]
    }
    assert declining == {i["external_id"] for i in data.truth["declining_engagement"]} and len(declining) >= 5


def test_truth_is_json_and_describes_every_rule():
    truth = medium().truth
    assert json.loads(json.dumps(truth)) == truth
    keys = {k for k, v in truth.items() if isinstance(v, list)}
    assert keys <= set(truth["description"]) and truth["seed"] == 42 and truth["size"] == "medium"
    assert all(item.get("why") for k in keys for item in truth[k])


def test_text_is_varied():
    calls = records(medium(), "calls")
    transcripts = {" ".join(s["text"] for s in c["segments"]) for c in calls}
    assert len(transcripts) == len(calls)
    lines = [s["text"] for c in calls for s in c["segments"]]
    assert len(set(lines)) / len(lines) > 0.28
    bodies = [a["body"] for a in records(medium(), "activities")]
    assert len(set(bodies)) / len(bodies) > 0.5

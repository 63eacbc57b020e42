"""Sentence templates for call transcripts, by beat kind. Slots are filled from the call's context
(see ``transcripts.slots``). No template names a competitor except the two competitor kinds."""

from __future__ import annotations

LINES: dict[str, list[str]] = {
    # ---- openings and closings (any call) ----
    "greet": [
        "Hi {cust}, thanks for fitting us in before the end of the week.",
        "Hey {cust}! Good to finally connect live.",
        "Hi {cust}. I've got about forty minutes blocked; does that still work for you?",
        "Hi {cust}, thanks for making the time today.",
        "Hey {cust}, good to see you. Can you hear me okay?",
        "Morning {cust}! Thanks for jumping on.",
        "Hi {cust}, hi everyone. I know it's a busy week with rent coming in, so I appreciate the time.",
        "Hey {cust}, how's everything out in {city}?",
    ],
    "greet_reply": [
        "Yep, loud and clear. Hi {rep}.",
        "Hey, good to see you too.",
        "Hi {rep}, sorry, give me one second to close my door.",
        "All good here. Thanks for sending the agenda.",
        "Hi! Yes, forty minutes works.",
        "Yeah, hi {rep}. Happy to.",
        "Hey {rep}, yeah, I can hear you fine.",
        "Hi! Sorry, I was running a couple of minutes late from another meeting.",
        "Good, good. It's been a week, but good.",
        "Hi {rep}. Yeah, it's busy, first of the month always is.",
    ],
    "ack": [
        "Mm-hm.",
        "Right.",
        "Okay.",
        "Got it.",
        "Yeah.",
        "Makes sense.",
        "Sure.",
        "Yep, that tracks.",
        "Okay, that's helpful.",
        "Understood.",
    ],
    "bye": [
        "Thanks so much, {cust}. Enjoy the rest of your day.",
        "Appreciate it. I'll send the recap within the hour.",
        "Great talking, {cust}. Speak {day}.",
        "Thanks all. Have a great week.",
        "Perfect. Thanks again, {cust}, talk soon.",
        "Great, I'll get that invite out this afternoon. Have a good one.",
        "Thanks everyone, really appreciate it.",
        "Sounds good. Talk to you {day}.",
    ],
    "close_reply": [
        "Perfect. I'll watch for the invite.",
        "Thanks {rep}, this was useful.",
        "Sounds like a plan. I'll share it with {cust2}.",
        "Great. Talk soon.",
        "Okay, I'll look for your email {day}.",
        "Thank you. That helps a lot.",
        "Sounds good, thanks {rep}.",
        "Great, send it over and I'll loop in the team.",
        "Works for me. Talk {day}.",
        "Okay, thanks. Appreciate you walking us through it.",
    ],
    # ---- discovery ----
    "agenda": [
        "What I'd love to do is spend most of the time learning how you collect rent today, and then share a little about how we help.",
        "Quick agenda: I want to understand the portfolio and where payments and delinquency hurt, and then we can decide if a demo makes sense.",
        "I'd like to keep this mostly about you: the portfolio, the payment flow, and what's on your plate this year.",
    ],
    "q_portfolio": [
        "Can you give me a sense of the portfolio? Roughly how many units and communities?",
        "How big is the portfolio today, and is it mostly conventional multifamily?",
        "Tell me a bit about the portfolio. How many doors are you managing right now?",
    ],
    "a_portfolio": [
        "We're at about {units} units across {communities} communities, mostly garden-style around {city}.",
        "Right around {units} units. {communities} communities, a mix of Class B and some newer lease-ups.",
        "We manage {units} units today, mostly third-party, and we're adding a couple of acquisitions this year.",
        "It's {units} units, {communities} properties, concentrated in {state} with a few outliers.",
    ],
    "q_pms": [
        "And what are you running for property management software?",
        "You're on {pms} for the rent roll, is that right?",
        "Which PMS is the system of record for the ledgers?",
    ],
    "a_pms": [
        "We're on {pms}. Everything posts back to the resident ledger there.",
        "{pms}. We moved over about two years ago and it's mostly fine, but the payments side is clunky.",
        "Yeah, {pms} for everything, accounting included.",
        "We run {pms}, and honestly the integration piece is what scares my team the most.",
    ],
    "q_payments": [
        "How are residents paying rent today?",
        "Walk me through what happens between a resident paying and the payment showing up on the ledger.",
        "What does the payment mix look like, ACH versus card versus checks and money orders?",
    ],
    "a_payments": [
        "Most pay online through the portal, but we still get a stack of money orders at a few sites.",
        "It's maybe sixty percent ACH, some card, and the rest checks that the site teams scan in.",
        "Residents pay through the portal, but the returned payments are the headache. An ACH comes back NSF on the fifth and the late fee logic gets messy.",
        "We have autopay but adoption is low. A lot of residents pay the day before the late fee hits.",
    ],
    "q_delinquency": [
        "Where's delinquency sitting right now?",
        "How are you tracking delinquency across the portfolio, and what does it look like this month?",
        "What happens today when a resident is thirty days past due?",
    ],
    "a_delinquency": [
        "We're around six percent delinquent at month end, higher at two of the older properties.",
        "It crept up after the holidays. The site teams spend the second week of every month just chasing balances.",
        "Honestly it depends on the site manager. Some are great about payment plans, some just wait and file.",
        "Thirty days past due, we send a notice, and after that it's mostly phone calls. It doesn't scale.",
    ],
    "q_evictions": [
        "How do evictions work for you today? In-house, or through an attorney?",
        "How many eviction filings are you doing in a typical month?",
    ],
    "a_evictions": [
        "We use a local attorney for filings, and tracking status is a spreadsheet. It's painful.",
        "A handful a month, more at the properties with older residents. The notices are all manual.",
        "Filings go through two law firms and nobody has one view of where each case is.",
    ],
    "q_collections": [
        "And once a resident moves out owing a balance, what happens?",
        "Who handles collections on former residents today?",
    ],
    "a_collections": [
        "We send them to an agency after ninety days and, honestly, we recover very little.",
        "The accounting team tries for a month, then it goes to {agency}. Recovery rates are low.",
        "We write a lot of it off, to be honest. Nobody has time to work those balances.",
    ],
    "q_comms": [
        "How are you communicating with residents about rent reminders and late balances?",
        "Do the site teams text residents today, or is it mostly email?",
    ],
    "a_comms": [
        "Mostly email blasts, and the leasing office answers the phone all day about balances.",
        "Some sites text from their own phones, which makes compliance nervous.",
        "It's email, plus door hangers at a couple of properties. Response rates are terrible.",
    ],
    "pitch": [
        "So that's exactly where we spend our time. ResCenter gives residents one place to pay, set up autopay and see their ledger, and everything posts back to {pms} in real time.",
        "What we hear from operators your size is that the payment itself is the easy part; it's the returns, the late fees and the follow-up that eat the team's week. That's what we automate.",
        "On top of the portal, Buzz handles the resident conversations, so the reminders, the balance questions and the payment-plan requests don't land on the leasing office.",
        "And for the balances that do age, EvictionCenter and Collect Central keep it in one workflow instead of spreadsheets and three vendors.",
        "Most customers start with ResCenter and turn on Buzz once autopay adoption is up.",
    ],
    "q_pricing": [
        "Can you give me a ballpark on pricing?",
        "How is it priced, per unit?",
        "What does pricing look like for a portfolio our size?",
    ],
    "a_pricing": [
        "It's per unit per month. For a portfolio your size you'd be in the range of {price} a unit for what we talked about, and there's no setup fee on ResCenter.",
        "We price per unit, with volume tiers. At {units} units you'd land around {price} per unit per month for the bundle.",
        "Per unit, billed monthly. I'll put a proposal together, but think roughly {price} a door.",
    ],
    "q_integration": [
        "How does the integration with {pms} actually work?",
        "Does the payment post to the resident ledger automatically, or does someone have to import a file?",
        "What does the setup look like on the {pms} side? Do we need IT involved?",
    ],
    "a_integration": [
        "We're a certified {pms} partner, so payments post to the ledger automatically, usually within minutes.",
        "It's an API integration with {pms}. Your team grants access, we map the properties and GL accounts, and we run a parallel test before go-live.",
        "There's no file import. Payments, returns and reversals all sync back to {pms}, including the NSF fee if you charge one.",
    ],
    "q_timeline": [
        "What's a realistic timeline to get live?",
        "If we signed this quarter, when could the first properties be live?",
    ],
    "a_timeline": [
        "Typically four to six weeks for the first wave, then we roll the rest of the portfolio in batches.",
        "For {communities} communities, I'd plan on about six weeks, with the first properties live before the first of the month.",
    ],
    "next_steps": [
        "For next steps, I'd suggest a demo with your regional managers and someone from accounting. Does {day} work?",
        "Let me send a recap and a couple of times for a demo. It'd be great to have whoever owns {pms} on that call.",
        "I'll follow up with a short summary and a proposal outline, and we'll get the demo on the calendar.",
    ],
    "demo_next": [
        "For next steps, I'll send the proposal and set up a technical call with whoever administers {pms} on your side.",
        "If this looks right, the next step is a proposal and a short security review. Could we get your controller on a call {day}?",
        "I'll send the recording and a proposal for {products}, and let's regroup {day} with your regionals.",
    ],
    # ---- demo ----
    "demo_recap": [
        "Last time you mentioned returned payments and delinquency follow-up were the big ones, so I'll anchor the demo there.",
        "Before I share my screen, quick recap: about {units} units on {pms}, and the pain is the manual work after a payment fails. Still right?",
        "I've set up a demo property that mirrors your {pms} setup so this should feel familiar.",
    ],
    "show_rescenter": [
        "This is the resident view in ResCenter. They can pay by ACH or card, split a payment with a roommate, or turn on autopay right here.",
        "When a payment comes back NSF, the resident gets notified automatically, the ledger is updated in {pms}, and the property can block further ACH until certified funds come in.",
        "On the property side, here's the dashboard: payments today, pending, returned, and who hasn't paid yet this month.",
    ],
    "show_buzz": [
        "This is Buzz. It texts residents a reminder three days before rent is due and answers 'what's my balance' questions on its own.",
        "If a resident asks for a payment plan, Buzz offers the plans you've approved and writes the agreement back to the ledger.",
        "Everything is logged, so your team can see the whole conversation history with each resident.",
    ],
    "show_evictions": [
        "In EvictionCenter, once a resident crosses the threshold you set, the notice is generated for the right state and you can send the file to your attorney in one click.",
        "You can see every open case by stage, court date and balance, across all properties.",
    ],
    "show_collections": [
        "Collect Central works balances in-house first, with texts, emails and payment links, before anything goes to an agency.",
        "And older debt can go to the Debt Marketplace, where agencies bid on it, instead of you picking one agency and hoping.",
    ],
    "reaction_pos": [
        "Okay, that's really slick. That alone would save my AR team a day a month.",
        "I like that a lot. The NSF piece is exactly what we've been fighting.",
        "That's great. Our regionals are going to love the dashboard.",
        "Honestly this is better than what we expected.",
    ],
    "reaction_neutral": [
        "Okay. I'd want to see how that holds up with our older properties.",
        "Interesting. Let me think about how that fits with how accounting closes the month.",
        "Sure. That seems reasonable, I'd need to see it with our data.",
    ],
    "reaction_neg": [
        "I'm not sure that solves it, to be honest. Our issue is more on the accounting side.",
        "That looks like a lot of change for the site teams. I'm worried about adoption.",
        "Hmm. I'd have to see a lot more before I could take this to our COO.",
    ],
    # ---- renewal ----
    "usage_review": [
        "Let me start with the numbers. Last month you processed about {payments} rent payments through ResCenter, and the failure rate was {fail_pct}.",
        "Portal adoption is at {adoption} across the portfolio, up from where we started, and autopay is growing every month.",
        "Over the past year you've collected a bit more than {volume} in rent through the platform.",
    ],
    "feedback_pos": [
        "Honestly, it's been great. The site teams barely think about payments anymore.",
        "The integration with {pms} has been solid, and the residents like paying on their phones.",
        "We've had good support, and the reconciliation at month end is so much faster.",
    ],
    "feedback_neutral": [
        "Overall it's been fine. A few hiccups, but nothing major.",
        "It works. I'd say the reporting could be better, and my controller still exports a lot to Excel.",
    ],
    "feedback_neg": [
        "I'll be honest, the last couple of months have been rough. We've had payments not posting to {pms} on time.",
        "The failed payment issues really hurt us with residents, and my team took the heat for it.",
        "Support has been slow. Tickets sit for days and our site managers are frustrated.",
    ],
    "renewal_terms": [
        "Your agreement renews in {month}. We're proposing a two-year renewal with a {increase} increase, capped for year two.",
        "For the renewal, we'd keep your per-unit price flat if you commit to two years and add the new acquisitions.",
        "The renewal quote is about {arr} a year for the current footprint.",
    ],
    "negotiate": [
        "A {increase} increase is going to be hard to get approved this year.",
        "We'd want the new properties at the same per-unit rate, and I'd like a one-year term.",
        "Our CFO is going to ask why the price is going up when the service had issues.",
        "If you can hold the rate, I think we can sign before the end of the month.",
    ],
    "counter": [
        "I hear you. Let me see if we can hold the rate for the first year and phase the increase in.",
        "That's fair. I can take a one-year term back to our team, but the multi-year is where the discount comes from.",
        "Understood. I'll talk to our finance team and come back with an option this week.",
    ],
    "expansion_pitch": [
        "One more thing: you mentioned collections. A lot of customers add Collect Central at renewal; it's about {price} a unit on top.",
        "Given the delinquency numbers we looked at, Buzz could take a lot of the reminder work off the site teams.",
        "With the eviction volume you described, EvictionCenter would pay for itself pretty quickly.",
    ],
    "expansion_reply": [
        "Send me the numbers. If it's in the budget, we'd consider it for the second half.",
        "Maybe. Let's get the renewal done first and revisit in a quarter.",
        "That's interesting. Can you include it as an option in the proposal?",
    ],
    # ---- escalation ----
    "greet_escalation": [
        "Hi {cust}, thanks for getting on so quickly. I know this has been a frustrating week.",
        "Hey {cust}. I've got {se} from our payments team with me so we can get you real answers.",
        "Thanks for making time. I want to walk through exactly what happened and what we're doing about it.",
    ],
    "complaint": [
        "We had over a hundred residents whose ACH payments failed on the first, and they're calling the office furious.",
        "Payments are showing as successful in the portal but they're not posting to {pms}, so residents are getting late fees they shouldn't.",
        "Some residents were charged twice. This is the second time in three months.",
        "We're seeing a spike in returned payments at three properties and nobody told us why.",
    ],
    "impact": [
        "My site managers spent the whole week reversing late fees by hand.",
        "I have an owner asking me why their collections were down this month. I need an explanation I can give them.",
        "Honestly, if this happens again we'll have to look at other options.",
        "Our accounting team can't close the month until the ledgers are right.",
    ],
    "apology": [
        "First, I'm sorry. That's not the experience you should have, and I understand the position it puts you in with residents.",
        "You're right to be upset, and I appreciate you flagging it quickly.",
        "I'm sorry about this. Let me be specific about what happened.",
    ],
    "root_cause": [
        "What happened is our processor had a delay on the ACH file, so returns came back late and the retries collided with the late-fee run.",
        "The root cause was a sync job to {pms} that stalled for about six hours on the first; payments were collected, but posting lagged behind.",
        "A change on our side to the NSF retry logic went out on the thirtieth and it retried payments that should have been blocked.",
    ],
    "q_fix": [
        "So what are you doing so this doesn't happen next month?",
        "Who's fixing the ledgers? Because my team can't do it again.",
        "Are you going to credit the residents who got hit with fees?",
    ],
    "remediation": [
        "We've already reposted every affected payment to {pms}, and we're covering any NSF or late fees residents were charged.",
        "We've added monitoring on the posting queue, so if it falls behind by more than fifteen minutes we page an engineer.",
        "We'll credit this month's platform fee, and I'll send a written incident report by {day}.",
        "Our payments team will reconcile every property with your accounting team before month end.",
    ],
    "escalation_reply_pos": [
        "Okay. I appreciate the transparency; that's what I needed.",
        "That helps. If the report is clear I can take it to our owners.",
    ],
    "escalation_reply_neg": [
        "I hear you, but this needs to be the last time.",
        "Okay. I'll believe it when the first of next month goes smoothly.",
        "Fine. But I'm going to need that report in writing before I can defend this internally.",
    ],
    "follow_up": [
        "I'll set up a daily check-in until the first clears, and you'll have my cell for anything urgent.",
        "I'll send the incident report and a list of every affected resident by end of day tomorrow.",
        "Let's get back together right after the first to review the numbers together.",
    ],
    # ---- check-in ----
    "q_how_going": [
        "So how are things going overall? Anything the team's been running into?",
        "How's the rollout feeling from your side?",
        "Before we get into the numbers, how are the site teams finding it?",
    ],
    "status_pos": [
        "Really good, actually. Autopay adoption keeps climbing and the office phones are quieter.",
        "It's going well. The regionals like the dashboard and we closed the month two days faster.",
        "Great. Residents are using the portal and we've had almost no payment questions.",
    ],
    "status_neutral": [
        "It's fine. A couple of sites are still pushing residents to drop off checks.",
        "Mostly good. We had a few residents confused by the new login, but support helped.",
    ],
    "status_neg": [
        "Not great, honestly. We're still seeing more returned payments than I'd expect.",
        "It's been a tough month. The site teams are frustrated with how long posting takes.",
        "We're struggling with adoption at a few properties and I'm getting pushback from the regionals.",
    ],
    "q_adoption": [
        "Portal adoption is at {adoption}. What's holding back the remaining residents?",
        "Where do you think we can push autopay enrollment next?",
    ],
    "a_adoption": [
        "Mostly older residents who like paying at the office. We're doing a push at renewal signings.",
        "A few properties never turned off check drop-off. We're fixing that this month.",
    ],
    "q_delinquency_trend": [
        "How's delinquency trending since you turned on reminders?",
        "Are you seeing fewer balances at the end of the month?",
    ],
    "a_delinquency_trend": [
        "Down about a point, which is real money for us.",
        "Better at the bigger properties; the smaller ones are flat.",
        "Flat, honestly. The reminders help but the NSF residents are the same people every month.",
    ],
    "q_move_ins": [
        "Summer move-in season is coming; anything we should plan for?",
        "You mentioned new acquisitions. When do those units come onto the platform?",
    ],
    "a_move_ins": [
        "We're taking over {communities} more properties next quarter, so we'll need onboarding for those.",
        "Move-ins are heavy in June. It'd help if new residents got the portal invite at lease signing.",
    ],
    "q_buzz": [
        "How is Buzz doing with resident questions?",
        "Are the site teams comfortable letting Buzz handle payment-plan requests?",
    ],
    "a_buzz": [
        "It's answering most of the balance questions now. The leasing office noticed right away.",
        "Mostly, yes. One regional still wants to approve every payment plan herself.",
    ],
    "q_collections_results": [
        "How are recoveries looking on former-resident balances?",
        "Has Collect Central changed what goes out to agencies?",
    ],
    "a_collections_results": [
        "We recovered more in-house last quarter than the agency did all last year.",
        "Less goes to the agency now, and the Debt Marketplace bids were better than I expected.",
    ],
    "q_onboarding": [
        "Where are we on the {pms} integration and the property mapping?",
        "How did the resident invite test go at the first property?",
        "Are we still on track for the go-live date we set?",
    ],
    "a_onboarding_pos": [
        "Mapping's done for the first wave. Accounting signed off on the GL codes.",
        "The test went fine. We're ready to invite residents next week.",
    ],
    "a_onboarding_neg": [
        "We're stuck waiting on {pms} credentials from our IT team. It's been weeks.",
        "Honestly, we slipped. The regional managers haven't had time for training.",
        "We paused it. There's a migration on our side and nobody can own this right now.",
    ],
    "qbr": [
        "Let's plan a QBR next month with your regionals; I'll bring the payment trends and a resident-experience report.",
        "I'll send over the monthly summary, and let's put a QBR on the calendar for {month}.",
        "Next time I'd like to walk your COO through the results. Could we get thirty minutes with her?",
    ],
    # ---- competitors (planted calls only) ----
    "competitor_mention": [
        "I should be upfront: we're also talking to {competitor}, and their pricing came in lower.",
        "{competitor} reached out last month and offered to waive setup fees if we switch.",
        "One of our sister companies uses {competitor}, so our COO asked me to compare.",
        "Our {pms} rep suggested we look at {competitor} too, so we're taking a meeting with them next week.",
    ],
    "competitor_response": [
        "That's fair, we see {competitor} in a lot of deals. Where we tend to win is the posting back to {pms} and what happens after a payment fails.",
        "Totally understand. I'd just ask you to compare the returned-payment workflow side by side; that's where the cost hides.",
        "Makes sense to compare. Happy to share two references who moved over to us in the last year.",
    ],
}

# extra sentences that lengthen a turn: by speaker side and the kind of call
REP_MORE = {
    "sales": [
        "We see this a lot with operators running {pms}.",
        "Just for context, we process rent for a few hundred thousand units today.",
        "The goal is that your site teams spend less time on payments and more on residents.",
        "That's usually the first thing our customers notice after go-live.",
        "And nothing changes for your accounting close; the ledger in {pms} stays the source of truth.",
        "We've done this for portfolios bigger and smaller than yours, so the playbook is pretty well worn.",
        "What I'd suggest is starting with a couple of properties and expanding once the team is comfortable.",
        "Our onboarding team handles the property mapping, so your people aren't stuck doing it.",
        "The reporting breaks it out by property, so your regionals can see their own numbers.",
        "It also gives you a clean audit trail for every payment, return and reversal.",
        "A lot of this comes down to getting residents onto autopay early in the lease.",
        "And if a resident's ACH bounces, the portal can require certified funds for the next payment automatically.",
        "I can share a case study from an operator in {city} about your size.",
        "We'll give you a named contact on our payments team during the first few rent cycles.",
        "The operators who get the most out of it usually turn on autopay prompts at lease signing.",
        "Residents can pay from their phone in about thirty seconds, which matters more than people expect.",
        "Most of the setup work is on our side; your team mostly reviews and approves.",
        "We also handle the compliance side of card payments, so PCI isn't on your plate.",
        "I'll put all of this in the recap so you can forward it internally.",
        "Honestly, the returned-payment workflow is where we save teams the most time.",
    ],
    "cs": [
        "That lines up with what I'm seeing in the numbers.",
        "I'll pull the property-level breakdown so we can see where it's coming from.",
        "Other customers on {pms} fixed that with a small change to the resident invite.",
        "We shipped an update to the dashboard last month that should help with that.",
        "I'll loop in our payments team if we need to dig into specific residents.",
        "Let me add that to the notes so it doesn't get lost.",
        "The regionals who adopted it early are seeing the best results.",
        "It might be worth a short refresher session for the newer site managers.",
        "I can set up a report that goes to your regionals every Monday.",
        "We're also adding more Spanish-language templates in Buzz this quarter.",
        "That's good feedback; I'll pass it to our product team directly.",
        "I'd love to get your controller's view on that before the QBR.",
    ],
    "escalation": [
        "I want to make sure you have the full picture, not just the summary.",
        "We've already added this to our incident review.",
        "Our engineering lead is personally on it.",
        "You'll get the same report we use internally.",
        "I'll stay on this until the next rent cycle clears.",
        "We're also checking every other customer on {pms} for the same issue.",
    ],
}
CUST_MORE = {
    "sales": [
        "Our regionals are stretched thin as it is.",
        "Month-end close is already a fire drill for our accounting team.",
        "We've been burned by vendors promising integrations before.",
        "The owners we manage for watch collections very closely.",
        "I'd need to bring our controller into that conversation.",
        "The site teams really don't want another login.",
        "Budget for next year gets set in the fall, so timing matters.",
        "Some of our older properties are still pretty paper-heavy.",
        "Honestly that's been on my list for a year.",
        "I'll have to check with {cust2} on that one.",
        "We're also in the middle of a couple of acquisitions, so bandwidth is tight.",
        "Our COO keeps asking why delinquency is higher than our peers'.",
        "Every property does it a little differently today, which is part of the problem.",
    ],
    "cs": [
        "A lot of our residents are paying on their phones now.",
        "We're also trying to cut down on the calls to the leasing office.",
        "The regionals bring it up in every weekly meeting.",
        "Our accounting team noticed it at month end too.",
        "I'll check with {cust2} and get back to you.",
        "Two of our newer site managers haven't been trained yet.",
        "The owners liked the collections numbers last quarter.",
        "We're rolling out new lease paperwork next month, so timing is good.",
    ],
    "escalation": [
        "Residents don't care whose fault it is; they just see the late fee.",
        "I had three site managers call me about it this morning.",
        "I need something I can forward to our owners.",
        "We can't have this happen on the first of the month again.",
    ],
}
GROUP = {"discovery": "sales", "demo": "sales", "renewal": "cs", "check_in": "cs", "escalation": "escalation"}

# paired question and answers (q_<key> / a_<key>), for probing questions and small talk
PROBES = {
    "time": (
        "How much time does that take your team in a typical month?",
        [
            "Honestly? Two or three days for the AR team, more at month end.",
            "Hard to put a number on it, but it's the thing my regionals complain about most.",
        ],
    ),
    "who": (
        "Who feels that the most, the site teams or accounting?",
        [
            "The site teams. Residents call the leasing office, not accounting.",
            "Accounting at month end, but the sites feel it all month long.",
        ],
    ),
    "tried": (
        "Have you tried to fix that before?",
        [
            "We looked at a couple of tools a few years ago, but the integration never worked.",
            "We built some reports in {pms}, but the follow-up is still manual.",
        ],
    ),
    "spread": (
        "Is that across the whole portfolio or concentrated at a few properties?",
        [
            "Mostly the older Class C properties.",
            "Pretty much everywhere, honestly.",
            "It's worse at the lease-ups, where residents are new to our process.",
        ],
    ),
    "priority": (
        "Where does this sit on your priority list this year?",
        [
            "Top three. Our owners are asking about collections.",
            "It's important, but we also have a {pms} upgrade this year competing for attention.",
        ],
    ),
    "success": (
        "How would you measure success if we worked together?",
        [
            "Fewer returned payments and a shorter month-end close.",
            "Delinquency under four percent and fewer calls to the leasing office.",
        ],
    ),
    "budget": (
        "Is there budget set aside for this, or would it come out of operations?",
        [
            "It would come from operations; our COO owns that budget.",
            "We set aside some technology budget this year, yes.",
        ],
    ),
    "team": (
        "How big is the team that handles AR and collections?",
        [
            "Three people in accounting, plus the site managers.",
            "One AR manager and a part-time assistant for {units} units. That's the problem.",
        ],
    ),
}
SMALLTALK = {
    "weekend": (
        ["How was the weekend?", "Did you get any downtime this weekend?"],
        ["Good, quiet. Kids had soccer all Saturday.", "Short! I was at a property Saturday for a move-in issue."],
    ),
    "weather": (
        "How's the weather out in {city}?",
        ["Hot, as usual. The pool at every property is packed.", "Finally cooling off a little, thank goodness."],
    ),
    "conference": (
        [
            "Did you make it to the apartment association conference this year?",
            "Were you at the multifamily conference in the spring?",
        ],
        [
            "I did, two days of sessions on resident retention. It was good.",
            "No, we sent our regionals this time. I heard it was packed.",
        ],
    ),
    "busy": (
        "Is it as busy as it usually is this time of month?",
        ["Always. First week of the month nobody in accounting sleeps.", "A little calmer this month, thankfully."],
    ),
}
CHECKIN_QA = {
    "reporting": (
        [
            "Are the regionals using the property reports we set up?",
            "How are the property-level reports landing with your regionals?",
        ],
        [
            "Two of them live in it. The third still asks me for a spreadsheet.",
            "Yes, and our owners asked for the same view in their monthly package.",
        ],
    ),
    "support": (
        ["How has support been when the site teams reach out?", "Any feedback on our support team lately?"],
        ["Quick, mostly. One ticket took a few days last month.", "Good. They like that they get a real person."],
    ),
    "integration": (
        [
            "Any issues with payments posting back to {pms}?",
            "How has the {pms} sync been behaving since our last call?",
        ],
        [
            "Not lately. It's been reliable since the fix in the spring.",
            "Once or twice it lagged on the first, but it caught up.",
        ],
    ),
    "residents": (
        [
            "What are you hearing from residents about the portal?",
            "Any resident feedback on paying through the portal?",
        ],
        [
            "They like paying from their phones. Complaints are down.",
            "Mostly positive. Some older residents still want to pay in person.",
        ],
    ),
}
# demo questions and their answers, paired (q_<key> / a_<key>)
DEMO_QA = {
    "card_fees": (
        "Can residents pay with a card, and who eats the fee?",
        "Yes. Card fees can be passed to the resident or absorbed, configurable by property.",
    ),
    "duplicates": (
        "What happens if a resident pays twice by accident?",
        "Duplicates are flagged before they settle and the second one is refunded automatically.",
    ),
    "spanish": (
        "Does Buzz work in Spanish?",
        "It does, Spanish and English out of the box, and it follows the resident's preference.",
    ),
    "late_fees": (
        "Can we set different late-fee rules by property?",
        "Late-fee rules live in {pms}; we read them, so what the resident sees always matches the ledger.",
    ),
    "return_timing": (
        "How long does it take for an ACH return to show up?",
        "Returns typically land within two to three banking days, and we post the reversal as soon as it hits.",
    ),
    "permissions": (
        "Can site managers see only their own properties?",
        "Yes, permissions follow the property assignments you already have in {pms}.",
    ),
    "partial": (
        "Can we block partial payments once a resident is in the eviction process?",
        "Yes, you can turn off partial payments per resident or per property, and it syncs to {pms}.",
    ),
    "reporting": (
        "Can accounting get a daily deposit report that matches the bank?",
        "Every deposit batch has a report that ties to the bank statement, broken out by property.",
    ),
}
for _key, (_q, _a) in DEMO_QA.items():
    LINES[f"q_{_key}"] = [_q]
    LINES[f"a_{_key}"] = [_a]
LINES["renewal_next"] = [
    "I'll send the updated order form today, and we can get signatures by {day} if that works.",
    "Let me take this back and send a revised proposal by end of week.",
    "I'll put both options in writing, one-year and two-year, so you can take them to your CFO.",
]
for _pairs in (PROBES, SMALLTALK, CHECKIN_QA):
    for _key, (_q, _answers) in _pairs.items():
        LINES[f"q_{_key}"] = [_q] if isinstance(_q, str) else list(_q)
        LINES[f"a_{_key}"] = list(_answers)

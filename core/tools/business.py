"""Read tools over the business: an account's overview, the pipeline and forecast, payments, risk, calls,
people and job changes. Each answers from the same queries the pages and the insight detectors use."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field
from sqlalchemy import select

from core.db.models import Call, Goal, JobChange, Prospect, Review
from core.errors import InvalidInput
from core.insights.detectors.coaching_talk_ratio import call_talk
from core.insights.engine import find_now
from core.insights.findings import DetectContext
from core.metrics.account_view import account_view
from core.metrics.filters import DashboardFilters
from core.metrics.pipeline import pipeline_by_stage, weighted_forecast
from core.records import documents_of
from core.tools.base import Citation, Tool, ToolArgs, ToolContext, ToolResult
from core.tools.lookup import find_account, find_employee, findings_result

# ---- account overview ------------------------------------------------------------------------------------------


class AccountArgs(ToolArgs):
    account: str = Field(description="The account's name (or part of it) or its external id.", max_length=255)


def account_overview(ctx: ToolContext, args: AccountArgs) -> ToolResult:
    with ctx.runtime.session() as session:
        acct = find_account(session, args.account)
        view = account_view(
            session=session, identity=ctx.identity, external_id=acct.external_id, as_of=ctx.day.date(), now=ctx.day
        )
    lines = [
        f"{view.name} ({view.segment or 'no segment'}, {view.lifecycle_stage}): ARR ${view.arr:,.0f}, "
        f"health {view.health or 'unknown'}"
        + (f" ({view.health_score}/100)" if view.health_score is not None else "")
        + f", owner {view.owner_name or view.owner or 'unassigned'}."
    ]
    last = view.last_rent
    if last is not None:
        rate = last["failure_rate"]
        lines.append(
            f"Rent processed in {last['month']:%B %Y}: ${last['volume']:,.0f} over {int(last['payments']):,} payments"
            + (f", {100 * rate:.1f}% failed." if rate is not None else ".")
        )
    if view.late_invoices:
        lines.append(
            f"{view.late_invoices} of the last {len(view.invoices)} invoices paid late or overdue"
            f" (${view.overdue_amount:,.0f} overdue now)."
        )
    if not view.open_deals.empty:
        total = float(view.open_deals["amount"].sum())
        lines.append(f"{len(view.open_deals)} open deal(s) worth ${total:,.0f}.")
    for item in view.insights[:5]:
        lines.append(f"Open insight: {item.title}.")
    cites = [Citation("accounts", view.external_id, view.name)]
    for _, d in view.open_deals.head(5).iterrows():
        cites.append(Citation("deals", str(d["external_id"]), str(d["name"]), _doc(d.get("doc_id"))))
    for c in view.calls[:3]:
        cites.append(Citation("calls", c.external_id, c.title, c.doc_id))
    data = {
        "account": {"external_id": view.external_id, "name": view.name},
        "arr": view.arr,
        "health": view.health,
        "health_score": view.health_score,
        "lifecycle_stage": view.lifecycle_stage,
        "owner": view.owner_name or view.owner,
        "late_invoices": view.late_invoices,
        "overdue_amount": view.overdue_amount,
        "open_deals": len(view.open_deals),
        "insights": [i.title for i in view.insights[:10]],
    }
    return ToolResult(text="\n".join(lines), data=data, citations=cites)


# ---- pipeline and forecast -------------------------------------------------------------------------------------


class PipelineArgs(ToolArgs):
    owner: str | None = Field(None, description="Only this rep's deals (name or email).", max_length=255)
    account: str | None = Field(None, description="Only this account's deals (name or id).", max_length=255)
    view: Literal["summary", "stalled", "slipping"] = Field(
        "summary",
        description="summary: open pipeline by stage and the 90-day weighted forecast; stalled: deals stuck in a "
        "stage; slipping: deals whose close date passed, moved out twice, or that went quiet.",
    )


def deal_pipeline(ctx: ToolContext, args: PipelineArgs) -> ToolResult:
    with ctx.runtime.session() as session:
        owner = find_employee(session, args.owner).email if args.owner else None
        if args.view != "summary":
            type_ = "deal_stalled" if args.view == "stalled" else "deal_slipping"
            found = find_now(session=session, now=ctx.day, types=[type_])[type_]
            what = f"{args.view} deals"
            if owner:
                found = [f for f in found if (f.owner or "").lower() == owner.lower()]
            if args.account:
                acct = find_account(session, args.account)
                found, what = [f for f in found if f.account_id == acct.id], f"{what} ({acct.name})"
            return findings_result(ctx, session, found, what=what)
        filters = DashboardFilters(as_of=ctx.day.date(), owner=owner)
        stages = pipeline_by_stage(session=session, filters=filters)
        forecast = weighted_forecast(session=session, filters=filters)
    lines = [
        f"Open pipeline{' for ' + owner if owner else ''}: ${stages['amount'].sum():,.0f} in {stages['deals'].sum()} deals."
    ]
    lines += [
        f"- {r.label}: {r.deals} deals, ${r.amount:,.0f} (weighted ${r.weighted_amount:,.0f})"
        for r in stages.itertuples()
    ]
    lines.append(
        f"Weighted forecast {forecast.start:%b %d} – {forecast.end:%b %d}: ${forecast.weighted_amount:,.0f} "
        f"from {forecast.deals} deals (${forecast.pipeline_amount:,.0f} unweighted)."
    )
    data = {
        "stages": stages.to_dict(orient="records"),
        "forecast": {
            "weighted": forecast.weighted_amount,
            "pipeline": forecast.pipeline_amount,
            "deals": forecast.deals,
        },
    }
    return ToolResult(text="\n".join(lines), data=data)


# ---- payments ----------------------------------------------------------------------------------------------------

PAYMENT_VIEWS = {
    "volume_drops": ("payment_volume_drop", "accounts whose rent volume dropped"),
    "failure_rate": ("payment_failure_rate", "accounts with a high rent payment failure rate"),
    "late_payers": ("late_payer", "accounts that pay their invoices late"),
    "stuck_onboarding": ("onboarding_stuck", "accounts stuck in onboarding"),
}


class PaymentArgs(ToolArgs):
    view: Literal["volume_drops", "failure_rate", "late_payers", "stuck_onboarding"] = Field(
        description="volume_drops: rent volume below its 3-month mean; failure_rate: failed rent payments above "
        "the threshold; late_payers: chronic late invoice payers; stuck_onboarding: onboarding too long."
    )
    account: str | None = Field(None, description="Only this account (name or external id).", max_length=255)


def payment_metrics(ctx: ToolContext, args: PaymentArgs) -> ToolResult:
    type_, what = PAYMENT_VIEWS[args.view]
    with ctx.runtime.session() as session:
        found = find_now(session=session, now=ctx.day, types=[type_])[type_]
        if args.account:
            acct = find_account(session, args.account)
            found = [f for f in found if f.account_id == acct.id]
            what += f" ({acct.name})"
        return findings_result(ctx, session, found, what=what)


# ---- risk --------------------------------------------------------------------------------------------------------

RISK_TYPES = ("churn_risk", "engagement_decline", "champion_left")


class RiskArgs(ToolArgs):
    account: str | None = Field(None, description="Only this account (name or external id).", max_length=255)
    signal: Literal["churn_risk", "engagement_decline", "champion_left"] = Field(
        "churn_risk",
        description="churn_risk: accounts at risk, with each weighted signal; engagement_decline: fewer touches "
        "and falling call sentiment; champion_left: a customer's champion moved to another company.",
    )


def account_risk(ctx: ToolContext, args: RiskArgs) -> ToolResult:
    with ctx.runtime.session() as session:
        found = find_now(session=session, now=ctx.day, types=[args.signal])[args.signal]
        what = {
            "churn_risk": "accounts at risk of churn",
            "engagement_decline": "accounts with declining engagement",
            "champion_left": "champions who left their company",
        }[args.signal]
        if args.account:
            acct = find_account(session, args.account)
            found = [f for f in found if f.account_id == acct.id]
            what += f" ({acct.name})"
        return findings_result(ctx, session, found, what=what)


# ---- calls -------------------------------------------------------------------------------------------------------


class CallArgs(ToolArgs):
    view: Literal["coaching", "rep_calls", "competitors"] = Field(
        description="coaching: reps who talk too much or ask too few questions; rep_calls: one rep's recent calls "
        "with talk share, questions and sentiment; competitors: calls where a competitor came up."
    )
    rep: str | None = Field(None, description="A rep (name or email): needed for rep_calls.", max_length=255)
    competitor: str | None = Field(None, description="Only mentions of this competitor.", max_length=128)
    account: str | None = Field(None, description="Only this account's calls (competitors).", max_length=255)
    limit: int = Field(8, ge=1, le=25, description="How many calls at most (rep_calls).")


def call_analysis(ctx: ToolContext, args: CallArgs) -> ToolResult:
    with ctx.runtime.session() as session:
        if args.view == "competitors":
            found = find_now(session=session, now=ctx.day, types=["competitor_mentioned"])["competitor_mentioned"]
            if args.competitor:
                wanted = args.competitor.strip().lower()
                found = [f for f in found if wanted in str(f.details.get("competitor", f.key)).lower()]
            what = "competitor mentions"
            if args.account:
                acct = find_account(session, args.account)
                found, what = [f for f in found if f.account_id == acct.id], f"{what} ({acct.name})"
            return findings_result(ctx, session, found, what=what)
        if args.view == "coaching":
            found = find_now(session=session, now=ctx.day, types=["coaching_talk_ratio"])["coaching_talk_ratio"]
            if args.rep:
                rep = find_employee(session, args.rep)
                found = [f for f in found if f.subject.external_id == rep.external_id]
            return findings_result(ctx, session, found, what="coaching findings")
        if not args.rep:
            raise InvalidInput("rep_calls needs a rep")
        rep = find_employee(session, args.rep)
        talk = [
            c
            for c in call_talk(
                DetectContext(session=session, now=ctx.day, params={}), since=ctx.day - timedelta(days=365)
            )
            if c.owner == rep.email.lower()
        ]
        talk.sort(key=lambda c: c.started_at, reverse=True)
        recent = talk[: args.limit]
        sentiment = dict(
            session.execute(select(Call.id, Call.sentiment).where(Call.id.in_([c.id for c in recent] or [0]))).all()
        )
        docs = documents_of(session, "calls", [c.id for c in recent])
    if not recent:
        return ToolResult(text=f"No calls by {rep.name} in the last year.", data={"rep": rep.name, "calls": []})
    share = sum(c.share for c in recent) / len(recent)
    questions = sum(c.questions for c in recent) / len(recent)
    lines = [
        f"{rep.name}'s last {len(recent)} calls: talk share {100 * share:.0f}% on average (aim for 70% or less), "
        f"{questions:.1f} questions per call."
    ]
    for c in recent:
        s = sentiment.get(c.id)
        lines.append(
            f"- {c.started_at:%Y-%m-%d} {c.title}: talk share {100 * c.share:.0f}%, {c.questions} questions"
            + (f", sentiment {s:+.2f}" if s is not None else "")
        )
    data = {
        "rep": {"name": rep.name, "email": rep.email, "external_id": rep.external_id},
        "talk_share": round(share, 3),
        "questions_per_call": round(questions, 2),
        "calls": [
            {"external_id": c.external_id, "title": c.title, "talk_share": round(c.share, 3), "questions": c.questions}
            for c in recent
        ],
    }
    cites = [Citation("calls", c.external_id, c.title, docs.get(c.id)) for c in recent]
    return ToolResult(text="\n".join(lines), data=data, citations=cites)


# ---- people ------------------------------------------------------------------------------------------------------


class PersonArgs(ToolArgs):
    person: str = Field(description="The employee's name or email.", max_length=255)


def people_overview(ctx: ToolContext, args: PersonArgs) -> ToolResult:
    with ctx.runtime.session() as session:
        emp = find_employee(session, args.person)
        reviews = session.scalars(
            select(Review).where(Review.employee_id == emp.id).order_by(Review.submitted_at.desc()).limit(4)
        ).all()
        goals = session.scalars(select(Goal).where(Goal.employee_id == emp.id).order_by(Goal.due_on)).all()
        review_docs = documents_of(session, "reviews", [r.id for r in reviews])
        goal_docs = documents_of(session, "goals", [g.id for g in goals])
    lines = [f"{emp.name}, {emp.title or 'no title'} ({emp.department or 'no department'})."]
    for r in reviews:
        lines.append(
            f"- Review {r.cycle}: rating {r.rating if r.rating is not None else 'n/a'}/5. {(r.body or '')[:200]}"
        )
    for g in goals:
        lines.append(f"- Goal: {g.title} — {g.status.replace('_', ' ')}, {100 * g.progress:.0f}% done")
    cites = [Citation("employees", emp.external_id, emp.name)]
    cites += [
        Citation("reviews", r.external_id, f"Review {r.cycle} — {emp.name}", review_docs.get(r.id)) for r in reviews
    ]
    cites += [Citation("goals", g.external_id, g.title, goal_docs.get(g.id)) for g in goals]
    data = {
        "person": {"name": emp.name, "email": emp.email, "title": emp.title},
        "reviews": [{"cycle": r.cycle, "rating": r.rating} for r in reviews],
        "goals": [{"title": g.title, "status": g.status, "progress": g.progress} for g in goals],
    }
    return ToolResult(text="\n".join(lines), data=data, citations=cites)


# ---- research: job changes and prospects -------------------------------------------------------------------------


class ResearchArgs(ToolArgs):
    view: Literal["job_changes", "prospects"] = Field(
        description="job_changes: buyers who changed jobs (UserGems); prospects: companies in Apollo's list."
    )
    query: str | None = Field(None, description="A company or person name to narrow it down.", max_length=255)
    limit: int = Field(10, ge=1, le=25)


def research(ctx: ToolContext, args: ResearchArgs) -> ToolResult:
    like = f"%{args.query.strip()}%" if args.query else None
    with ctx.runtime.session() as session:
        if args.view == "job_changes":
            q = select(JobChange).order_by(JobChange.detected_at.desc()).limit(args.limit)
            if like:
                q = q.where(
                    JobChange.person_name.ilike(like)
                    | JobChange.new_company.ilike(like)
                    | JobChange.previous_company.ilike(like)
                )
            rows = session.scalars(q).all()
            docs = documents_of(session, "job_changes", [r.id for r in rows])
            lines = [
                f"- {r.person_name}: {r.previous_title or '?'} at {r.previous_company or '?'} → "
                f"{r.new_title or '?'} at {r.new_company or '?'} ({r.detected_at:%Y-%m-%d})"
                for r in rows
            ]
            cites = [Citation("job_changes", r.external_id, r.person_name, docs.get(r.id)) for r in rows]
            what = "job changes"
        else:
            pq = select(Prospect).order_by(Prospect.units_managed.desc().nulls_last()).limit(args.limit)
            if like:
                pq = pq.where(Prospect.company_name.ilike(like) | Prospect.person_name.ilike(like))
            prospects = session.scalars(pq).all()
            docs = documents_of(session, "prospects", [p.id for p in prospects])
            lines = [
                f"- {p.company_name}: {p.units_managed or '?'} units, {p.pms or 'PMS unknown'}, "
                f"contact {p.person_name or '?'} ({p.title or '?'})"
                for p in prospects
            ]
            cites = [Citation("prospects", p.external_id, p.company_name, docs.get(p.id)) for p in prospects]
            what = "prospects"
    text = f"{len(lines)} {what}:\n" + "\n".join(lines) if lines else f"No {what} found."
    return ToolResult(text=text, data={"count": len(lines)}, citations=cites)


def _doc(value: object) -> int | None:
    """A document id from a table cell (None, or NaN where pandas filled a gap)."""
    return int(value) if isinstance(value, int | float) and value == value else None


TOOLS = [
    Tool(
        "account_overview",
        "One customer account at a glance: ARR, health and its reasons, owner, last month's rent payments and "
        "failure rate, late invoices, open deals and open insights.",
        AccountArgs,
        "viewer",
        account_overview,
    ),
    Tool(
        "deal_pipeline",
        "The sales pipeline: open deals by stage with the weighted forecast, or the deals that are stalled or "
        "slipping (with how long and why).",
        PipelineArgs,
        "viewer",
        deal_pipeline,
    ),
    Tool(
        "payment_metrics",
        "Rent payment and billing health: accounts whose payment volume dropped, whose failure rate is high, who "
        "pay invoices late, or who are stuck in onboarding.",
        PaymentArgs,
        "viewer",
        payment_metrics,
    ),
    Tool(
        "account_risk",
        "Which customers are at risk and why: churn risk with each signal, declining engagement, champions who left.",
        RiskArgs,
        "viewer",
        account_risk,
    ),
    Tool(
        "call_analysis",
        "Sales calls: coaching findings (talk share over 70%, too few questions), one rep's recent calls with "
        "talk share, questions and sentiment, or calls where competitors were mentioned.",
        CallArgs,
        "analyst",
        call_analysis,
    ),
    Tool(
        "people_overview",
        "An employee's performance reviews and goals (HR data: admins only).",
        PersonArgs,
        "admin",
        people_overview,
    ),
    Tool(
        "research",
        "Buyers who changed jobs (UserGems) and prospect companies (Apollo).",
        ResearchArgs,
        "viewer",
        research,
    ),
]

"""`sophia connectors ...`, `sophia sync`, `sophia runs` and `sophia quarantine ...`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli.common import CLI_ACTOR, err, open_product, out, print_json, progress_bar
from connectors.registry import KINDS
from core import pipelines
from core.bus import make_bus
from core.crypto import SecretBox
from core.errors import InvalidInput, SophiaError
from core.pipelines import SyncFailed, SyncResult

connectors_app = typer.Typer(help="Configure the sources Sophia reads from.", no_args_is_help=True)
quarantine_app = typer.Typer(
    help="Records a sync could not take in: list them, take them in again.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


@connectors_app.command("list")
def connectors_list(json_: JsonOpt = False) -> None:
    """Kinds available, and configured connectors with their state (secrets masked)."""
    rt = open_product(machine_output=json_)
    box = SecretBox.from_settings(rt.settings)
    with rt.session() as session:
        configured = [
            pipelines.describe(row=row, box=box, kinds=KINDS) for row in pipelines.list_connectors(session=session)
        ]
        last = pipelines.last_runs(session=session)
    for item in configured:
        run = last.get(item["name"])
        item["last_run"] = pipelines.run_record(run) if run else None
    kinds = [{"kind": k.kind, "label": k.label, "available": k.available, "status": k.status} for k in KINDS.values()]
    if json_:
        print_json({"kinds": kinds, "connectors": configured})
        return
    out.print("[bold]Kinds[/bold]")
    for k in kinds:
        out.print(f"  {k['kind']:<12} {k['status']}")
    out.print(
        "[bold]Configured[/bold]"
        + ("" if configured else "  (none: add one with `sophia connectors add KIND --name NAME`)")
    )
    for item in configured:
        settings = " ".join(f"{k}={v}" for k, v in item["config"].items())
        state = "enabled" if item["enabled"] else "disabled"
        run = item["last_run"]
        last_run = f"last run {run['status']} {run['started_at'][:19]}" if run else "never run"
        out.print(f"  {item['name']:<16} {item['kind']:<10} {state}, every {item['interval_minutes']} min, {last_run}")
        out.print(f"    {settings}", markup=False)


@connectors_app.command("show")
def connectors_show(name: str, json_: JsonOpt = False) -> None:
    """One connector: its settings (secrets masked) and, for a CRM, how its deal stages map to ours."""
    from dataclasses import asdict

    from core.pipelines.manage import stage_mappings

    rt = open_product(machine_output=json_)
    with rt.session() as session:
        item = pipelines.describe(
            row=pipelines.get_connector(session=session, name=name),
            box=SecretBox.from_settings(rt.settings),
            kinds=KINDS,
        )
    try:
        item["stage_mappings"] = [asdict(r) for r in stage_mappings(runtime=rt, kinds=KINDS, name=name)]
    except SophiaError as exc:  # settings unreadable, vendor unreachable: the settings still show
        item["stage_mappings"], item["stage_mappings_error"] = [], exc.message
    if json_:
        print_json(item)
        return
    out.print(
        f"{item['name']} ({item['kind']}): " + " ".join(f"{k}={v}" for k, v in item["config"].items()), markup=False
    )
    if "stage_mappings_error" in item:
        err.print(f"stage mappings unavailable: {item['stage_mappings_error']}", markup=False)
    for r in item["stage_mappings"]:
        ours = r["stage"] or "UNMAPPED: set stage_map." + r["stage_id"]
        out.print(
            f"  {r['pipeline'] or '-':<24} {r['label']:<28} {r['stage_id']:<14} -> {ours} ({r['source']})", markup=False
        )


@connectors_app.command("add")
def connectors_add(
    kind: Annotated[str, typer.Argument(help=" | ".join(KINDS))],
    name: Annotated[str, typer.Option("--name", help="a name to refer to it by")],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="KEY=VALUE, repeatable; a secret as VALUE or env:SOPHIA_<KIND>_<FIELD>"),
    ] = None,
    interval: Annotated[int, typer.Option("--interval", help="minutes between scheduled syncs")] = 60,
) -> None:
    """Add a connector. Every kind accepts base_url; secrets are stored encrypted or read from env vars."""
    values = _pairs(set_ or [])
    pipelines.get_kind(KINDS, kind)  # a clear refusal before touching the database
    rt = open_product()
    box = SecretBox.from_settings(rt.settings)
    with rt.session() as session:
        row = pipelines.add_connector(
            session=session,
            box=box,
            kinds=KINDS,
            kind=kind,
            name=name,
            values=values,
            interval_minutes=interval,
            actor=CLI_ACTOR,
        )
        shown = pipelines.describe(row=row, box=box, kinds=KINDS)
    settings = ", ".join(f"{k}={v}" for k, v in shown["config"].items())
    out.print(f"Added {kind} connector {name!r} ({settings})", markup=False)


def _pairs(items: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--set {item!r}: expected KEY=VALUE")
        values[key.strip()] = value
    return values


@connectors_app.command("test")
def connectors_test(name: str) -> None:
    """Check a connector's credentials and reachability: one line either way."""
    rt = open_product()
    line = pipelines.check_connector(runtime=rt, kinds=KINDS, name=name)
    out.print(f"ok: {name}: {line}", markup=False)


def sync(
    name: str,
    stream: Annotated[list[str] | None, typer.Option("--stream", help="only this stream (repeatable)")] = None,
    full: Annotated[bool, typer.Option("--full", help="read everything again, ignoring the saved cursors")] = False,
    json_: JsonOpt = False,
) -> None:
    """Run a connector now, with a progress bar; --json prints the run's record."""
    rt = open_product(machine_output=json_)
    with rt.session() as session:
        pipelines.get_connector(session=session, name=name)  # an unknown name: its error alone, before any bar
    bus = make_bus(rt.settings)
    try:
        with progress_bar(f"Syncing {name}") as update:
            result = pipelines.sync_connector(
                runtime=rt,
                kinds=KINDS,
                name=name,
                bus=bus,
                streams=stream,
                full=full,
                progress=lambda s, done, total: update(done, total, s),
            )
    finally:
        bus.close()
    with rt.session() as session:
        records = [
            pipelines.run_record(r) for r in pipelines.get_runs(session=session, ids=[r.run_id for r in result.runs])
        ]
    if json_:
        print_json(_summary(result, records))
    else:
        for run in result.runs:
            t = run.tally
            out.print(
                f"{run.stream:<10} {run.status:<9} read {t.read}, written {t.written}, "
                f"quarantined {t.quarantined}, deleted {t.deleted}",
                markup=False,
            )
    if result.failed:
        raise SyncFailed(f"sync of {name} failed at {result.error}")
    if not json_:
        err.print(f"Synced {name}.")


def _summary(result: SyncResult, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The sync as one record: the per-stream runs and their totals."""
    return {
        "connector": result.connector,
        "status": result.status,
        "error": result.error,
        "started_at": records[0]["started_at"] if records else None,
        "finished_at": records[-1]["finished_at"] if records else None,
        "records_read": sum(r.tally.read for r in result.runs),
        "records_written": sum(r.tally.written for r in result.runs),
        "records_quarantined": sum(r.tally.quarantined for r in result.runs),
        "records_deleted": sum(r.tally.deleted for r in result.runs),
        "runs": records,
    }


def runs(
    connector: Annotated[str | None, typer.Option("--connector", help="only this connector")] = None,
    limit: Annotated[int, typer.Option("--limit", help="how many, newest first")] = 50,
    json_: JsonOpt = False,
) -> None:
    """Run history: counts, cursors, errors."""
    rt = open_product(machine_output=json_)
    with rt.session() as session:
        if connector:
            pipelines.get_connector(session=session, name=connector)
        records = [
            pipelines.run_record(r) for r in pipelines.list_runs(session=session, connector=connector, limit=limit)
        ]
    if json_:
        print_json(records)
        return
    if not records:
        out.print("No runs yet.")
    for r in records:
        counts = f"read {r['records_read']}, written {r['records_written']}, quarantined {r['records_quarantined']}"
        error = f"  error: {r['error']}" if r["error"] else ""
        out.print(
            f"#{r['id']:<5} {r['started_at'][:19]}  {r['connector']:<14} {r['stream'] or '-':<10} "
            f"{r['status']:<9} {counts}{error}",
            markup=False,
        )


@quarantine_app.command("list")
def quarantine_list(
    connector: Annotated[str | None, typer.Option("--connector", help="only this connector")] = None,
    limit: Annotated[int, typer.Option("--limit", help="how many, newest first")] = 100,
    json_: JsonOpt = False,
) -> None:
    """Quarantined records, newest first: what failed and why (the payload stays in the database)."""
    rt = open_product(machine_output=json_)
    with rt.session() as session:
        if connector:
            pipelines.get_connector(session=session, name=connector)
        rows = [
            {
                "id": r.id,
                "connector": r.connector,
                "stream": r.stream,
                "external_id": r.external_id,
                "error": r.error,
                "created_at": r.created_at.isoformat(),
            }
            for r in pipelines.list_quarantined(session=session, connector=connector, limit=limit)
        ]
    if json_:
        print_json(rows)
        return
    if not rows:
        out.print("Nothing is quarantined.")
    for r in rows:
        out.print(
            f"#{r['id']:<6} {r['created_at'][:19]}  {r['connector']:<14} {r['stream']:<10} "
            f"{r['external_id'] or '-':<16} {r['error']}",
            markup=False,
        )


@quarantine_app.command("replay")
def quarantine_replay(
    connector: Annotated[str, typer.Argument(help="the connector whose quarantined records to take in again")],
    ids: Annotated[list[int] | None, typer.Option("--id", help="only this quarantined record (repeatable)")] = None,
    json_: JsonOpt = False,
) -> None:
    """Take quarantined records in again, after fixing what failed them (e.g. a stage_map entry).

    Records that still fail stay quarantined with their new error; a record stored newer meanwhile is not
    overwritten by its old payload."""
    from core.pipelines.replay import replay_quarantined

    rt = open_product(machine_output=json_)
    result = replay_quarantined(runtime=rt, kinds=KINDS, name=connector, actor=CLI_ACTOR, ids=ids or None)
    if json_:
        print_json(result.as_dict())
        return
    out.print(
        f"{connector}: {result.taken} taken in, {result.superseded} superseded, {result.still_failing} still failing"
    )
    for qid, error in result.errors:
        out.print(f"  #{qid}: {error}", markup=False)

"""`sophia usergems ...`: UserGems job changes that arrive as a CSV export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli.common import err, open_product, out, print_json
from connectors.usergems.csv_import import import_csv

usergems_app = typer.Typer(
    help="UserGems job changes (read from Salesforce by the usergems connector).", no_args_is_help=True
)

SHOWN_FAILURES = 10


@usergems_app.command("import-csv")
def import_csv_command(
    path: Annotated[Path, typer.Argument(help="a UserGems job-change CSV export")],
    json_: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Import job changes from a CSV file; rows that cannot be taken in are quarantined."""
    rt = open_product(machine_output=json_)
    result = import_csv(runtime=rt, path=path)
    if json_:
        print_json(result.as_dict())
        return
    out.print(
        f"{path.name}: read {result.read}, written {result.written}, quarantined {result.quarantined} "
        f"(run #{result.run_id})",
        markup=False,
    )
    for failure in result.failures[:SHOWN_FAILURES]:
        err.print(f"  quarantined {failure.error}", markup=False)
    if len(result.failures) > SHOWN_FAILURES:
        err.print(f"  ... and {len(result.failures) - SHOWN_FAILURES} more (--json lists them all)")

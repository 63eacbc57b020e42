"""A UserGems CSV export through the ingest path: by the function and by `sophia usergems import-csv`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.usergems.csv_import import CONNECTOR, import_csv
from core.db import models as m
from core.errors import InvalidInput
from core.ingest import ingest_records
from core.runtime import Runtime
from tests.contract.helpers import sophia

DATA = Path(__file__).resolve().parents[1] / "data" / "usergems"
SAMPLE = DATA / "job_changes.csv"


def salesforce_people(runtime: Runtime) -> None:
    """The past contacts and accounts the sample points at, as the Salesforce connector would store them."""
    with runtime.session() as s:
        ingest_records(
            session=s,
            source="salesforce",
            entity="accounts",
            records=[
                {"external_id": "001RO0000000000801", "name": "Oak Property Group"},
                {"external_id": "001RO0000000000802", "name": "Willow Residential, LLC"},
            ],
        )
        ingest_records(
            session=s,
            source="salesforce",
            entity="contacts",
            records=[
                {
                    "external_id": "003RO0000000000901",
                    "first_name": "Dana",
                    "last_name": "Smith",
                    "account_ref": "001RO0000000000801",
                },
                {
                    "external_id": "003RO0000000000902",
                    "first_name": "Ana",
                    "last_name": "Lopez",
                    "account_ref": "001RO0000000000802",
                },
            ],
        )


def stored(runtime: Runtime) -> dict[str, m.JobChange]:
    with runtime.session() as s:
        return {j.external_id: j for j in s.scalars(select(m.JobChange).where(m.JobChange.source == "usergems"))}


def test_a_csv_lands_its_good_rows_and_quarantines_the_bad(runtime: Runtime) -> None:
    salesforce_people(runtime)

    result = import_csv(runtime=runtime, path=SAMPLE)

    assert (result.read, result.written, result.quarantined) == (5, 3, 2)
    assert [(f.line, f.external_id) for f in result.failures] == [(4, None), (5, None)]
    assert "line 4: job change has no person name" in result.failures[0].error
    assert "line 5: Job Change Date: 'next week' is not a date" in result.failures[1].error
    changes = stored(runtime)
    dana = changes["a0XRO0000000000101"]
    assert (dana.person_name, dana.email, dana.previous_company, dana.new_company, dana.new_title) == (
        "Dana Smith",
        "dana.smith@newcoliving.com",
        "Oak Property Group",
        "NewCo Living",
        "VP Finance",
    )
    assert dana.detected_at == datetime(2025, 3, 4, tzinfo=UTC)
    ana = changes["a0XRO0000000000105"]
    assert ana.person_name == "Ana Lopez, Jr." and ana.new_company == "Aspen Homes, Inc."
    assert ana.detected_at == datetime(2025, 4, 1, 15, 30, tzinfo=UTC)
    lee = next(c for k, c in changes.items() if k.startswith("csv:"))  # no id in the file: a stable one
    assert lee.detected_at == datetime(2025, 3, 15, tzinfo=UTC) and lee.contact_id is None
    with runtime.session() as s:
        assert s.get(m.Contact, dana.contact_id).external_id == "003RO0000000000901"
        assert s.get(m.Account, ana.account_id).name == "Willow Residential, LLC"
        quarantined = s.scalars(select(m.QuarantinedRecord).order_by(m.QuarantinedRecord.id)).all()
        run = s.get(m.PipelineRun, result.run_id)
    assert [(q.connector, q.stream, q.run_id, q.payload["line"]) for q in quarantined] == [
        (CONNECTOR, "job_changes", result.run_id, 4),
        (CONNECTOR, "job_changes", result.run_id, 5),
    ]
    assert quarantined[1].payload["Job Change Date"] == "next week"
    assert (run.connector, run.status, run.records_read, run.records_written, run.records_quarantined) == (
        CONNECTOR,
        "succeeded",
        5,
        3,
        2,
    )


def test_importing_the_same_file_twice_changes_nothing(runtime: Runtime) -> None:
    import_csv(runtime=runtime, path=SAMPLE)
    first = {k: (j.person_name, j.new_company, j.detected_at) for k, j in stored(runtime).items()}
    again = import_csv(runtime=runtime, path=SAMPLE)
    assert again.written == 3
    assert {k: (j.person_name, j.new_company, j.detected_at) for k, j in stored(runtime).items()} == first


def test_a_file_without_the_needed_columns_is_refused_with_their_names(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput) as caught:
        import_csv(runtime=runtime, path=DATA / "missing_columns.csv")
    assert caught.value.message == (
        "missing_columns.csv lacks the columns New Company; Job Change Date (found: Full Name, Email, Company Before)"
    )
    with pytest.raises(InvalidInput, match="no such file"):
        import_csv(runtime=runtime, path=DATA / "nope.csv")
    assert stored(runtime) == {}


def test_the_command_line_import(env: dict[str, str]) -> None:
    done = sophia("usergems", "import-csv", str(SAMPLE), "--json", env=env)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert (record["status"], record["read"], record["written"], record["quarantined"]) == ("succeeded", 5, 3, 2)
    assert [f["line"] for f in record["failures"]] == [4, 5]

    plain = sophia("usergems", "import-csv", str(SAMPLE), env=env)
    assert plain.returncode == 0 and plain.stdout.startswith("job_changes.csv: read 5, written 3, quarantined 2")
    assert "quarantined line 5: Job Change Date" in plain.stderr

    refused = sophia("usergems", "import-csv", str(DATA / "missing_columns.csv"), env=env)
    assert refused.returncode == 1
    assert refused.stderr == (
        "error: missing_columns.csv lacks the columns New Company; Job Change Date "
        "(found: Full Name, Email, Company Before)\n"
    )

    runs = json.loads(sophia("runs", "--json", env=env).stdout)
    assert [r["connector"] for r in runs][:2] == [CONNECTOR, CONNECTOR]

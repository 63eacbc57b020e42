"""A record. ``?doc=<id>``: as search found it, the whole document (a call's transcript, a thread, an email, an
invoice), what it is about, and links out to the vendor's page or the imported original; the same permission
check as search (``core.search.service.get_document``). ``?table=<t>&id=<external id>``: any record an insight
points at, search document or not (a deal, an invoice, a month of rent, a contact), with its fields
(``core.records.get_record``, which checks the role the same way); an account opens the account page."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app import links, ui
from app.auth import require_role
from core.accounts import account_refs
from core.auth import Identity
from core.db.types import row_id
from core.errors import NotFound, SophiaError
from core.records import RecordView, get_record
from core.runtime import Runtime
from core.search.service import get_document

SEARCH_PAGE = Path(__file__).with_name("search.py")
MONEY_FIELDS = {"amount", "arr", "volume"}
RATIO_FIELDS = {"progress"}


def _back() -> None:
    st.page_link(SEARCH_PAGE, label="Back to search", icon=":material/arrow_back:")


def _refused(message: str) -> None:
    ui.page_header("Record")
    st.error(f"{message}: it does not exist, or your role cannot see it.", icon=":material/block:")
    _back()


def _account(rt: Runtime, account_id: int | None, name: str | None) -> None:
    if account_id is None:
        return
    with rt.session() as s:
        ref = account_refs(session=s, account_ids=[account_id]).get(account_id)
    if ref:
        links.account_link(ref[0], ref[1] or name, icon=":material/domain:")


def document(rt: Runtime, me: Identity, doc_id: str) -> None:
    try:
        if row_id(doc_id) is None:  # not an id the database could hold (e.g. 2**63): no such document
            raise NotFound(f"no document {doc_id}")
        doc = get_document(runtime=rt, identity=me, doc_id=doc_id)
    except SophiaError as exc:
        _refused(exc.message)
        return
    ui.page_header(doc.title)
    meta = [doc.source, doc.type.replace("_", " ")]
    if doc.account:
        meta.append(doc.account)
    if doc.occurred_at:
        meta.append(ui.day_label(doc.occurred_at.date()))
    if doc.owner:
        meta.append(f"owner {doc.owner}")
    if doc.author and doc.author != doc.owner:
        meta.append(f"by {doc.author}")
    st.caption(" · ".join(meta))
    cols = st.columns([1, 1, 1, 1.5, 1.5])
    with cols[0]:
        _back()
    if doc.url.startswith(("http://", "https://")):
        cols[1].link_button(ui.source_link_label(doc.source), doc.url, icon=":material/open_in_new:")
    if cols[2].button("More like this", icon=":material/travel_explore:"):
        st.session_state["s_mlt"] = (doc.doc_id, doc.title)
        st.switch_page(SEARCH_PAGE)
    with cols[3]:
        _account(rt, doc.account_id, doc.account)
    with st.container(border=True):
        st.text(doc.text)
    where = "" if doc.url.startswith(("http://", "https://")) else f" · stored as `{doc.url}`" if doc.url else ""
    st.caption(
        f"Indexed as {ui.plural(doc.chunks, 'chunk')}; last updated "
        f"{doc.updated_at.strftime('%Y-%m-%d %H:%M')} UTC{where}."
    )


def _value(key: str, value: Any) -> str:
    if value is None or value == "" or value == []:
        return ui.DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M} UTC"
    if isinstance(value, date):
        return value.isoformat()
    if key in MONEY_FIELDS and isinstance(value, int | float):
        return ui.money_exact(float(value))
    if key in RATIO_FIELDS and isinstance(value, int | float):
        return ui.pct(float(value), 0)
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _field_label(key: str) -> str:
    return {"external_id": "External id", "pms": "PMS", "arr": "ARR"}.get(key, key.replace("_", " ").capitalize())


def fields(view: RecordView) -> pd.DataFrame:
    return pd.DataFrame(
        [{"field": _field_label(k), "value": _value(k, v)} for k, v in view.fields.items()],
        columns=["field", "value"],
    )


def record(rt: Runtime, me: Identity, table: str, external_id: str) -> None:
    if table == "accounts":  # an account has its own page; it checks the role the same way
        st.switch_page(links.ACCOUNT_PAGE, query_params={"account": external_id})
    try:
        with rt.session() as s:
            view = get_record(session=s, identity=me, table=table, external_id=external_id)
    except SophiaError as exc:
        _refused(exc.message)
        return
    ui.page_header(view.title)
    meta = [view.kind, view.source, view.external_id]
    if view.account_name:
        meta.append(view.account_name)
    st.caption(" · ".join(meta))
    cols = st.columns([1, 1.4, 1.4, 2.2])
    with cols[0]:
        _back()
    if view.account_external_id:
        with cols[1]:
            links.account_link(view.account_external_id, view.account_name, icon=":material/domain:")
    if view.doc_id is not None:
        cols[2].page_link(
            links.RECORD_PAGE,
            label="Open its document",
            icon=":material/article:",
            query_params={"doc": str(view.doc_id)},
        )
    with st.container(border=True):
        st.dataframe(
            fields(view),
            hide_index=True,
            key="record_fields",
            column_config={"field": st.column_config.TextColumn("Field", width="medium"), "value": "Value"},
            height=(len(view.fields) + 1) * 35 + 3,  # every field, no inner scrolling
        )


def main() -> None:
    rt = ui.runtime()
    me = require_role(rt, "viewer", "record")
    doc_id, table, external_id = (st.query_params.get(k) for k in ("doc", "table", "id"))
    if doc_id:
        document(rt, me, doc_id)
    elif table and external_id:
        record(rt, me, table, external_id)
    else:
        ui.page_header("Record")
        ui.empty_state("No record chosen", "Open a record from a search result or an insight's evidence.")
        _back()


main()

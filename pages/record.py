"""A record as search found it: the whole document (a call's transcript, a thread, an email, an invoice),
what it is about, and links out to the vendor's page or the imported original. Opened from a search result
(``?doc=<id>``); the same permission check as search (``core.search.service.get_document``)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app import ui
from app.auth import require_role
from core.db.types import row_id
from core.errors import NotFound, SophiaError
from core.search.service import get_document

SEARCH_PAGE = Path(__file__).with_name("search.py")


def _back() -> None:
    st.page_link(SEARCH_PAGE, label="Back to search", icon=":material/arrow_back:")


def main() -> None:
    rt = ui.runtime()
    me = require_role(rt, "viewer", "record")
    doc_id = st.query_params.get("doc")
    if not doc_id:
        ui.page_header("Record")
        ui.empty_state("No record chosen", "Open a record from a search result.")
        _back()
        return
    try:
        if row_id(doc_id) is None:  # not an id the database could hold (e.g. 2**63): no such document
            raise NotFound(f"no document {doc_id}")
        doc = get_document(runtime=rt, identity=me, doc_id=doc_id)
    except SophiaError as exc:
        ui.page_header("Record")
        st.error(f"{exc.message}: it does not exist, or your role cannot see it.", icon=":material/block:")
        _back()
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
    links = st.columns([1, 1, 1, 3])
    with links[0]:
        _back()
    if doc.url.startswith(("http://", "https://")):
        links[1].link_button(ui.source_link_label(doc.source), doc.url, icon=":material/open_in_new:")
    if links[2].button("More like this", icon=":material/travel_explore:"):
        st.session_state["s_mlt"] = (doc.doc_id, doc.title)
        st.switch_page(SEARCH_PAGE)
    with st.container(border=True):
        st.text(doc.text)
    where = "" if doc.url.startswith(("http://", "https://")) else f" · stored as `{doc.url}`" if doc.url else ""
    st.caption(
        f"Indexed as {ui.plural(doc.chunks, 'chunk')}; last updated "
        f"{doc.updated_at.strftime('%Y-%m-%d %H:%M')} UTC{where}."
    )


main()

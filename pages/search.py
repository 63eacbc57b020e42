"""Search: one box over everything the business knows, filtered, with only what the user may see.

Layout only: the query goes through core.search.service.search (the same call as `sophia search`),
uploads through app.uploads (a child `sophia ingest`, so no file is parsed in the app server)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import streamlit as st

from app import links, ui
from app.auth import require_role
from app.uploads import Upload, import_uploads
from core.accounts import account_refs
from core.errors import SophiaError
from core.search import facets, service
from core.search.backends.registry import query_backend
from core.search.embeddings import make_embedder

UPLOAD_TYPES = ["txt", "md", "pdf", "docx", "csv"]
RECORD_PAGE = Path(__file__).with_name("record.py")
SIMILAR_SHOWN = 20
EXAMPLES = ["customers unhappy about failed ACH payments", "INV-2026", "Yardi integration questions", "eviction"]


@st.cache_resource(show_spinner=False)
def _embedder():
    return make_embedder(ui.runtime().settings)


def _escape(snippet: str) -> str:
    """Markdown-safe snippet that keeps the **bold** matches ($ would start LaTeX in Streamlit)."""
    return snippet.replace("\\", "\\\\").replace("$", "\\$").replace("`", "\\`").replace("#", "\\#")


def _filters() -> tuple[service.SearchFilters, int]:
    c1, c2, c3, c4, c5, c6 = st.columns([1.1, 1.1, 1.1, 1.1, 1.4, 0.6])
    sources = c1.multiselect("Source", facets.SOURCES, placeholder="All sources", key="s_sources")
    types = c2.multiselect("Type", facets.DOCUMENT_TYPES, placeholder="All types", key="s_types")
    account = c3.text_input("Account", placeholder="name or id", key="s_account").strip()
    owner = c4.text_input("Owner", placeholder="owner's email", key="s_owner").strip()
    period = c5.date_input("Date range", value=(), max_value=date.today() + timedelta(days=365), key="s_dates")
    limit = c6.selectbox("Show", [10, 20, 50], key="s_limit")
    since, until = (period[0], period[-1]) if period else (None, None)
    return service.SearchFilters(
        source=sources or None,
        type=types or None,
        account=account or None,
        owner=owner or None,
        since=since,
        until=until,
    ), int(limit)


def _result_card(hit: service.SearchHit, account: tuple[str, str] | None = None) -> None:
    with st.container(border=True):
        top, more = st.columns([5, 1.3])
        top.markdown(f"**{hit.rank}. {_escape(hit.title)}**")
        meta = [hit.source, hit.type.replace("_", " ")]
        if hit.account:
            meta.append(hit.account)
        if hit.occurred_at:
            meta.append(ui.day_label(hit.occurred_at.date()))
        if hit.similar:
            meta.append(f"and {len(hit.similar)} similar")
        top.caption(" · ".join(meta))
        more.button(
            "More like this",
            key=f"mlt_{hit.doc_id}",
            icon=":material/travel_explore:",
            on_click=st.session_state.__setitem__,
            args=("s_mlt", (hit.doc_id, hit.title)),
        )
        st.markdown(_escape(hit.snippet) or "_(no preview)_")
        if hit.similar:
            with st.expander(f"{len(hit.similar)} similar, folded into this one"):
                for other in hit.similar[:SIMILAR_SHOWN]:
                    st.page_link(RECORD_PAGE, label=_escape(other.title), query_params={"doc": other.doc_id})
        row = st.columns([1, 1, 1.6, 2.4])
        row[0].page_link(
            RECORD_PAGE, label="Open record", icon=":material/description:", query_params={"doc": hit.doc_id}
        )
        if hit.url.startswith(("http://", "https://")):
            row[1].page_link(hit.url, label=ui.source_link_label(hit.source), icon=":material/open_in_new:")
        if account is not None:
            with row[2]:
                links.account_link(account[0], account[1], icon=":material/domain:")


def _show(response: service.SearchResponse, heading: str) -> None:
    st.caption(f"{heading} · {ui.plural(len(response.results), 'result')} in {response.took_ms:.0f} ms")
    if response.degraded:
        st.warning(response.degraded[:1].upper() + response.degraded[1:] + ".", icon=":material/warning:")
    if not response.results:
        ui.empty_state("Nothing found", "Try other words, fewer filters, or a wider date range.")
    with ui.runtime().session() as session:
        refs = account_refs(session=session, account_ids=[h.account_id for h in response.results])
    for hit in response.results:
        _result_card(hit, refs.get(hit.account_id) if hit.account_id is not None else None)


def _upload(me) -> None:  # noqa: ANN001
    with st.expander("Add documents (txt, md, pdf, docx, csv)", icon=":material/upload_file:"):
        if not me.can("analyst"):
            st.info("Analysts and admins can add documents.")
            return
        files = st.file_uploader(
            "Files", type=UPLOAD_TYPES, accept_multiple_files=True, key="s_upload", label_visibility="collapsed"
        )
        if files and st.button("Import", type="primary", icon=":material/upload:"):
            with st.spinner("Extracting, chunking and embedding…"):
                uploads = [Upload(f.name, f.getvalue()) for f in files]
                results = import_uploads(runtime=ui.runtime(), uploads=uploads)
            for r in results:
                if r.ok:
                    st.success(
                        f"{r.name}: {'already imported' if r.unchanged else f'{r.chunks} chunks indexed'}",
                        icon=":material/check_circle:",
                    )
                else:
                    st.error(f"{r.name}: {r.error}")


def main() -> None:
    rt = ui.runtime()
    ui.page_header("Search", "Calls, emails, notes, Slack threads, invoices, deals and your documents, in one box.")
    me = require_role(rt, "viewer", "search")
    with st.form("search", border=False):
        q_col, go_col = st.columns([8, 1])
        query = q_col.text_input(
            "Search", placeholder="e.g. " + " · ".join(EXAMPLES), key="s_query", label_visibility="collapsed"
        )
        submitted = go_col.form_submit_button("Search", type="primary", icon=":material/search:", width="stretch")
        filters, limit = _filters()
    _upload(me)
    ui.indexing_notice(rt)
    if submitted:
        st.session_state.pop("s_mlt", None)
    backend = query_backend(rt.settings)
    try:
        if st.session_state.get("s_mlt"):
            doc_id, title = st.session_state["s_mlt"]
            response = service.more_like_this(
                runtime=rt, embedder=_embedder(), backend=backend, identity=me, doc_id=doc_id, limit=limit
            )
            st.button(
                "Back to results", icon=":material/arrow_back:", on_click=st.session_state.pop, args=("s_mlt", None)
            )
            _show(response, f"More like “{title}”")
        elif query.strip():
            response = service.search(
                runtime=rt,
                embedder=_embedder(),
                backend=backend,
                identity=me,
                query=query,
                limit=limit,
                filters=filters,
            )
            _show(response, f"“{response.query}”")
        else:
            ui.empty_state(
                "Search everything PayReady knows",
                'Ask in your own words ("customers unhappy about failed payments") or look up exact things '
                "(an invoice number, a name, an error code). Filter by source, type, account or date. "
                "Nothing indexed yet? An admin runs `sophia reindex` (or `sophia up --demo` loads and indexes the demo).",
            )
    except SophiaError as exc:
        st.error(exc.message)
    finally:
        backend.close()


main()

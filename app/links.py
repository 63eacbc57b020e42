"""Links between pages: an account's name opens the account page (``account?account=<external id>``), a record
opens the record page (``record?doc=<id>`` for a search document, ``record?table=<t>&id=<external id>`` for any
other record), an insight opens the insights page expanded (``insights?insight=<id>``).

In a table (``st.dataframe``), a link is a ``LinkColumn`` whose value is the URL; the text shown comes from the
URL's fragment (``#<name>``) through the column's ``display_text`` pattern, so a column of account links still
reads as account names."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import streamlit as st

from core.records import record_label

PAGES = Path(__file__).resolve().parents[1] / "pages"
ACCOUNT_PAGE = PAGES / "account.py"
RECORD_PAGE = PAGES / "record.py"
INSIGHTS_PAGE = PAGES / "insights.py"
SHOWN_TEXT = r"#(.+)$"  # a LinkColumn's display_text: the URL's fragment, decoded


def _url(path: str, params: dict[str, Any], text: str) -> str:
    return f"{path}?{urlencode({k: v for k, v in params.items() if v is not None})}#{quote(text, safe='')}"


def account_url(external_id: str, name: str) -> str:
    return _url("account", {"account": external_id}, name or external_id)


def record_url(*, table: str, external_id: str, doc_id: int | str | None = None, text: str = "") -> str:
    shown = text or f"{record_label(table)} {external_id}"
    if doc_id is not None:
        return _url("record", {"doc": doc_id}, shown)
    return _url("record", {"table": table, "id": external_id}, shown)


def insight_url(insight_id: int, text: str) -> str:
    return _url("insights", {"insight": insight_id}, text)


def link_column(label: str, *, width: str | None = None, help: str | None = None) -> Any:  # noqa: A002
    """A table column of links made by the functions above: it shows each link's text."""
    return st.column_config.LinkColumn(label, display_text=SHOWN_TEXT, width=width, help=help)


def account_link(external_id: str | None, name: str | None, *, icon: str | None = None, key: str | None = None) -> None:
    """The account's name as a link to its page (plain text when the account is unknown)."""
    if not external_id:
        st.markdown(name or "—")
        return
    st.page_link(ACCOUNT_PAGE, label=name or external_id, query_params={"account": external_id}, icon=icon)


def record_link(
    *, table: str, external_id: str, doc_id: int | str | None = None, label: str = "", icon: str | None = None
) -> None:
    """A record's page: its search document when it has one, else the record by table and external id."""
    text = label or f"{record_label(table)} {external_id}"
    if table == "accounts" and doc_id is None:
        st.page_link(ACCOUNT_PAGE, label=text, query_params={"account": external_id}, icon=icon)
    elif doc_id is not None:
        st.page_link(RECORD_PAGE, label=text, query_params={"doc": str(doc_id)}, icon=icon)
    else:
        st.page_link(RECORD_PAGE, label=text, query_params={"table": table, "id": external_id}, icon=icon)

"""The Search page through AppTest on the indexed small demo: results with snippets, the time taken,
permissions (a viewer never sees reviews), filters, more-like-this, the empty state and uploads."""

from __future__ import annotations

from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from connectors.demo import load_demo
from core import auth
from core.runtime import Runtime, open_runtime, prepare
from core.search.backends.embedded import EmbeddedBackend
from core.search.embeddings import make_embedder
from core.search.indexing import index_records
from core.search.sync import sync_backend
from tests.app.apptest_env import ENTRY, ROOT, point_app_at, reset_app_caches
from tests.conftest import ADMIN_PASSWORD, make_settings

SEARCH_PAGE = ROOT / "pages" / "search.py"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> Runtime:
    rt = open_runtime(make_settings(tmp_path_factory.mktemp("search-page")))
    prepare(rt)
    load_demo(runtime=rt, size="small", seed=42, as_of=date(2026, 3, 15))
    index_records(runtime=rt, embedder=make_embedder(rt.settings))
    backend = EmbeddedBackend.from_settings(rt.settings)
    assert sync_backend(runtime=rt, backend=backend).ok
    backend.close()
    with rt.session() as s:
        auth.create_user(session=s, username="vera", role="viewer", password="viewer-pass-1", actor="test")
    yield rt
    rt.engine.dispose()


@pytest.fixture
def app_env(indexed, monkeypatch) -> Runtime:
    point_app_at(monkeypatch, indexed)
    yield indexed
    reset_app_caches()


def open_search(username: str, password: str) -> AppTest:
    at = AppTest.from_file(str(ENTRY), default_timeout=120).run()
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    at.switch_page(str(SEARCH_PAGE)).run()
    assert not at.exception, at.exception
    return at


def run_query(at: AppTest, query: str) -> AppTest:
    at.text_input(key="s_query").input(query)
    next(b for b in at.button if b.label == "Search").click().run()
    assert not at.exception, at.exception
    return at


def test_empty_state_then_results_with_snippets_and_time(app_env) -> None:
    at = open_search("admin", ADMIN_PASSWORD)
    assert any("Search everything" in m.value for m in at.markdown)
    run_query(at, "failed ACH payments")
    captions = [c.value for c in at.caption]
    assert any(" results in " in c and c.endswith(" ms") for c in captions), captions
    assert any("**" in m.value for m in at.markdown)  # matching words highlighted in snippets
    assert not any("score" in c for c in captions)  # raw scores mean nothing to a reader
    run_query(at, "customers complaining about failed ACH payments")
    captions = [c.value for c in at.caption]
    assert any(" similar" in c for c in captions), captions  # templated notes folded: "and 9 similar"


def test_a_viewer_never_sees_reviews(app_env) -> None:
    query = "performance review feedback"
    admin_view = run_query(open_search("admin", ADMIN_PASSWORD), query)
    assert any("· review ·" in c.value or "lattice · review" in c.value for c in admin_view.caption)
    viewer_view = run_query(open_search("vera", "viewer-pass-1"), query)
    assert not any("lattice · review" in c.value for c in viewer_view.caption)


def test_source_filter_and_more_like_this(app_env) -> None:
    at = open_search("admin", ADMIN_PASSWORD)
    at.multiselect(key="s_sources").select("gong")
    run_query(at, "Yardi integration")
    metas = [c.value for c in at.caption if " · " in c.value and " results in " not in c.value]
    assert metas and all(m.startswith("gong · ") for m in metas)
    next(b for b in at.button if b.label == "More like this").click().run()
    assert not at.exception
    assert any(c.value.startswith("More like") for c in at.caption)


def open_record(at: AppTest, doc_id: str) -> AppTest:
    at.query_params["doc"] = doc_id
    at.switch_page("../pages/record.py").run()
    assert not at.exception, at.exception
    return at


def test_a_result_opens_its_record_whole(app_env) -> None:
    at = run_query(open_search("admin", ADMIN_PASSWORD), "Yardi integration")
    first = at.page_link[0]
    assert first.proto.label == "Open record" and "doc=" in first.proto.query_string
    doc_id = first.proto.query_string.split("doc=")[1].split("&")[0]
    with app_env.session() as s:
        from core.db.models import Document

        doc = s.get(Document, int(doc_id))
    at = open_record(at, doc_id)
    assert [t.value for t in at.title] == [doc.title]  # the page header
    assert [t.value for t in at.text] == [doc.text]  # the whole document, not a snippet
    if doc.url and doc.url.startswith("https://"):
        assert at.link_button[0].proto.url == doc.url


def test_a_viewer_cannot_open_a_review(app_env) -> None:
    with app_env.session() as s:
        from sqlalchemy import select

        from core.db.models import Document

        review = s.scalar(select(Document.id).where(Document.type == "review").limit(1))
    at = open_record(open_search("vera", "viewer-pass-1"), str(review))
    assert any("your role cannot see it" in e.value for e in at.error) and not at.text
    at = open_record(open_search("admin", ADMIN_PASSWORD), str(review))
    assert not at.error and at.text


def test_the_owner_filter(app_env) -> None:
    with app_env.session() as s:
        from sqlalchemy import func, select

        from core.db.models import Document

        owner = s.execute(
            select(Document.owner)
            .where(Document.owner.is_not(None))
            .group_by(Document.owner)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar_one()
        owned = set(s.scalars(select(Document.title).where(Document.owner == owner)))
    at = open_search("admin", ADMIN_PASSWORD)
    at.text_input(key="s_owner").input(owner.upper())  # emails compare without case
    run_query(at, "payments")
    titles = [m.value.split(". ", 1)[1].strip("*") for m in at.markdown if m.value.startswith("**") and ". " in m.value]
    assert titles and set(titles) <= {t.replace("$", "\\$") for t in owned} | owned


def test_search_and_record_pages_refuse_without_a_session(app_env) -> None:
    for page in (SEARCH_PAGE, ROOT / "pages" / "record.py"):
        at = AppTest.from_file(str(page), default_timeout=120).run()
        assert not at.exception, at.exception
        assert [e.value for e in at.error] == ["Sign in first."] and not at.text_input and not at.text


def test_the_filters_offer_every_source_and_type_the_index_holds(app_env) -> None:
    """The Source and Type lists come from core.search.facets; whatever the indexer made is among them."""
    from sqlalchemy import select

    from core.db.models import Document
    from core.search import facets

    with app_env.session() as s:
        sources = set(s.scalars(select(Document.source).distinct()))
        types = set(s.scalars(select(Document.type).distinct()))
    assert sources and sources <= set(facets.SOURCES)
    assert types and types <= set(facets.DOCUMENT_TYPES)
    at = open_search("admin", ADMIN_PASSWORD)
    assert at.multiselect(key="s_sources").options == list(facets.SOURCES)
    assert at.multiselect(key="s_types").options == list(facets.DOCUMENT_TYPES)

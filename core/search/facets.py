"""What search results can be filtered by: the source systems and the document types the indexer makes.

One list for every face (the Search page's filters, and any other that offers them); ``SearchFilters`` takes
any of these. A document's type is its record's kind (an activity keeps its own: call, email, meeting, note,
task); its source is the system the record came from (``platform`` is PayReady's own product data, ``file``
an imported document).
"""

from __future__ import annotations

SOURCES: tuple[str, ...] = (
    "hubspot",
    "salesforce",
    "gong",
    "slack",
    "netsuite",
    "lattice",
    "apollo",
    "usergems",
    "platform",
    "file",
)
DOCUMENT_TYPES: tuple[str, ...] = (
    "call",
    "email",
    "meeting",
    "note",
    "task",
    "slack_thread",
    "invoice",
    "deal",
    "account",
    "review",
    "goal",
    "file",
)

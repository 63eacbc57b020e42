"""The demo business: a deterministic, believable PayReady (customers, pipeline, calls, Slack,
finance, rent volumes, people), written through ``core.ingest`` with a planted, exact truth.

    data = generate(size="small", seed=42)            # records in memory, with data.truth
    load_demo(runtime=rt, size="medium", seed=42)     # ingest + meta row "demo"
"""

from connectors.demo.generator import Batch, DemoData, generate
from connectors.demo.loader import DemoLoadError, DemoSummary, demo_loaded, get_truth, load_demo
from connectors.demo.sizes import SIZES

__all__ = [
    "SIZES",
    "Batch",
    "DemoData",
    "DemoLoadError",
    "DemoSummary",
    "demo_loaded",
    "generate",
    "get_truth",
    "load_demo",
]

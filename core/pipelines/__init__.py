"""Pipelines: configured connectors, the sync runner, run history and quarantine."""

from core.pipelines.configured import (
    add_connector,
    describe,
    env_var_for,
    get_connector,
    get_kind,
    list_connectors,
    load_config,
    secret_fields,
)
from core.pipelines.contract import Checkpoint, Failure, FailureBudget, KindInfo, Page, StreamSpec, SyncSource
from core.pipelines.runner import (
    RECORDS_STREAM,
    StreamRun,
    SyncFailed,
    SyncResult,
    Tally,
    build_source,
    check_connector,
    sync_connector,
)
from core.pipelines.runs import get_runs, last_runs, list_quarantined, list_runs, run_record

__all__ = [name for name in dir() if not name.startswith("_")]

"""The connector base: the contract (re-exported from core.pipelines.contract, where the runner reads it),
the abstract Connector, and what connectors compose: HTTP client, error table, rate limits, secret filter."""

from connectors.base.connector import Connector, ConnectorConfig, RecordError
from connectors.base.errors import (
    DEFAULT_RULES,
    NETWORK_ERRORS,
    Action,
    BadResponse,
    ConnectorError,
    ErrorTable,
    Kind,
    NetworkError,
    Problem,
    Rule,
    default_detail,
    network_detail,
    parse_retry_after,
)
from connectors.base.http import BearerAuth, HttpClient
from connectors.base.policy import CallPolicy, RetrySettings
from connectors.base.ratelimit import RateLimit
from connectors.base.redact import SecretFilter
from core.pipelines.contract import Checkpoint, Failure, FailureBudget, Page, StageMapping, StreamSpec

__all__ = [
    "DEFAULT_RULES",
    "NETWORK_ERRORS",
    "Action",
    "BadResponse",
    "BearerAuth",
    "CallPolicy",
    "Checkpoint",
    "Connector",
    "ConnectorConfig",
    "ConnectorError",
    "ErrorTable",
    "Failure",
    "FailureBudget",
    "HttpClient",
    "Kind",
    "NetworkError",
    "Page",
    "Problem",
    "RateLimit",
    "RecordError",
    "RetrySettings",
    "Rule",
    "SecretFilter",
    "StageMapping",
    "StreamSpec",
    "default_detail",
    "network_detail",
    "parse_retry_after",
]

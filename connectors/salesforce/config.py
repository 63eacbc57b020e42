"""The settings of a Salesforce connection, shared by every connector that reads an org (salesforce,
usergems), and the client built from them."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.base import ConnectorConfig
from connectors.salesforce.client import (
    BATCH_SIZE_MAX,
    BATCH_SIZE_MIN,
    DEFAULT_API_VERSION,
    DEFAULT_REQUESTS_PER_SECOND,
    LOGIN_URL,
    SalesforceClient,
    TokenSource,
)

DEFAULT_MODSTAMP_LAG_S = 60.0  # transactions that commit late keep the stamp of when they started
DEFAULT_API_USAGE_MAX_RATIO = 0.9


class SalesforceConnection(ConnectorConfig):
    # the org's instance URL, https://<MyDomain>.my.salesforce.com (the OAuth token response's instance_url);
    # the login host default is refused at the first call with a line saying so
    base_url: str = LOGIN_URL
    token: SecretStr | None = None  # an OAuth access token (or session id)
    refresh_token: SecretStr | None = None  # with client_id (+ client_secret): the connector renews its token
    client_id: str | None = None
    client_secret: SecretStr | None = None
    login_url: str = LOGIN_URL  # https://test.salesforce.com for sandboxes, or the My Domain host
    api_version: str = Field(DEFAULT_API_VERSION, pattern=r"^\d{2,3}\.0$")
    page_size: int = Field(BATCH_SIZE_MAX, ge=BATCH_SIZE_MIN, le=BATCH_SIZE_MAX)  # Sforce-Query-Options batchSize
    requests_per_second: int = Field(DEFAULT_REQUESTS_PER_SECOND, ge=1, le=1000)
    api_usage_max_ratio: float = Field(DEFAULT_API_USAGE_MAX_RATIO, gt=0, le=1)
    modstamp_lag_s: float = Field(DEFAULT_MODSTAMP_LAG_S, ge=0, le=3600)

    @field_validator("base_url", "login_url")
    @classmethod
    def _plain_host(cls, v: str) -> str:
        parts = urlsplit(v.strip())
        if parts.path not in ("", "/"):
            raise ValueError("must be the host only, e.g. https://acme.my.salesforce.com")
        return v.strip().rstrip("/")

    @model_validator(mode="after")
    def _some_credential(self) -> SalesforceConnection:
        if self.token is None and not (self.refresh_token and self.client_id):
            raise ValueError("give token, or refresh_token with client_id")
        return self

    def client(self) -> SalesforceClient:
        tokens = TokenSource(
            token=_reveal(self.token),
            refresh_token=_reveal(self.refresh_token),
            client_id=self.client_id,
            client_secret=_reveal(self.client_secret),
            login_url=self.login_url,
        )
        return SalesforceClient(
            base_url=self.base_url,
            tokens=tokens,
            api_version=self.api_version,
            timeout_s=self.timeout_s,
            retry=self.retry_settings(),
            requests_per_second=self.requests_per_second,
            api_usage_max_ratio=self.api_usage_max_ratio,
            batch_size=self.page_size,
        )


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None

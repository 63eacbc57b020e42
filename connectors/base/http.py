"""The HTTP client of connectors whose vendor has no official Python client: httpx under the call policy."""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any

import httpx

from connectors.base.errors import BadResponse, Problem
from connectors.base.policy import CallPolicy
from connectors.base.ratelimit import RateLimit

CONNECT_TIMEOUT_MAX_S = 10.0


class BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


class HttpClient:
    """JSON over HTTP: every call rate limited, timed out, resolved by the error table and retried."""

    def __init__(
        self,
        *,
        base_url: str,
        policy: CallPolicy,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 30.0,
        limits: Sequence[RateLimit] = (),
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.policy = policy
        self.limits = tuple(limits)
        self._client = httpx.Client(
            base_url=base_url,
            auth=auth,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_MAX_S, timeout_s)),
            transport=transport,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        limits: Sequence[RateLimit] | None = None,
        empty_when: Callable[[Problem], bool] | None = None,
    ) -> Any:
        """The decoded JSON body (None when empty). ``empty_when`` names failed responses that mean "no data"
        (e.g. Gong answers an empty date window with a 404): those return None instead of raising."""

        def once() -> Any:
            response = self._client.request(method, path, params=params, json=json)
            if not response.is_success:
                problem = Problem(response.status_code, dict(response.headers), response.text)
                if empty_when is not None and empty_when(problem):
                    return None
                raise BadResponse(problem)
            return response.json() if response.content else None

        return self.policy.call(once, limits=self.limits if limits is None else limits, what=f"{method} {path}")

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        self._client.close()

"""OAuth 1.0a TBA signing reproduces the worked vector of netsuite.md 2.4 exactly."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from urllib.parse import unquote

import httpx
from oauthlib.oauth1.rfc5849 import signature as rfc5849

from connectors.netsuite.client import TokenAuth, default_base_url, realm

URL = "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/query/v1/suiteql?limit=1000&offset=0"
BASE_STRING = (
    "POST&https%3A%2F%2F1234567-sb1.suitetalk.api.netsuite.com%2Fservices%2Frest%2Fquery%2Fv1%2Fsuiteql&limit%3D1000"
    "%26oauth_consumer_key%3Dck123%26oauth_nonce%3Dabc123nonce%26oauth_signature_method%3DHMAC-SHA256"
    "%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk456%26oauth_version%3D1.0%26offset%3D0"
)
SIGNATURE = "avgcSFEQWMZaUdoOLZQ4LwHlum/EiYaSyCHTxN8mq/c="
HEADER_SIGNATURE = "avgcSFEQWMZaUdoOLZQ4LwHlum%2FEiYaSyCHTxN8mq%2Fc%3D"


def vector_auth() -> TokenAuth:
    return TokenAuth(
        account_id="1234567_SB1",
        consumer_key="ck123",
        consumer_secret="cs789",
        token_id="tk456",
        token_secret="ts000",
        nonce="abc123nonce",
        timestamp="1700000000",
    )


def header_params(header: str) -> dict[str, str]:
    assert header.startswith("OAuth ")
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def test_the_documented_vector_is_reproduced_exactly() -> None:
    header = vector_auth().authorization("POST", URL)
    params = header_params(header)

    assert params["oauth_signature"] == HEADER_SIGNATURE
    assert unquote(params["oauth_signature"]) == SIGNATURE
    assert params == {
        "realm": "1234567_SB1",
        "oauth_consumer_key": "ck123",
        "oauth_token": "tk456",
        "oauth_signature_method": "HMAC-SHA256",
        "oauth_timestamp": "1700000000",
        "oauth_nonce": "abc123nonce",
        "oauth_version": "1.0",
        "oauth_signature": HEADER_SIGNATURE,
    }
    # the base string the signature is made from: realm and oauth_signature out, the query in
    signed = [(k, unquote(v)) for k, v in params.items() if k not in ("realm", "oauth_signature")]
    query = rfc5849.collect_parameters(uri_query="limit=1000&offset=0")
    base = rfc5849.signature_base_string(
        "POST", rfc5849.base_string_uri(URL), rfc5849.normalize_parameters(signed + query)
    )
    assert base == BASE_STRING
    # and, by hand, the key and HMAC of netsuite.md 2.2
    digest = hmac.new(b"cs789&ts000", BASE_STRING.encode(), hashlib.sha256).digest()
    assert base64.b64encode(digest).decode() == SIGNATURE


def test_requests_are_signed_on_the_wire_without_the_json_body() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    with httpx.Client(auth=vector_auth(), transport=httpx.MockTransport(handler)) as client:
        client.post(URL.split("?")[0], params={"limit": 1000, "offset": 0}, json={"q": "SELECT id FROM customer"})

    params = header_params(seen[0].headers["Authorization"])
    assert params["oauth_signature"] == HEADER_SIGNATURE  # the JSON body changed nothing (no oauth_body_hash)
    assert "oauth_body_hash" not in params


def test_every_request_gets_a_fresh_nonce() -> None:
    auth = TokenAuth(account_id="1234567", consumer_key="ck", consumer_secret="cs", token_id="tk", token_secret="ts")
    nonces = {header_params(auth.authorization("POST", URL))["oauth_nonce"] for _ in range(20)}
    assert len(nonces) == 20


def test_realm_and_host_forms_of_the_account_id() -> None:
    assert realm("1234567-sb1") == realm("1234567_SB1") == "1234567_SB1"
    assert default_base_url("1234567_SB1") == "https://1234567-sb1.suitetalk.api.netsuite.com"
    assert default_base_url("1234567") == "https://1234567.suitetalk.api.netsuite.com"

"""The scoring service refuses what it must: bodies over the limit before they are parsed, NaN,
Infinity, negative and missing values naming the field, batches over the limit, requests
without the bearer token; and a property-based run against its OpenAPI schema finds no server
error and no answer outside the schema.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from click.testing import CliRunner
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from custseg.cli import cli
from custseg.errors import ConfigError
from custseg.serve.app import create_app
from custseg.serve.config import TOKEN_ENV, ServeConfig, token_from_environment
from custseg.serve.limits import BodyLimitMiddleware
from tests.support import PublishedSample

TOKEN = "hardening-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ONE = {"customer_id": "c1", "recency_days": 12, "orders": 7, "revenue": 1234.5}


@pytest.fixture(scope="module")
def app(published_sample: PublishedSample) -> Any:
    config = ServeConfig(
        model_path=published_sample.result.model_path,
        segments_path=published_sample.result.segments_path,
        max_body_bytes=4096,
        max_batch=3,
        token=TOKEN,
    )
    return create_app(config)


@pytest.fixture(scope="module")
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, headers=AUTH) as client:
        yield client


def refused_fields(client: TestClient, body: str) -> list[str]:
    response = client.post("/v1/score", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    return [error["field"] for error in response.json()["detail"]]


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ('"revenue": NaN', "revenue"),
        ('"revenue": Infinity', "revenue"),
        ('"revenue": -Infinity', "revenue"),
        ('"revenue": -0.5', "revenue"),
        ('"revenue": "12"', "revenue"),
        ('"revenue": 1e400', "revenue"),
        ('"recency_days": NaN', "recency_days"),
        ('"recency_days": -1', "recency_days"),
        ('"recency_days": 1.5', "recency_days"),
        ('"orders": 0', "orders"),
        ('"orders": 2.5', "orders"),
        ('"orders": true', "orders"),
        ('"orders": Infinity', "orders"),
    ],
)
def test_a_bad_value_is_422_naming_the_field(client: TestClient, value: str, field: str) -> None:
    name = value.split('"')[1]
    fields = {k: json.dumps(v) for k, v in ONE.items() if k != name}
    row = ", ".join([f'"{k}": {v}' for k, v in fields.items()] + [value])
    body = (
        '{"customers": [{"customer_id": "c0", "recency_days": 1, "orders": 1, "revenue": 1}, {%s}]}'
    )
    assert refused_fields(client, body % row) == [f"customers[1].{field}"]


@pytest.mark.parametrize("missing", ["customer_id", "recency_days", "orders", "revenue"])
def test_a_missing_value_is_422_naming_the_field(client: TestClient, missing: str) -> None:
    row = {k: v for k, v in ONE.items() if k != missing}
    body = json.dumps({"customers": [row]})
    assert refused_fields(client, body) == [f"customers[0].{missing}"]


def test_an_unknown_key_and_a_bad_form_are_refused(client: TestClient) -> None:
    assert refused_fields(client, json.dumps({"customers": [{**ONE, "recency": 3}]})) == [
        "customers[0].recency"
    ]
    assert refused_fields(client, json.dumps({"input": "rows", "customers": [ONE]})) == ["input"]
    assert refused_fields(client, "[1, 2]") == ["body"]
    assert refused_fields(client, "{not json") == ["body"]
    assert refused_fields(client, json.dumps({"customers": []})) == ["customers"]


def order_body(*orders: dict[str, Any], as_of: str = "2020-01-01") -> str:
    customers = [{"customer_id": "c1", "orders": list(orders)}]
    return json.dumps({"input": "orders", "as_of_date": as_of, "customers": customers})


def test_bad_orders_are_422_naming_the_field(client: TestClient) -> None:
    good = {"order_id": "o1", "order_date": "2019-05-01", "revenue": "120.50"}
    prefix = "customers[0].orders"
    for bad, field in [
        ({**good, "revenue": "-1"}, "revenue"),
        ({**good, "revenue": "1e3"}, "revenue"),
        ({**good, "revenue": "NaN"}, "revenue"),
        ({**good, "order_date": "2019-02-30"}, "order_date"),
        ({**good, "order_date": 1556668800}, "order_date"),
        ({**good, "order_id": " "}, "order_id"),
        ({"order_id": "o1", "order_date": "2019-05-01"}, "revenue"),
    ]:
        assert refused_fields(client, order_body(good, bad)) == [f"{prefix}[1].{field}"], bad
    conflicting = {**good, "revenue": "99"}
    assert refused_fields(client, order_body(good, conflicting)) == [f"{prefix}[1].order_id"]
    assert refused_fields(client, order_body(good, as_of="2019-05-01")) == [prefix]
    assert refused_fields(client, order_body(good, as_of="2019-13-01")) == ["as_of_date"]


def test_a_batch_over_the_limit_is_413_naming_the_limit(client: TestClient) -> None:
    response = client.post("/v1/score", json={"customers": [ONE] * 4})
    assert response.status_code == 413
    assert "at most 3" in response.json()["detail"]
    assert client.post("/v1/score", json={"customers": [ONE] * 3}).status_code == 200


def test_a_body_over_the_limit_is_413(client: TestClient) -> None:
    rows = [{**ONE, "customer_id": "x" * 200} for _ in range(3)] * 10
    response = client.post("/v1/score", content=json.dumps({"customers": rows}))
    assert response.status_code == 413
    assert "4,096 bytes" in response.json()["detail"]
    streamed = client.post("/v1/score", content=(b" " * 1000 for _ in range(10)))
    assert streamed.status_code == 413


class Spy:
    """An ASGI app and a receive that record what the middleware let through."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.read = 0
        self.app_called = False
        self.sent: list[dict[str, Any]] = []

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        self.app_called = True
        self.body = (await receive())["body"]

    async def receive(self) -> dict[str, Any]:
        self.read += 1
        more = self.read < len(self.chunks)
        return {"type": "http.request", "body": self.chunks[self.read - 1], "more_body": more}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def run_middleware(spy: Spy, headers: list[tuple[bytes, bytes]], limit: int = 1000) -> int | None:
    """The status the middleware answered with (None: it handed the request on)."""
    scope = {"type": "http", "method": "POST", "path": "/v1/score", "headers": headers}
    asyncio.run(BodyLimitMiddleware(spy.app, limit)(scope, spy.receive, spy.send))
    return int(spy.sent[0]["status"]) if spy.sent else None


def test_a_declared_length_over_the_limit_is_refused_before_a_byte_is_read() -> None:
    spy = Spy([b"x" * 2000])
    assert run_middleware(spy, [(b"content-length", b"2000")]) == 413
    assert (spy.read, spy.app_called) == (0, False)


@pytest.mark.parametrize("declared", [b"12x", b"-1", b"\xb2", b"1\xb2"])
def test_a_content_length_that_is_not_a_number_is_400(declared: bytes) -> None:
    spy = Spy([b"{}"])
    assert run_middleware(spy, [(b"content-length", declared)]) == 400
    assert (spy.read, spy.app_called) == (0, False)


def test_a_streamed_body_is_counted_and_refused_as_it_passes_the_limit() -> None:
    # A false Content-Length, then chunk after chunk: reading stops at the chunk over the limit.
    spy = Spy([b"x" * 300] * 100)
    assert run_middleware(spy, [(b"content-length", b"10")]) == 413
    assert (spy.read, spy.app_called) == (4, False)
    spy = Spy([b"x" * 300] * 100)
    assert run_middleware(spy, [(b"transfer-encoding", b"chunked")]) == 413
    assert spy.read == 4
    within = Spy([b"x" * 300] * 3)
    assert run_middleware(within, [(b"transfer-encoding", b"chunked")]) is None
    assert within.body == b"x" * 900  # handed on whole


def test_the_token_is_required_on_v1_and_compared_exactly(app: Any) -> None:
    body = {"customers": [ONE]}
    with TestClient(app) as anonymous:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                        {"Authorization": f"Basic {TOKEN}"},
                        {"Authorization": f"Bearer {TOKEN}x"}):  # fmt: skip
            response = anonymous.post("/v1/score", json=body, headers=headers)
            assert response.status_code == 401, headers
            assert response.headers["www-authenticate"] == "Bearer"
            assert TOKEN not in response.text
        assert anonymous.get("/v1/customers/c1").status_code == 401
        # Checked before the body: an unauthenticated body over the limit is 401, not 413.
        assert anonymous.post("/v1/score", content=b"x" * 10_000).status_code == 401
        assert anonymous.get("/health").status_code == 200
        assert anonymous.get("/ready").status_code == 200
        lower = {"Authorization": f"bearer {TOKEN}"}
        assert anonymous.post("/v1/score", json=body, headers=lower).status_code == 200


def test_the_token_comes_from_the_environment_and_must_be_usable() -> None:
    assert token_from_environment({}) is None
    assert token_from_environment({TOKEN_ENV: TOKEN}) == TOKEN
    for bad in ("", "Zq7shortTok", "has a space in it, long", "x" * 15):
        with pytest.raises(ConfigError, match=TOKEN_ENV) as raised:
            token_from_environment({TOKEN_ENV: bad})
        assert not bad or bad not in str(raised.value)


def test_the_command_reports_a_bad_token_and_a_missing_model(
    published_sample: PublishedSample, tmp_path: Any
) -> None:
    runner = CliRunner()
    model = str(published_sample.result.model_path)
    short = runner.invoke(cli, ["serve", "--model", model], env={TOKEN_ENV: "Zq7shortTok"})
    assert short.exit_code == 2
    assert TOKEN_ENV in short.output and "Zq7shortTok" not in short.output
    missing = runner.invoke(cli, ["serve", "--model", str(tmp_path / "none.json")])
    assert missing.exit_code == 4
    assert "none.json" in missing.output
    no_project = runner.invoke(cli, ["serve", "--project-dir", str(tmp_path)])
    assert no_project.exit_code == 2
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        busy = runner.invoke(cli, ["serve", "--model", model, "--port", port])
    assert busy.exit_code == 2
    assert f"Cannot listen on 127.0.0.1:{port}" in busy.output


def test_the_openapi_schema_documents_every_answer(app: Any) -> None:
    with TestClient(app) as anonymous:
        schema = anonymous.get("/openapi.json").json()
    score = schema["paths"]["/v1/score"]["post"]
    assert {"200", "401", "413", "422"} <= set(score["responses"])
    assert score["requestBody"]["content"]["application/json"]["examples"]
    lookup = schema["paths"]["/v1/customers/{customer_id}"]["get"]
    assert {"200", "401", "404", "422", "503"} <= set(lookup["responses"])
    assert {"200", "503"} <= set(schema["paths"]["/ready"]["get"]["responses"])
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


#: Examples per operation and generation mode: bounded, so the run takes seconds.
FUZZ_EXAMPLES = 60
#: Operations without a parameter or a body: no invalid request to make of them.
NOTHING_TO_NEGATE = {"GET /health", "GET /ready"}
FUZZ_CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            # Invalid data may also be refused as too large (413, documented): a body over the
            # limit is refused before it is parsed, so before it could be found invalid.
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
            },
            # A body the schema allows may still break a rule across fields (an order after the
            # as-of date, an order id given twice with two revenues, more customers than
            # --max-batch): a documented 422 or 413, not a 2xx.
            "positive_data_acceptance": {"enabled": False},
        }
    }
)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_yields_a_server_error_or_an_answer_outside_the_schema(
    published_sample: PublishedSample, mode: GenerationMode
) -> None:
    """Schemathesis against the service's own OpenAPI schema, in process: valid and invalid
    bodies, paths and headers; every answer must be documented, match its schema and never be
    a 5xx."""
    # The default body limit, so that generated bodies reach validation rather than a 413.
    config = ServeConfig(
        model_path=published_sample.result.model_path,
        segments_path=published_sample.result.segments_path,
        max_batch=3,
        token=TOKEN,
    )
    app = create_app(config)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=FUZZ_CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 4
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and operation.label in NOTHING_TO_NEGATE:
            continue

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            case.call_and_validate(headers=AUTH)

        call()

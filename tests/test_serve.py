"""The scoring service answers what a run publishes: parity with the published segments from
the features and from the orders, lookups from the published CSV and from a real Redis, a new
model picked up while requests keep succeeding, and the real command on a real port.

Limits, validation and the token are in tests/test_serve_hardening.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from custseg.live.state_store import CustomerSegment, segment_key
from custseg.serve.app import create_app
from custseg.serve.config import TOKEN_ENV, ServeConfig
from tests.machine import free_port
from tests.redis_server import RedisServer
from tests.support import PublishedSample, duckdb_rows, resealed_model

TOKEN = "serve-test-token-0123456789"


def published_segments(path: Path) -> dict[str, tuple[int, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {
            row["customer_id"]: (int(row["segment_id"]), row["segment_name"])
            for row in csv.DictReader(handle)
        }


def config_of(sample: PublishedSample, **overrides: object) -> ServeConfig:
    return ServeConfig(
        model_path=sample.result.model_path,
        segments_path=sample.result.segments_path,
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def client(published_sample: PublishedSample) -> Iterator[TestClient]:
    with TestClient(create_app(config_of(published_sample))) as client:
        yield client


def model_version(path: Path) -> str:
    return json.loads(path.read_text(encoding="utf-8"))["integrity"]["sha256"]


def test_the_feature_form_scores_every_customer_as_the_run_published(
    published_sample: PublishedSample, client: TestClient
) -> None:
    rows = duckdb_rows(
        published_sample.result,
        "select customer_id, recency_days, count_orders, lifetime_revenue "
        "from customer_features order by customer_id",
    )
    customers = [
        {"customer_id": c, "recency_days": r, "orders": n, "revenue": v} for c, r, n, v in rows
    ]
    response = client.post("/v1/score", json={"customers": customers})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model_version"] == model_version(published_sample.result.model_path)
    assert answer["as_of_date"] is None
    scored = {r["customer_id"]: (r["segment_id"], r["segment_name"]) for r in answer["results"]}
    assert [r["customer_id"] for r in answer["results"]] == [row[0] for row in rows]
    assert scored == published_segments(published_sample.result.segments_path)
    first = answer["results"][0]
    assert (first["recency_days"], first["count_orders"], first["lifetime_revenue"]) == rows[0][1:]
    assert first["avg_order_value"] == rows[0][3] / rows[0][2]


def test_the_order_form_scores_every_customer_as_the_run_published(
    published_sample: PublishedSample, client: TestClient
) -> None:
    run = published_sample.result
    ((as_of,),) = duckdb_rows(run, "select min(as_of_date) from customer_features")
    orders: dict[str, list[dict[str, str]]] = {}
    for customer_id, order_id, order_date, revenue in duckdb_rows(
        run,
        "select customer_id, order_id, order_date, cast(order_revenue as varchar) "
        "from int_sales_lines_aggregated_to_orders order by customer_id, order_id",
    ):
        orders.setdefault(customer_id, []).append(
            {"order_id": order_id, "order_date": order_date.isoformat(), "revenue": revenue}
        )
    # Each customer's first order a second time: the same order counts once.
    customers = [{"customer_id": c, "orders": [*its, its[0]]} for c, its in sorted(orders.items())]
    body = {"input": "orders", "as_of_date": as_of.isoformat(), "customers": customers}
    response = client.post("/v1/score", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["as_of_date"] == as_of.isoformat()
    scored = {r["customer_id"]: (r["segment_id"], r["segment_name"]) for r in answer["results"]}
    assert scored == published_segments(run.segments_path)
    features = {
        c: (r, n, v, a)
        for c, r, n, v, a in duckdb_rows(
            run,
            "select customer_id, recency_days, count_orders, lifetime_revenue, avg_order_value "
            "from customer_features",
        )
    }
    for result in answer["results"]:
        expected = features[result["customer_id"]]
        assert (
            result["recency_days"],
            result["count_orders"],
            result["lifetime_revenue"],
            result["avg_order_value"],
        ) == expected  # exactly dbt's values


def test_the_order_form_counts_orders_before_the_as_of_date_only(client: TestClient) -> None:
    orders = [
        {"order_id": "o1", "order_date": "2019-03-01", "revenue": "10.10"},
        {"order_id": "o2", "order_date": "2019-03-05", "revenue": 5},
        {"order_id": "o3", "order_date": "2019-03-10", "revenue": "1000"},  # on the date
    ]
    body = {
        "input": "orders",
        "as_of_date": "2019-03-10",
        "customers": [{"customer_id": "c1", "orders": orders}],
    }
    (result,) = client.post("/v1/score", json=body).json()["results"]
    assert (result["recency_days"], result["count_orders"]) == (5, 2)
    assert result["lifetime_revenue"] == 15.1


def test_without_an_as_of_date_todays_orders_count(published_sample: PublishedSample) -> None:
    today = dt.datetime.now(dt.UTC).date()
    order = {"order_id": "o1", "order_date": today.isoformat(), "revenue": 20}
    body = {"input": "orders", "customers": [{"customer_id": "c1", "orders": [order]}]}
    with TestClient(create_app(config_of(published_sample))) as client:
        answer = client.post("/v1/score", json=body).json()
    assert answer["as_of_date"] == (today + dt.timedelta(days=1)).isoformat()
    assert answer["results"][0]["recency_days"] == 1
    fixed = config_of(published_sample, as_of_date=dt.date(2030, 1, 1))
    with TestClient(create_app(fixed)) as client:
        answer = client.post("/v1/score", json=body).json()
    assert answer["as_of_date"] == "2030-01-01"


def test_a_customer_is_looked_up_in_the_published_segments(
    published_sample: PublishedSample, client: TestClient
) -> None:
    published = published_segments(published_sample.result.segments_path)
    for customer_id in sorted(published)[:5]:
        answer = client.get(f"/v1/customers/{customer_id}").json()
        assert answer["source"] == "published"
        assert (answer["segment_id"], answer["segment_name"]) == published[customer_id]
    missing = client.get("/v1/customers/nobody-at-all")
    assert missing.status_code == 404
    assert "nobody-at-all" in missing.json()["detail"]


@pytest.fixture(scope="module")
def redis_url(redis_server: RedisServer) -> str:
    """The session's real redis-server (tests/conftest.py); this module's keys use prefix shop."""
    return redis_server.url


def test_a_live_segment_in_redis_wins_over_the_published_one(
    published_sample: PublishedSample, redis_url: str
) -> None:
    import redis

    published = published_segments(published_sample.result.segments_path)
    live_id, other_id = sorted(published)[:2]
    live = CustomerSegment(
        customer_id=live_id,
        segment_id=0,
        segment_name="Champions (VIPs)",
        model_version="v-live",
        as_of_date="2020-02-01",
        recency_days=3,
        count_orders=12,
        lifetime_revenue=4321.5,
        avg_order_value=4321.5 / 12,
    )
    store = redis.Redis.from_url(redis_url)
    store.hset(segment_key("shop", live_id), mapping=live.to_hash())
    config = config_of(published_sample, redis_url=redis_url, redis_prefix="shop")
    with TestClient(create_app(config)) as client:
        answer = client.get(f"/v1/customers/{live_id}").json()
        assert answer == {**live.__dict__, "source": "stream"}
        assert client.get(f"/v1/customers/{other_id}").json()["source"] == "published"
        ready = client.get("/ready").json()
        assert (ready["ready"], ready["state_store"]) == (True, "reachable")
    store.close()


def test_an_unreachable_state_store_is_503_and_not_ready(
    published_sample: PublishedSample,
) -> None:
    config = config_of(published_sample, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with TestClient(create_app(config)) as client:
        some_id = sorted(published_segments(published_sample.result.segments_path))[0]
        lookup = client.get(f"/v1/customers/{some_id}")
        assert lookup.status_code == 503
        assert "state store" in lookup.json()["detail"]
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["state_store"] == "unreachable"
        assert "Redis" in ready.json()["reason"]
        # Scoring needs no state store.
        body = {"customers": [{"customer_id": "c", "recency_days": 1, "orders": 1, "revenue": 1}]}
        assert client.post("/v1/score", json=body).status_code == 200


def republish(path: Path, document: dict) -> None:
    """Publish ``document`` at ``path`` as a run does: a complete file renamed over the old."""
    staged = path.with_name(path.name + ".new")
    staged.write_text(json.dumps(document), encoding="utf-8")
    os.replace(staged, path)


def test_a_new_model_is_picked_up_while_requests_keep_succeeding(
    published_sample: PublishedSample, tmp_path: Path
) -> None:
    model_path = tmp_path / "segment_model.json"
    segments_path = tmp_path / "customer_segments.csv"
    shutil.copy(published_sample.result.model_path, model_path)
    shutil.copy(published_sample.result.segments_path, segments_path)
    first = json.loads(model_path.read_text(encoding="utf-8"))
    second = resealed_model({**first, "metadata": {**first["metadata"], "run_id": "second"}})
    config = ServeConfig(model_path=model_path, segments_path=segments_path, reload_interval=0)
    body = {"customers": [{"customer_id": "c", "recency_days": 30, "orders": 3, "revenue": 90}]}
    versions: list[str] = []
    failures: list[str] = []
    stop = threading.Event()
    with TestClient(create_app(config)) as client:

        def keep_scoring() -> None:
            while not stop.is_set():
                response = client.post("/v1/score", json=body)
                if response.status_code != 200:
                    failures.append(response.text)
                else:
                    versions.append(response.json()["model_version"])

        worker = threading.Thread(target=keep_scoring)
        worker.start()
        try:
            time.sleep(0.3)
            republish(model_path, second)
            deadline = time.monotonic() + 10
            while second["integrity"]["sha256"] not in versions[-5:]:
                assert time.monotonic() < deadline, "the new model was never served"
                time.sleep(0.05)
            # A damaged publication: the last good model keeps serving; ready says why.
            staged = model_path.with_name("damaged")
            staged.write_text('{"format": "custseg-segment-model", "trunc', encoding="utf-8")
            os.replace(staged, model_path)
            time.sleep(0.3)
            ready = client.get("/ready").json()
        finally:
            stop.set()
            worker.join()
    assert failures == []
    assert versions[0] == first["integrity"]["sha256"]
    assert versions[-1] == second["integrity"]["sha256"]
    assert ready["model_version"] == second["integrity"]["sha256"]
    assert ready["last_reload_error"]
    assert ready["ready"] is True


def test_a_new_segments_csv_is_read_again(
    published_sample: PublishedSample, tmp_path: Path
) -> None:
    segments_path = tmp_path / "customer_segments.csv"
    shutil.copy(published_sample.result.segments_path, segments_path)
    config = ServeConfig(
        model_path=published_sample.result.model_path,
        segments_path=segments_path,
        reload_interval=0,
    )
    with TestClient(create_app(config)) as client:
        assert client.get("/v1/customers/new-customer").status_code == 404
        staged = tmp_path / "staged.csv"
        staged.write_text(
            segments_path.read_text(encoding="utf-8") + "new-customer,0,Champions (VIPs)\n",
            encoding="utf-8",
        )
        os.replace(staged, segments_path)
        answer = client.get("/v1/customers/new-customer").json()
    assert (answer["segment_id"], answer["source"]) == (0, "published")


def test_the_real_command_serves_http_and_stops_on_sigterm(
    published_sample: PublishedSample,
) -> None:
    port = free_port()
    env = {**os.environ, TOKEN_ENV: TOKEN}
    command = [
        str(Path(sys.executable).with_name("custseg")), "serve", "--project-dir",
        str(published_sample.root), "--port", str(port), "--json",
    ]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "custseg serve did not start"
            time.sleep(0.1)
        body = {
            "customers": [{"customer_id": "c1", "recency_days": 12, "orders": 7, "revenue": 1234.5}]
        }
        refused = httpx.post(f"{base}/v1/score", json=body)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        answer = httpx.post(f"{base}/v1/score", json=body, headers=headers).json()
        assert answer["model_version"] == model_version(published_sample.result.model_path)
        assert httpx.get(f"{base}/ready").json()["ready"] is True
        # A body over the limit, streamed without a length: refused on the wire as well.
        chunks = (b"x" * 65536 for _ in range(40))
        too_large = httpx.post(f"{base}/v1/score", content=chunks, headers=headers)
        assert too_large.status_code == 413
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    summary = json.loads(out.decode().splitlines()[0])
    assert summary["token_required"] is True
    assert summary["url"] == base
    assert TOKEN not in out.decode() + err.decode()


def test_without_published_segments_the_service_is_not_ready(
    published_sample: PublishedSample, tmp_path: Path
) -> None:
    config = ServeConfig(
        model_path=published_sample.result.model_path,
        segments_path=tmp_path / "customer_segments.csv",
    )
    with TestClient(create_app(config)) as client:
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert "customer_segments.csv" in ready.json()["reason"]
        assert client.get("/v1/customers/12346").status_code == 404

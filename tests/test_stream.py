"""``custseg consume`` on a real Redis server: orders in, live segments, changes and dead letters
out, each batch's effects committed once with its acknowledgement.

The by-hand cases run the consumer in this process on hand-made events; the kill test runs
``custseg consume`` as a child process on every order of the ``published_sample`` run, kills it
with SIGKILL at random moments (seeded), restarts it until the stream is drained, and compares
every customer's final segment with the segments that run published.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import random
import signal
import subprocess
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from custseg.live.features import feature_matrix, features_as_of
from custseg.live.scoring import LoadedModel, PublishedModel
from custseg.live.state_store import read_segment
from custseg.stream.config import ConsumerConfig
from custseg.stream.consumer import Consumer, ConsumeStats, persisted_orders
from custseg.stream.state import DEFAULT_GROUP, StreamKeys
from tests.child_run import CUSTSEG, subprocess_env
from tests.redis_server import RedisServer
from tests.support import PublishedSample, duckdb_rows

redis = pytest.importorskip("redis")

AS_OF = dt.date(2020, 1, 1)
_names = itertools.count()


@pytest.fixture
def keys() -> StreamKeys:
    """A stream and prefix of this test's own on the shared server."""
    number = next(_names)
    return StreamKeys(stream=f"test{number}:orders", prefix=f"test{number}")


@pytest.fixture(scope="module")
def model_path(published_sample: PublishedSample) -> Path:
    return published_sample.result.model_path


def push(client: Any, keys: StreamKeys, *events: dict[str, str]) -> list[str]:
    return [client.xadd(keys.stream, fields).decode() for fields in events]


def order(customer: str, order_id: str, day: str, revenue: str) -> dict[str, str]:
    return {"customer_id": customer, "order_id": order_id, "order_date": day, "revenue": revenue}


def consume(server: RedisServer, keys: StreamKeys, model_path: Path, **more: Any) -> ConsumeStats:
    config = ConsumerConfig(
        stream=keys.stream,
        prefix=keys.prefix,
        as_of_date=AS_OF,
        until_idle=0.2,
        block_ms=50,
        **more,
    )
    return Consumer(server.client(), PublishedModel(model_path), config).run()


def entries(client: Any, stream: str) -> list[tuple[str, dict[str, str]]]:
    return [
        (entry_id.decode(), {k.decode(): v.decode() for k, v in fields.items()})
        for entry_id, fields in client.xrange(stream)
    ]


def expected_segment(model_path: Path, customer: str, orders: list[tuple[str, str]]) -> int:
    """The published model's segment of ``orders`` (date, revenue) as of AS_OF, by hand."""
    stored = [(dt.date.fromisoformat(day).toordinal(), Decimal(rev)) for day, rev in orders]
    row = features_as_of(customer, stored, AS_OF)
    assert row is not None
    return int(LoadedModel.from_file(model_path).segment_ids(feature_matrix([row]))[0])


def test_repeats_change_nothing_and_bad_events_become_dead_letters(
    redis_server: RedisServer, keys: StreamKeys, model_path: Path
) -> None:
    client = redis_server.client()
    ids = push(
        client,
        keys,
        order("c1", "o1", "2019-11-02", "120.50"),
        order("c1", "o1", "2019-11-02", "120.5"),  # the same order, revenue written otherwise
        order("c1", "o1", "2019-11-03", "120.50"),  # conflict: other date
        {"customer_id": "c2", "order_id": "o9", "order_date": "2019-11-02"},  # no revenue
        order("c2", "o9", "2019-02-30", "10"),  # no such date
        order("c2", "o9", "2019-02-03", "-1"),  # negative revenue
        order("c1", "o2", AS_OF.isoformat(), "999"),  # on the as-of date: does not count yet
        order("c1", "o3", "2020-03-01", "999"),  # after it
        {"customer_id": "c3", "order_id": "o4", "order_date": "2019-12-31", "revenue": "7",
         "channel": "web"},  # an extra field is ignored
    )  # fmt: skip
    stats = consume(redis_server, keys, model_path)
    assert (stats.events, stats.new_orders, stats.repeats, stats.dead_letters) == (9, 4, 1, 4)

    orders = persisted_orders(client, keys, "c1")
    assert sorted(orders) == ["o1", "o2", "o3"]
    assert orders["o1"] == (dt.date(2019, 11, 2).toordinal(), Decimal("120.50"))
    segment = read_segment(client, keys.prefix, "c1")
    assert segment is not None
    assert (segment.count_orders, segment.lifetime_revenue, segment.recency_days) == (1, 120.5, 60)
    assert segment.segment_id == expected_segment(model_path, "c1", [("2019-11-02", "120.50")])
    assert segment.as_of_date == AS_OF.isoformat()
    assert segment.model_version == LoadedModel.from_file(model_path).version
    assert read_segment(client, keys.prefix, "c2") is None  # no valid order
    assert client.hget(keys.segment("c1"), "event_id").decode() == ids[7]
    written = {k.decode(): v.decode() for k, v in client.hgetall(keys.segment("c1")).items()}
    assert written == {**segment.to_hash(), "event_id": ids[7]}  # the state store's own format

    dead = entries(client, keys.dead_letters)
    assert [(d["event_id"], d["field"]) for _, d in dead] == [
        (ids[2], "order_id"),
        (ids[3], "revenue"),
        (ids[4], "order_date"),
        (ids[5], "revenue"),
    ]
    assert "already recorded with order_date 2019-11-02" in dead[0][1]["reason"]
    assert "missing" in dead[1][1]["reason"]
    assert "YYYY-MM-DD" in dead[2][1]["reason"]
    assert ">= 0" in dead[3][1]["reason"]
    assert dead[2][1]["original.order_date"] == "2019-02-30"
    assert all(d["stream"] == keys.stream for _, d in dead)
    assert client.xpending(keys.stream, DEFAULT_GROUP)["pending"] == 0

    # Everything again: the orders are known, so nothing changes; the bad ones are new events.
    before = {
        key: client.dump(key)
        for key in (keys.orders("c1"), keys.customer("c1"), keys.segment("c1"))
    }
    push(
        client,
        keys,
        order("c1", "o1", "2019-11-02", "120.50"),
        order("c3", "o4", "2019-12-31", "7"),
    )
    again = consume(redis_server, keys, model_path)
    assert (again.events, again.new_orders, again.repeats, again.segment_changes) == (2, 0, 2, 0)
    assert {key: client.dump(key) for key in before} == before
    assert len(entries(client, keys.segment_changes)) == 2  # c1 and c3, once each


def test_segment_changes_name_the_previous_and_new_segment(
    redis_server: RedisServer, keys: StreamKeys, model_path: Path
) -> None:
    client = redis_server.client()
    old = [("2017-01-05", "4.00")]
    (first,) = push(client, keys, order("c1", "a", *old[0]))
    consume(redis_server, keys, model_path)
    big = [(f"2019-12-{day:02d}", "5000.00") for day in range(1, 31)]
    later = push(client, keys, *(order("c1", f"b{i}", d, r) for i, (d, r) in enumerate(big)))
    consume(redis_server, keys, model_path, batch_size=1000)
    before, after = (
        expected_segment(model_path, "c1", old),
        expected_segment(model_path, "c1", old + big),
    )
    assert before != after, "the orders were chosen to move the customer"
    model = LoadedModel.from_file(model_path)
    changes = [fields for _, fields in entries(client, keys.segment_changes)]
    common = {"customer_id": "c1", "model_version": model.version, "as_of_date": "2020-01-01"}
    assert changes == [
        {**common, "previous_segment_id": "", "previous_segment_name": "",
         "segment_id": str(before), "segment_name": model.segment_name(before),
         "event_id": first},
        {**common, "previous_segment_id": str(before),
         "previous_segment_name": model.segment_name(before), "segment_id": str(after),
         "segment_name": model.segment_name(after), "event_id": later[-1]},
    ]  # fmt: skip
    segment = read_segment(client, keys.prefix, "c1")
    assert segment is not None and (segment.segment_id, segment.count_orders) == (after, 31)


def test_an_own_pending_entry_deleted_before_it_was_applied_becomes_a_dead_letter(
    redis_server: RedisServer, keys: StreamKeys, model_path: Path
) -> None:
    client = redis_server.client()
    ids = push(
        client, keys, order("c1", "a", "2019-05-01", "3"), order("c2", "b", "2019-05-01", "4")
    )
    client.xgroup_create(keys.stream, DEFAULT_GROUP, id="0")
    # Delivered to this consumer before it died, then deleted from the stream by hand.
    client.xreadgroup(DEFAULT_GROUP, ConsumerConfig().consumer, {keys.stream: ">"}, count=1)
    client.xdel(keys.stream, ids[0])
    stats = consume(redis_server, keys, model_path)
    assert (stats.events, stats.new_orders, stats.dead_letters) == (2, 1, 1)
    ((_, dead),) = entries(client, keys.dead_letters)
    assert (dead["event_id"], dead["field"]) == (ids[0], "entry")
    assert client.xpending(keys.stream, DEFAULT_GROUP)["pending"] == 0
    assert read_segment(client, keys.prefix, "c2") is not None


def test_events_a_dead_consumer_left_pending_are_taken_over(
    redis_server: RedisServer, keys: StreamKeys, model_path: Path
) -> None:
    client = redis_server.client()
    push(client, keys, order("c1", "a", "2019-05-01", "3"), order("c2", "b", "2019-05-01", "4"))
    client.xgroup_create(keys.stream, DEFAULT_GROUP, id="0")
    client.xreadgroup(DEFAULT_GROUP, "died", {keys.stream: ">"}, count=2)
    time.sleep(0.05)
    stats = consume(redis_server, keys, model_path, claim_idle_ms=20)
    assert (stats.events, stats.new_orders) == (2, 2)
    assert client.xpending(keys.stream, DEFAULT_GROUP)["pending"] == 0
    assert read_segment(client, keys.prefix, "c1") is not None


def consumer_named(
    server: RedisServer, keys: StreamKeys, model_path: Path, name: str, **more: Any
) -> Consumer:
    config = ConsumerConfig(stream=keys.stream, prefix=keys.prefix, as_of_date=AS_OF,
                            until_idle=0.2, block_ms=50, consumer=name, **more)  # fmt: skip
    return Consumer(server.client(), PublishedModel(model_path), config)


def test_a_customer_another_consumer_changed_is_applied_again_never_overwritten(
    redis_server: RedisServer, keys: StreamKeys, model_path: Path
) -> None:
    client = redis_server.client()
    first = consumer_named(redis_server, keys, model_path, "a", batch_size=1)
    push(client, keys, order("c1", "o1", "2019-01-05", "10"))
    first.run()  # holds c1 with one order from now on
    push(client, keys, order("c1", "o2", "2019-06-05", "20"))
    assert consumer_named(redis_server, keys, model_path, "b").run().new_orders == 1
    # Two more events for c1 while the first consumer's copy of c1 lacks o2: the first batch
    # is committed while the second is applied on top of it; the commit finds c1 changed,
    # writes nothing, and both batches are applied again to c1 as Redis holds it.
    push(client, keys, order("c1", "o3", "2019-09-05", "30"), order("c1", "o4", "2019-12-05", "5"))
    stats = first.run()
    assert (stats.events, stats.new_orders, stats.retries) == (3, 3, 1)
    assert sorted(persisted_orders(client, keys, "c1")) == ["o1", "o2", "o3", "o4"]
    assert json.loads(client.get(keys.customer("c1")))["version"] == 4
    segment = read_segment(client, keys.prefix, "c1")
    assert segment is not None
    assert (segment.count_orders, segment.lifetime_revenue, segment.recency_days) == (4, 65.0, 27)
    everything = [("2019-01-05", "10"), ("2019-06-05", "20"), ("2019-09-05", "30"),
                  ("2019-12-05", "5")]  # fmt: skip
    assert segment.segment_id == expected_segment(model_path, "c1", everything)
    assert client.xpending(keys.stream, DEFAULT_GROUP)["pending"] == 0


def test_two_consumers_of_a_group_end_as_batch_scoring(
    redis_server: RedisServer, keys: StreamKeys, model_path: Path
) -> None:
    client = redis_server.client()
    rng = random.Random(3)
    orders = [
        order(f"c{rng.randrange(12)}", f"o{number}", f"2019-{rng.randrange(1, 13):02d}-"
              f"{rng.randrange(1, 29):02d}", f"{rng.randrange(1, 50_000) / 100:.2f}")
        for number in range(600)
    ]  # fmt: skip
    push(client, keys, *orders, *rng.sample(orders, 50))
    consumers = [
        consumer_named(redis_server, keys, model_path, name, batch_size=rng.randrange(3, 9))
        for name in ("a", "b")
    ]
    results: list[ConsumeStats] = []
    threads = [threading.Thread(target=lambda c=c: results.append(c.run())) for c in consumers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 2
    assert sum(r.events for r in results) == 650
    assert (sum(r.new_orders for r in results), sum(r.repeats for r in results)) == (600, 50)
    assert client.xpending(keys.stream, DEFAULT_GROUP)["pending"] == 0
    by_customer: dict[str, list[tuple[str, str]]] = {}
    for o in orders:
        by_customer.setdefault(o["customer_id"], []).append((o["order_date"], o["revenue"]))
    for customer, placed in by_customer.items():
        segment = read_segment(client, keys.prefix, customer)
        assert segment is not None
        expected = expected_segment(model_path, customer, placed)
        assert (segment.segment_id, segment.count_orders) == (expected, len(placed)), customer
        assert json.loads(client.get(keys.customer(customer)))["segment_id"] == expected


def sample_events(sample: PublishedSample, rng: random.Random) -> tuple[list, list, set[int]]:
    """Every order of the sample's run (shuffled), some sent twice, then bad events.

    Returns the events, the orders and the positions of the events that must become dead
    letters (malformed, and conflicting copies of known orders).
    """
    rows = duckdb_rows(
        sample.result,
        "select customer_id, order_id, cast(order_date as varchar), "
        "cast(order_revenue as varchar) from int_sales_lines_aggregated_to_orders",
    )
    orders = [order(str(c), str(o), d, r) for c, o, d, r in rows]
    events = orders + rng.sample(orders, 60)  # repeats
    rng.shuffle(events)
    bad = [
        {k: v for k, v in rng.choice(orders).items() if k != "order_date"},
        {**rng.choice(orders), "revenue": "NaN"},
        {**rng.choice(orders), "revenue": "12,50"},
        {**rng.choice(orders), "order_date": "2019-02-29"},
        {**rng.choice(orders), "customer_id": " "},
        {"hello": "world"},
    ]
    # Conflicts: known order ids with another revenue, sent after every original.
    bad += [{**o, "revenue": str(Decimal(o["revenue"]) + 1)} for o in rng.sample(orders, 5)]
    positions = set(range(len(events), len(events) + len(bad)))
    return events + bad, orders, positions


def group_progress(client: Any, keys: StreamKeys) -> int:
    """Entries the group has acknowledged (read minus pending)."""
    for group in client.xinfo_groups(keys.stream):
        if group["name"].decode() == DEFAULT_GROUP:
            return int(group["entries-read"] or 0) - int(group["pending"])
    return 0


def test_kill_9_at_random_moments_loses_nothing_and_ends_as_batch_scoring(
    redis_server: RedisServer, keys: StreamKeys, published_sample: PublishedSample
) -> None:
    client = redis_server.client()
    rng = random.Random(15)
    events, orders, dead_positions = sample_events(published_sample, rng)
    ids: list[str] = []
    with client.pipeline(transaction=False) as pipe:
        for fields in events:
            pipe.xadd(keys.stream, fields)
        ids = [entry_id.decode() for entry_id in pipe.execute()]
    result = published_sample.result
    command = [
        CUSTSEG, "consume", "--redis-url", redis_server.url, "--stream", keys.stream,
        "--prefix", keys.prefix, "--model", str(result.model_path),
        "--as-of-date", result.as_of_date.isoformat(), "--batch-size", "10",
        "--block-ms", "50", "--until-idle", "1", "--quiet",
    ]  # fmt: skip
    kills_mid_stream = 0
    for _ in range(5):
        # Killed once it has acknowledged a random number of events more (a few batches): at a
        # random point of a batch, the same share of the stream whatever the machine's speed.
        target = group_progress(client, keys) + rng.randrange(1, 400)
        child = subprocess.Popen(command, env=subprocess_env(), stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while group_progress(client, keys) < target and child.poll() is None:
            assert time.monotonic() < deadline, "the consumer made no progress"
            time.sleep(0.002)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL, child.stderr.read()  # type: ignore[union-attr]
        kills_mid_stream += group_progress(client, keys) < len(events)
    assert kills_mid_stream == 5, "every kill should land while events are left"
    final = subprocess.run(command, env=subprocess_env(), capture_output=True, text=True)
    assert final.returncode == 0, final.stderr

    assert client.xpending(keys.stream, DEFAULT_GROUP)["pending"] == 0
    assert group_progress(client, keys) == len(events)
    dead = [fields["event_id"] for _, fields in entries(client, keys.dead_letters)]
    assert sorted(dead) == sorted(ids[i] for i in dead_positions)  # each exactly once
    by_customer: dict[str, dict[str, tuple[int, Decimal]]] = {}
    for o in orders:
        by_customer.setdefault(o["customer_id"], {})[o["order_id"]] = (
            dt.date.fromisoformat(o["order_date"]).toordinal(),
            Decimal(o["revenue"]),
        )
    for customer, expected_orders in by_customer.items():
        assert persisted_orders(client, keys, customer) == expected_orders, customer

    with result.segments_path.open(newline="", encoding="utf-8") as handle:
        published = {row["customer_id"]: int(row["segment_id"]) for row in csv.DictReader(handle)}
    assert len(published) == 300
    live = {}
    for customer in by_customer:
        segment = read_segment(client, keys.prefix, customer)
        if segment is not None:
            live[customer] = segment.segment_id
    assert live == published
    # One change per customer at most per batch, and the last one names the final segment.
    last_change: dict[str, int] = {}
    for _, change in entries(client, keys.segment_changes):
        last_change[change["customer_id"]] = int(change["segment_id"])
    assert last_change == published


def test_sigterm_stops_after_the_batch_in_progress(
    redis_server: RedisServer, keys: StreamKeys, published_sample: PublishedSample
) -> None:
    client = redis_server.client()
    with client.pipeline(transaction=False) as pipe:
        for number in range(3000):
            pipe.xadd(keys.stream, order(f"c{number % 200}", f"o{number}", "2019-06-01", "5"))
        pipe.execute()
    child = subprocess.Popen(
        [CUSTSEG, "consume", "--redis-url", redis_server.url, "--stream", keys.stream,
         "--prefix", keys.prefix, "--project-dir", str(published_sample.root),  # its model
         "--as-of-date", "2020-01-01", "--batch-size", "5", "--json"],
        env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while group_progress(client, keys) == 0:
        assert child.poll() is None and time.monotonic() < deadline, child.stderr
        time.sleep(0.005)
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    summary = json.loads(out)
    assert summary["stopped_by"] == "SIGTERM"
    # Stopped early, with every batch it read committed and acknowledged.
    assert 0 < summary["events"] < 3000
    assert client.xpending(keys.stream, DEFAULT_GROUP)["pending"] == 0
    assert group_progress(client, keys) == summary["events"]
    assert summary["model_versions"] == [
        LoadedModel.from_file(published_sample.result.model_path).version
    ]


def test_an_unreachable_redis_is_exit_code_9_with_what_to_do(model_path: Path) -> None:
    completed = subprocess.run(
        [CUSTSEG, "consume", "--redis-url", "redis://:s3cret-pass@127.0.0.1:1/0",
         "--model", str(model_path), "--reconnect-timeout", "0", "--quiet"],
        env=subprocess_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert completed.returncode == 9, completed.stderr
    assert "CUSTSEG_REDIS_URL" in completed.stderr
    assert "s3cret-pass" not in completed.stderr

"""The stream consumer end to end: order events through `custseg consume`, and parity with batch
scoring.

Run on demand (it prints figures; nothing here is a test):

    .venv/bin/python -m benchmarks.stream                         # 300,000 events
    .venv/bin/python -m benchmarks.stream --batch-size 5000 --consumers 2

It publishes a model with `custseg run` on a generated sample (not timed), starts a throwaway
`redis-server` on a loopback port, pushes generated order events of many customers to the input
stream (1% sent twice, 0.2% malformed; not timed), runs `custseg consume --until-idle 1` in
fresh processes (one consumer of the group, or as many as --consumers says) until the stream is
drained, and prints events/s end to end, from the first read to the last acknowledgement, as the
consumers measured them, and the CPU seconds the consumers and redis-server used. Then it
checks parity: every customer's segment in the state store must equal the published model's
predict over `OrderBook.all_features(as_of)` of the same orders, and the dead letters must be
exactly the malformed events.

Target (issue 15, 2-core machine): at least 20,000 events/s, parity on every customer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import redis

from benchmarks._workspace import scratch_project
from custseg.live.features import OrderBook, feature_matrix
from custseg.live.orders import Order
from custseg.live.scoring import LoadedModel
from custseg.live.state_store import read_segment
from custseg.sample import generate_sample_data
from tests.redis_server import running_redis

BIN = Path(sys.executable).parent
AS_OF = dt.date(2020, 1, 1)
FIRST_DAY = dt.date(2018, 1, 1).toordinal()
PREFIX = "bench"
STREAM = "bench:orders"


def publish_model(root: Path, data_dir: Path) -> Path:
    """`custseg run` on 2,000 generated customers; the published model file."""
    generate_sample_data(data_dir, n_customers=2000, seed=7)
    completed = subprocess.run(
        [str(BIN / "custseg"), "run", "--data-dir", str(data_dir), "--project-dir", str(root)]
        + ["--as-of-date", AS_OF.isoformat(), "--json"],
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise SystemExit(f"custseg run failed:\n{completed.stderr[-3000:]}")
    return Path(json.loads(completed.stdout)["model_path"])


def generate_events(n_events: int, n_customers: int, seed: int) -> tuple[list, list[Order], int]:
    """Events (field dicts, in stream order), the distinct orders, and the malformed count.

    Customers' order counts are skewed (a few buy often); dates run up to 40 days past the
    as-of date, so some orders do not count yet.
    """
    rng = random.Random(seed)
    weights = [rng.paretovariate(1.5) for _ in range(n_customers)]
    customers = rng.choices(range(n_customers), weights=weights, k=n_events)
    events: list[dict[str, str]] = []
    orders: list[Order] = []
    malformed = 0
    for number, customer in enumerate(customers):
        roll = rng.random()
        if roll < 0.002:
            events.append({"customer_id": f"c{customer}", "order_id": f"bad{number}",
                           "order_date": "2019-13-01", "revenue": "10"})  # fmt: skip
            malformed += 1
            continue
        if roll < 0.012 and orders:
            events.append(rng.choice(orders).to_fields())  # sent twice
            continue
        day = dt.date.fromordinal(FIRST_DAY + rng.randrange(AS_OF.toordinal() + 40 - FIRST_DAY))
        cents = int(rng.lognormvariate(9, 1))
        order = Order(f"c{customer}", f"o{number}", day, Decimal(cents).scaleb(-2))
        orders.append(order)
        events.append(order.to_fields())
    return events, orders, malformed


def push(client: redis.Redis, events: list[dict[str, str]]) -> None:
    for start in range(0, len(events), 10_000):
        with client.pipeline(transaction=False) as pipe:
            for fields in events[start : start + 10_000]:
                pipe.xadd(STREAM, fields)
            pipe.execute()


def consume(url: str, model_path: Path, batch_size: int, consumers: int) -> dict:
    """Run ``consumers`` `custseg consume` processes of one group until the stream is drained;
    their figures summed, the time from the first read to the last commit of any of them."""
    children = [
        subprocess.Popen(
            [str(BIN / "custseg"), "consume", "--redis-url", url, "--stream", STREAM]
            + ["--prefix", PREFIX, "--model", str(model_path), "--as-of-date", AS_OF.isoformat()]
            + ["--batch-size", str(batch_size), "--until-idle", "1", "--json"]
            + ["--consumer", f"bench-{number}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for number in range(1, consumers + 1)
    ]
    results = []
    for child in children:
        out, err = child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"custseg consume failed:\n{err[-3000:]}")
        results.append(json.loads(out))
    seconds = max(r["last_commit"] for r in results) - min(r["first_read"] for r in results)
    total = {key: sum(r[key] for r in results) for key in ("events", "batches", "retries")}
    total["segment_changes"] = sum(r["segment_changes"] for r in results)
    return {**total, "seconds": seconds, "events_per_second": total["events"] / seconds}


def server_cpu_seconds(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def check_parity(client: redis.Redis, model_path: Path, orders: list[Order]) -> tuple[int, int]:
    """Customers whose live segment equals batch scoring, and customers checked."""
    book = OrderBook()
    for order in orders:
        book.add(order)
    rows = list(book.all_features(AS_OF))
    model = LoadedModel.from_file(model_path)
    expected = model.segment_ids(feature_matrix(rows)).tolist()
    equal = 0
    for row, segment_id in zip(rows, expected, strict=True):
        live = read_segment(client, PREFIX, row.customer_id)
        if live is not None and (live.segment_id, live.count_orders) == (
            segment_id,
            row.count_orders,
        ):
            equal += 1
    return equal, len(rows)


def measure(program: str, model_path: Path, events: list, orders: list, malformed: int,
            batch_size: int, consumers: int) -> None:  # fmt: skip
    with running_redis(program) as server:
        client = redis.Redis(host=server.host, port=server.port)
        push(client, events)
        server_before = server_cpu_seconds(client)
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        stats = consume(server.url, model_path, batch_size, consumers)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        consumer_cpu = (children.ru_utime - children_before.ru_utime) + (
            children.ru_stime - children_before.ru_stime
        )
        server_cpu = server_cpu_seconds(client) - server_before
        print(
            f"{consumers} consumer(s), batches of {batch_size:,}: {stats['events']:,} events in "
            f"{stats['seconds']:.2f} s = {stats['events_per_second']:,.0f} events/s end to end "
            f"(target 20,000); {stats['segment_changes']:,} segment changes, "
            f"{stats['retries']} batches retried; CPU: consumers {consumer_cpu:.1f} s "
            f"(with start-up and the idle second), redis-server {server_cpu:.1f} s",
            flush=True,
        )
        equal, checked = check_parity(client, model_path, orders)
        dead = client.xlen(f"{PREFIX}:dead_letters")
        pending = client.xpending(STREAM, "custseg-consumers")["pending"]
        print(
            f"  parity with batch scoring: {equal:,} of {checked:,} customers equal; dead "
            f"letters {dead:,} (malformed sent: {malformed:,}); pending {pending}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--consumers",
        type=int,
        action="append",
        help="consumer processes of the group (repeatable; default: 1)",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    program = shutil.which("redis-server")
    if program is None:
        raise SystemExit("redis-server not found: apt-get install -y redis-server")
    root = scratch_project()
    try:
        with tempfile.TemporaryDirectory(prefix="custseg-stream-") as folder:
            model_path = publish_model(root, Path(folder) / "data")
            events, orders, malformed = generate_events(args.events, args.customers, args.seed)
            print(
                f"{len(events):,} events of {args.customers:,} customers ({len(orders):,} "
                f"orders, {malformed:,} malformed, the rest sent twice)",
                flush=True,
            )
            for consumers in args.consumers or [1]:
                measure(program, model_path, events, orders, malformed, args.batch_size, consumers)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

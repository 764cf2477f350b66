"""Latency and throughput of `custseg serve` on loopback, under an open-loop load.

Run on demand (it prints figures; nothing here is a test):

    .venv/bin/python -m benchmarks.serve                    # publishes a sample model first
    .venv/bin/python -m benchmarks.serve --model ml_pipeline/models/segment_model.json
    .venv/bin/python -m benchmarks.serve --seconds 10

It starts `custseg serve` (one uvicorn process, no access log) against a published model, then
sends requests at fixed rates over a fixed number of keep-alive connections: request i is due
at ``start + i / rate`` whether or not earlier ones have been answered (open loop), and its
latency runs from that due time to the last byte of the answer, so a server that falls behind
is charged for the queue it builds (no coordinated omission). The load generator is plain
asyncio on raw HTTP/1.1, in one process beside the server on the same two cores.

Targets (issue 15): p99 under 10 ms for one customer at 200 requests/s; a batch of 1,000
customers under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks._workspace import scratch_project

BIN = Path(sys.executable).parent


@dataclass
class Outcome:
    """The latencies (seconds) and failures of one load level."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def publish_sample_model(folder: Path) -> Path:
    """Generate 1,000 customers and publish a model from them with `custseg run`."""
    data = folder / "data"
    subprocess.run(
        [str(BIN / "custseg"), "generate-sample", "--out", str(data), "--customers", "1000",
         "--quiet"],
        check=True,
    )  # fmt: skip
    project = scratch_project()
    subprocess.run(
        [str(BIN / "custseg"), "run", "--data-dir", str(data), "--project-dir", str(project),
         "--quiet"],
        check=True,
    )  # fmt: skip
    return project / "ml_pipeline" / "models" / "segment_model.json"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(model: Path, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [str(BIN / "custseg"), "serve", "--model", str(model), "--port", str(port), "--quiet"]
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("custseg serve did not become ready")


def request_bytes(port: int, body: dict) -> bytes:
    payload = json.dumps(body).encode("utf-8")
    head = (
        f"POST /v1/score HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode("ascii") + payload


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    """Send one request on a keep-alive connection; read the whole answer; return its status."""
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def open_loop(
    port: int, raw: bytes, rate: float, seconds: float, connections: int
) -> Outcome:
    """Send ``rate`` requests a second for ``seconds`` over ``connections`` connections."""
    outcome = Outcome()
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    count = int(rate * seconds)
    clock = time.perf_counter  # not loop.time(): uvloop's counts whole milliseconds
    start = clock() + 0.05

    async def one(due: float) -> None:
        await asyncio.sleep(max(0.0, due - clock()))
        reader, writer = await pool.get()
        try:
            status = await exchange(reader, writer, raw)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            outcome.errors += 1
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        else:
            if status != 200:
                outcome.errors += 1
            outcome.latencies.append(clock() - due)
        pool.put_nowait((reader, writer))

    await asyncio.gather(*(one(start + i / rate) for i in range(count)))
    outcome.elapsed = clock() - start
    while not pool.empty():
        _, writer = pool.get_nowait()
        writer.close()
    return outcome


def run(load: Any) -> Outcome:
    """Run the load generator on uvloop when installed (its timers wake closer to the due
    times than asyncio's own loop, which would otherwise count as the server's latency)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(load)
    return uvloop.run(load)


def feature_body(n: int, seed: int = 0) -> dict:
    rng = random.Random(seed)
    return {
        "customers": [
            {
                "customer_id": f"c{i}",
                "recency_days": rng.randint(0, 365),
                "orders": rng.randint(1, 40),
                "revenue": round(rng.uniform(10, 5000), 2),
            }
            for i in range(n)
        ]
    }


def order_body(n: int, orders_each: int = 10, seed: int = 0) -> dict:
    rng = random.Random(seed)
    customers = []
    for i in range(n):
        orders = [
            {
                "order_id": f"o{j}",
                "order_date": f"2019-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "revenue": f"{rng.uniform(5, 500):.2f}",
            }
            for j in range(orders_each)
        ]
        customers.append({"customer_id": f"c{i}", "orders": orders})
    return {"input": "orders", "as_of_date": "2020-01-01", "customers": customers}


def report(name: str, rate: float, connections: int, outcome: Outcome) -> None:
    done = len(outcome.latencies)
    print(
        f"  {name:<30}{rate:>7.0f}/s{connections:>6}{done:>8}"
        f"{done / outcome.elapsed if outcome.elapsed else 0:>10.1f}"
        f"{outcome.percentile(0.50) * 1000:>9.2f}{outcome.percentile(0.99) * 1000:>9.2f}"
        f"{max(outcome.latencies, default=0) * 1000:>9.2f}{outcome.errors:>8}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="a published model (default: publish one)")
    parser.add_argument("--seconds", type=float, default=5.0, help="per load level")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="custseg-bench-serve-"))
    try:
        model = args.model or publish_sample_model(scratch)
        port = free_port()
        server = start_server(model, port)
        try:
            levels = [
                ("1 customer", feature_body(1), [100, 200, 500], args.connections),
                ("batch of 1,000 customers", feature_body(1000), [5, 10, 20], 4),
                ("1,000 customers' orders (10 each)", order_body(1000), [2, 5], 4),
            ]
            print(
                f"custseg serve on 127.0.0.1 (one uvicorn process), {args.seconds:.0f} s per level;"
                " latency in ms from each request's due time"
            )
            print(
                f"  {'request':<30}{'rate':>9}{'conns':>6}{'done':>8}{'req/s':>10}"
                f"{'p50':>9}{'p99':>9}{'max':>9}{'errors':>8}"
            )
            for name, body, rates, connections in levels:
                raw = request_bytes(port, body)
                run(open_loop(port, raw, 20, 1, connections))  # warm-up
                for rate in rates:
                    outcome = run(open_loop(port, raw, rate, args.seconds, connections))
                    report(name, rate, connections, outcome)
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

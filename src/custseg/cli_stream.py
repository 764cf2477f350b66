"""``custseg consume``: live segments from a Redis stream of orders.

Registered on the ``custseg`` group by :mod:`custseg.cli`; a thin layer over
:mod:`custseg.stream`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from custseg.cli_errors import errors_reported
from custseg.cli_options import (
    CONFIG_OPTION,
    EXIT_CODES_HELP,
    JSON_OPTION,
    QUIET_OPTION,
    options,
    setting,
)
from custseg.live.state_store import DEFAULT_PREFIX
from custseg.stream.config import (
    DEFAULT_REDIS_URL,
    REDIS_URL_ENV,
    ConsumerConfig,
    RedisUnavailableError,
    redis_client,
)
from custseg.stream.state import DEFAULT_GROUP, DEFAULT_STREAM

CONSUME_EXIT_CODES_HELP = EXIT_CODES_HELP.replace(
    "; 130 interrupted (Ctrl-C, SIGTERM).",
    ";\n9 Redis cannot be reached (see --reconnect-timeout). Ctrl-C and SIGTERM stop the "
    "consumer\nafter the batch in progress; it exits 0.",
)
_DEFAULTS = ConsumerConfig()


@click.command(epilog=CONSUME_EXIT_CODES_HELP)
@options(
    CONFIG_OPTION,
    click.option(
        "--redis-url",
        envvar=REDIS_URL_ENV,
        default=DEFAULT_REDIS_URL,
        show_default=True,
        help=f"Redis to read and write (env {REDIS_URL_ENV}; a password belongs there, never in "
        "a file: redis://:PASSWORD@host:6379/0, rediss:// for TLS).",
    ),
    click.option("--stream", default=DEFAULT_STREAM, show_default=True, help="Input stream."),
    click.option("--group", default=DEFAULT_GROUP, show_default=True, help="Consumer group."),
    click.option(
        "--consumer",
        default=_DEFAULTS.consumer,
        show_default=True,
        help="This consumer's name in the group; keep it across restarts so that a restarted "
        "consumer finishes its own pending events first.",
    ),
    click.option(
        "--redis-prefix",
        "--prefix",
        "prefix",
        default=DEFAULT_PREFIX,
        show_default=True,
        help="Prefix of the keys and streams written (state store, changes, dead letters).",
    ),
    click.option(
        "--model",
        "model_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Model file to score with (default: the project's published model); reloaded "
        "when a run publishes a new one.",
    ),
    setting("project_dir"),
    click.option(
        "--as-of-date",
        "as_of_date",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="Orders dated before it count (default: today in UTC plus one day, taken at each "
        "batch, so orders up to and including today count).",
    ),
    click.option(
        "--batch-size",
        type=click.IntRange(1, 100_000),
        default=_DEFAULTS.batch_size,
        show_default=True,
        help="Events read and committed at once.",
    ),
    click.option(
        "--block-ms",
        type=click.IntRange(1, 60_000),
        default=_DEFAULTS.block_ms,
        show_default=True,
        help="How long one read waits for new events (milliseconds).",
    ),
    click.option(
        "--until-idle",
        type=click.FloatRange(0, min_open=True),
        default=None,
        help="Stop after SECONDS without a new event (default: run until stopped).",
    ),
    click.option(
        "--max-events",
        type=click.IntRange(1),
        default=None,
        help="Stop after this many events (default: no limit).",
    ),
    click.option(
        "--claim-idle-ms",
        type=click.IntRange(1),
        default=_DEFAULTS.claim_idle_ms,
        show_default=True,
        help="Take over events another consumer left pending this long (a consumer that died).",
    ),
    click.option(
        "--reconnect-timeout",
        type=click.FloatRange(0),
        default=_DEFAULTS.reconnect_timeout,
        show_default=True,
        help="Seconds to keep trying when Redis does not answer before giving up (exit 9).",
    ),
    JSON_OPTION,
    QUIET_OPTION,
)
def consume(
    config_file: Path | None,
    redis_url: str,
    model_path: Path | None,
    as_of_date: dt.datetime | None,
    as_json: bool,
    quiet: bool,
    **given: Any,
) -> None:
    """Keep live segments from a Redis stream of orders (needs the extra custseg[stream]).

    Each event is one order, with fields customer_id, order_id, order_date (YYYY-MM-DD) and
    revenue. The consumer keeps every customer's orders in Redis, re-scores the customers a
    batch touched with the published model, writes their segment to <prefix>:segment:<id>
    (read by `custseg serve`), each change to <prefix>:segment_changes and each malformed or
    conflicting event to <prefix>:dead_letters, all with the acknowledgement in one Redis script.

    \b
    Example:
        export CUSTSEG_REDIS_URL=redis://127.0.0.1:6379/0
        custseg consume --project-dir shop &
        redis-cli XADD custseg:orders '*' customer_id c1 order_id o1 \\
            order_date 2024-05-02 revenue 129.90
    """
    from custseg.live.scoring import PublishedModel

    stream_options = {
        name: given.pop(name)
        for name in (
            "stream",
            "group",
            "consumer",
            "prefix",
            "batch_size",
            "block_ms",
            "until_idle",
            "max_events",
            "claim_idle_ms",
            "reconnect_timeout",
        )
    }
    with errors_reported():
        config = ConsumerConfig(
            as_of_date=as_of_date.date() if as_of_date else None, **stream_options
        )
        client = redis_client(redis_url)  # says so when the stream extra is missing
        import redis

        from custseg.config_file import project_model_path
        from custseg.stream.consumer import Consumer

        model = PublishedModel(model_path or project_model_path(config_file, given))
        consumer = Consumer(client, model, config)
        if not quiet and not as_json:
            click.echo(
                f"Consuming {config.stream} as {config.consumer} of group {config.group}; model "
                f"{model.current().version[:12]} ({model.path}); Ctrl-C stops.",
                err=True,
            )
        with _stop_on_signals(consumer):
            try:
                stats = consumer.run()
            except redis.RedisError as error:  # anything the reconnect loop did not handle
                raise RedisUnavailableError(f"Redis refused a command: {error}") from None
    _print_stats(stats, as_json=as_json, quiet=quiet)


@contextlib.contextmanager
def _stop_on_signals(consumer: Any) -> Iterator[None]:
    """Ctrl-C and SIGTERM stop the consumer after the batch in progress."""
    handlers = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        handlers[signum] = signal.signal(
            signum, lambda number, _frame: consumer.stop(signal.Signals(number).name)
        )
    try:
        yield
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def _print_stats(stats: Any, *, as_json: bool, quiet: bool) -> None:
    if as_json:
        payload = dataclasses.asdict(stats)
        payload["model_versions"] = sorted(stats.model_versions)
        payload["seconds"] = stats.seconds
        payload["events_per_second"] = stats.events_per_second
        # first_read and last_commit stay: monotonic clock seconds, comparable between the
        # processes of one machine (several consumers of a group, as benchmarks.stream runs).
        click.echo(json.dumps(payload, indent=2, sort_keys=True))
    elif not quiet:
        click.echo(
            f"Stopped ({stats.stopped_by}): {stats.events:,} events in {stats.batches:,} batches "
            f"({stats.events_per_second:,.0f} events/s), {stats.new_orders:,} new orders, "
            f"{stats.repeats:,} repeats, {stats.dead_letters:,} dead letters, "
            f"{stats.segment_changes:,} segment changes."
        )

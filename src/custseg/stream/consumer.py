"""The consumer loop: read a batch, apply it, commit every effect and the acknowledgement at once.

Delivery is at least once: an event stays pending in the consumer group until the transaction
that applies it acknowledges it (``XACK`` inside the same ``MULTI``/``EXEC`` as the orders, the
segment hashes, the segment changes and the dead letters). A consumer killed before ``EXEC``
changed nothing, and on restart reads its own pending entries first (id ``0``), then new ones
(``>``); entries left pending by a consumer that never came back are taken over with
``XAUTOCLAIM`` once idle for ``claim_idle_ms``. Effects are exactly once: a batch is applied to
the state it read under ``WATCH``, so an event seen twice (redelivered, or sent twice) finds its
order already there and changes nothing, and a batch whose customers another consumer changed
meanwhile is applied again to their new state.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from custseg.errors import masked
from custseg.live.features import OrderBook
from custseg.live.scoring import PublishedModel
from custseg.stream.batch import BatchEffects, apply_batch, customers_of
from custseg.stream.config import ConsumerConfig, RedisUnavailableError
from custseg.stream.events import decode_event
from custseg.stream.state import (
    CustomerState,
    StreamKeys,
    decode_customer,
    decode_orders,
)
from custseg.stream.writes import READ_HASHES, queue_writes

#: Customers whose state and orders are kept in memory (forgotten all at once past this).
KNOWN_CUSTOMERS_MAX = 500_000


@dataclass
class ConsumeStats:
    """What a run of the consumer did."""

    events: int = 0
    new_orders: int = 0
    repeats: int = 0
    dead_letters: int = 0
    segment_changes: int = 0
    customers_scored: int = 0
    batches: int = 0
    # Batches applied again because another consumer changed one of their customers.
    retries: int = 0
    # Monotonic times of the first read that returned events and of the last commit.
    first_read: float | None = None
    last_commit: float | None = None
    stopped_by: str = "drained"
    model_versions: set[str] = field(default_factory=set)

    @property
    def seconds(self) -> float:
        if self.first_read is None or self.last_commit is None:
            return 0.0
        return self.last_commit - self.first_read

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def utc_as_of_date() -> dt.date:
    """Today in UTC plus one day: every order up to and including today counts."""
    return dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)


class Consumer:
    """Reads ``config.stream`` as a member of ``config.group`` until stopped or drained."""

    def __init__(
        self,
        client: redis.Redis,
        model: PublishedModel,
        config: ConsumerConfig,
        *,
        today_plus_one: Callable[[], dt.date] = utc_as_of_date,
    ) -> None:
        self.client = client
        self.model = model
        self.config = config
        self.keys = config.keys
        self.stats = ConsumeStats()
        self._today_plus_one = today_plus_one
        self._stop_reason: str | None = None
        # Since when Redis has not answered (None: it answers).
        self._failing_since: float | None = None
        # Each customer's state as this consumer last committed it, and their orders: used
        # while Redis has the same version, which spares reading the orders again.
        self._states: dict[str, CustomerState] = {}
        self._book = OrderBook()

    def stop(self, reason: str = "stopped") -> None:
        """Stop after the batch in progress (safe from a signal handler)."""
        self._stop_reason = reason

    def ensure_group(self) -> None:
        """Create the group (and the stream) unless they exist; a new group reads from the
        stream's first entry, so events sent before the first start are consumed too."""
        try:
            self.client.xgroup_create(self.config.stream, self.config.group, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def run(self) -> ConsumeStats:
        """Consume until stopped, idle for ``until_idle`` seconds or ``max_events`` are done.

        Raises :class:`RedisUnavailableError` when Redis does not answer for
        ``reconnect_timeout`` seconds; what was committed stays, the rest stays pending.
        """
        while self._stop_reason is None:
            try:
                self._consume()
                break
            except (redis.ConnectionError, redis.TimeoutError) as error:
                now = time.monotonic()
                self._failing_since = self._failing_since or now
                if now - self._failing_since >= self.config.reconnect_timeout:
                    raise RedisUnavailableError(
                        f"Redis did not answer for {self.config.reconnect_timeout:g} s "
                        f"({masked(str(error))}); start it, or point --redis-url (env "
                        "CUSTSEG_REDIS_URL) at it. Uncommitted events stay pending and are "
                        "read again on the next start."
                    ) from None
                time.sleep(min(1.0, self.config.reconnect_timeout / 10))
        if self._stop_reason is not None:
            self.stats.stopped_by = self._stop_reason
        return self.stats

    def _consume(self) -> None:
        """The loop from a (re)connection: own pending entries first, then entries other
        consumers abandoned (claimed now and every ``claim_idle_ms``), then new ones."""
        config = self.config
        self.ensure_group()
        self._failing_since = None  # Redis answers again
        reading_pending = True
        last_event = time.monotonic()
        claimed_at: float | None = None
        while self._stop_reason is None:
            limit = config.batch_size
            if config.max_events is not None:
                limit = min(limit, config.max_events - self.stats.events)
                if limit <= 0:
                    self.stats.stopped_by = "max-events"
                    return
            if not reading_pending and (
                claimed_at is None or time.monotonic() - claimed_at >= config.claim_idle_ms / 1000
            ):
                claimed_at = time.monotonic()
                reading_pending = self._claim_abandoned()
            started = time.monotonic()
            entries = self._read(limit, pending=reading_pending)
            if entries:
                if self.stats.first_read is None:
                    self.stats.first_read = started
                self._process(entries)
                last_event = time.monotonic()
            elif reading_pending:
                reading_pending = False
            elif config.until_idle is not None and started - last_event >= config.until_idle:
                self.stats.stopped_by = "idle"
                return

    def _read(self, count: int, *, pending: bool) -> list[tuple[Any, Any]]:
        config = self.config
        response = self.client.xreadgroup(
            config.group,
            config.consumer,
            {config.stream: "0" if pending else ">"},
            count=count,
            block=None if pending else config.block_ms,
        )
        return list(response[0][1]) if response else []

    def _claim_abandoned(self) -> bool:
        """Take over the entries other consumers left pending past ``claim_idle_ms``."""
        config = self.config
        claimed = False
        start = "0-0"
        while True:
            next_start, entries, *_ = self.client.xautoclaim(
                config.stream,
                config.group,
                config.consumer,
                min_idle_time=config.claim_idle_ms,
                start_id=start,
                count=config.batch_size,
            )
            claimed = claimed or bool(entries)
            start = next_start.decode() if isinstance(next_start, bytes) else str(next_start)
            if start == "0-0":
                return claimed

    def _process(self, entries: list[tuple[Any, Any]]) -> None:
        events = [
            decode_event(event_id.decode() if isinstance(event_id, bytes) else event_id, raw)
            for event_id, raw in entries
        ]
        customers = customers_of(events)
        customer_keys = [self.keys.customer(customer_id) for customer_id in customers]
        if len(self._states) > KNOWN_CUSTOMERS_MAX:  # start afresh: Redis holds everything
            self._states.clear()
            self._book = OrderBook()
        while True:
            model = self.model.current()
            as_of = self.config.as_of_date or self._today_plus_one()
            with self.client.pipeline(transaction=True) as pipe:
                try:
                    states = self._read_states(pipe, customers, customer_keys)
                    effects = apply_batch(events, self._book, states, model, as_of)
                    pipe.multi()
                    queue_writes(pipe, effects, self.keys, self.config.group)
                    pipe.execute()
                except BaseException as error:
                    # Not committed: what the batch did in memory must not outlive it.
                    for customer_id in customers:
                        self._book.forget(customer_id)
                        self._states.pop(customer_id, None)
                    if not isinstance(error, redis.WatchError):
                        raise
                    self.stats.retries += 1
                    continue
            break
        self._states.update(effects.states)
        self._count(effects, model.version)

    def _read_states(
        self, pipe: Any, customers: list[str], customer_keys: list[str]
    ) -> dict[str, CustomerState]:
        """The customers' states, watched until the batch commits, their orders in the book:
        the ones this consumer holds at the version Redis has as held, the others read (their
        orders in one round trip)."""
        if not customers:
            return {}
        pipe.watch(*customer_keys)
        states: dict[str, CustomerState] = {}
        unknown: list[str] = []
        for customer_id, key, raw in zip(
            customers, customer_keys, pipe.mget(customer_keys), strict=True
        ):
            known = self._states.get(customer_id)
            state = decode_customer(key, raw)
            if known is not None and known.version == state.version:
                state = known
            elif state.version > 0:
                unknown.append(customer_id)
            else:
                self._book.restore(customer_id, {})
            states[customer_id] = state
        if unknown:
            order_keys = [self.keys.orders(customer_id) for customer_id in unknown]
            hashes = pipe.eval(READ_HASHES, len(order_keys), *order_keys)
            for customer_id, key, flat in zip(unknown, order_keys, hashes, strict=True):
                self._book.restore(customer_id, decode_orders(key, flat))
        return states

    def _count(self, effects: BatchEffects, model_version: str) -> None:
        stats = self.stats
        stats.batches += 1
        stats.events += len(effects.event_ids)
        stats.new_orders += effects.new_orders
        stats.repeats += effects.repeats
        stats.dead_letters += len(effects.rejected)
        stats.segment_changes += len(effects.changes)
        stats.customers_scored += len(effects.segments)
        stats.last_commit = time.monotonic()
        stats.model_versions.add(model_version)


def persisted_orders(client: redis.Redis, keys: StreamKeys, customer_id: str) -> dict:
    """A customer's orders as persisted (order id -> (date ordinal, revenue)); empty if none."""
    key = keys.orders(customer_id)
    return decode_orders(key, [x for pair in client.hgetall(key).items() for x in pair])

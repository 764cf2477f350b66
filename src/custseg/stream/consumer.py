"""The consumer loop: read a batch, apply it, commit every effect and the acknowledgement at once.

Delivery is at least once: an event stays pending in the consumer group until the script that
applies it acknowledges it (``XACK`` inside the same script as the orders, the segment hashes,
the segment changes and the dead letters; :mod:`custseg.stream.writes`). A consumer killed
before that script ran changed nothing, and on restart reads its own pending entries first,
then new ones (``>``); entries left pending by a consumer that never came back are taken over
with ``XAUTOCLAIM`` once idle for ``claim_idle_ms``. Effects are exactly once: a batch is
applied to the customers' state as last read or written, and committed only if Redis still
holds that state, so an event seen twice (redelivered, or sent twice) finds its order already
there and changes nothing, and a batch whose customers another consumer changed meanwhile is
applied again to their new state.

Redis and this process work side by side: while Redis runs one batch's script, the consumer
applies and scores the next batch (read, with the customers it does not hold, before the
script was sent). The next batch builds on the customers as the running script leaves them;
if that script writes nothing (another consumer changed one of its customers), both batches
are applied again to the customers read anew.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from custseg.errors import masked
from custseg.live.features import as_of_counting_today
from custseg.live.scoring import PublishedModel
from custseg.stream.batch import BatchEffects, apply_batch, customers_of
from custseg.stream.config import ConsumerConfig, RedisUnavailableError
from custseg.stream.events import Received, Rejected, decode_event
from custseg.stream.state import (
    CustomerState,
    StreamKeys,
    decode_customer,
    decode_orders,
)
from custseg.stream.writes import read_command, write_command

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


@dataclass
class _Batch:
    """Events read and applied in memory, not committed yet."""

    events: list[Received | Rejected]
    customers: list[str]
    effects: BatchEffects
    model_version: str


class Consumer:
    """Reads ``config.stream`` as a member of ``config.group`` until stopped or drained."""

    def __init__(
        self,
        client: redis.Redis,
        model: PublishedModel,
        config: ConsumerConfig,
        *,
        today_plus_one: Callable[[], dt.date] = as_of_counting_today,
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
        # Every customer this consumer read or wrote, as it last read or wrote them (orders
        # included); a batch is committed only if Redis still holds that state.
        self._states: dict[str, CustomerState] = {}
        # Events read (committed or not), for --max-events.
        self._events_read = 0

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
        """The loop from a (re)connection, on two connections of its own: one reads, one
        commits. Whatever interrupts it, the customers held in memory are dropped (a script
        in flight may or may not have run) and read again from Redis."""
        self.ensure_group()
        self._failing_since = None  # Redis answers again
        pool = self.client.connection_pool
        reader = pool.get_connection()
        try:
            writer = pool.get_connection()
            try:
                self._loop(reader, writer)
            except BaseException:
                self._states.clear()
                writer.disconnect()  # a reply may be left unread on it
                raise
            finally:
                pool.release(writer)
        except BaseException:
            reader.disconnect()
            raise
        finally:
            pool.release(reader)

    def _loop(self, reader: Any, writer: Any) -> None:
        """Own pending entries first, then entries other consumers abandoned (claimed now and
        every ``claim_idle_ms``), then new ones; each batch applied while Redis commits the
        one before it."""
        config = self.config
        # Own pending entries are read after this id; None: reading new entries.
        pending_after: str | None = "0"
        last_event = time.monotonic()
        claimed_at: float | None = None
        current: _Batch | None = None  # applied, not sent
        while True:
            limit = config.batch_size
            if config.max_events is not None:
                limit = min(limit, config.max_events - self._events_read)
            if self._stop_reason is not None or limit <= 0:
                if current is not None:
                    self._commit(reader, writer, current)
                if limit <= 0:
                    self.stats.stopped_by = "max-events"
                return
            if pending_after is None and (
                claimed_at is None or time.monotonic() - claimed_at >= config.claim_idle_ms / 1000
            ):
                if current is not None:  # nothing of ours pending but what is claimed
                    self._commit(reader, writer, current)
                    current = None
                claimed_at = time.monotonic()
                if self._claim_abandoned():
                    pending_after = "0"
            started = time.monotonic()
            entries = self._read(reader, limit, pending_after, block=current is None)
            if not entries:
                if current is not None:  # nothing more now: commit what is in hand
                    self._commit(reader, writer, current)
                    current = None
                elif pending_after is not None:
                    pending_after = None
                elif config.until_idle is not None and started - last_event >= config.until_idle:
                    self.stats.stopped_by = "idle"
                    return
                continue
            if self.stats.first_read is None:
                self.stats.first_read = started
            if pending_after is not None:
                pending_after = entries[-1][0]
            self._events_read += len(entries)
            with _cyclic_gc_paused():
                events = [decode_event(event_id, raw) for event_id, raw in entries]
                if current is None:
                    if len(self._states) > KNOWN_CUSTOMERS_MAX:  # start afresh: Redis holds all
                        self._states.clear()
                    current = self._prepare(reader, events)
                else:
                    current = self._overlap(reader, writer, current, events)
            last_event = time.monotonic()

    def _overlap(self, reader: Any, writer: Any, current: _Batch, events: list) -> _Batch:
        """Commit ``current`` while applying ``events`` (the batch after it), which builds on
        ``current``'s customers as its script leaves them. Returns the new batch, applied."""
        customers = customers_of(events)
        self._load(reader, customers)  # before the script: what it reads is not in flight
        writer.send_command(*write_command(current.effects, self.keys, self.config.group))
        try:
            following = self._apply(events, customers)
        finally:
            committed = self._committed(writer, current)
        if committed:
            return following
        for customer_id in customers:
            self._states.pop(customer_id, None)
        self._commit(reader, writer, self._prepare(reader, current.events))
        return self._prepare(reader, events)

    def _prepare(self, reader: Any, events: list) -> _Batch:
        customers = customers_of(events)
        self._load(reader, customers)
        return self._apply(events, customers)

    def _apply(self, events: list, customers: list[str]) -> _Batch:
        model = self.model.current()
        as_of = self.config.as_of_date or self._today_plus_one()
        try:
            effects = apply_batch(events, self._states, model, as_of)
        except BaseException:
            # Not committed: what the batch did in memory must not outlive it.
            for customer_id in customers:
                self._states.pop(customer_id, None)
            raise
        return _Batch(events, customers, effects, model.version)

    def _commit(self, reader: Any, writer: Any, batch: _Batch) -> None:
        """Commit ``batch`` now; applied again to its customers read anew until it commits."""
        while True:
            writer.send_command(*write_command(batch.effects, self.keys, self.config.group))
            if self._committed(writer, batch):
                return
            batch = self._prepare(reader, batch.events)

    def _committed(self, writer: Any, batch: _Batch) -> bool:
        """The sent script's answer: committed (counted), or refused because another consumer
        changed one of the batch's customers (whose state is then dropped, to be read anew)."""
        if writer.read_response() == 1:
            self._count(batch.effects, batch.model_version)
            return True
        self.stats.retries += 1
        for customer_id in batch.customers:
            self._states.pop(customer_id, None)
        return False

    def _load(self, reader: Any, customers: Sequence[str]) -> None:
        """Read the customers this consumer does not hold: state and orders, one round trip."""
        unknown = [customer_id for customer_id in customers if customer_id not in self._states]
        if not unknown:
            return
        keys = self.keys
        customer_keys = [keys.customer(customer_id) for customer_id in unknown]
        order_keys = [keys.orders(customer_id) for customer_id in unknown]
        reader.send_command(*read_command(customer_keys, order_keys))
        found = reader.read_response()
        for position, customer_id in enumerate(unknown):
            raw, flat = found[2 * position], found[2 * position + 1]
            state = decode_customer(customer_keys[position], raw or None)
            state.orders = decode_orders(order_keys[position], flat)
            self._states[customer_id] = state

    def _read(
        self, reader: Any, count: int, pending_after: str | None, *, block: bool
    ) -> list[tuple[str, Any]]:
        """Up to ``count`` entries: own pending ones after ``pending_after``, else new ones
        (waiting up to ``block_ms`` for one when ``block``)."""
        config = self.config
        command = ["XREADGROUP", "GROUP", config.group, config.consumer, "COUNT", count]
        if pending_after is None and block:
            command += ["BLOCK", config.block_ms]
        command += ["STREAMS", config.stream, pending_after or ">"]
        reader.send_command(*command)
        response = reader.read_response()
        if not response:
            return []
        streams = response.values() if isinstance(response, dict) else (s[1] for s in response)
        entries = [entry for stream_entries in streams for entry in stream_entries]
        if entries and isinstance(entries[0][0], bytes):
            return [(event_id.decode(), raw) for event_id, raw in entries]
        return [(str(event_id), raw) for event_id, raw in entries]

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
            start = _text(next_start)
            if start == "0-0":
                return claimed

    def _count(self, effects: BatchEffects, model_version: str) -> None:
        stats = self.stats
        stats.batches += 1
        stats.events += len(effects.event_ids)
        stats.new_orders += effects.new_orders
        stats.repeats += effects.repeats
        stats.dead_letters += len(effects.rejected)
        stats.segment_changes += effects.changes
        stats.customers_scored += effects.segments
        stats.last_commit = time.monotonic()
        stats.model_versions.add(model_version)


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a batch is read and applied.

    A batch allocates hundreds of thousands of small objects, and the collector would walk the
    young ones every 700 allocations: a quarter of the consumer's time, measured. Paused, it
    runs once after the batch. What the consumer keeps (orders, states) forms no cycles, so
    memory is freed as before, by reference counting.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def persisted_orders(client: redis.Redis, keys: StreamKeys, customer_id: str) -> dict:
    """A customer's orders as persisted (order id -> (date ordinal, revenue)); empty if none."""
    key = keys.orders(customer_id)
    return decode_orders(key, [x for pair in client.hgetall(key).items() for x in pair])

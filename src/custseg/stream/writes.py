"""A batch's reads and writes as one Redis script each, whatever the batch size.

:data:`WRITE` commits a batch: it first checks that every customer the batch writes still has
the ``customer`` key text the consumer read or wrote last (so that nothing another consumer of
the group wrote meanwhile is overwritten; on a difference it writes nothing and answers 0),
then writes every customer's state, new orders, segment hash and segment change, the dead
letters, and acknowledges every event of the batch. A script runs whole or not at all, so a
consumer killed at any instant leaves a batch either committed with its acknowledgement or not
at all (and still pending). Its first argument is MessagePack (thousands of small writes cost
one argument to pack and one to parse); dead letters follow as separate arguments, each field
one argument, as they came. :data:`READ` reads customers the consumer
does not hold: their ``customer`` key and their orders.

Scripts are sent whole (``EVAL``, not ``EVALSHA``), so a server that lost its script cache
still runs them. The keys are named inside the argument, not declared, so this needs a single
Redis server, not a Redis Cluster (a batch's keys span hash slots anyway).
"""

from __future__ import annotations

from typing import Any

import msgpack

from custseg.stream.batch import SEGMENT_HASH_FIELDS, BatchEffects
from custseg.stream.events import dead_letter_fields
from custseg.stream.state import StreamKeys

# ARGV[1], in MessagePack: {"customer": key prefix, "orders": ..., "segment": ...,
#   "changes": stream, "dead": stream, "stream": input stream, "group": group,
#   "fields": segment hash fields,
#   "writes": [[customer id, expected text or false, new text, [order id, value, ...],
#               segment values or false, change fields or false], ...],
#   "acks": [[event id, ...], ...], "dead_counts": [arguments per dead letter, ...]}
# ARGV[2...]: the dead letters' fields, one after the other.
WRITE = """
local batch = cmsgpack.unpack(ARGV[1])
local customer, orders, segment = batch.customer, batch.orders, batch.segment
local writes, fields = batch.writes, batch.fields
for _, write in ipairs(writes) do
  if redis.call('GET', customer .. write[1]) ~= write[2] then
    return 0
  end
end
local hash = {}
for _, write in ipairs(writes) do
  local id = write[1]
  redis.call('SET', customer .. id, write[3])
  local new_orders = write[4]
  for start = 1, #new_orders, 2000 do
    redis.call('HSET', orders .. id, unpack(new_orders, start, math.min(start + 1999, #new_orders)))
  end
  local values = write[5]
  if values then
    for i, name in ipairs(fields) do
      hash[2 * i - 1] = name
      hash[2 * i] = values[i]
    end
    redis.call('HSET', segment .. id, unpack(hash))
  end
  if write[6] then
    redis.call('XADD', batch.changes, '*', unpack(write[6]))
  end
end
local position = 2
for _, count in ipairs(batch.dead_counts) do
  redis.call('XADD', batch.dead, '*', unpack(ARGV, position, position + count - 1))
  position = position + count
end
for _, ids in ipairs(batch.acks) do
  redis.call('XACK', batch.stream, batch.group, unpack(ids))
end
return 1
"""
# For each KEYS pair (customer key, orders key): the customer key's value and the orders hash
# as HGETALL returns it (one round trip for a batch's customers).
READ = """
local found = {}
for i = 1, #KEYS, 2 do
  found[#found + 1] = redis.call('GET', KEYS[i]) or ''
  found[#found + 1] = redis.call('HGETALL', KEYS[i + 1])
end
return found
"""
#: Events acknowledged per XACK of the script at most (Lua's unpack has a stack limit).
ACKS_PER_COMMAND = 2000


def write_command(effects: BatchEffects, keys: StreamKeys, group: str) -> list[Any]:
    """The command (``EVAL WRITE 0 ...``) that commits ``effects`` and acknowledges them."""
    ids = effects.event_ids
    dead = [dead_letter_fields(rejected, keys.stream) for rejected in effects.rejected]
    batch = {
        "customer": keys.customer(""),
        "orders": keys.orders(""),
        "segment": keys.segment(""),
        "changes": keys.segment_changes,
        "dead": keys.dead_letters,
        "stream": keys.stream,
        "group": group,
        "fields": SEGMENT_HASH_FIELDS,
        "writes": effects.writes,
        "acks": [
            ids[start : start + ACKS_PER_COMMAND] for start in range(0, len(ids), ACKS_PER_COMMAND)
        ],
        "dead_counts": [len(fields) for fields in dead],
    }
    return ["EVAL", WRITE, 0, msgpack.packb(batch), *(value for fields in dead for value in fields)]


def read_command(customer_keys: list[str], order_keys: list[str]) -> list[Any]:
    """The command (``EVAL READ ...``) that reads these customers."""
    keys = [key for pair in zip(customer_keys, order_keys, strict=True) for key in pair]
    return ["EVAL", READ, len(keys), *keys]

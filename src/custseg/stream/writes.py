"""A batch's reads and writes as few Redis commands, whatever the batch size.

Queued between ``MULTI`` and ``EXEC`` (see :mod:`custseg.stream.consumer`): one ``EVAL`` of
:data:`WRITE` whose single argument is a JSON list of every write of the batch (the customers'
states, their new orders, their segment hashes, the segment changes and the acknowledgement of
every event), so that thousands of small writes cost one argument to pack and one reply to parse,
then one ``XADD`` per dead letter (whose original fields may be bytes that JSON cannot carry).
Scripts are sent whole (``EVAL``, not ``EVALSHA``): a server that lost its script cache cannot
fail one command of the transaction while the others apply. The keys are named inside the
argument, not declared, so this needs a single Redis server, not a Redis Cluster (a batch's keys
span hash slots anyway).
"""

from __future__ import annotations

import json
from typing import Any

from custseg.stream.batch import BatchEffects
from custseg.stream.events import dead_letter_fields
from custseg.stream.state import StreamKeys, encode_customer

# ARGV[1]: a JSON list of writes, each [command, key, [arguments]]: 'S' SET key value, 'H' HSET
# key field value ..., 'X' XADD key * field value ..., 'A' XACK key group id ...
WRITE = """
local writes = cjson.decode(ARGV[1])
for _, write in ipairs(writes) do
  local command, key, args = write[1], write[2], write[3]
  if command == 'S' then
    redis.call('SET', key, args[1])
  elseif command == 'H' then
    redis.call('HSET', key, unpack(args))
  elseif command == 'X' then
    redis.call('XADD', key, '*', unpack(args))
  else
    redis.call('XACK', key, unpack(args))
  end
end
return #writes
"""
# Every hash of KEYS, as HGETALL returns them (one round trip for a batch's customers).
READ_HASHES = """
local hashes = {}
for i, key in ipairs(KEYS) do
  hashes[i] = redis.call('HGETALL', key)
end
return hashes
"""
#: Arguments per command of the script at most (Lua's unpack has a stack limit).
ARGS_PER_WRITE = 2000


def queue_writes(pipe: Any, effects: BatchEffects, keys: StreamKeys, group: str) -> None:
    """Queue every effect of the batch and its acknowledgement on ``pipe`` (in ``MULTI``)."""
    writes: list[list[Any]] = []

    def add(command: str, key: str, args: list[str]) -> None:
        for start in range(0, len(args), ARGS_PER_WRITE):
            writes.append([command, key, args[start : start + ARGS_PER_WRITE]])

    for customer_id, state in effects.states.items():
        writes.append(["S", keys.customer(customer_id), [encode_customer(state)]])
    for customer_id, values in effects.new_order_values.items():
        add("H", keys.orders(customer_id), [x for pair in values.items() for x in pair])
    for segment, event_id in effects.segments:
        fields = [*segment.to_hash().items(), ("event_id", event_id)]
        writes.append(["H", keys.segment(segment.customer_id), [x for p in fields for x in p]])
    for change in effects.changes:
        writes.append(["X", keys.segment_changes, [x for p in change.items() for x in p]])
    ids = effects.event_ids
    for start in range(0, len(ids), ARGS_PER_WRITE):
        writes.append(["A", keys.stream, [group, *ids[start : start + ARGS_PER_WRITE]]])
    pipe.eval(WRITE, 0, json.dumps(writes, ensure_ascii=False, separators=(",", ":")))
    for rejected in effects.rejected:
        pipe.xadd(keys.dead_letters, dead_letter_fields(rejected, keys.stream))

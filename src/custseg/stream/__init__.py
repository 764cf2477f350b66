"""The stream consumer (``custseg consume``): order events from a Redis stream, live segments
back to Redis, each batch's effects applied at once.

``events`` reads an event into an order (or the reason it cannot) and writes the entries of the
output and dead-letter streams, ``state`` names the Redis keys and encodes each customer's
persisted orders, ``batch`` applies a batch of events to the customers' state and scores the
customers it touched (no Redis there), and ``consumer`` is the loop: read (own pending entries
first), apply, and commit every effect with the acknowledgement in one Redis script.
"""

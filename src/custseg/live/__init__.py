"""Live segmentation: the published model applied to orders as they happen.

``orders`` reads and checks one order (an event, a request), ``features`` keeps each customer's
orders and computes the model's features from them exactly as the ``customer_features`` dbt
model does, and ``scoring`` holds the published model, reloading it when a run publishes a new
one. The scoring service (``custseg serve``) and the stream consumer (``custseg consume``) are
built on these three.
"""

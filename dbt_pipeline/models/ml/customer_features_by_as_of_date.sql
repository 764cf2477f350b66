{#-
    Every customer's features at every as-of date of a backfill (int_backfill_as_of_dates), in
    one set-based pass: the orders placed before each date, aggregated exactly as
    customer_features does for the run's as-of date (the shared macro customer_features_as_of).
    A customer appears at a date only once they have ordered before it. Empty outside a
    backfill.
-#}

{{ customer_features_as_of(
    orders=ref('int_sales_lines_aggregated_to_orders'),
    as_of_dates=ref('int_backfill_as_of_dates'),
    customers=ref('dim_customer'),
) }}

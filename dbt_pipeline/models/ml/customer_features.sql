{#-
    Per-customer behaviour as of the as-of date: the features the ML step clusters on
    (recency_days, count_orders, lifetime_revenue, avg_order_value) and the measures the mart
    reports, and the purchase days the data's purchase rhythm (the usual gap between purchases,
    which the names' absolute rules measure recency in) is computed from. Only customers with
    at least one order before the as-of date appear: a customer who never bought has no
    behaviour to segment.

    The ML step reads these columns by name and type: the model's contract (customer_features.yml)
    holds them, so counts and day spans are cast to one type on every engine. The columns are
    computed by the macro customer_features_as_of, which customer_features_by_as_of_date (the
    features at every past as-of date of a backfill) shares: one definition of the features.
-#}

{{ customer_features_as_of(
    orders=ref('int_sales_lines_aggregated_to_orders'),
    as_of_dates=ref('int_as_of_date'),
    customers=ref('dim_customer'),
) }}

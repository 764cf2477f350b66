{#-
    The id of an order: an order is one customer's transaction, and the source system reuses
    transaction ids across customers, so the id joins both with '|' ("17850|16679"). Staging
    writes it per line and the order aggregation per order, with this one definition.

    Ids are free text, and a customer id may itself hold '|': customer "A|" with transaction
    "1" and customer "A" with transaction "|1" would both be "A||1". So a backslash is written
    before each '|' and each backslash of the customer id ("A\||1" and "A||1"): the first '|'
    without a backslash before it ends the customer id, and the order id names one pair. Ids
    without '|' or '\' (the usual ones) are joined unchanged. chr(92) is the backslash on every
    engine (a literal '\' means one character in DuckDB and PostgreSQL, an escape in Spark).
-#}
{% macro order_id(customer_id, transaction_id) -%}
    {%- set backslash = "chr(92)" -%}
    {%- set escaped_backslashes = dbt.replace(
        customer_id, backslash, dbt.concat([backslash, backslash])) -%}
    {%- set escaped = dbt.replace(
        escaped_backslashes, "'|'", dbt.concat([backslash, "'|'"])) -%}
    {{ dbt.concat([escaped | trim, "'|'", transaction_id]) }}
{%- endmacro %}

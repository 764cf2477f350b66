{#-
    The id of an order: an order is one customer's transaction, and the source system reuses
    transaction ids across customers, so the id joins both with '|' ("17850|16679"). Staging
    writes it per line and the order aggregation per order, with this one definition.
-#}
{% macro order_id(customer_id, transaction_id) -%}
    {{ dbt.concat([customer_id, "'|'", transaction_id]) }}
{%- endmacro %}

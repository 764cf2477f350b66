{#-
    Who is about to lapse: every customer of the latest as-of date of the history who is not
    At-Risk (Lapsing) yet, with the probability of being At-Risk at the next as-of date, scored
    in SQL with the move model `custseg moves` publishes (seed move_model_terms): a multinomial
    logistic regression whose terms are ln(1 + feature) standardized with the model's scaler and
    a one-hot term per current segment; the logit of each next state is its intercept plus the
    sum of coefficient * term, the probabilities their softmax. The drivers are the three terms
    with the largest positive contribution (coefficient * term) to the At-Risk logit, ties in
    the model's term order. Equal to Python's MoveModel customer by customer (checked by
    `custseg moves` before it publishes). Empty until a move model is published, or when the
    model never saw a customer move into At-Risk.
-#}
{%- set at_risk_segment_id = 1 %}
{%- set double = type_amount() %}

with

memberships as (

    select * from {{ ref('segment_memberships') }}

),

terms as (

    select * from {{ ref('move_model_terms') }}

),

latest as (

    select max(as_of_date) as as_of_date from memberships

),

customers as (

    select
        memberships.customer_id,
        memberships.segment_id,
        memberships.segment_name,
        memberships.recency_days,
        memberships.count_orders,
        memberships.avg_order_value,
        memberships.lifetime_revenue

    from memberships
    inner join latest
        on memberships.as_of_date = latest.as_of_date

),

term_values as (

    -- Each customer's value of every term of every next state.
    select
        customers.customer_id,
        terms.next_state,
        terms.term_index,
        terms.term,
        terms.coefficient,
        case
            when terms.term = 'intercept' then cast(1 as {{ double }})
            when terms.term = 'recency_days'
                then
                    (ln(1 + cast(customers.recency_days as {{ double }})) - terms.scaler_mean)
                    / terms.scaler_scale
            when terms.term = 'count_orders'
                then
                    (ln(1 + cast(customers.count_orders as {{ double }})) - terms.scaler_mean)
                    / terms.scaler_scale
            when terms.term = 'avg_order_value'
                then
                    (ln(1 + cast(customers.avg_order_value as {{ double }})) - terms.scaler_mean)
                    / terms.scaler_scale
            when
                terms.term = {{ dbt.concat([
                    "'current_segment_'",
                    "cast(customers.segment_id as " ~ dbt.type_string() ~ ")",
                ]) }}
                then cast(1 as {{ double }})
            else cast(0 as {{ double }})
        end as term_value

    from customers
    cross join terms

),

logits as (

    select
        customer_id,
        next_state,
        sum(coefficient * term_value) as logit

    from term_values
    group by customer_id, next_state

),

shifted as (

    -- Shifted by each customer's largest logit, so that no exp overflows.
    select
        customer_id,
        next_state,
        exp(logit - max(logit) over (partition by customer_id)) as weight

    from logits

),

probabilities as (

    select
        customer_id,
        next_state,
        weight / sum(weight) over (partition by customer_id) as probability

    from shifted

),

at_risk as (

    select
        customer_id,
        probability

    from probabilities
    where next_state = {{ at_risk_segment_id }}

),

contributions as (

    select
        customer_id,
        term_index,
        term,
        coefficient * term_value as contribution

    from term_values
    where
        next_state = {{ at_risk_segment_id }}
        and term != 'intercept'
        and coefficient * term_value > 0

),

ranked_contributions as (

    select
        customer_id,
        term,
        contribution,
        row_number() over (
            partition by customer_id
            order by contribution desc, term_index asc
        ) as driver_rank

    from contributions

),

drivers as (

    select
        customer_id,
        max(case when driver_rank = 1 then term end) as driver_1_term,
        max(case when driver_rank = 1 then contribution end) as driver_1_contribution,
        max(case when driver_rank = 2 then term end) as driver_2_term,
        max(case when driver_rank = 2 then contribution end) as driver_2_contribution,
        max(case when driver_rank = 3 then term end) as driver_3_term,
        max(case when driver_rank = 3 then contribution end) as driver_3_contribution

    from ranked_contributions
    where driver_rank <= 3
    group by customer_id

),

final as (

    select
        latest.as_of_date,
        cast(
            row_number() over (order by at_risk.probability desc, customers.customer_id asc)
            as integer
        ) as at_risk_rank,
        customers.customer_id,
        cast(customers.segment_id as integer) as segment_id,
        customers.segment_name,
        cast(at_risk.probability as {{ double }}) as at_risk_probability,
        customers.recency_days,
        customers.count_orders,
        customers.avg_order_value,
        customers.lifetime_revenue,
        drivers.driver_1_term,
        cast(drivers.driver_1_contribution as {{ double }}) as driver_1_contribution,
        drivers.driver_2_term,
        cast(drivers.driver_2_contribution as {{ double }}) as driver_2_contribution,
        drivers.driver_3_term,
        cast(drivers.driver_3_contribution as {{ double }}) as driver_3_contribution

    from customers
    inner join at_risk
        on customers.customer_id = at_risk.customer_id
    left join drivers
        on customers.customer_id = drivers.customer_id
    cross join latest
    where customers.segment_id != {{ at_risk_segment_id }}

)

select * from final
order by at_risk_rank

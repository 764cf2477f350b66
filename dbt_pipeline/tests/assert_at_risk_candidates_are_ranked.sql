{#-
    fct_at_risk_candidates ranks customers by their probability of being At-Risk next (rank 1
    the most likely) and lists each customer's drivers strongest first: fails for every row
    whose probability exceeds the one ranked just before it, whose drivers are out of order or
    leave a gap, and for a customer already At-Risk (Lapsing), id 1 (the model's own target, see
    fct_at_risk_candidates.sql), who cannot be a candidate.
-#}
with

candidates as (

    select
        *,
        lag(at_risk_probability) over (order by at_risk_rank) as previous_probability

    from {{ ref('fct_at_risk_candidates') }}

)

select
    at_risk_rank,
    customer_id,
    at_risk_probability,
    previous_probability

from candidates
where
    at_risk_probability > previous_probability
    or segment_id = 1
    or driver_2_contribution > driver_1_contribution
    or driver_3_contribution > driver_2_contribution
    or (driver_1_term is null and driver_2_term is not null)
    or (driver_2_term is null and driver_3_term is not null)

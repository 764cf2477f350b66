{#-
    SQL scoring (customer_segment_scores) must give every customer of the published
    customer_segments seed the same segment as Python did. Returns the customers where the two
    disagree. When the seed is empty (large runs score in the warehouse only) there is nothing
    to compare.
-#}
select
    seed.customer_id,
    seed.segment_id as python_segment_id,
    scores.segment_id as sql_segment_id

from {{ ref('customer_segments') }} as seed
left join {{ ref('customer_segment_scores') }} as scores
    on seed.customer_id = scores.customer_id
where scores.segment_id is null or scores.segment_id <> seed.segment_id

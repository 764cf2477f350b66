"""dbt: the in-process dbt runner (:mod:`~custseg.dbt.runner`) and the offline documentation build
(:mod:`~custseg.dbt.docs`, ``python -m custseg.dbt.docs``)."""

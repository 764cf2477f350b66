"""dbt: the in-process dbt runner (:mod:`~custseg.dbt.runner`), the header-only placeholders of
the published seeds it writes before every invocation (:mod:`~custseg.dbt.placeholders`,
``python -m custseg.dbt.placeholders``) and the offline documentation build
(:mod:`~custseg.dbt.docs`, ``python -m custseg.dbt.docs``)."""

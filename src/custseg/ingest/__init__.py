"""Ingest: read the user's files, map their columns, check them against the input rules, repair.

The stage's one entry point is :func:`~custseg.ingest.staging.read_and_check`; every warehouse
calls it before it replaces its raw tables (``custseg.warehouses.base.Warehouse.load_raw``).

- :mod:`~custseg.ingest.layout`: the five inputs and their raw tables (only the sales required);
- :mod:`~custseg.ingest.mapping`: your file and column names, delimiters and date formats
  (``[inputs]``); :mod:`~custseg.ingest.date_formats`: the date formats custseg reads;
- :mod:`~custseg.ingest.files`: finding the files, the one SELECT per table;
  :mod:`~custseg.ingest.scans`: how DuckDB reads one file (delimiters, whitespace, Parquet);
- :mod:`~custseg.ingest.read_errors`: why a file cannot be read, to the line;
- :mod:`~custseg.ingest.rules`, :mod:`~custseg.ingest.checks`, :mod:`~custseg.ingest.repairs`:
  the input rules, their checks and the repairs, on :mod:`~custseg.ingest.staged` tables;
- :mod:`~custseg.ingest.invoice_checks`: categories the invoice formula looks up must match,
  amounts must fit dbt's decimals;
- :mod:`~custseg.ingest.staging`: the order of it all.
"""

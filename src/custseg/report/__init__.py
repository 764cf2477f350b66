"""The report: a self-contained offline HTML page of the published segments.

:func:`build_report` draws it from the published model's document, its metrics, the evidence
for k and the ``fct_customer_segments`` mart.
"""

from custseg.report.page import MAX_SCATTER_POINTS, ReportError, build_report, read_json

__all__ = ["MAX_SCATTER_POINTS", "ReportError", "build_report", "read_json"]

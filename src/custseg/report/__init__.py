"""The report: a self-contained offline HTML page of the published segments.

:func:`build_report` draws it from the published model's document, its metrics, the evidence
for k and the ``fct_customer_segments`` mart: :mod:`~custseg.report.data` reads the mart,
:mod:`~custseg.report.sections` and :mod:`~custseg.report.model_card` prepare what each part of
the page shows, :mod:`~custseg.report.charts` draws the SVG charts, and
:mod:`~custseg.report.page` renders ``templates/report.html.j2`` with the inlined
``templates/report.css``.
"""

from custseg.report.data import MAX_SCATTER_POINTS, ReportError, read_json
from custseg.report.page import build_report, report_page

__all__ = ["MAX_SCATTER_POINTS", "ReportError", "build_report", "read_json", "report_page"]

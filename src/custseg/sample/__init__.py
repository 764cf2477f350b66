"""Deterministic sample data laid out like the Marketing Insights dataset, with planted segments.

The generator is split by concern: the shop's categories and products (``products``), the
planted archetypes (``archetypes``), one chunk of customers with their orders and lines
(``chunk``), the marketing spend (``marketing``), the year's days (``days``), the file writers
(``files``) and the entry point that ties them together (``generator``).
"""

from custseg.sample.archetypes import (
    ARCHETYPES,
    default_lines_per_customer,
    min_lines_per_customer,
)
from custseg.sample.generator import SampleDataSummary, generate_sample_data

__all__ = [
    "ARCHETYPES",
    "SampleDataSummary",
    "default_lines_per_customer",
    "generate_sample_data",
    "min_lines_per_customer",
]

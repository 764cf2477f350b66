"""Deterministic sample data laid out like the Marketing Insights dataset, with planted segments."""

from custseg.sample.generator import (
    ARCHETYPES,
    SampleDataSummary,
    default_lines_per_customer,
    generate_sample_data,
    min_lines_per_customer,
)

__all__ = [
    "ARCHETYPES",
    "SampleDataSummary",
    "default_lines_per_customer",
    "generate_sample_data",
    "min_lines_per_customer",
]

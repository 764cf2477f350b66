"""The line of a CSV file a record starts on, for messages, when a quoted value holds a newline.

The loader numbers the records of a file (DuckDB's ``ordinality``, or a staged table's row ids):
the header is record 1, the first data record 2. That is the file's line number as long as
every record is one line. A quoted value holding a line break (``"Bag,\\nlarge"``) makes its
record two lines long, and every later record starts one line further down than its number.

Finding that out costs a pass over the file, so it is done only when a message names a line,
and in two steps: the file's line breaks are counted (a byte count, about 1 s per GB); when
there is one line per record (plus the header), numbers are lines and nothing more is done.
Otherwise the file is read once with Python's csv module, which splits records as DuckDB does
(``"`` quotes, ``""`` inside them, empty lines skipped), and the records starting on a later line
than their number are kept as a short list of steps (one per multi-line record).
"""

from __future__ import annotations

import bisect
import csv
from pathlib import Path

from custseg.ingest.read_errors import MAX_LINE_BYTES

_CHUNK_BYTES = 1 << 24


class PhysicalLines:
    """Maps a record's number (header = 1) to the line of ``path`` it starts on.

    Parameters
    ----------
    path
        A CSV file; any other file keeps record numbers.
    records
        Records the loader read from it, header included (data rows + 1).
    delimiter
        What separates its values (a quote starts a value only after one).
    """

    def __init__(self, path: Path, records: int, delimiter: str = ",") -> None:
        self.path = path
        self.records = records
        self.delimiter = delimiter
        # Record numbers from which records start further down, and by how many lines.
        self._steps: list[int] | None = None
        self._shifts: list[int] = []

    def __call__(self, record: int) -> int:
        """The physical line (1-based) record ``record`` starts on."""
        if self._steps is None:
            self._steps, self._shifts = self._find_steps()
        index = bisect.bisect_right(self._steps, record) - 1
        return record + (self._shifts[index] if index >= 0 else 0)

    def _find_steps(self) -> tuple[list[int], list[int]]:
        if self.path.suffix.lower() == ".parquet":
            return [], []
        try:
            if self._line_count() == self.records:
                return [], []
            return self._scan()
        except (OSError, UnicodeDecodeError, csv.Error):
            return [], []  # the file changed or cannot be read again: keep record numbers

    def _line_count(self) -> int:
        breaks, last = 0, b""
        with open(self.path, "rb") as handle:
            while chunk := handle.read(_CHUNK_BYTES):
                breaks += chunk.count(b"\n")
                last = chunk[-1:]
        return breaks + (1 if last not in (b"\n", b"") else 0)

    def _scan(self) -> tuple[list[int], list[int]]:
        steps: list[int] = []
        shifts: list[int] = []
        limit = csv.field_size_limit()
        csv.field_size_limit(MAX_LINE_BYTES)
        try:
            with open(self.path, encoding="utf-8-sig", newline="") as handle:
                reader = csv.reader(
                    handle, delimiter=self.delimiter, quotechar='"', doublequote=True
                )
                end, record, shift = 0, 0, 0
                for row in reader:
                    start, end = end + 1, reader.line_num
                    if not row:
                        continue  # an empty line: DuckDB skips it too
                    record += 1
                    if start - record != shift:
                        shift = start - record
                        steps.append(record)
                        shifts.append(shift)
        finally:
            csv.field_size_limit(limit)
        return steps, shifts

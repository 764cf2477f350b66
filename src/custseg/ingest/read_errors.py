"""Say exactly why an input file cannot be read: which line, and what is wrong with it.

DuckDB reads every input file. When it gives up, its message may point at the wrong line (its
dialect sniffer reports line 1 for a problem further down), may be generic ("It was not possible
to automatically detect the CSV parsing dialect") and may quote the offending line itself, which
can be megabytes long or hold personal data. So on that error path, and only there, custseg reads
the file once more itself and names the first line that breaks one of these rules:

- the file is UTF-8 (a UTF-8 byte order mark is fine);
- no line is longer than DuckDB's limit of 2,000,000 bytes;
- every row has as many values as the header (a value holding a comma is quoted).

The happy path costs nothing: a file DuckDB reads is never scanned here.
"""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

from custseg.errors import InputDataError

#: DuckDB's ``read_csv`` default ``max_line_size``.
MAX_LINE_BYTES = 2_000_000
_CHUNK_BYTES = 1 << 20
# Characters of a value shown in a message: enough to recognise it, never a whole huge field.
_SHOWN_CHARACTERS = 60


def shown(value: object) -> str:
    """A value for a message: quoted, on one line, cut at 60 characters; ``(empty)`` for none."""
    if value is None or str(value) == "":
        return "(empty)"
    text = str(value)
    if len(text) > _SHOWN_CHARACTERS:
        text = text[:_SHOWN_CHARACTERS] + f"... ({len(text):,} characters)"
    return repr(text)


def check_not_empty(path: Path) -> None:
    """Refuse a file of 0 bytes before DuckDB reads it (DuckDB would invent a ``column0``).

    Raises
    ------
    InputDataError
        Naming the file and what to do.
    """
    if path.stat().st_size == 0:
        raise InputDataError(
            f"{path}: the file is empty (0 bytes, not even a header line). Export it again "
            "with its header and rows."
        )


def read_error(
    path: Path, exc: BaseException, doing: str = "read", delimiter: str = ","
) -> InputDataError:
    """The error to raise when DuckDB could not read ``path``: the exact line when it can be found.

    Parameters
    ----------
    path
        The input file DuckDB was reading.
    exc
        DuckDB's exception.
    doing
        ``read`` or ``loaded``, for the fallback message.
    delimiter
        What separates the values of a text file (one character, or "whitespace").
    """
    problem = None
    if path.suffix.lower() != ".parquet":
        problem = diagnose_csv(path, delimiter if len(delimiter) == 1 else None)
    if problem is not None:
        return InputDataError(f"{path} {problem}")
    return InputDataError(f"{path}: cannot be {doing} ({summarize_duckdb_error(exc)}).")


def summarize_duckdb_error(exc: BaseException) -> str:
    """DuckDB's message without the quoted source line and the reader settings, on one line."""
    lines = [line.strip() for line in str(exc).strip().splitlines()]
    kept = []
    for line in lines:
        if not line or line.startswith(("Original Line:", "Possible", "*", "file =")):
            continue
        if "=" in line and line.split("=")[0].strip().replace("_", "").isalpha():
            continue  # reader settings such as "delimiter = , (Set By User)"
        if line.startswith("LINE "):
            break
        kept.append(line[:300])
        if len(kept) == 2:
            break
    return " ".join(kept) or type(exc).__name__


def diagnose_csv(path: Path, delimiter: str | None = ",") -> str | None:
    """The first line of a CSV file that breaks a reading rule, as ``line N: ...``; else None.

    Rows are compared with the header only for a one-character ``delimiter``.
    """
    try:
        return _scan_bytes(path) or (_scan_rows(path, delimiter) if delimiter else None)
    except OSError:
        return None  # the caller falls back to DuckDB's own message


def _scan_bytes(path: Path) -> str | None:
    """Find the first line that is not UTF-8 or is too long, reading at most up to it."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    line_number = 1
    line_bytes = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                # The decoder may hold up to 3 bytes of the previous chunk: the position is
                # approximate by those bytes, the line is exact unless they straddle a newline.
                start = max(error.start - len(error.object) + len(chunk), 0)
                before = chunk[:start]
                line = line_number + before.count(b"\n")
                column = start - (before.rfind(b"\n") + 1) + 1
                byte = chunk[start : start + 1].hex().upper() or "??"
                return (
                    f"line {line}: not UTF-8 text (byte 0x{byte} at byte {column} of the line). "
                    "Save the file as UTF-8 (in Excel: 'CSV UTF-8'); custseg does not guess "
                    "encodings, as a wrong guess would silently change names and ids."
                )
            position = 0
            while True:
                newline = chunk.find(b"\n", position)
                end = len(chunk) if newline == -1 else newline
                line_bytes += end - position
                if line_bytes > MAX_LINE_BYTES:
                    return (
                        f"line {line_number}: longer than {MAX_LINE_BYTES:,} bytes (a line of "
                        "these exports is under 1,000 bytes). The file is damaged or not a text "
                        "export (e.g. a binary file saved as .csv, or an unclosed quote that "
                        "swallowed the rest of the file); export it again."
                    )
                if newline == -1:
                    break
                line_number += 1
                line_bytes = 0
                position = newline + 1
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return f"line {line_number}: not UTF-8 text (the file ends inside a character)."
    return None


def _scan_rows(path: Path, delimiter: str) -> str | None:
    """Find the first row whose number of values differs from the header's.

    A row is named by the line it starts on: a quoted value may hold line breaks, and a quote
    that is never closed takes every following line into its row.
    """
    limit = csv.field_size_limit()
    csv.field_size_limit(MAX_LINE_BYTES)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=delimiter, quotechar='"', doublequote=True)
            end = 0
            try:
                header = next(reader, None)
                if header is None:
                    return None
                end = reader.line_num
                for row in reader:
                    start, end = end + 1, reader.line_num
                    if row and len(row) != len(header):
                        return (
                            f"line {start}: {len(row)} values where the header has "
                            f"{len(header)}.{_spanning(start, end)} A value that contains a "
                            'comma must be quoted ("Bag, large"); fix or remove the line.'
                        )
            except csv.Error as error:
                start = end + 1
                return (
                    f"line {start}: not valid CSV ({error}).{_spanning(start, reader.line_num)} "
                    "Check the quotes on this line."
                )
    finally:
        csv.field_size_limit(limit)
    return None


def _spanning(start: int, end: int) -> str:
    """Why a row runs over several lines, when it does."""
    if end <= start:
        return ""
    return (
        f" Its values run from line {start} to line {end}: a quoted value holds line breaks, "
        f"or a quote on line {start} is never closed."
    )

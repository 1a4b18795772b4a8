"""Reading a text file line by line with errors that point at the line."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

from rnnpipe.errors import DataFormatError


def read_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line of a UTF-8 file (plain or ``.gz``).

    Line endings (``\\n`` or ``\\r\\n``) and a leading byte-order mark are removed. Bytes that are
    not UTF-8 raise a :class:`DataFormatError` naming the line, instead of a bare
    ``UnicodeDecodeError`` with a byte offset.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, None, "an existing file", "no such file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    bad = raw[error.start : error.end]
                    raise DataFormatError(
                        path, number, "UTF-8 text", f"undecodable bytes {bad!r}"
                    ) from None
                if number == 1:
                    text = text.removeprefix("\ufeff")
                yield number, text.rstrip("\r\n")
    except (gzip.BadGzipFile, EOFError) as error:
        raise DataFormatError(path, None, "a complete gzip file", str(error)) from None

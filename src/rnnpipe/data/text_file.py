"""Reading a text file line by line with errors that point at the line."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Iterator
from pathlib import Path

from rnnpipe.errors import DataFormatError, require_file


def read_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line of a UTF-8 file (plain or ``.gz``).

    Line endings (``\\n`` or ``\\r\\n``) and a leading byte-order mark are removed. Bytes that are
    not UTF-8 raise a :class:`DataFormatError` naming the line, instead of a bare
    ``UnicodeDecodeError`` with a byte offset.
    """
    path = require_file(path)
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
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:  # a cut or damaged archive
        raise DataFormatError(path, None, "a complete gzip file", str(error)) from None


def sha256_of(path: str | Path) -> str:
    """SHA-256 of the file's bytes as stored (for ``.gz``, of the compressed file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def count_lines(path: str | Path) -> int:
    """Lines of text in the file (decompressed for ``.gz``); a last line without ``\\n`` counts."""
    opener = gzip.open if Path(path).suffix == ".gz" else open
    lines, last = 0, b"\n"
    with opener(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")

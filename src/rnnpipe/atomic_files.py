"""Files that appear under their final name only when complete.

Everything rnnpipe writes for a reader (checkpoints, reports, predictions, tables, plots) is
written to a temporary file in the same folder, flushed to disk, then renamed over the final
name (``os.replace``, atomic within a filesystem). A full disk, a file-size limit or a kill
mid-write leaves the previous file, or none, never a truncated one; running out of room is one
line naming the file.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rnnpipe.errors import RnnpipeError

OUT_OF_ROOM = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


@contextmanager
def written_whole(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed to ``path`` once the block ends
    without error, removed otherwise. The folder is made if missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=f".partial{path.suffix}"
    )
    os.close(handle)
    partial = Path(partial)
    try:
        yield partial
        with open(partial, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(partial, path)
    except OSError as error:
        if error.errno in OUT_OF_ROOM:
            raise RnnpipeError(
                f"{path}: expected room to write it, got {os.strerror(error.errno)}; nothing "
                "was written under that name (free some space, then run again)"
            ) from None
        raise
    finally:
        partial.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> Path:
    with written_whole(path) as partial:
        partial.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    with written_whole(path) as partial:
        partial.write_text(text, encoding="utf-8")
    return Path(path)

"""Files appear under their final name only when complete: a training that runs out of room
(here a file-size limit, EFBIG, as a full disk's ENOSPC is reported) stops with one line naming
the checkpoint, and leaves no truncated ``.ckpt`` and no partial file behind."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys

import pytest

from rnnpipe.atomic_files import write_text, written_whole
from rnnpipe.errors import RnnpipeError


def test_a_failed_write_keeps_the_previous_file_whole(tmp_path):
    path = tmp_path / "table.tsv"
    write_text(path, "a\tb\n1\t2\n")
    with pytest.raises(RuntimeError), written_whole(path) as partial:
        partial.write_text("a\tb\n3")
        raise RuntimeError("killed mid-write")
    assert path.read_text() == "a\tb\n1\t2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.tsv"]


def small_file_limit() -> None:
    """In the child: files may not grow past 64 KiB (a checkpoint is larger); the write then
    fails with EFBIG instead of the process being killed by SIGXFSZ."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))


@pytest.mark.slow
def test_a_checkpoint_that_does_not_fit_is_one_line_and_no_file(tmp_path):
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "rnnpipe.cli.train",
            "logger=csv",
            "trainer.max_epochs=1",
            "model.hidden_size=8",
            f"paths.output_dir={tmp_path}/outputs",
            f"paths.tracking_dir={tmp_path}",
        ],  # fmt: skip
        preexec_fn=small_file_limit,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 1
    [error] = [line for line in finished.stderr.splitlines() if line.startswith("error:")]
    [checkpoints] = (tmp_path / "outputs").glob("sentiment/runs/*/checkpoints")
    assert error == (
        f"error: {checkpoints}/epoch000.ckpt: expected room to write it, got File too large; "
        "nothing was written under that name (free some space, then run again)"
    )
    assert list(checkpoints.iterdir()) == []  # no truncated .ckpt, no partial file
    assert "Traceback" not in finished.stderr


def test_running_out_of_room_names_the_file(tmp_path, monkeypatch):
    def full_disk(self, data, encoding=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pathlib.Path.write_text", full_disk)
    with pytest.raises(RnnpipeError, match=r"report\.txt: expected room to write it, got No space"):
        write_text(tmp_path / "report.txt", "x")
    assert list(tmp_path.iterdir()) == []

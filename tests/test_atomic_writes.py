"""Files appear under their final name only when complete: a training that runs out of room
(here a file-size limit, EFBIG, as a full disk's ENOSPC is reported) stops with one line naming
the checkpoint, and leaves no truncated ``.ckpt`` and no partial file behind."""

from __future__ import annotations

import pytest
from fault_injection import train_with_file_size_limit

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


@pytest.mark.slow
def test_a_checkpoint_that_does_not_fit_is_one_line_and_no_file(tmp_path):
    # 64 KiB: less than the checkpoint, more than the logs
    status, errors, stderr = train_with_file_size_limit(
        65536, tmp_path, "logger=csv", "trainer.max_epochs=1", "model.hidden_size=8"
    )
    [checkpoints] = (tmp_path / "outputs").glob("sentiment/runs/*/checkpoints")
    assert (status, errors) == (1, [
        f"error: {checkpoints}/epoch000.ckpt: expected room to write it, got File too large; "
        "nothing was written under that name (free some space, then run again)"
    ])  # fmt: skip
    assert list(checkpoints.iterdir()) == []  # no truncated .ckpt, no partial file
    assert "Traceback" not in stderr


def test_running_out_of_room_names_the_file(tmp_path, monkeypatch):
    def full_disk(self, data, encoding=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pathlib.Path.write_text", full_disk)
    with pytest.raises(RnnpipeError, match=r"report\.txt: expected room to write it, got No space"):
        write_text(tmp_path / "report.txt", "x")
    assert list(tmp_path.iterdir()) == []

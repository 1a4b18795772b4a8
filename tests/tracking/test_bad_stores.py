"""A store rnnpipe cannot use is one line naming it and what to do, before anything trains:
corrupt, written by a newer MLflow, of an older schema, read-only; and a resume into a store
that lacks the run it continues."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fault_injection import train_with_file_size_limit

from rnnpipe.cli import train

pytestmark = pytest.mark.slow

TINY = ("trainer.max_epochs=1", "model.hidden_size=8", "log_model=false")


def real_store(path: Path) -> Path:
    """A new MLflow store, made by another process (this one would keep MLflow's cached, already
    verified store object for the URI and never look at the file again)."""
    made = f"from mlflow import MlflowClient; MlflowClient('sqlite:///{path}').search_experiments()"
    subprocess.run([sys.executable, "-c", made], check=True, capture_output=True, timeout=120)
    return path


def store_at_schema(path: Path, revision: str) -> Path:
    """A real MLflow store whose schema revision reads ``revision``."""
    with sqlite3.connect(real_store(path)) as database:
        database.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    return path


def test_a_corrupt_store_is_named_with_what_to_do(cli, tmp_path):
    corrupt = b"this is not a database\n" * 100
    (tmp_path / "mlflow.db").write_bytes(corrupt)
    status, _, errors = cli(train.main, *TINY)
    assert (status, errors) == (1, [
        f"error: MLflow store {tmp_path}/mlflow.db: expected an MLflow SQLite database, got a "
        "corrupt or foreign file; move it away (a new store is created in its place) or "
        "restore it from a backup"
    ])  # fmt: skip
    assert (tmp_path / "mlflow.db").read_bytes() == corrupt  # left as it was found


def test_a_store_of_a_newer_mlflow_says_so_and_not_upgrade(cli, tmp_path):
    store_at_schema(tmp_path / "mlflow.db", "ffee00112233")
    status, _, [error] = cli(train.main, *TINY)
    assert status == 1
    assert error == (
        f"error: MLflow store {tmp_path}/mlflow.db: expected a store of this MLflow's schema, got "
        "one written by a newer MLflow (schema ffee00112233); use that MLflow, or another store "
        "(logger.tracking_uri=...)"
    )
    assert "upgrade" not in error


def test_a_store_of_an_older_schema_is_told_to_upgrade(cli, tmp_path):
    store_at_schema(tmp_path / "mlflow.db", "451aebb31d03")  # one of MLflow's first revisions
    status, _, [error] = cli(train.main, *TINY)
    assert status == 1
    assert error.endswith(f"run `mlflow db upgrade sqlite:///{tmp_path}/mlflow.db`")


def test_a_resume_into_a_store_without_its_run_names_both(cli, tmp_path):
    assert cli(train.main, *TINY)[0] == 0
    [last] = (tmp_path / "hydra").glob("checkpoints/last.ckpt")
    other = f"sqlite:///{tmp_path}/elsewhere/mlflow.db"
    status, _, errors = cli(train.main, f"ckpt_path={last}", f"logger.tracking_uri={other}")
    assert status == 1
    [error] = errors
    assert error.startswith(f"error: ckpt_path={last}: expected its MLflow run ")
    assert f"in the store {other}, found none" in error


def test_a_read_only_store_is_named_before_anything_trains(cli, tmp_path):
    store = real_store(tmp_path / "store" / "mlflow.db")
    # immutable: not even root may write it or create SQLite's journal beside it
    subprocess.run(["chattr", "+i", store, store.parent], check=True)
    try:
        status, _, errors = cli(train.main, *TINY, f"logger.tracking_uri=sqlite:///{store}")
    finally:
        subprocess.run(["chattr", "-i", store, store.parent], check=True)
    assert (status, errors) == (1, [
        f"error: MLflow store {store}: expected a store this user can write, got a read-only "
        "one; fix its permissions"
    ])  # fmt: skip


def test_a_store_that_cannot_grow_is_one_line(tmp_path):
    # 100 kB: less than a new store's tables
    status, errors, stderr = train_with_file_size_limit(100_000, tmp_path, *TINY)
    assert (status, errors) == (1, [
        f"error: MLflow store {tmp_path}/mlflow.db: expected to write it, got a disk I/O error (a "
        "full disk, a file-size limit or a failing disk); free some space and run again"
    ]), stderr[-2000:]  # fmt: skip

"""The local MLflow store (``sqlite:///<path>``): created by one process at a time, its bad
states named in one line.

MLflow creates a fresh SQLite store's tables on first use, in every process that finds it empty;
several runs started together against a new store would each run the schema migrations and all
but one fail. :func:`store_lock` serialises that, and moving an alias (compare, then set), on a
file lock beside the database. A tracking server is one process: it serialises its own writes,
and rnnpipe takes no lock for it (README, "Faults and resuming").
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from filelock import FileLock
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sqlalchemy.exc import SQLAlchemyError

from rnnpipe.errors import RnnpipeError

SQLITE = "sqlite:///"


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` tracking URI (None for any other store)."""
    return Path(tracking_uri.removeprefix(SQLITE)) if tracking_uri.startswith(SQLITE) else None


def store_lock(tracking_uri: str):
    """An exclusive lock on a SQLite store (``<db>.lock`` beside it); for a server, none."""
    database = sqlite_path(tracking_uri)
    if database is None:
        return nullcontext()
    database.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(f"{database}.lock")


def open_local_store(tracking_uri: str, writing: bool = True) -> None:
    """Create the SQLite store if it does not exist yet, under :func:`store_lock`, and check that
    this MLflow can use it (``writing``: and write to it); an unusable store is one line naming
    it and what to do."""
    database = sqlite_path(tracking_uri)
    if database is None:
        return
    lock = store_lock(tracking_uri) if writing or not database.exists() else nullcontext()
    with unusable_store_named(database), lock:
        MlflowClient(tracking_uri).search_experiments(max_results=1)
        # SQLite writes a journal beside the file: both must be writable
        writable = os.access(database, os.W_OK) and os.access(database.parent, os.W_OK)
        if writing and not writable:
            raise PermissionError(f"{database} is read-only")


def experiment_id_of(tracking_uri: str, name: str, artifact_location: str | None) -> str:
    """The id of experiment ``name``, created if missing, by one process at a time: runs of a
    new task started together would each find it missing and all but one fail to create it.
    (A server has no lock: there a lost race reads the winner's experiment.)"""
    client = MlflowClient(tracking_uri)
    with store_lock(tracking_uri):
        found = client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return client.create_experiment(name, artifact_location=artifact_location)
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            return client.get_experiment_by_name(name).experiment_id


@contextmanager
def unusable_store_named(database: Path) -> Iterator[None]:
    """MLflow's and SQLite's errors about the store file, as one line naming it."""
    try:
        yield
    except (MlflowException, SQLAlchemyError, sqlite3.Error, OSError) as error:
        raise RnnpipeError(f"MLflow store {database}: {store_problem(database, error)}") from None


def store_problem(database: Path, error: BaseException) -> str:
    """What is wrong with the store, from the error MLflow or SQLite gave."""
    text = str(error)
    if "out-of-date database schema" in text:
        found = text.split("found version ", 1)[1].split(",", 1)[0]
        if found not in known_schema_revisions():
            return (
                f"expected a store of this MLflow's schema, got one written by a newer MLflow "
                f"(schema {found}); use that MLflow, or another store (logger.tracking_uri=...)"
            )
        return (
            f"expected this MLflow's schema, got an older one ({found}); back the file up, "
            f"then run `mlflow db upgrade sqlite:///{database}`"
        )
    if "file is not a database" in text or "malformed" in text:
        return (
            "expected an MLflow SQLite database, got a corrupt or foreign file; move it away "
            "(a new store is created in its place) or restore it from a backup"
        )
    if isinstance(error, PermissionError) or "readonly" in text or "read-only" in text:
        return "expected a store this user can write, got a read-only one; fix its permissions"
    if "disk is full" in text or "No space left" in text or "File too large" in text:
        return "expected room to write, got a full disk; free some space and run again"
    if "disk I/O error" in text:  # how SQLite reports a write past a file-size limit, too
        return (
            "expected to write it, got a disk I/O error (a full disk, a file-size limit or a "
            "failing disk); free some space and run again"
        )
    return f"expected a usable MLflow store, got: {text.splitlines()[0][:200]}"


def known_schema_revisions() -> set[str]:
    """Every schema revision this MLflow's migrations know (older or current)."""
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    script = ScriptDirectory.from_config(_get_alembic_config(db_url=""))
    return {revision.revision for revision in script.walk_revisions()}

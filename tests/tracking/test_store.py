"""One process at a time creates an experiment: runs of a new task started together all find
the one experiment (without the lock, all but one failed to create it)."""

from __future__ import annotations

from multiprocessing import get_context

from mlflow import MlflowClient

from rnnpipe.tracking.store import experiment_id_of

PROCESSES = 6


def create_together(start, store: str, results) -> None:
    start.wait()  # every process asks at the same moment
    try:
        results.put(experiment_id_of(store, "ner", None))
    except Exception as error:  # what a lost race raised, for the assertion to show
        results.put(repr(error))


def test_processes_creating_one_experiment_at_once_all_get_it(tmp_path):
    store = f"sqlite:///{tmp_path}/mlflow.db"
    MlflowClient(store).search_experiments()  # the store exists; the experiment does not
    fork = get_context("fork")
    start, results = fork.Barrier(PROCESSES), fork.Queue()
    processes = [fork.Process(target=create_together, args=(start, store, results))
                 for _ in range(PROCESSES)]  # fmt: skip
    for process in processes:
        process.start()
    ids = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert set(ids) == {MlflowClient(store).get_experiment_by_name("ner").experiment_id}

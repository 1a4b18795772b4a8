"""A run's data inputs survive the race of a parallel multirun: two jobs that read the same
file insert the same MLflow dataset at once, and SQLite refuses the second insert."""

from types import SimpleNamespace

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from rnnpipe.tracking.provenance import log_data_inputs


def test_a_dataset_inserted_by_a_parallel_job_meanwhile_is_linked_not_lost(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.create_experiment("ner")
    other, ours = (client.create_run(experiment).info.run_id for _ in range(2))
    data = tmp_path / "train.txt"
    data.write_text("EU B-ORG\nrejects O\n", encoding="utf-8")

    log_inputs = client.log_inputs
    calls = []

    def racing_log_inputs(run_id, datasets):
        calls.append(run_id)
        if len(calls) == 1:  # the other job inserts the same dataset first: ours is refused
            log_inputs(other, datasets=datasets)
            raise MlflowException(
                "(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, "
                "datasets.name, datasets.digest"
            )
        log_inputs(run_id, datasets=datasets)

    client.log_inputs = racing_log_inputs
    log_data_inputs(SimpleNamespace(experiment=client, run_id=ours), {"train": data})

    assert calls == [ours, ours]
    run = client.get_run(ours)
    [linked] = run.inputs.dataset_inputs
    assert linked.dataset.name == "train.txt"
    assert run.data.tags["rnnpipe.data.train.lines"] == "2"
    assert client.get_run(other).inputs.dataset_inputs[0].dataset.digest == linked.dataset.digest

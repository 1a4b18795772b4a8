"""A resume cannot corrupt what a run already recorded: it restores the run's own config, refuses
a command line that would change what is trained, leaves FINISHED runs alone unless asked, and
``ckpt_path=last`` picks the newest unfinished run on the same data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import SAMPLE_DATA
from mlflow import MlflowClient
from omegaconf import open_dict

from rnnpipe.cli.train import main as train_main
from rnnpipe.cli.train import train
from rnnpipe.errors import RnnpipeError

TINY = ("model.hidden_size=8", "model.embedding_dim=8", "log_model=false", "data.batch_size=64")


@pytest.fixture
def small_reviews(tmp_path) -> Path:
    """The sample's first 60 reviews, as the issue's reproduction uses."""
    lines = (SAMPLE_DATA / "reviews_sample.tsv").read_text().splitlines()[:61]
    path = tmp_path / "s60.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path


def trained(compose_config, *overrides: str, name: str = "first"):
    """A finished run whose directory is where ``ckpt_path=last`` looks: outputs/<task>/runs/."""
    cfg = compose_config(*TINY, *overrides)
    with open_dict(cfg):
        cfg.paths.run_dir = str(Path(cfg.paths.output_dir) / "sentiment" / "runs" / name)
    metrics = train(cfg)
    client = MlflowClient(cfg.logger.tracking_uri)
    experiment = client.get_experiment_by_name("sentiment").experiment_id
    [run] = client.search_runs([experiment], order_by=["attributes.start_time DESC"], max_results=1)
    return cfg, metrics, client, run


def test_a_finished_run_is_not_resumed_unless_asked_and_stays_finished(
    compose_config, small_reviews
):
    cfg, _, client, run = trained(
        compose_config, f"data.path={small_reviews}", "trainer.max_epochs=1"
    )
    checkpoint = Path(cfg.paths.run_dir) / "checkpoints" / "last.ckpt"
    saved = torch.load(checkpoint, weights_only=True)["rnnpipe"]["config"]
    assert saved["data"]["path"] == str(small_reviews)  # the resolved config travels along

    with pytest.raises(RnnpipeError) as caught:
        train(compose_config(*TINY, "ckpt_path=last", f"data.path={small_reviews}"))
    assert str(caught.value).startswith(
        "ckpt_path=last: expected a last.ckpt of an unfinished sentiment run on this data"
    )
    assert str(caught.value).endswith(
        "found none (1 of finished runs: resume.extend=true continues those; "
        "0 of runs on other data)"
    )
    with pytest.raises(RnnpipeError, match=r"which FINISHED; resume.extend=true trains it further"):
        train(compose_config(*TINY, f"ckpt_path={checkpoint}", "trainer.max_epochs=3"))

    # a command line that would change what is trained is refused before anything runs
    with pytest.raises(RnnpipeError) as caught:
        train(compose_config(*TINY, f"ckpt_path={checkpoint}", "resume.extend=true", "seed=7"))
    message = str(caught.value)
    assert message == (
        f"ckpt_path={checkpoint}: seed is 42 in the run this checkpoint continues and 7 on this "
        "command line; a resume keeps its run's config (it may change only trainer.max_epochs, "
        "trainer.max_steps, trainer.max_time, trainer.log_every_n_steps, "
        "trainer.enable_progress_bar, trainer.enable_model_summary)"
    )
    after = client.get_run(run.info.run_id)
    assert after.info.status == "FINISHED"
    assert after.data.params == run.data.params
    assert len(client.search_runs([run.info.experiment_id])) == 1  # nothing new was recorded


def test_extend_restores_the_runs_config_even_when_the_command_line_omits_it(
    compose_config, small_reviews
):
    """The issue's case: the resume command line lacks data.path; the checkpoint has it."""
    cfg, _, client, run = trained(
        compose_config, f"data.path={small_reviews}", "trainer.max_epochs=1"
    )
    checkpoint = Path(cfg.paths.run_dir) / "checkpoints" / "last.ckpt"
    one_epoch = torch.load(checkpoint, weights_only=True)["global_step"]
    train(
        compose_config(
            *TINY, f"ckpt_path={checkpoint}", "resume.extend=true", "trainer.max_epochs=2"
        )
    )
    after = client.get_run(run.info.run_id)
    assert after.info.status == "FINISHED"
    epochs = client.get_metric_history(run.info.run_id, "val/f1")
    assert [m.step for m in epochs] == sorted(m.step for m in epochs) and len(epochs) == 2
    assert after.data.tags["rnnpipe.data.reviews.path"] == str(small_reviews)
    assert torch.load(checkpoint, weights_only=True)["global_step"] == 2 * one_epoch


def test_last_is_the_newest_unfinished_run_on_the_same_data(compose_config, small_reviews):
    cfg_small, _, client, small = trained(
        compose_config, f"data.path={small_reviews}", "trainer.max_epochs=1", name="small"
    )
    cfg_sample, _, _, sample = trained(compose_config, "trainer.max_epochs=1", name="sample")
    for run in (small, sample):  # as if both had been interrupted
        client.set_terminated(run.info.run_id, "FAILED")

    picked = compose_config(
        *TINY, "ckpt_path=last", f"data.path={small_reviews}", "trainer.max_epochs=2"
    )
    train(picked)  # the newest checkpoint is the sample run's: on other data, so not that one
    assert client.get_run(small.info.run_id).info.status == "FINISHED"
    assert client.get_run(sample.info.run_id).info.status == "FAILED"
    assert len(client.get_metric_history(small.info.run_id, "val/f1")) == 2
    assert Path(cfg_small.paths.run_dir) != Path(cfg_sample.paths.run_dir)


def test_a_run_another_process_is_training_is_not_resumed_beside_it(cli, tmp_path):
    assert cli(train_main, "trainer.max_epochs=1", "model.hidden_size=8")[0] == 0
    [last] = (tmp_path / "hydra").glob("checkpoints/last.ckpt")
    run_dir = last.parent.parent
    MlflowClient(f"sqlite:///{tmp_path}/mlflow.db").set_terminated(
        torch.load(last, weights_only=True)["rnnpipe"]["tracking_run_id"], "KILLED"
    )
    holder = subprocess.Popen(  # another rnnpipe-train holding the run's directory
        [sys.executable, "-c", "import sys, time; from filelock import FileLock; "
         "lock = FileLock(sys.argv[1]); lock.acquire(); print('held', flush=True); time.sleep(120)",
         str(run_dir / ".rnnpipe.lock")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline() == "held\n"
        status, _, errors = cli(train_main, f"ckpt_path={last}", "trainer.max_epochs=2")
    finally:
        holder.kill()
        holder.wait()
    assert (status, errors) == (1, [
        f"error: {run_dir}: expected a run directory no other rnnpipe-train is using, got one in "
        "use (the run is training, or another resume of it started first); wait for it to end"
    ])  # fmt: skip
    status, _, errors = cli(train_main, f"ckpt_path={last}", "trainer.max_epochs=2")
    assert (status, errors) == (0, [])  # once the other process is gone, the resume goes on

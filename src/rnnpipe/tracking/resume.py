"""Resuming a training run without corrupting what it already recorded.

A checkpoint carries the resolved config of the run that wrote it. ``ckpt_path=<file>|last``:

* restores that config: what defines the experiment (task, seed, data, model, trainer) comes
  from the checkpoint; the command line may change only :data:`SAFE_TO_CHANGE` (how long to
  train, logging, the progress bar); any other key it sets to another value is refused in one
  line naming the key and both values, before anything is trained or recorded;
* never continues a FINISHED MLflow run unless asked (``resume.extend=true``), and a failed
  resume leaves such a run FINISHED;
* ``last`` is the newest ``last.ckpt`` of the task whose run is unfinished and that read the
  same data as this command line would; it says which, or that there is none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.utilities import rank_zero_only
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from omegaconf import DictConfig, OmegaConf, open_dict

from rnnpipe.config import override_keys
from rnnpipe.errors import RnnpipeError
from rnnpipe.tasks.registry import read_checkpoint
from rnnpipe.tracking.provenance import flatten
from rnnpipe.training.module import CHECKPOINT_KEY

# the parts of a config that define what is trained; the rest (callbacks, logger, paths, tags)
# is about how this process runs and comes from the command line
RESTORED = ("task_name", "seed", "data", "model", "trainer", "optimized_metric", "optimized_mode")
SAFE_TO_CHANGE = (
    "trainer.max_epochs",
    "trainer.max_steps",
    "trainer.max_time",
    "trainer.log_every_n_steps",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
)


@dataclass(frozen=True)
class SavedRun:
    """What a checkpoint says about the run that wrote it."""

    checkpoint: Path
    run_id: str | None  # its MLflow run (None: an untracked run)
    config: dict[str, Any] | None  # its resolved config (None: saved by an older rnnpipe)


def read_saved_run(checkpoint: str | Path) -> SavedRun:
    saved = read_checkpoint(checkpoint)
    entry = saved.get(CHECKPOINT_KEY, {})
    return SavedRun(Path(checkpoint), entry.get("tracking_run_id"), entry.get("config"))


def command_line_keys() -> list[str]:
    """The config keys this process's command line sets (``+a.b=1`` -> ``a.b``)."""
    if not HydraConfig.initialized():
        return []
    return override_keys(HydraConfig.get().overrides.task)


def within(key: str, prefixes: Iterable[str]) -> bool:
    return any(key == p or key.startswith(f"{p}.") for p in prefixes)


def restore_config(cfg: DictConfig, saved: SavedRun) -> DictConfig:
    """``cfg`` with the :data:`RESTORED` parts of the checkpoint's config, but for the
    :data:`SAFE_TO_CHANGE` keys the command line sets; another key it sets to a new value is an
    error. A checkpoint without a config (an older rnnpipe) leaves ``cfg`` as it is."""
    if saved.config is None:
        return cfg
    before = {k: v for k, v in flatten(saved.config).items() if within(k, RESTORED)}
    now = flatten(OmegaConf.to_container(cfg, resolve=True))
    now = {k: v for k, v in now.items() if within(k, RESTORED)}
    given = command_line_keys()
    for key in sorted(set(before) | set(now)):
        changed = before.get(key) != now.get(key)
        if changed and within(key, given) and not within(key, SAFE_TO_CHANGE):
            raise RnnpipeError(
                f"ckpt_path={saved.checkpoint}: {key} is {before.get(key)} in the run this "
                f"checkpoint continues and {now.get(key)} on this command line; a resume keeps "
                f"its run's config (it may change only {', '.join(SAFE_TO_CHANGE)})"
            )
    restored = cfg.copy()
    with open_dict(restored):
        for group in RESTORED:
            if group in saved.config:
                restored[group] = saved.config[group]
        for key in given:
            if within(key, SAFE_TO_CHANGE):
                OmegaConf.update(restored, key, OmegaConf.select(cfg, key), force_add=True)
    return restored


@contextmanager
def run_directory_claimed(run_dir: Path) -> Iterator[None]:
    """Hold ``<run_dir>/.rnnpipe.lock`` while a run trains there: a second process continuing the
    same run (two ``ckpt_path=last`` started together, or a resume of a run still training)
    is refused in one line instead of writing the same checkpoints and MLflow run. In a
    multi-process job only rank 0 holds it; the others share its directory."""
    if rank_zero_only.rank != 0:
        yield
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(run_dir / ".rnnpipe.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RnnpipeError(
            f"{run_dir}: expected a run directory no other rnnpipe-train is using, got one in use "
            f"(the run is training, or another resume of it started first); wait for it to end"
        ) from None
    try:
        yield
    finally:
        lock.release()


def run_status(tracking_uri: str | None, run_id: str | None) -> str | None:
    """The MLflow status of a checkpoint's run (None: untracked, or not in this store)."""
    if not tracking_uri or not run_id:
        return None
    try:
        return MlflowClient(tracking_uri).get_run(run_id).info.status
    except MlflowException:
        return None


def check_may_continue(saved: SavedRun, tracking_uri: str | None, extend: bool) -> str | None:
    """Refuse to continue a FINISHED run unless ``extend``, or a run this store does not hold
    (it would fail inside MLflow after the set-up); its status otherwise."""
    status = run_status(tracking_uri, saved.run_id)
    if status is None and tracking_uri and saved.run_id:
        raise RnnpipeError(
            f"ckpt_path={saved.checkpoint}: expected its MLflow run {saved.run_id} in the store "
            f"{tracking_uri}, found none; resume with the logger.tracking_uri it was trained "
            f"with, or logger=csv to continue without MLflow"
        )
    if status == "FINISHED" and not extend:
        raise RnnpipeError(
            f"ckpt_path={saved.checkpoint}: expected an unfinished run, got MLflow run "
            f"{saved.run_id}, which FINISHED; resume.extend=true trains it further"
        )
    return status


def newest_unfinished(
    cfg: DictConfig, runs_dir: Path, tracking_uri: str | None, extend: bool
) -> SavedRun:
    """``ckpt_path=last``: the newest ``last.ckpt`` under ``runs_dir`` whose run is unfinished
    (or any, with ``extend``) and read the data this command line's config reads."""
    candidates = sorted(runs_dir.glob("**/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
    data = OmegaConf.to_container(cfg.data, resolve=True)
    finished = other_data = 0
    for path in reversed(candidates):
        saved = read_saved_run(path)
        if saved.config is not None and saved.config.get("data") != data:
            other_data += 1
            continue
        if run_status(tracking_uri, saved.run_id) == "FINISHED" and not extend:
            finished += 1
            continue
        return saved
    skipped = ""
    if candidates:
        skipped = (
            f" ({finished} of finished runs: resume.extend=true continues those; "
            f"{other_data} of runs on other data)"
        )
    raise RnnpipeError(
        f"ckpt_path=last: expected a last.ckpt of an unfinished {cfg.task_name} run on this data "
        f"under {runs_dir}, found none{skipped}"
    )

"""Every config composes, and every class named in it can be built."""

from __future__ import annotations

import pytest
from hydra.utils import get_class
from omegaconf import OmegaConf

from rnnpipe.config import CONFIG_DIR
from rnnpipe.config_rules import check_config
from rnnpipe.tasks.registry import BUILT_FROM_RUN_CONFIG, task_spec, task_specs
from rnnpipe.tasks.saved_targets import check_saved_targets

EXPERIMENTS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))
TRAINERS = sorted(p.stem for p in (CONFIG_DIR / "trainer").glob("*.yaml"))
LOGGERS = sorted(p.stem for p in (CONFIG_DIR / "logger").glob("*.yaml"))


def targets(node):
    if OmegaConf.is_dict(node):
        if "_target_" in node:
            yield node._target_
        for value in node.values():
            yield from targets(value)
    elif OmegaConf.is_list(node):
        for value in node:
            yield from targets(value)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_each_experiment_composes_and_resolves(compose_config, experiment):
    cfg = compose_config(f"experiment={experiment}")
    # the MLflow experiment and registered model are named after the task whose classes these are
    spec = task_spec(cfg.task_name)
    assert get_class(cfg.model._target_) is spec.module_class
    assert get_class(cfg.data._target_) in spec.training_datamodules
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert resolved["paths"]["root_dir"] == str(CONFIG_DIR.parent)
    for target in targets(cfg):
        get_class(target)  # every _target_ names a class that exists
    check_config(cfg)  # its values are within their rules
    # what a checkpoint of it carries is on the allowlist, so its runs can be resumed and loaded
    built = {group: resolved[group] for group in BUILT_FROM_RUN_CONFIG}
    check_saved_targets(experiment, built, task_specs().values())


@pytest.mark.parametrize("trainer", TRAINERS)
@pytest.mark.parametrize("logger", LOGGERS)
def test_trainer_and_logger_groups_compose(compose_config, trainer, logger):
    cfg = compose_config(f"trainer={trainer}", f"logger={logger}")
    assert cfg.trainer._target_ == "lightning.pytorch.Trainer"
    OmegaConf.to_container(cfg, resolve=True)


def test_default_experiment_is_sentiment_on_the_bundled_sample(compose_config):
    cfg = compose_config()
    assert cfg.task_name == "sentiment"
    assert cfg.data.path == str(CONFIG_DIR.parent / "data" / "reviews_sample.tsv")
    assert cfg.logger.tracking_uri.startswith("sqlite:///")
    assert cfg.optimized_metric == "val/f1"
    assert cfg.callbacks.model_checkpoint.monitor == "val/f1"


def test_evaluate_and_predict_configs_compose(compose_config):
    cfg = compose_config("model_uri=x.ckpt", "data_path=y.tsv", config_name="evaluate")
    assert cfg.model_uri == "x.ckpt"
    cfg = compose_config("model_uri=models:/rnnpipe-sentiment/1", config_name="predict")
    assert cfg.model_uri == "models:/rnnpipe-sentiment/1"

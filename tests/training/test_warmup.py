"""Warmup: the learning rate rises linearly over n optimizer steps, on top of any scheduler;
the SGD-with-momentum recipe."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from conftest import composed
from hydra.utils import instantiate

from rnnpipe.training.init_from import module_config

BASE, START, STEPS = 0.01, 0.1, 4
WARMUP = (
    "model.warmup={_target_: torch.optim.lr_scheduler.LinearLR, "
    f"start_factor: {START}, end_factor: 1.0, total_iters: {STEPS}}}"
)


def warmed_up(step: int) -> float:
    """lr_s = base * (f_0 + (1 - f_0) * min(s, n) / n)."""
    return BASE * (START + (1 - START) * min(step, STEPS) / STEPS)


class LearningRates(L.Callback):
    """The learning rate each optimizer step is taken with."""

    def __init__(self) -> None:
        self.rates: list[float] = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self.rates.append(trainer.optimizers[0].param_groups[0]["lr"])


def test_each_optimizer_step_takes_the_warmup_formulas_rate():
    small = ("model.hidden_size=4", "model.embedding_dim=4", "data.batch_size=16")
    cfg = composed("experiment=sentiment", WARMUP, f"model.optimizer.lr={BASE}", *small)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    model = instantiate(module_config(cfg.model), **datamodule.model_kwargs())
    rates = LearningRates()
    trainer = L.Trainer(max_steps=STEPS + 2, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, callbacks=[rates])  # fmt: skip
    trainer.fit(model, datamodule=datamodule)
    assert rates.rates == pytest.approx([warmed_up(step) for step in range(STEPS + 2)])


def test_warmup_multiplies_the_rate_the_epoch_scheduler_set():
    cfg = composed("experiment=sentiment", WARMUP, f"model.optimizer.lr={BASE}",
                   "model.scheduler={_target_: torch.optim.lr_scheduler.ReduceLROnPlateau, "
                   "factor: 0.5, patience: 0}")  # fmt: skip
    model = instantiate(
        module_config(cfg.model), vocab_size=10, labels=["negative", "positive"], pad_id=0
    )
    [optimizer], [warmup, plateau] = model.configure_optimizers()
    assert warmup["interval"] == "step" and plateau["monitor"] == "val/loss"
    group = optimizer.param_groups[0]
    for step in range(STEPS):
        assert group["lr"] == pytest.approx(warmed_up(step))
        optimizer.step()
        warmup["scheduler"].step()
    plateau["scheduler"].step(1.0)
    plateau["scheduler"].step(2.0)  # worse: halved
    warmup["scheduler"].step()  # warmed up: leaves the halved rate as it is
    assert group["lr"] == pytest.approx(BASE / 2)
    assert isinstance(plateau["scheduler"], torch.optim.lr_scheduler.ReduceLROnPlateau)


@pytest.mark.parametrize("task", ["sentiment", "ner", "translation", "generation"])
def test_the_sgd_recipe_replaces_any_tasks_optimizer_with_momentum_and_a_decay(task):
    model = composed(f"experiment={task}", "+recipe=sgd_momentum").model
    assert model.optimizer._target_ == "torch.optim.SGD" and model.optimizer.momentum == 0.9
    assert model.scheduler._target_ == "torch.optim.lr_scheduler.ExponentialLR"
    optimizer = instantiate(model.optimizer, params=[torch.nn.Parameter(torch.zeros(2))])
    scheduler = instantiate(model.scheduler, optimizer=optimizer)
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.5 * 0.85)

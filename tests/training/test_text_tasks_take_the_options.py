"""Every text task trains with locked dropout, embedding dropout and a warmup turned on."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from conftest import composed
from hydra.utils import instantiate

from rnnpipe.training.init_from import module_config

OPTIONS = (
    "model.embedding_dropout=0.3",
    "model.locked_dropout=0.3",
    "model.warmup={_target_: torch.optim.lr_scheduler.LinearLR, start_factor: 0.5, total_iters: 2}",
)


@pytest.mark.parametrize(
    "task, overrides",
    [
        ("sentiment", ()),
        ("ner", ()),
        ("translation", ("model.teacher_forcing_ratio=0.5",)),  # its step-by-step decoder too
        ("generation", ()),  # manual optimisation: the warmup is stepped by truncated BPTT
    ],
)
def test_one_training_step_with_every_option_on(task, overrides):
    torch.manual_seed(0)
    cfg = composed(f"experiment={task}", *OPTIONS, *overrides)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    model = instantiate(module_config(cfg.model), **datamodule.model_kwargs())
    trainer = L.Trainer(max_steps=1, limit_train_batches=1, limit_val_batches=0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)  # fmt: skip
    trainer.fit(model, datamodule=datamodule)
    # the warmup moved once per optimizer step (truncated BPTT takes one per chunk): 0.5 -> 1
    steps = trainer.global_step
    assert steps >= 1
    lr = trainer.optimizers[0].param_groups[0]["lr"]
    assert lr == pytest.approx(cfg.model.optimizer.lr * (0.5 + 0.5 * min(steps, 2) / 2))
    assert all(torch.isfinite(p).all() for p in model.parameters())

"""The recipes' fused AdamW (one kernel for every parameter) trains as the per-tensor loop does:
the same loss curve to float tolerance on a tiny run, and the same weights after it."""

import copy

import lightning as L
import pytest
import torch
from conftest import composed
from hydra.utils import instantiate
from omegaconf import OmegaConf

from rnnpipe.training.init_from import build_module


def test_every_recipe_uses_the_fused_adamw():
    for experiment in ("sentiment", "ner", "translation", "generation", "adding", "digits"):
        optimizer = composed(f"experiment={experiment}").model.optimizer
        assert optimizer._target_ == "torch.optim.AdamW" and optimizer.fused is True, experiment


@pytest.mark.learning(seed=0)
def test_fused_adamw_gives_the_loss_curve_of_the_per_tensor_loop(learning_seed):
    cfg = composed("experiment=ner")
    L.seed_everything(learning_seed, verbose=False)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    model = build_module(cfg, datamodule)
    model.hparams.word_dropout = 0.0
    batches = list(datamodule.train_dataloader())[:4] * 3
    curves, weights = {}, {}
    for fused in (True, False):
        trained = copy.deepcopy(model).eval()  # no dropout: the two runs see the same function
        options = {**OmegaConf.to_container(cfg.model.optimizer), "fused": fused, "foreach": False}
        optimizer = instantiate(options, params=trained.parameters())
        curve = []
        for batch in batches:
            _, _, loss = trained._step(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            curve.append(float(loss))
        curves[fused], weights[fused] = curve, trained.state_dict()
    first_pass, third_pass = curves[True][:4], curves[True][8:]
    assert all(
        third < first for first, third in zip(first_pass, third_pass, strict=True)
    )  # it learns
    assert curves[True] == pytest.approx(curves[False], rel=1e-4)
    for name, tensor in weights[True].items():
        torch.testing.assert_close(tensor, weights[False][name], atol=1e-5, rtol=1e-4)

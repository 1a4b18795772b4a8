"""``rnnpipe-average``: one checkpoint, the parameter mean of several of one run's
(:mod:`rnnpipe.tracking.averaging`).

    rnnpipe-train callbacks.model_checkpoint.save_top_k=5            # keep the 5 best
    rnnpipe-average checkpoints=outputs/sentiment/runs/<time>/checkpoints output_path=avg.ckpt
    rnnpipe-average 'checkpoints=[a.ckpt,b.ckpt]' output_path=avg.ckpt
    rnnpipe-evaluate model_uri=avg.ckpt data_path=...
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from rnnpipe.config import CONFIG_DIR
from rnnpipe.errors import reported_in_one_line
from rnnpipe.tracking.averaging import average_checkpoints, run_checkpoints, save_new


def average(cfg: DictConfig) -> Path:
    given = cfg.checkpoints
    references = OmegaConf.to_container(given) if OmegaConf.is_list(given) else [str(given)]
    paths = [path for reference in references for path in run_checkpoints(str(reference))]
    output = save_new(average_checkpoints(paths), cfg.output_path)
    print(f"{output}: the mean of {len(paths)} checkpoints")
    for path in paths:
        print(f"  {path}")
    return output


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="average")
def main(cfg: DictConfig) -> None:
    with reported_in_one_line():
        average(cfg)


if __name__ == "__main__":
    main()

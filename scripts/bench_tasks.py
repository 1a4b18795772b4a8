"""Whole-pipeline speed of every text task, against the same pipeline on PyTorch's own RNNs.

For each task (sentiment, NER, translation, generation) this builds the model its recipe trains
(the real-data recipe where the files are in ``data/raw/``, else the bundled sample's) and its
twin whose recurrent layers are ``nn.RNN`` with the same weights (``scripts/torch_rnn_twin.py``).
Then, alternating the two in every round, it measures what users wait for:

* training: steps/s and tokens/s of Lightning's own loop over a fixed number of steps, data
  loading, loss and optimizer included (the first steps of each round are warm-up);
* validation: seconds for one whole validation epoch (translation decodes all of it);
* decoding (translation: greedy and beam 5; generation: sampling) and serving: inputs/s through
  the pyfunc model's ``predict`` on ``--inputs`` inputs.

Each figure is the median over ``--rounds`` rounds; the ratio is rnnpipe's speed over the
twin's, measured in the same process. Results go to ``bench/results/tasks.json``.

    python scripts/bench_tasks.py                        # every task, real data where present
    python scripts/bench_tasks.py --tasks ner --rounds 5
    python scripts/bench_tasks.py --quick                # a short smoke run
    python scripts/bench_tasks.py --clock cpu --threads 1   # on a machine busy with other work
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from rnnpipe.config import CONFIG_DIR, PROJECT_ROOT
from rnnpipe.tracking.provenance import cpu_model
from rnnpipe.tracking.pyfunc_model import RnnpipeModel
from rnnpipe.training.init_from import build_module

sys.path.insert(0, str(Path(__file__).parent))
from torch_rnn_twin import torch_twin  # noqa: E402

RAW = PROJECT_ROOT / "data" / "raw"
REVIEWS = RAW / "restaurant_reviews" / "Restaurant_Reviews.tsv"
VARIANTS = ("rnnpipe", "nn.RNN")
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


@dataclass(frozen=True)
class Task:
    """How to build a task for the benchmark and what its figures count."""

    name: str
    real: list[str]  # the overrides of the real-data recipe
    real_file: Path  # present: the real recipe runs
    sample: list[str]  # the bundled sample's
    tokens: Callable[[dict[str, Any]], int]  # tokens in a training batch
    inputs: Callable[[Any], pd.DataFrame]  # serving inputs from the datamodule
    decodings: dict[str, dict[str, Any]]  # pyfunc params of each decoding figure


def review_texts(datamodule: Any) -> pd.DataFrame:
    return pd.DataFrame({"text": [review.text for review in datamodule.splits["val"]]})


def sentence_tokens(datamodule: Any) -> pd.DataFrame:
    return pd.DataFrame({"tokens": [list(s.words) for s in datamodule.splits["val"]]})


def source_texts(datamodule: Any) -> pd.DataFrame:
    return pd.DataFrame({"text": [example.pair.source for example in datamodule.splits["val"]]})


def labels(datamodule: Any) -> pd.DataFrame:
    return pd.DataFrame({"label": ["positive", "negative"]})


TASKS = {
    "sentiment": Task(
        "sentiment",
        ["experiment=sentiment_full"],
        REVIEWS,
        ["experiment=sentiment"],
        lambda batch: int(batch["lengths"].sum()),
        review_texts,
        {"predict": {}},
    ),
    "ner": Task(
        "ner",
        ["experiment=ner_conll2003", "data.test_path=null"],
        RAW / "conll2003" / "train.txt",
        ["experiment=ner"],
        lambda batch: int(batch["lengths"].sum()),
        sentence_tokens,
        {"predict": {}},
    ),
    "translation": Task(
        "translation",
        ["experiment=translation_multi30k", "data.test_path=null"],
        RAW / "multi30k" / "train.en.gz",
        ["experiment=translation"],
        lambda batch: int(batch["source_lengths"].sum() + batch["target_lengths"].sum()),
        source_texts,
        {"greedy": {"beam_size": 1}, "beam5": {"beam_size": 5}},
    ),
    "generation": Task(
        "generation",
        ["experiment=generation", f"data.path={REVIEWS}"],
        REVIEWS,
        ["experiment=generation"],
        lambda batch: int(batch["lengths"].sum()),
        labels,
        {"sample": {}},
    ),
}


def build(task: Task, output_dir: str) -> tuple[Any, L.LightningModule, str]:
    """The task's datamodule (set up), its model, and which data it read."""
    real = task.real_file.is_file()
    overrides = [*(task.real if real else task.sample), f"paths.output_dir={output_dir}"]
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    L.seed_everything(0, verbose=False)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    model = build_module(cfg, datamodule)
    return datamodule, model, "real" if real else "sample"


class StepTimer(L.Callback):
    """Times the training steps after ``warmup``, from one batch's start to the next's, so
    that loading each batch counts; also counts their tokens."""

    def __init__(self, warmup: int, tokens: Callable[[dict[str, Any]], int], clock):
        self.warmup, self.count_tokens, self.clock = warmup, tokens, clock
        self.started = self.ended = 0.0
        self.steps = self.tokens = 0

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if batch_idx == self.warmup:
            self.started = self.clock()
        if batch_idx >= self.warmup:
            self.steps += 1
            self.tokens += self.count_tokens(batch)

    def on_train_end(self, trainer, module):
        self.ended = self.clock()


def trainer(**options: Any) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        **options,
    )


def train_figures(
    task: Task, datamodule: Any, model: L.LightningModule, steps: int, warmup: int, clock
) -> dict[str, float]:
    timer = StepTimer(warmup, task.tokens, clock)
    model.train()  # serving left it in eval mode, which Lightning's fit keeps
    fit = trainer(max_steps=warmup + steps, limit_val_batches=0, callbacks=[timer])
    fit.fit(model, datamodule=datamodule)
    seconds = timer.ended - timer.started
    return {
        "train_steps_per_s": timer.steps / seconds,
        "train_tokens_per_s": timer.tokens / seconds,
    }


def validation_figures(datamodule: Any, model: L.LightningModule, clock) -> dict[str, float]:
    started = clock()
    trainer().validate(model, datamodule=datamodule, verbose=False)
    return {"val_seconds_per_epoch": clock() - started}


def serving_figures(
    task: Task, frame: pd.DataFrame, model: L.LightningModule, clock
) -> dict[str, float]:
    pyfunc = RnnpipeModel()
    pyfunc.module = model
    rows = model.request_limits.max_rows  # a request of more is refused by the model
    figures = {}
    for name, params in task.decodings.items():
        started = clock()
        for start in range(0, len(frame), rows):
            pyfunc.predict(None, frame.iloc[start : start + rows], params=params)
        figures[f"{name}_inputs_per_s"] = len(frame) / (clock() - started)
    return figures


def measure(task: Task, args: argparse.Namespace, clock) -> dict[str, Any]:
    """Every figure of both variants, rounds interleaved, medians; and their ratios."""
    with tempfile.TemporaryDirectory() as output_dir:
        datamodule, model, data = build(task, output_dir)
        models = {"rnnpipe": model, "nn.RNN": torch_twin(model)}
        inputs = task.inputs(datamodule)
        frame = inputs.sample(n=args.inputs, replace=True, random_state=0).reset_index(drop=True)
        rounds: dict[str, dict[str, list[float]]] = {v: {} for v in VARIANTS}
        for round_ in range(args.rounds):
            order = VARIANTS if round_ % 2 == 0 else VARIANTS[::-1]
            for variant in order:
                figures = {
                    **train_figures(
                        task, datamodule, models[variant], args.steps, args.warmup, clock
                    ),
                    **validation_figures(datamodule, models[variant], clock),
                    **serving_figures(task, frame, models[variant], clock),
                }
                for name, value in figures.items():
                    rounds[variant].setdefault(name, []).append(value)
                print(f"  {task.name} round {round_ + 1} {variant}: {format_figures(figures)}")
    medians = {v: {k: statistics.median(xs) for k, xs in f.items()} for v, f in rounds.items()}
    ratios = {}
    for name, ours in medians["rnnpipe"].items():
        theirs = medians["nn.RNN"][name]
        # seconds: lower is better; the ratio is always "times faster than the twin"
        ratios[name] = theirs / ours if name.endswith("seconds_per_epoch") else ours / theirs
    return {"task": task.name, "data": data, "figures": medians, "ratio": ratios}


def format_figures(figures: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:,.1f}" for name, value in figures.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per round")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before them")
    parser.add_argument("--inputs", type=int, default=1000, help="serving inputs per figure")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 5 steps, 50 inputs")
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--output", default=str(PROJECT_ROOT / "bench" / "results" / "tasks.json"))
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.steps, args.warmup, args.inputs = 2, 5, 1, 50
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")  # Lightning's advice on workers and loggers, per fit
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    clock = CLOCKS[args.clock]
    results = []
    for name in args.tasks:
        results.append(measure(TASKS[name], args, clock))
        print_result(results[-1])
    report = {
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "clock": args.clock,
        },
        "settings": {k: getattr(args, k) for k in ("rounds", "steps", "warmup", "inputs")},
        "tasks": results,
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {output}\n")
    print(markdown_table(results))


def print_result(result: dict[str, Any]) -> None:
    print(f"\n{result['task']} ({result['data']} data)")
    print(f"  {'figure':<26} {'rnnpipe':>12} {'nn.RNN':>12} {'ratio':>7}")
    for name, ours in result["figures"]["rnnpipe"].items():
        theirs = result["figures"]["nn.RNN"][name]
        print(f"  {name:<26} {ours:>12,.2f} {theirs:>12,.2f} {result['ratio'][name]:>6.2f}x")


def markdown_table(results: list[dict[str, Any]]) -> str:
    """The README's table: one row per task and figure, the twin's and rnnpipe's, the ratio."""
    lines = ["| task | figure | nn.RNN twin | rnnpipe | ratio |", "|---|---|---:|---:|---:|"]
    for result in results:
        for name, ours in result["figures"]["rnnpipe"].items():
            theirs = result["figures"]["nn.RNN"][name]
            task = f"{result['task']} ({result['data']})"
            lines.append(
                f"| {task} | {name} | {theirs:,.2f} | {ours:,.2f} | {result['ratio'][name]:.2f}x |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""Tokens per second of VanillaRNN (each BPTT engine) against PyTorch's nn.RNN.

Every contender runs in this process on the same input with the same weights, interleaved call
by call (in an order that rotates every round), so that drift in the machine's speed hits all of
them alike; each figure is the median over the rounds. Training is forward + backward of
output.sum(); inference runs under inference_mode. The variable-length case feeds nn.RNN a packed
batch (pack_padded_sequence / pad_packed_sequence) and VanillaRNN the same batch with lengths.

    python scripts/bench_rnn.py                  # CPU, all cases -> bench/results/rnn.json
    python scripts/bench_rnn.py --quick          # a short smoke run
    python scripts/bench_rnn.py --device cuda    # against cuDNN
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnpipe.rnn import VanillaRNN
from rnnpipe.tracking.provenance import cpu_model

BASELINE = "nn.RNN"
ENGINES = ("manual", "autograd")


@dataclass(frozen=True)
class Case:
    name: str
    batch: int
    steps: int
    input_size: int
    hidden_size: int
    bidirectional: bool = False
    variable_lengths: bool = False  # lengths drawn from [steps / 4, steps]

    @property
    def tokens(self) -> int:
        return self.batch * self.steps


CASES = [
    Case("sentiment", batch=64, steps=40, input_size=100, hidden_size=128),
    Case("ner-bidirectional", 32, 30, 100, 256, bidirectional=True),
    Case("long", 16, 400, 64, 256),
    Case("latency", 1, 20, 100, 128),
    Case("sentiment-lengths", 64, 40, 100, 128, variable_lengths=True),
    # the NER tagger's character RNN: a batch's ~900 words, a few characters each, both ways
    Case("ner-characters", 900, 16, 25, 25, bidirectional=True, variable_lengths=True),
]

Forward = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]


def contenders(case: Case, device: torch.device) -> dict[str, Forward]:
    """Contender name -> forward(x, lengths) -> output; all with the baseline's weights."""
    builtin = nn.RNN(
        case.input_size, case.hidden_size, bidirectional=case.bidirectional, batch_first=True
    ).to(device)

    def builtin_forward(x, lengths):
        if lengths is None:
            return builtin(x)[0]
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        output = builtin(packed)[0]
        return pad_packed_sequence(output, batch_first=True, total_length=x.shape[1])[0]

    forwards = {BASELINE: builtin_forward}
    for engine in ENGINES:
        rnn = VanillaRNN(
            case.input_size, case.hidden_size, bidirectional=case.bidirectional, bptt=engine
        ).to(device)
        rnn.load_state_dict(builtin.state_dict())
        forwards[engine] = lambda x, lengths, rnn=rnn: rnn(x, lengths=lengths)[0]
    return forwards


CLOCKS = {
    "wall": time.perf_counter,
    "cpu": time.process_time,  # this process's CPU time: blind to other processes' load
}


def seconds(call: Callable[[], object], device: torch.device, clock: Callable[[], float]) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = clock()
    call()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return clock() - start


def measure(
    case: Case, device: torch.device, rounds: int, warmup: int, clock: Callable[[], float]
) -> list[dict]:
    """One row per mode and contender: median milliseconds, tokens/s and speed vs nn.RNN."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(case.batch, case.steps, case.input_size, generator=generator).to(device)
    x.requires_grad_()  # as an embedding's output would
    lengths = None
    if case.variable_lengths:
        lengths = torch.randint(case.steps // 4, case.steps + 1, (case.batch,), generator=generator)
    forwards = contenders(case, device)

    def train(forward: Forward) -> None:
        forward(x, lengths).sum().backward()

    def infer(forward: Forward) -> None:
        with torch.inference_mode():
            forward(x, lengths)

    rows = []
    for mode, run in (("train", train), ("inference", infer)):
        times = {name: [] for name in forwards}
        names = list(forwards)
        for round_ in range(warmup + rounds):
            shift = round_ % len(names)  # rotate the order: no one always runs after the same one
            for name in names[shift:] + names[:shift]:
                forward = forwards[name]
                elapsed = seconds(lambda run=run, forward=forward: run(forward), device, clock)
                if round_ >= warmup:
                    times[name].append(elapsed)
        medians = {name: statistics.median(ts) for name, ts in times.items()}
        for name, median in medians.items():
            rows.append(
                {
                    "case": case.name,
                    "mode": mode,
                    "contender": name,
                    "ms": median * 1e3,
                    "tokens_per_s": case.tokens / median,
                    "speed_vs_nn_rnn": medians[BASELINE] / median,
                }
            )
    return rows


HEADER = f"{'case':<19}{'mode':<11}{'contender':<10}{'ms':>9}{'tokens/s':>12}{'vs nn.RNN':>11}"


def format_row(row: dict) -> str:
    return (
        f"{row['case']:<19}{row['mode']:<11}{row['contender']:<10}{row['ms']:>9.2f}"
        f"{row['tokens_per_s']:>12,.0f}{row['speed_vs_nn_rnn']:>10.2f}x"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--quick", action="store_true", help="3 rounds: a smoke run")
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds (default: 30)")
    parser.add_argument(
        "--threads",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="torch CPU threads (default: the cores this process may run on)",
    )
    parser.add_argument(
        "--cases", nargs="+", choices=[c.name for c in CASES], help="a subset (default: all)"
    )
    parser.add_argument(
        "--clock",
        choices=CLOCKS,
        default="wall",
        help="wall: elapsed time (default); cpu: this process's CPU time, for a machine busy "
        "with other work (use with --threads 1: spinning OpenMP threads count as CPU time)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/rnn.json"))
    args = parser.parse_args(argv)
    if args.clock == "cpu" and args.device != "cpu":
        parser.error("--clock cpu measures CPU work; time a GPU with the wall clock")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA GPU is available here")

    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    rounds, warmup = (3, 1) if args.quick else (args.rounds, 5)
    cases = [c for c in CASES if args.cases is None or c.name in args.cases]
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()
    environment = {
        "torch": torch.__version__,
        "device": str(device),
        "device_name": device_name,
        "threads": torch.get_num_threads(),
        "rounds": rounds,
        "clock": args.clock,
        "load_average_1min_at_start": os.getloadavg()[0],
    }
    print(
        f"torch {torch.__version__} on {device} ({device_name}), "
        f"{torch.get_num_threads()} threads, {args.clock} clock, "
        f"median of {rounds} interleaved rounds, "
        f"load average {environment['load_average_1min_at_start']:.1f}"
    )

    print(HEADER)
    rows = []
    for case in cases:
        case_rows = measure(case, device, rounds, warmup, CLOCKS[args.clock])
        print("\n".join(format_row(row) for row in case_rows), flush=True)
        rows += case_rows

    environment["load_average_1min_at_end"] = os.getloadavg()[0]
    print(f"load average {environment['load_average_1min_at_end']:.1f} at the end")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results = {"environment": environment, "cases": [asdict(c) for c in cases], "results": rows}
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

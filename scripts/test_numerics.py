"""Every learning test (``pytest -m learning``) under other numerics: does it hold on any CPU?

A different CPU (an AMD EPYC against an Intel Xeon) sends MKL down another code path; the float
rounding changes and training takes another route, as a different seed would. So each learning
test runs in these cells, each cell one pytest subprocess:

* ``own seed``: the seed the test names (``@pytest.mark.learning(seed=N)``);
* ``seed S`` for 5 other seeds (``RNNPIPE_TEST_SEED=S``: training and generated data);
* ``MKL_CBWR=COMPATIBLE`` and ``MKL_CBWR=AVX2``: MKL's other code paths, at the own seed;
* ``1 thread`` and ``2 threads`` (OMP/MKL_NUM_THREADS and ``RNNPIPE_TEST_THREADS``, which the
  tests' conftest hands to ``torch.set_num_threads``), at the own seed.

It prints a Markdown table (test x cell: pass/FAIL and seconds) and exits non-zero if any cell
fails. Arguments after ``--`` go to pytest (``-- -k adding`` runs only the adding tests).

    python scripts/test_numerics.py                       # every cell, one at a time
    python scripts/test_numerics.py --jobs 2              # two cells at once
    python scripts/test_numerics.py --cells seeds         # only the seed cells
    python scripts/test_numerics.py --dry-run             # the commands, nothing run
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OTHER_SEEDS = (101, 202, 303, 404, 505)
SEED_VARIABLE = "RNNPIPE_TEST_SEED"
THREADS_VARIABLE = "RNNPIPE_TEST_THREADS"


@dataclass(frozen=True)
class Cell:
    """One column of the table: a name and the environment its pytest runs under."""

    name: str
    kind: str  # seeds | mkl | threads
    env: dict[str, str] = field(default_factory=dict)


def threads(count: int) -> dict[str, str]:
    value = str(count)
    return {"OMP_NUM_THREADS": value, "MKL_NUM_THREADS": value, THREADS_VARIABLE: value}


def cells(seeds: tuple[int, ...] = OTHER_SEEDS) -> list[Cell]:
    """The own seed, each other seed, then MKL's other paths and thread counts at the own seed."""
    return [
        Cell("own seed", "seeds"),
        *(Cell(f"seed {seed}", "seeds", {SEED_VARIABLE: str(seed)}) for seed in seeds),
        Cell("MKL_CBWR=COMPATIBLE", "mkl", {"MKL_CBWR": "COMPATIBLE"}),
        Cell("MKL_CBWR=AVX2", "mkl", {"MKL_CBWR": "AVX2"}),
        Cell("1 thread", "threads", threads(1)),
        Cell("2 threads", "threads", threads(2)),
    ]


def command(report: Path, pytest_args: list[str]) -> list[str]:
    """One cell's pytest: the learning tests only, in this process's Python, one worker."""
    return [
        sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider",
        "-m", "learning", "-q", "--no-header", f"--junitxml={report}", *pytest_args,
    ]  # fmt: skip


def environment(cell: Cell, base: dict[str, str]) -> dict[str, str]:
    """``base`` without any setting a cell makes, then this cell's own."""
    made = {SEED_VARIABLE, THREADS_VARIABLE, "MKL_CBWR", "OMP_NUM_THREADS", "MKL_NUM_THREADS"}
    return {**{k: v for k, v in base.items() if k not in made}, **cell.env}


@dataclass
class Outcome:
    passed: bool
    seconds: float


def read_report(report: Path) -> dict[str, Outcome]:
    """``file::test[params]`` -> its outcome, from pytest's JUnit XML."""
    outcomes = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/")
        name = f"{module}.py::{case.get('name')}"
        failed = any(case.find(tag) is not None for tag in ("failure", "error"))
        skipped = case.find("skipped") is not None
        outcomes[name] = Outcome(passed=not failed and not skipped, seconds=float(case.get("time")))
    return outcomes


@dataclass
class CellResult:
    cell: Cell
    returncode: int
    outcomes: dict[str, Outcome]
    seconds: float
    tail: str


def report_path(cell: Cell, directory: Path) -> Path:
    return directory / f"{cell.name.replace(' ', '_').replace('=', '-')}.xml"


def run_cell(cell: Cell, pytest_args: list[str], directory: Path) -> CellResult:
    report = report_path(cell, directory)
    started = time.monotonic()
    done = subprocess.run(
        command(report, pytest_args),
        cwd=ROOT,
        env=environment(cell, dict(os.environ)),
        capture_output=True,
        text=True,
        check=False,
    )
    outcomes = read_report(report) if report.is_file() else {}
    tail = (done.stdout + done.stderr)[-2000:]
    return CellResult(cell, done.returncode, outcomes, time.monotonic() - started, tail)


def table(results: list[CellResult]) -> str:
    """Markdown: a row per test, a column per cell, ``pass 12s`` / ``FAIL 13s`` / ``-``."""
    tests = sorted({name for result in results for name in result.outcomes})
    lines = [
        "| test | " + " | ".join(r.cell.name for r in results) + " |",
        "|---|" + "---|" * len(results),
    ]
    for name in tests:
        row = []
        for result in results:
            outcome = result.outcomes.get(name)
            if outcome is None:
                row.append("-")
            else:
                row.append(f"{'pass' if outcome.passed else 'FAIL'} {outcome.seconds:.0f}s")
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    lines.append(
        "| (cell, wall) | " + " | ".join(f"{r.seconds:.0f}s rc={r.returncode}" for r in results)
        + " |"
    )  # fmt: skip
    return "\n".join(lines)


def failed(result: CellResult) -> bool:
    """A cell fails if a test in it fails, or its pytest did not run tests to the end."""
    return (
        result.returncode != 0
        or not result.outcomes
        or not all(o.passed for o in result.outcomes.values())
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1, help="cells run at once (default 1)")
    parser.add_argument(
        "--cells",
        nargs="+",
        choices=["seeds", "mkl", "threads"],
        default=["seeds", "mkl", "threads"],
        help="which kinds of cells (default: all)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=list(OTHER_SEEDS))
    parser.add_argument("--output", type=Path, help="also write the table to this file")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(own)

    chosen = [cell for cell in cells(tuple(args.seeds)) if cell.kind in args.cells]
    with tempfile.TemporaryDirectory(prefix="rnnpipe-numerics-") as directory:
        if args.dry_run:
            for cell in chosen:
                settings = " ".join(f"{k}={v}" for k, v in cell.env.items())
                report = report_path(cell, Path(directory))
                print(f"{cell.name}: {settings} {' '.join(command(report, pytest_args))}".strip())
            return 0
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [pool.submit(run_cell, c, pytest_args, Path(directory)) for c in chosen]
            results = []
            for future in futures:
                result = future.result()
                mark = "FAILED" if failed(result) else "ok"
                print(f"{result.cell.name}: {mark} ({result.seconds:.0f}s)", file=sys.stderr)
                results.append(result)
    markdown = table(results)
    print(markdown)
    if args.output:
        args.output.write_text(markdown + "\n", encoding="utf-8")
    bad = [r for r in results if failed(r)]
    for result in bad:
        if not result.outcomes or result.returncode not in (0, 1):
            print(f"\n{result.cell.name} (rc {result.returncode}):\n{result.tail}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

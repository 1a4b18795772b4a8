"""The README's results table, made from the MLflow store, never typed by hand.

A run becomes a row when it was started with ``results_row=<label>`` (training, evaluation or
``rnnpipe-baseline``); the newest finished run of each label wins, a baseline's apart from a
model's, so a baseline given the label of a model's row is the row beside it. ``make results``
prints the table and rewrites it in README.md between the ``results:begin``/``results:end``
markers. A label ``<section>: ...`` belongs instead to the README's
``results:<section>:begin``/``end`` block, which ``make results ARGS="--section <section>"``
rewrites (the memory tasks' table is one).
"""

from __future__ import annotations

import argparse
import re
import statistics
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Run

from rnnpipe.atomic_files import write_text
from rnnpipe.cli.baseline import BASELINE_TAG
from rnnpipe.cli.compare import EXPERIMENT as COMPARISONS
from rnnpipe.config import PROJECT_ROOT
from rnnpipe.tasks.registry import task_specs
from rnnpipe.tracking.seed_groups import SIZE_TAG, group_members, is_group

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
COLUMNS = ("Result", "Data", "Evaluated on", "Metrics", "Training time", "Hardware", "Command",
           "MLflow run")  # fmt: skip


def markers(section: str | None) -> tuple[str, str]:
    """The README markers around a section's table (the main one for None)."""
    if section is None:
        return BEGIN, END
    return f"<!-- results:{section}:begin -->", f"<!-- results:{section}:end -->"


def sections_in(text: str) -> list[str]:
    return re.findall(r"<!-- results:([\w-]+):begin -->", text)


def in_section(label: str, section: str | None, sections: list[str]) -> bool:
    """``label`` belongs to ``section``: it starts with ``<section>:``; the main table takes the
    labels of no section in ``sections``."""
    if section is not None:
        return label.startswith(f"{section}:")
    return not any(label.startswith(f"{name}:") for name in sections)


def row_key(run: Run) -> tuple[str, bool]:
    """What makes a row: its label, and whether it is a baseline's (``rnnpipe-baseline``), so
    a baseline given a model's label sits beside that model's row instead of replacing it."""
    return run.data.tags["rnnpipe.results_row"], BASELINE_TAG in run.data.tags


def results_runs(client: MlflowClient) -> list[Run]:
    """The newest FINISHED run of each row (:func:`row_key`), in label order, a baseline after
    the model of the same label."""
    experiment_ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(
        experiment_ids,
        filter_string="attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=5000,
    )
    newest: dict[tuple[str, bool], Run] = {}
    for run in runs:
        if run.data.tags.get("rnnpipe.results_row") and row_key(run) not in newest:
            newest[row_key(run)] = run
    return [newest[key] for key in sorted(newest)]


def data_cell(tags: dict[str, str]) -> str:
    """Each data file the run read, once, with the roles it played, its lines and SHA-256."""
    roles_by_file: dict[str, list[str]] = {}
    for key in sorted(tags):
        if key.startswith("rnnpipe.data.") and key.endswith(".path"):
            roles_by_file.setdefault(tags[key], []).append(key.split(".")[2])
    cells = []
    for path, roles in roles_by_file.items():
        sha = tags[f"rnnpipe.data.{roles[0]}.sha256"][:12]
        lines = tags[f"rnnpipe.data.{roles[0]}.lines"]
        cells.append(f"`{Path(path).name}` ({', '.join(roles)}; {lines} lines, sha256 {sha})")
    return "<br>".join(cells) or "—"


def evaluated_on(run: Run, folds_tested: int | None = None) -> str:
    """What the run was tested on; ``folds_tested``: how many folds the runs of the group it
    leads tested (several seeds a fold test each fold more than once)."""
    tags, params = run.data.tags, run.data.params
    if "rnnpipe.evaluated_data" in tags:
        name = Path(tags["rnnpipe.evaluated_data"]).name
        return f"`{name}` (rnnpipe-evaluate, never seen in training)"
    test_path = params.get("data.test_path", "None")
    if test_path not in ("None", ""):
        return f"`{Path(test_path).name}`"
    folds = params.get("data.folds", "None")
    if folds not in ("None", ""):
        seed = params.get("data.split_seed")
        if folds == str(folds_tested):  # a group of every fold
            return f"all {folds} folds (stratified, seed {seed}): each review tested once"
        return f"fold {params['data.fold']} of {folds} (stratified, seed {seed})"
    fraction = params.get("data.test_fraction")
    if fraction:
        seed = params.get("data.split_seed", params.get("data.seed"))  # older runs split by seed
        return f"held-out {float(fraction):.0%} (stratified, seed {seed})"
    if params.get("data.val_path"):
        return f"`{Path(params['data.val_path']).name}` (the validation file: no test file given)"
    return "test split"


def folds_tested(runs: list[Run]) -> int:
    """How many distinct folds ``runs`` tested (each run without folds counts as its own)."""
    return len({run.data.params.get("data.fold", run.info.run_id) for run in runs})


def metrics_cell(run: Run) -> str:
    """The task's headline metrics (the rest, losses and per-type scores included, is in
    MLflow), or their ``val/`` twins for a run with no test split (a baseline scored on the
    validation file only); every test metric for a run of a task not registered here. A
    group's: mean ± std over its runs, n and the 95 % interval of the mean."""
    metrics = run.data.metrics
    if is_group(run):  # its metrics are <name>/mean, <name>/std, ...
        metrics = {k.removesuffix("/mean"): v for k, v in metrics.items() if k.endswith("/mean")}
    spec = task_specs().get(run.data.tags.get("rnnpipe.task", ""))
    headline = [metric.name for metric in spec.headline_metrics] if spec else []
    on_val = [name.replace("test/", "val/", 1) for name in headline]
    shown = (
        [name for name in headline if name in metrics]
        or [name for name in on_val if name in metrics]
        or [name for name in sorted(metrics) if name.startswith("test/") and name != "test/loss"]
    )
    if not is_group(run):
        return "<br>".join(f"{name} {metrics[name]:.4f}" for name in shown)
    statistics = run.data.metrics
    return "<br>".join(
        f"{name} {metrics[name]:.4f} ± {statistics[f'{name}/std']:.4f} "
        f"(n = {statistics[f'{name}/n']:.0f}, 95 % CI [{statistics[f'{name}/ci95_low']:.4f}, "
        f"{statistics[f'{name}/ci95_high']:.4f}])"
        for name in shown
    )


def citations(client: MlflowClient, run: Run) -> list[str]:
    """The paired comparisons (``rnnpipe-compare A B``) in which ``run`` is side B, the newest
    against each A: "vs <A's label>: <metric> B - A, its 95 % CI and p"."""
    experiment = client.get_experiment_by_name(COMPARISONS)
    if experiment is None:
        return []
    comparisons = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"params.b_run = '{run.info.run_id}'",
        order_by=["attributes.start_time DESC"],
    )
    cited, against = [], set()
    for comparison in comparisons:
        params, metrics = comparison.data.params, comparison.data.metrics
        decoding = params["a"].partition("#")[2]  # A may be a run's other decoding (compare.py)
        if (params["a_run"], decoding) in against:
            continue
        against.add((params["a_run"], decoding))
        side_a = client.get_run(params["a_run"])
        label = side_a.data.tags.get("rnnpipe.results_row", side_a.info.run_name)
        label = f"{label}, {decoding} decoding" if decoding else label
        method = side_a.data.tags.get(BASELINE_TAG)
        cited.append(
            f"vs {f'{label} baseline ({method})' if method else label}: {params['metric']} "
            f"{metrics['difference']:+.4f}, 95 % CI [{metrics['ci_low']:+.4f}, "
            f"{metrics['ci_high']:+.4f}], p = {metrics['p_value']:.4f}"
        )
    return cited


def label_cell(tags: dict[str, str]) -> str:
    """The row's label; a baseline's (``rnnpipe-baseline``) says so, with its method; a
    group's, how many runs it holds."""
    label = tags["rnnpipe.results_row"]
    method = tags.get(BASELINE_TAG)
    label = f"{label}<br>baseline: {method}" if method else label
    return f"{label}<br>group of {tags[SIZE_TAG]} runs" if SIZE_TAG in tags else label


def duration(seconds: float) -> str:
    """Minutes, or seconds under one (a baseline fits in seconds); — when none was logged."""
    if not seconds:
        return "—"
    return f"{seconds:.1f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def newest_across(clients: list[MlflowClient]) -> list[tuple[MlflowClient, Run]]:
    """Each row's newest results run over several stores (runs made on several machines or
    clones), with the store it is in, in label order."""
    newest: dict[tuple[str, bool], tuple[MlflowClient, Run]] = {}
    for client in clients:
        for run in results_runs(client):
            key = row_key(run)
            if key not in newest or run.info.start_time > newest[key][1].info.start_time:
                newest[key] = (client, run)
    return [newest[key] for key in sorted(newest)]


TRACKING_DIR_OVERRIDE = re.compile(r"\s+'?paths\.tracking_dir=[^\s']*'?")


def portable(command: str, data_root: str | None) -> str:
    """The command as any user can run it: paths in this project relative to it, the real
    data under ``data_root`` (where this machine keeps what ``make data`` puts in
    ``data/raw/``) as ``data/raw/...``, and no ``paths.tracking_dir``: where a run was recorded
    is not how to repeat it (a user's goes to their project's own store)."""
    command = TRACKING_DIR_OVERRIDE.sub("", command)
    if data_root:
        command = command.replace(str(Path(data_root).resolve()) + "/", "data/raw/")
    return command.replace(f"{PROJECT_ROOT}/", "")


def rows(
    clients: list[MlflowClient],
    section: str | None = None,
    sections: list[str] | None = None,
    data_root: str | None = None,
) -> list[tuple[str, ...]]:
    """One row per results run: label, data, test set, metrics, time, hardware, command, run."""
    table = []
    for client, run in newest_across(clients):
        if not in_section(run.data.tags["rnnpipe.results_row"], section, sections or []):
            continue
        # a group's row shows its first run's data, command and hardware, and the mean time
        members = [run]
        if is_group(run):
            members = sorted(group_members(client, run), key=lambda r: r.info.start_time)
        first = members[0]
        tags = first.data.tags
        # a resumed run logs each leg's fit time: the run trained for their sum
        seconds = statistics.fmean(
            sum(leg.value for leg in client.get_metric_history(r.info.run_id, "time/fit_seconds"))
            for r in members
        )
        commands = [tags.get("rnnpipe.command", "")]
        commands += tags.get("rnnpipe.resume_commands", "").splitlines()
        commands = [portable(command, data_root) for command in commands]
        command = "<br>".join(f"`{c}`".replace("|", "\\|") for c in commands if c)
        if is_group(run):
            command += f"<br>(its first of {len(members)} runs)"
        experiment = client.get_experiment(run.info.experiment_id).name
        time = duration(seconds) + (" a run" if seconds and is_group(run) else "")
        table.append(
            (
                label_cell(run.data.tags), data_cell(tags),
                evaluated_on(first, folds_tested(members) if is_group(run) else None),
                "<br>".join([metrics_cell(run), *citations(client, run)]), time,
                tags.get("rnnpipe.hardware", "—"), command, f"{experiment} / {run.info.run_name}",
            )
        )  # fmt: skip
    return table


def markdown(table: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in table]
    return "\n".join(lines)


def rewrite_readme(readme: Path, table_markdown: str, section: str | None = None) -> None:
    text = readme.read_text()
    begin, end = markers(section)
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{readme}: expected the markers {begin} ... {end}, found none")
    write_text(readme, pattern.sub(lambda _: f"{begin}\n{table_markdown}\n{end}", text))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tracking-uri",
        action="append",
        help="a store to read (repeat to merge several; default: the project's own)",
    )
    parser.add_argument("--readme", type=Path, default=PROJECT_ROOT / "README.md")
    parser.add_argument("--print-only", action="store_true", help="do not rewrite the README")
    parser.add_argument("--section", help="the table of the labels '<section>: ...' instead")
    parser.add_argument(
        "--data-root", help="this machine's folder of the real data, shown as data/raw/"
    )
    args = parser.parse_args(argv)
    sections = sections_in(args.readme.read_text()) if args.readme.is_file() else []
    uris = args.tracking_uri or [f"sqlite:///{PROJECT_ROOT}/mlflow.db"]
    clients = [MlflowClient(uri) for uri in uris]
    table = markdown(rows(clients, args.section, sections, args.data_root))
    print(table)
    if not args.print_only:
        rewrite_readme(args.readme, table, args.section)
        print(f"\nrewrote the results table in {args.readme}")


if __name__ == "__main__":
    main()

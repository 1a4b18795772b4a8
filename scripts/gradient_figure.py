"""The gradient-through-time plots of several results runs, side by side in one figure.

Each run's ``plots/grad_norm_through_time.png`` (the GradientThroughTime callback's) is fetched
from MLflow and placed in a row, titled by the rest of its results label, so the cells of one
memory length can be compared at a glance:

    python scripts/gradient_figure.py --label-prefix "memory: adding T=100, " \
        --output docs/memory/gradient_through_time_T100.png --order tanh,irnn,gru,lstm

Stores as for ``make results`` (``--tracking-uri``, repeatable; default: the project's own).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Run  # noqa: E402

from rnnpipe.cli.results import newest_across  # noqa: E402
from rnnpipe.config import PROJECT_ROOT  # noqa: E402

PLOT = "plots/grad_norm_through_time.png"


def side_by_side(
    clients: list[MlflowClient], label_prefix: str, output: Path, order: list[str] | None = None
) -> list[str]:
    """Write the figure, panels in ``order`` of the labels' rest (else label order); returns
    the labels it shows, in order."""
    chosen = [(c, r) for c, r in newest_across(clients)
              if r.data.tags["rnnpipe.results_row"].startswith(label_prefix)]  # fmt: skip
    if order:
        rank = {name: position for position, name in enumerate(order)}

        def position(pair: tuple[MlflowClient, Run]) -> int:
            rest = pair[1].data.tags["rnnpipe.results_row"].removeprefix(label_prefix)
            return rank.get(rest, len(rank))

        chosen.sort(key=position)
    if not chosen:
        raise SystemExit(f"no finished results run is labelled {label_prefix!r}...")
    figure, axes = plt.subplots(1, len(chosen), figsize=(5 * len(chosen), 3.4), squeeze=False)
    labels = []
    with tempfile.TemporaryDirectory() as scratch:
        for axis, (client, run) in zip(axes[0], chosen, strict=True):
            label = run.data.tags["rnnpipe.results_row"]
            image = client.download_artifacts(run.info.run_id, PLOT, scratch + f"/{len(labels)}")
            axis.imshow(plt.imread(image))
            axis.set_title(label.removeprefix(label_prefix))
            axis.axis("off")
            labels.append(label)
    figure.suptitle(f"||dL/dh_t|| through time: {label_prefix.strip(' ,')}")
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=90)
    plt.close(figure)
    return labels


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label-prefix", required=True, help="e.g. 'memory: adding T=100, '")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--order", help="panel order by the labels' rest, e.g. tanh,irnn,gru,lstm")
    parser.add_argument("--tracking-uri", action="append", help="repeat to merge stores")
    args = parser.parse_args(argv)
    uris = args.tracking_uri or [f"sqlite:///{PROJECT_ROOT}/mlflow.db"]
    order = args.order.split(",") if args.order else None
    clients = [MlflowClient(uri) for uri in uris]
    labels = side_by_side(clients, args.label_prefix, args.output, order)
    print(f"{args.output}: {', '.join(labels)}")


if __name__ == "__main__":
    main()

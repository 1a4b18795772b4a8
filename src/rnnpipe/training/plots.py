"""Figures rnnpipe saves as PNG artifacts. Matplotlib runs headless (Agg): no display needed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from rnnpipe.atomic_files import written_whole  # noqa: E402


def save_figure(figure: plt.Figure, path: Path) -> Path:
    """Write ``figure`` as a PNG, whole or not at all, and free it."""
    with written_whole(path) as partial:
        figure.savefig(partial, dpi=100, format="png")
    plt.close(figure)
    return path


def save_confusion_matrix(
    counts: Sequence[Sequence[int]], labels: Sequence[str], path: Path
) -> Path:
    """Rows are true labels, columns predicted labels; each cell shows its count."""
    figure, axes = plt.subplots(figsize=(1.6 + 1.1 * len(labels), 1.2 + 1.0 * len(labels)))
    image = axes.imshow(counts, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels=labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels=labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    peak = max(max(row) for row in counts) or 1
    for row, values in enumerate(counts):
        for column, value in enumerate(values):
            colour = "white" if value > peak / 2 else "black"
            axes.text(column, row, str(value), ha="center", va="center", color=colour)
    figure.colorbar(image, ax=axes)
    axes.set_title("confusion matrix (test)")
    figure.tight_layout()
    return save_figure(figure, path)


def save_gradient_through_time(curves: dict[int, list[float]], path: Path) -> Path:
    """One line per recorded training step: ||dL/dh_t|| against t, on a log scale, so vanishing
    (lines falling towards t = 1) and exploding gradients show at a glance."""
    figure, axes = plt.subplots(figsize=(7, 4))
    colours = plt.cm.viridis([i / max(len(curves) - 1, 1) for i in range(len(curves))])
    for colour, (step, norms) in zip(colours, sorted(curves.items()), strict=True):
        axes.plot(range(1, len(norms) + 1), norms, color=colour, label=f"step {step}")
    axes.set_yscale("log")
    axes.set_xlabel("time step t")
    axes.set_ylabel("||dL/dh_t||")
    axes.set_title("gradient reaching each time step (BPTT)")
    axes.legend(fontsize="small", ncol=2)
    figure.tight_layout()
    return save_figure(figure, path)

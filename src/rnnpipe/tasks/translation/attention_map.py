"""The attention a translation paid, as a heatmap: which source tokens each output token read."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from rnnpipe.training.plots import (  # pyplot with the headless backend already chosen
    plt,
    save_figure,
)


def save_attention_map(
    source_tokens: list[str], output_tokens: list[str], weights: Tensor, title: str, path: Path
) -> Path:
    """``weights (T, S)``: a row per output token, a column per source token, in [0, 1]."""
    figure, axes = plt.subplots(
        figsize=(2 + 0.35 * len(source_tokens), 1.5 + 0.3 * len(output_tokens))
    )
    image = axes.imshow(weights.numpy(), cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(source_tokens)), labels=source_tokens, rotation=60, ha="right")
    axes.set_yticks(range(len(output_tokens)), labels=output_tokens)
    axes.set_xlabel("source")
    axes.set_ylabel("translation")
    figure.colorbar(image, ax=axes)
    axes.set_title(title)
    figure.tight_layout()
    return save_figure(figure, path)

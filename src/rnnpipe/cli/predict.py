"""``rnnpipe-predict``: predictions for texts on the command line or in a file.

    rnnpipe-predict model_uri=models:/rnnpipe-sentiment/1 'texts=["Great pizza!", "Cold soup."]'
    rnnpipe-predict model_uri=runs:/<run id>/model input_path=reviews.txt output_path=out.tsv
    printf '%s\n' "it's \"great\"" | rnnpipe-predict model_uri=<checkpoint> input_path=-

``input_path`` holds one input per line (blank lines skipped); ``-`` reads them from stdin,
where no shell or Hydra quoting applies to the text.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from rnnpipe.atomic_files import written_whole
from rnnpipe.config import CONFIG_DIR
from rnnpipe.data.text_file import read_lines
from rnnpipe.errors import RnnpipeError, reported_in_one_line
from rnnpipe.tracking.loading import load_models, model_references


def predict(cfg: DictConfig) -> pd.DataFrame:
    texts = given_texts(cfg.texts)
    if cfg.get("input_path") == "-":
        texts += [line for line in sys.stdin.read().splitlines() if line.strip()]
    elif cfg.get("input_path"):
        texts += [line for _, line in read_lines(cfg.input_path) if line.strip()]
    if not texts:
        raise RnnpipeError("nothing to predict: expected texts=[...] or input_path=<file>")
    if cfg.get("output_path"):
        check_writable(Path(cfg.output_path))
    module = load_models(model_references(cfg.model_uri), cfg.get("tracking_uri"), "tracking_uri")
    try:
        predictions = module.predict_texts(texts)
    except ValueError as error:
        raise RnnpipeError(f"input {error}") from None
    table = pd.concat([pd.DataFrame({"input": texts}), predictions], axis=1)
    if cfg.get("output_path"):
        with written_whole(cfg.output_path) as partial:
            table.to_csv(partial, sep="\t", index=False)
        print(f"wrote {len(table)} predictions to {cfg.output_path}")
    else:
        with pd.option_context("display.max_colwidth", 80, "display.width", 160):
            print(table.to_string(index=False))
    return table


def given_texts(texts: object) -> list[str]:
    """``texts`` as a list of strings; a lone string is refused, not read letter by letter."""
    if not OmegaConf.is_list(texts):
        kind = "a string" if isinstance(texts, str) else f"a {type(texts).__name__}"
        raise RnnpipeError(
            f"texts={texts}: expected a list, e.g. 'texts=[\"Great pizza!\"]' "
            f"(or input_path=- to read one text per line from stdin), got {kind}"
        )
    return [str(text) for text in texts]


def check_writable(path: Path) -> None:
    """Refuse an ``output_path`` that cannot be written before the model is loaded. A missing
    folder is not created: it is more often a typo than a wish for a new directory tree."""
    if path.is_dir():
        raise RnnpipeError(f"output_path={path}: expected a file to write, got a directory")
    if not path.parent.is_dir():
        raise RnnpipeError(
            f"output_path={path}: expected a file in an existing directory, "
            f"got no directory {path.parent}"
        )


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="predict")
def main(cfg: DictConfig) -> None:
    with reported_in_one_line():
        predict(cfg)


if __name__ == "__main__":
    main()

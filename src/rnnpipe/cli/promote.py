"""``rnnpipe-promote``: move ``@champion`` to a registered version only if it beats the champion.

    rnnpipe-promote models:/rnnpipe-sentiment/3
    rnnpipe-promote models:/rnnpipe-ner/7 --tracking-uri http://127.0.0.1:5000

Otherwise the version becomes ``@challenger``; either way the reason is printed
(:mod:`rnnpipe.tracking.promotion`). ``promote=auto`` runs it at the end of ``rnnpipe-train``.
"""

from __future__ import annotations

import argparse

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from rnnpipe.config import PROJECT_ROOT
from rnnpipe.errors import RnnpipeError, reported_in_one_line
from rnnpipe.tasks.registry import task_specs
from rnnpipe.tracking.model_uri import parse_model_uri
from rnnpipe.tracking.promotion import promote


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_uri", help="models:/rnnpipe-<task>/<version>")
    parser.add_argument("--tracking-uri", default=f"sqlite:///{PROJECT_ROOT}/mlflow.db")
    args = parser.parse_args(argv)
    with reported_in_one_line():
        uri = parse_model_uri(args.model_uri)
        if uri is None or uri.version is None:
            raise RnnpipeError(
                f"model_uri: expected models:/rnnpipe-<task>/<version>, got {args.model_uri!r}"
            )
        specs = {spec.registered_model_name: spec for spec in task_specs().values()}
        if uri.name not in specs:
            raise RnnpipeError(
                f"{args.model_uri}: expected a model of a task, one of {sorted(specs)}"
            )
        try:
            decision = promote(MlflowClient(args.tracking_uri), specs[uri.name], uri.version)
        except MlflowException as error:  # no such model or version in this store
            raise RnnpipeError(f"{args.model_uri}: {error.message}") from None
        print(f"{args.model_uri} -> {decision}")


if __name__ == "__main__":
    main()

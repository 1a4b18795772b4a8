"""Registered versions that say what they are, and the aliases that say which one to use.

A new version of ``rnnpipe-<task>`` carries, as tags, the test metrics of the run that made it,
the SHA-256 of every data file that run read, its git commit and the identity of its test set,
and a one-line description. :func:`promote` then decides its alias:

* ``@champion`` moves to it only if it beats the current champion on the same test set;
* otherwise it becomes ``@challenger``, and the reason is printed.

"Beats" is the task's headline metric (its :class:`~rnnpipe.tasks.spec.TaskSpec`'s first),
strictly better. A paired significance test would be the stronger rule; until rnnpipe has one,
every decision says that this is the rule it used. MLflow's stages are deprecated in favour of
aliases, so only aliases are set.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.exceptions import MlflowException

from rnnpipe.errors import RnnpipeError
from rnnpipe.tasks.spec import TaskSpec
from rnnpipe.tracking.store import store_lock

CHAMPION, CHALLENGER = "champion", "challenger"
RULE = "the headline metric, strictly better (no paired significance test yet)"


def identity_of_test_set(run: Run) -> str:
    """What a run was tested on, as one hash: the test file's SHA-256 when it had one (a training
    run's ``data.test_path``, or the file ``rnnpipe-evaluate`` scored); else the held-out split,
    fixed by the data files' SHA-256 and the split's settings (and the fold)."""
    tags, params = run.data.tags, run.data.params
    tested_on_a_file = (
        params.get("data.test_path", "None") not in ("None", "") or "rnnpipe.evaluated_data" in tags
    )
    if tested_on_a_file and "rnnpipe.data.test.sha256" in tags:
        return tags["rnnpipe.data.test.sha256"]
    parts = [f"{key}={tags[key]}" for key in sorted(tags) if key.startswith("rnnpipe.data.")
             and key.endswith(".sha256")]  # fmt: skip
    parts += [f"{key}={params[key]}" for key in sorted(params) if key.startswith("data.")
              and ("fraction" in key or key.endswith("split_seed"))]  # fmt: skip
    # k-fold cross-validation's fold (only when set: runs without folds keep their identity)
    parts += [f"{key}={params[key]}" for key in ("data.folds", "data.fold")
              if params.get(key, "None") != "None"]  # fmt: skip
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def describe_version(client: MlflowClient, name: str, version: str, run: Run) -> None:
    """Tag the version with its run's test metrics, data hashes, commit and test set, and give it
    a description a reader of the registry understands."""
    tags = {key: f"{value:.6g}" for key, value in run.data.metrics.items()
            if key.startswith("test/")}  # fmt: skip
    tags |= {key: value for key, value in run.data.tags.items()
             if key.startswith("rnnpipe.data.") and key.endswith(".sha256")}  # fmt: skip
    tags["git_commit"] = run.data.tags.get("mlflow.source.git.commit", "unknown")
    tags["test_set"] = identity_of_test_set(run)
    tags["run_id"] = run.info.run_id
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    scores = ", ".join(f"{k} {v}" for k, v in sorted(tags.items()) if k.startswith("test/"))
    client.update_model_version(
        name,
        version,
        description=f"run {run.info.run_name} ({run.info.run_id}); {scores or 'not tested'}",
    )


def version_of_run(client: MlflowClient, spec: TaskSpec, run_id: str) -> str | None:
    """The version of the task's registered model that run ``run_id`` registered, if any."""
    name = spec.registered_model_name
    found = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    return str(min(int(version.version) for version in found)) if found else None


@dataclass(frozen=True)
class Decision:
    alias: str  # the alias the version now has: champion or challenger
    reason: str

    def __str__(self) -> str:
        return f"@{self.alias}: {self.reason} (rule: {RULE})"


def promote(client: MlflowClient, spec: TaskSpec, version: str) -> Decision:
    """Give version ``version`` of the task's registered model ``@champion`` if it beats the
    current champion on the same test set, else ``@challenger``; return why.

    A compare-and-set: the champion is read after taking the store's lock, so two promotions at
    once cannot both compare against the same old champion, and the alias is read back after it
    is set. A tracking server has no shared file to lock: there the read-back is the guarantee.
    """
    name = spec.registered_model_name
    with store_lock(client.tracking_uri):
        decision = decide(client, spec, version)
        client.set_registered_model_alias(name, decision.alias, str(version))
        held = client.get_model_version_by_alias(name, decision.alias)
    if str(held.version) != str(version):
        raise RnnpipeError(
            f"{name} version {version}: expected @{decision.alias} after setting it, got version "
            f"{held.version} (another process moved it at the same time; run make promote again)"
        )
    return decision


def decide(client: MlflowClient, spec: TaskSpec, version: str) -> Decision:
    """The alias version ``version`` earns against the champion of this moment."""
    name = spec.registered_model_name
    metric = spec.headline_metrics[0]
    candidate = client.get_run(client.get_model_version(name, version).run_id)
    score = candidate.data.metrics.get(metric.name)
    if score is None:
        raise RnnpipeError(
            f"{name} version {version}: expected a run with the headline metric {metric.name} "
            f"to promote by, got one without it (trained with test=false?)"
        )
    try:
        champion = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return Decision(CHAMPION, f"{metric.name} {score:.4f}, and there was no champion")
    if str(champion.version) == str(version):
        return Decision(CHAMPION, f"version {version} is the champion already")
    return against(client, metric, score, candidate, champion)


def against(client: MlflowClient, metric, score: float, candidate: Run, champion) -> Decision:
    """The decision for a candidate run against the current champion version."""
    held = client.get_run(champion.run_id)
    if identity_of_test_set(held) != identity_of_test_set(candidate):
        return Decision(
            CHALLENGER,
            f"tested on another test set than champion version {champion.version}: not comparable",
        )
    best = held.data.metrics.get(metric.name)
    better = best is None or (score > best if metric.higher_is_better else score < best)
    versus = f"{metric.name} {score:.4f} against champion version {champion.version}'s " + (
        "(none)" if best is None else f"{best:.4f}"
    )
    return Decision(CHAMPION if better else CHALLENGER, versus)

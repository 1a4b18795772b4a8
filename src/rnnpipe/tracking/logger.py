"""The MLflow logger a run writes through, and what keeps a run honest when MLflow fails.

The embedded default is a SQLite store in the project root; a tracking server is an option
(``logger.tracking_uri=http://host:port``), checked within seconds, never waited on for minutes.
"""

from __future__ import annotations

import base64
import logging
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from hydra.utils import get_class, instantiate
from lightning.pytorch.loggers import Logger, MLFlowLogger
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor
from omegaconf import DictConfig

from rnnpipe.errors import RnnpipeError
from rnnpipe.tracking.run_names import unique_run_name
from rnnpipe.tracking.store import experiment_id_of, open_local_store
from rnnpipe.training.signals import StoppedBySignal

log = logging.getLogger(__name__)


class ResilientMLFlowLogger(MLFlowLogger):
    """Lightning's MLFlowLogger, made to survive the tracking server going away mid-run.

    The first call that fails switches the logger off-line: training carries on and keeps its
    checkpoints, and everything not recorded from then on is listed in ``unrecorded`` and
    warned about once. Against a server, MLflow's client is told to give up after seconds, not
    minutes (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``/``_TIMEOUT``, unless already set).
    ``stale_after_seconds``: how long without a heartbeat before a RUNNING run of the experiment
    counts as dead (:func:`rnnpipe.tracking.heartbeat.fail_stale_runs`). Without a ``run_name``
    the run gets a unique one (:func:`rnnpipe.tracking.run_names.unique_run_name`).
    ``system_metrics_every_seconds``: how often MLflow samples CPU, memory, disk, network and GPU
    into ``system/...`` metrics while the run trains (None: never).
    """

    def __init__(
        self,
        experiment_name: str,
        run_name: str | None,
        *,
        stale_after_seconds: float,
        system_metrics_every_seconds: float | None,
        **kwargs: Any,
    ):
        run_name = run_name or unique_run_name(experiment_name)
        super().__init__(experiment_name=experiment_name, run_name=run_name, **kwargs)
        self.stale_after_seconds = stale_after_seconds
        self.system_metrics_every_seconds = system_metrics_every_seconds
        self._system_metrics: SystemMetricsMonitor | None = None
        self.unrecorded: list[str] = []
        if str(self._tracking_uri).startswith(("http://", "https://")):
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")

    @property
    def experiment(self) -> MlflowClient:
        """Lightning's client, its experiment found or created once per store (not raced)."""
        starting = self._run_id is None and self._experiment_id is None
        if starting and not self._initialized and rank_zero_only.rank == 0:
            self._experiment_id = experiment_id_of(
                self._tracking_uri, self._experiment_name, self._artifact_location
            )
        return super().experiment

    @property
    def offline(self) -> bool:
        return bool(self.unrecorded)

    def record(self, what: str, call: Callable[[], Any]) -> Any:
        """Run ``call`` against MLflow unless off-line; on failure go off-line and note ``what``."""
        if self.offline:
            self.unrecorded.append(what)
            return None
        try:
            return call()
        except MlflowException as error:
            self.unrecorded.append(what)
            reason = str(error).splitlines()[0][:200]
            log.warning(
                "MLflow at %s failed (%s): %s not recorded; training goes on, checkpoints are kept"
                " locally and nothing more is sent to MLflow in this run",
                self._tracking_uri,
                reason,
                what,
            )
            return None

    @rank_zero_only
    def log_hyperparams(self, params: Any) -> None:
        self.record("hyperparameters", lambda: MLFlowLogger.log_hyperparams(self, params))

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        what = f"metrics {', '.join(sorted(metrics))} at step {step}"
        self.record(what, lambda: MLFlowLogger.log_metrics(self, metrics, step))

    def start_system_metrics(self) -> None:
        """Start MLflow's sampler of the machine for this run; it runs until the run ends
        (:meth:`stop_system_metrics`, called by :meth:`finalize` and :func:`failure_marks_run`)."""
        if self.system_metrics_every_seconds is None or self._system_metrics or self.offline:
            return
        self._system_metrics = SystemMetricsMonitor(
            self.run_id,
            sampling_interval=self.system_metrics_every_seconds,
            resume_logging=True,  # a resumed run's system metrics carry on from its last step
            tracking_uri=self._tracking_uri,
        )
        self._system_metrics.start()

    def stop_system_metrics(self) -> None:
        """Stop the sampler (if started) and write what it holds; safe to call twice."""
        if self._system_metrics is not None:
            self._system_metrics.finish()
            self._system_metrics = None

    @rank_zero_only
    def finalize(self, status: str = "success") -> None:
        self.stop_system_metrics()
        self.record(
            f"the run's final status ({status})", lambda: MLFlowLogger.finalize(self, status)
        )


def check_reachable(
    tracking_uri: str, key: str = "logger.tracking_uri", timeout: float = 5.0, writing: bool = True
) -> None:
    """Fail within seconds, naming the URI and the config ``key`` that sets it (each command
    names it its own way), when a tracking server does not answer or refuses our credentials.

    (MLflow's own client retries for minutes before it gives up.) The request is one a server
    with authentication (``--app-name basic-auth``) guards, sent with the credentials MLflow's
    client would send. A local SQLite store is created if new, one process at a time, and
    checked, for ``writing`` or only reading (:func:`rnnpipe.tracking.store.open_local_store`).
    """
    if not tracking_uri.startswith(("http://", "https://")):
        open_local_store(tracking_uri, writing)
        return
    request = urllib.request.Request(
        f"{tracking_uri.rstrip('/')}/api/2.0/mlflow/experiments/search?max_results=1",
        headers=credentials_header(),
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            pass
    except urllib.error.HTTPError as error:
        if error.code == 401:
            raise RnnpipeError(
                f"MLflow tracking server {tracking_uri} requires a login (HTTP 401): expected "
                f"MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD of one of its users in "
                f"the environment; they are missing or wrong"
            ) from None
        raise RnnpipeError(
            f"MLflow tracking server {tracking_uri} answered HTTP {error.code} "
            f"({error.reason}); is {key} an MLflow server?"
        ) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise RnnpipeError(
            f"MLflow tracking server {tracking_uri} is unreachable ({reason}); start it with "
            f"`make server` or choose another {key}"
        ) from None


def credentials_header() -> dict[str, str]:
    """The login MLflow's client sends, from the same standard environment variables:
    ``MLFLOW_TRACKING_USERNAME``/``_PASSWORD`` (basic auth) or ``MLFLOW_TRACKING_TOKEN``."""
    username = os.environ.get("MLFLOW_TRACKING_USERNAME")
    password = os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if username and password:
        login = base64.b64encode(f"{username}:{password}".encode()).decode()
        return {"Authorization": f"Basic {login}"}
    if token := os.environ.get("MLFLOW_TRACKING_TOKEN"):
        return {"Authorization": f"Bearer {token}"}
    return {}


def make_logger(logger_cfg: DictConfig | None, **mlflow_arguments: Any) -> Logger | None:
    """The configured logger. ``mlflow_arguments`` that are not None (a ``run_id`` to continue,
    an ``experiment_name``) apply only when it is an MLflow logger."""
    if not logger_cfg:
        return None
    arguments = {key: value for key, value in mlflow_arguments.items() if value is not None}
    if arguments and issubclass(get_class(logger_cfg._target_), MLFlowLogger):
        return instantiate(logger_cfg, **arguments)
    return instantiate(logger_cfg)


@contextmanager
def failure_marks_run(logger: MLFlowLogger | None, finished_before: bool = False) -> Iterator[None]:
    """Whatever fails inside leaves the run marked FAILED, never FINISHED; stopped by a signal
    (or Ctrl-C), it is marked KILLED. A run that had FINISHED before a resume extended it stays
    FINISHED: what it recorded then stays true."""
    try:
        yield
    except BaseException as stop:
        status = "KILLED" if isinstance(stop, StoppedBySignal | KeyboardInterrupt) else "FAILED"
        status = "FINISHED" if finished_before else status
        if isinstance(logger, ResilientMLFlowLogger):
            logger.stop_system_metrics()
        if isinstance(logger, MLFlowLogger) and logger._initialized:
            try:
                logger.experiment.set_terminated(logger.run_id, status)
            except MlflowException as error:
                print(
                    f"warning: could not mark MLflow run {logger.run_id} {status}: {error}",
                    file=sys.stderr,
                )
        raise


def record(logger: MLFlowLogger, what: str, call: Callable[[], Any]) -> Any:
    """``call`` against MLflow; with the resilient logger, a failure is noted, not raised."""
    if isinstance(logger, ResilientMLFlowLogger):
        return logger.record(what, call)
    return call()

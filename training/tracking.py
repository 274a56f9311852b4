"""Where runs and models are recorded: an embedded MLflow store by default, a server if told.

By default the store is SQLite at `models/mlflow.db` with artifacts in `models/artifacts/`
(both git-ignored), so a new user needs no server. Setting `MLFLOW_TRACKING_URI` (and optionally
`MLFLOW_REGISTRY_URI`) points everything at a real tracking server instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR

from anbu.settings import Settings

MODEL_NAME = "isolation-risk"
"""The registered model every experiment's candidate is registered under."""
CHAMPION = "champion"
CHALLENGER = "challenger"
EXPLANATION_REFUSED = "explanation.refused"
"""Set on a run whose model no exact explanation covers, with the reason: promotion refuses it."""
EXPERIMENT_NAME = "anbu-isolation-risk"


def default_store_dir() -> Path:
    """ANBU_MODELS_DIR as the environment says now: the model store follows it at each call, as
    MLflow's own MLFLOW_TRACKING_URI does (a test or a notebook may point it elsewhere mid-run)."""
    return Settings().models_dir


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI if set, else the embedded SQLite store under models/ (its folder made)."""
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        default_store_dir().mkdir(parents=True, exist_ok=True)
    return tracking_uri_without_creating()


def artifact_root() -> str | None:
    """Local artifact folder for the embedded store; a server decides its own."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    return (default_store_dir() / "artifacts").resolve().as_uri()


def configure() -> MlflowClient:
    """Point MLflow at the store and make sure the project's experiment exists."""
    # Decided first: set_tracking_uri exports MLFLOW_TRACKING_URI, after which the embedded
    # store would look like a server and artifacts would land in ./mlruns of the current directory.
    uri, artifacts = tracking_uri(), artifact_root()
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    if client.get_experiment_by_name(EXPERIMENT_NAME) is None:
        client.create_experiment(EXPERIMENT_NAME, artifact_location=artifacts)
    mlflow.set_experiment(EXPERIMENT_NAME)
    return client


class StoreUnavailable(RuntimeError):
    """The model store a reader needs is missing or does not answer; never created in its place."""


def require_store(timeout_seconds: float = 5.0) -> str:
    """Check, within seconds, that the store a reader (promote, score, serve) needs exists and
    answers; only training creates the embedded store. Returns its URI."""
    uri = tracking_uri_without_creating()
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        if not path.is_file():
            raise StoreUnavailable(
                f"no model store at {path}: run `anbu train` and `anbu promote` first "
                "(or set MLFLOW_TRACKING_URI to the city's MLflow server)"
            )
        return uri
    if uri.startswith(("http://", "https://")):
        import httpx

        try:
            httpx.get(uri.rstrip("/") + "/health", timeout=timeout_seconds).raise_for_status()
        except httpx.HTTPError as error:
            raise StoreUnavailable(
                f"the MLflow server at {uri} does not answer ({type(error).__name__}); start it or fix MLFLOW_TRACKING_URI"
            ) from None
        # A server that answers is asked once, not retried for minutes, when something fails later.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    return uri


def tracking_uri_without_creating() -> str:
    configured = os.environ.get("MLFLOW_TRACKING_URI")
    if configured:
        return configured
    return f"sqlite:///{(default_store_dir() / 'mlflow.db').resolve()}"


@contextmanager
def without_progress_bar() -> Iterator[None]:
    """MLflow draws a progress bar for every download, even of one small card, into the middle of
    what a command prints (`anbu promote`, `anbu health`); it reads the setting at each download, so it is off only here."""
    name = MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name
    before = os.environ.get(name)
    os.environ[name] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before

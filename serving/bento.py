"""A built Bento: the service's code and the champion's model in one deployable unit.

Inside a Bento the service must not need the MLflow store, so the champion is copied into the
BentoML model store (booster text and what `Champion` carries: version, run, params, metrics) and
the Bento names that model in `ANBU_BENTO_MODEL`; the service loads it from there instead of the
registry. The data directory (scored rounds, records, keys) stays outside, as in any deployment.

    anbu bento                      # build anbu:<version> from the current champion
    bentoml serve anbu:latest       # with ANBU_DATA set, as for `anbu serve`
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import bentoml
import lightgbm as lgb
from bentoml._internal.bento.build_config import BentoEnvSchema

from serving.champion import Champion, load_champion

BENTO_NAME = "anbu"
MODEL_ENV = "ANBU_BENTO_MODEL"
MODEL_FILE = Path(__file__).with_name("bento_model.txt")
"""Written into the build context for the duration of a build (git-ignored): BentoML applies a
Bento's `envs` only in containers, so `bentoml serve anbu:…` finds its model tag here."""
ROOT = Path(__file__).resolve().parents[1]
INCLUDE = [
    "anbu/**/*.py",
    "features/**/*.py",
    "features/reference/*.csv",
    "features/reference/*.md",
    "training/*.py",
    "serving/*.py",
    "serving/planner.html",
    "serving/bento_model.txt",
    "experiments/*.toml",
]


def export_champion() -> str:
    """Copy the registry's champion into the BentoML model store; return the model tag."""
    champion = load_champion()
    with bentoml.models.create(
        "isolation-risk",
        labels={"mlflow_version": champion.version},
        metadata={"mlflow_version": champion.version, "mlflow_run_id": champion.run_id},
    ) as model:
        Path(model.path_of("booster.txt")).write_text(champion.booster.model_to_string(), encoding="utf-8")
        Path(model.path_of("champion.json")).write_text(
            json.dumps(
                {
                    "version": champion.version,
                    "run_id": champion.run_id,
                    "params": champion.params,
                    "metrics": champion.metrics,
                    "promotion": champion.promotion,
                }
            ),
            encoding="utf-8",
        )
    return str(model.tag)


def bento_model_tag() -> str | None:
    """The packed model's tag when running from a Bento (or told so by ANBU_BENTO_MODEL)."""
    if os.environ.get(MODEL_ENV):
        return os.environ[MODEL_ENV]
    return MODEL_FILE.read_text(encoding="utf-8").strip() if MODEL_FILE.is_file() else None


def load_bento_champion(tag: str) -> Champion:
    """The champion as packed into a Bento (no MLflow store needed)."""
    model = bentoml.models.get(tag)
    facts = json.loads(Path(model.path_of("champion.json")).read_text(encoding="utf-8"))
    booster = lgb.Booster(model_file=model.path_of("booster.txt"))
    return Champion(
        booster=booster,
        version=facts["version"],
        run_id=facts["run_id"],
        features=list(booster.feature_name()),
        params=facts["params"],
        metrics=facts["metrics"],
        promotion=facts.get("promotion", {}),
    )


def build_bento() -> str:
    """Export the champion and build the Bento around it; return the Bento's tag."""
    model_tag = export_champion()
    requirements = ROOT / "bento-requirements.txt"
    # The Bento's Python environment is the lock file's, without the development tools.
    exported = subprocess.run(
        ["uv", "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": f"{ROOT / '.tools' / 'bin'}:{os.environ.get('PATH', '')}"},
    )
    if exported.returncode != 0:
        raise RuntimeError(f"uv export failed: {exported.stderr.strip()}")
    requirements.write_text(exported.stdout, encoding="utf-8")
    previous, path = os.environ.get(MODEL_ENV), os.environ.get("PATH", "")
    os.environ[MODEL_ENV] = model_tag
    MODEL_FILE.write_text(model_tag + "\n", encoding="utf-8")
    os.environ["PATH"] = (
        f"{ROOT / '.tools' / 'bin'}:{path}"  # BentoML runs uv to freeze requirements  # the service module declares the model only when this is set
    )
    try:
        bento = bentoml.bentos.build(
            "serving.service:Anbu",
            name=BENTO_NAME,
            version=model_tag.split(":")[1],
            include=INCLUDE,
            envs=[BentoEnvSchema(name=MODEL_ENV, value=model_tag)],
            python={"requirements_txt": requirements.name, "lock_packages": False},
            build_ctx=str(ROOT),
        )
    finally:
        MODEL_FILE.unlink(missing_ok=True)
        os.environ["PATH"] = path
        requirements.unlink(missing_ok=True)
        if previous is None:
            os.environ.pop(MODEL_ENV, None)
        else:
            os.environ[MODEL_ENV] = previous
    return str(bento.tag)

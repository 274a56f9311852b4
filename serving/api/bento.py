"""A built Bento: the service's code and the champion's model in one deployable unit.

Inside a Bento the service must not need the MLflow store, so the champion is copied into the
BentoML model store (the model's text and what `Champion` carries: version, run, params, metrics) and
the Bento names that model in `ANBU_BENTO_MODEL`; the service loads it from there instead of the
registry. The data directory (scored rounds, records, keys) stays outside, as in any deployment.

    anbu bento                      # build anbu:<version> from the current champion
    bentoml serve anbu:latest       # with ANBU_DATA set, as for `anbu serve`
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import bentoml
import lightgbm as lgb
from bentoml._internal.bento.build_config import BentoEnvSchema

from anbu.settings import Settings
from serving.explain.served_model import TreeModel, model_from_text
from serving.scoring.champion import Champion, load_champion

BENTO_NAME = "anbu"
MODEL_ENV = f"{Settings.model_config['env_prefix']}BENTO_MODEL"
MODEL_FILE = Path(__file__).with_name("bento_model.txt")
MODEL_TEXT = "served_model.txt"
"""The champion as its family writes itself (serving/explain/served_model.py); a Bento packed before
there were families holds `booster.txt` instead, still read."""
"""Written into the (temporary) build context: BentoML applies a Bento's `envs` only in
containers, so `bentoml serve anbu:…` finds its model tag here."""
REQUIREMENTS = "bento-requirements.txt"
ROOT = Path(__file__).resolve().parents[2]
INCLUDE = [
    "anbu/**/*.py",
    "features/**/*.py",
    "features/reference/*.csv",
    "features/reference/*.md",
    "training/*.py",
    "serving/**/*.py",
    "serving/api/planner.html",
    "serving/http/docs_page.html",
    "serving/http/docs_page.js",
    "serving/api/bento_model.txt",
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
        Path(model.path_of(MODEL_TEXT)).write_text(champion.model.to_text(), encoding="utf-8")
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
    told = Settings().bento_model
    if told:
        return told
    return MODEL_FILE.read_text(encoding="utf-8").strip() if MODEL_FILE.is_file() else None


def load_bento_champion(tag: str) -> Champion:
    """The champion as packed into a Bento (no MLflow store needed)."""
    model = bentoml.models.get(tag)
    facts = json.loads(Path(model.path_of("champion.json")).read_text(encoding="utf-8"))
    text = Path(model.path_of(MODEL_TEXT)) if Path(model.path_of(MODEL_TEXT)).is_file() else None
    served = (
        model_from_text(text.read_text(encoding="utf-8"))
        if text is not None
        else TreeModel(lgb.Booster(model_file=model.path_of("booster.txt")))  # a Bento packed before
    )
    return Champion(
        model=served,
        version=facts["version"],
        run_id=facts["run_id"],
        features=served.features,
        params=facts["params"],
        metrics=facts["metrics"],
        promotion=facts.get("promotion", {}),
    )


def _build_context(into: Path, model_tag: str, requirements: str) -> None:
    """Copy what the Bento includes into `into`, with the model's tag beside the service.

    The build reads its files from a copy so that nothing is written into the source tree: a
    `serving/api/bento_model.txt` there would make every service started from the checkout at the
    same moment (another test worker, `make serve`) look for the packed model instead of the
    registry's champion."""
    for pattern in INCLUDE:
        for source in ROOT.glob(pattern):
            if source.is_file():
                target = into / source.relative_to(ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    (into / MODEL_FILE.relative_to(ROOT)).write_text(model_tag + "\n", encoding="utf-8")
    (into / REQUIREMENTS).write_text(requirements, encoding="utf-8")


def build_bento() -> str:
    """Export the champion and build the Bento around it; return the Bento's tag."""
    model_tag = export_champion()
    tools = f"{ROOT / '.tools' / 'bin'}:{os.environ.get('PATH', '')}"
    # The Bento's Python environment is the lock file's, without the development tools.
    exported = subprocess.run(
        ["uv", "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": tools},
    )
    if exported.returncode != 0:
        raise RuntimeError(f"uv export failed: {exported.stderr.strip()}")
    previous, path = os.environ.get(MODEL_ENV), os.environ.get("PATH", "")
    # The service module declares the model only when this is set; BentoML runs uv to freeze.
    os.environ[MODEL_ENV] = model_tag
    os.environ["PATH"] = tools
    try:
        with tempfile.TemporaryDirectory(prefix="anbu-bento-") as context:
            _build_context(Path(context), model_tag, exported.stdout)
            bento = bentoml.bentos.build(
                "serving.api.service:Anbu",
                name=BENTO_NAME,
                version=model_tag.split(":")[1],
                include=INCLUDE,
                envs=[BentoEnvSchema(name=MODEL_ENV, value=model_tag)],
                python={"requirements_txt": REQUIREMENTS, "lock_packages": False},
                build_ctx=context,
            )
    finally:
        os.environ["PATH"] = path
        if previous is None:
            os.environ.pop(MODEL_ENV, None)
        else:
            os.environ[MODEL_ENV] = previous
    return str(bento.tag)

"""The BentoML service: scores, lists, outcomes and the planner page, behind API keys.

    ANBU_DATA=data/demo bentoml serve serving.service:Anbu      (or `anbu serve --data data/demo`)

At start it loads the registry's `champion` once and the round it serves (ANBU_AS_OF, default the
latest scored round under DIR/_scores; scored first if needed), so a `score` call is a lookup in
memory. Every response carrying household scores is written to the append-only audit log with the
caller, endpoint and households; the ordinary logs carry no household data (BentoML's access log is
off and request-parsing tracebacks are silenced: they may echo a request body).
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
from pathlib import Path

import bentoml
import numpy as np
import pandas as pd
from starlette.responses import JSONResponse

from features.catalogue import by_name
from serving.api_models import (
    HouseholdScore,
    LeftHousehold,
    ListedHousehold,
    ModelResponse,
    OutcomesRequest,
    OutcomesResponse,
    RankRequest,
    RankResponse,
    ReasonOut,
    ScoreFeaturesRequest,
    ScoreFeaturesResponse,
    ScoreRequest,
    ScoreResponse,
)
from serving.auth import ApiKeyMiddleware, keys_path
from serving.bento import bento_model_tag, load_bento_champion
from serving.champion import Champion, load_champion
from serving.guards import JsonBodyMiddleware
from serving.planner import planner_app
from serving.ranking import OutreachList, outreach_list
from serving.reasons import MAX_REASONS, explain
from serving.records import Records
from serving.rounds import SCORES_FOLDER, previous_round, scored_round, scores_path
from serving.scoring import band_of
from training.tracking import MODEL_NAME

logging.getLogger("bentoml._internal.server.http_app").setLevel(logging.CRITICAL)


class Settings:
    """Read from the environment once, so `bentoml serve` and tests configure it the same way."""

    def __init__(self) -> None:
        data = os.environ.get("ANBU_DATA")
        if not data:
            raise RuntimeError("set ANBU_DATA to the data directory the service reads (e.g. data/demo)")
        self.data = Path(data).resolve()
        self.as_of = os.environ.get("ANBU_AS_OF")
        self.records = Path(os.environ.get("ANBU_RECORDS") or self.data / "_records" / "anbu.sqlite")
        self.keys = keys_path()


def _settle() -> None:
    """Move what was just loaded out of the collector's sight. A scored city round leaves a large
    heap of long-lived objects that every full collection walked: at Seoul scale that pause was
    140 ms, landing on one `rank` call in ten. Frozen objects are still freed when dropped."""
    gc.collect()
    gc.freeze()


def _latest_scored(data: Path) -> pd.Timestamp | None:
    files = sorted((data / SCORES_FOLDER).glob("*.parquet"))
    return pd.Timestamp(files[-1].stem) if files else None


def _reasons(row: dict) -> list[ReasonOut]:
    codes = (row["reason_codes"] or "").split("|")
    out = []
    for slot in range(MAX_REASONS):
        ko = row.get(f"reason_{slot + 1}_ko")
        if ko is None or (isinstance(ko, float) and np.isnan(ko)):
            break
        out.append(ReasonOut(code=codes[slot], text_ko=ko, text_en=row[f"reason_{slot + 1}_en"]))
    return out


def _refuse(ctx: bentoml.Context, status: int, field: str, message: str, **extra) -> JSONResponse:
    """A 4xx naming the request field. Returned as a Response (BentoML passes it through unvalidated);
    the status goes through ctx because BentoML copies ctx's status onto whatever is returned."""
    ctx.response.status_code = status
    return JSONResponse({"error": message, "field": field, **extra}, status_code=status)


def _caller(ctx: bentoml.Context) -> tuple[str, str]:
    caller = ctx.request.state.caller
    return caller.name, caller.role


settings = Settings() if os.environ.get("ANBU_DATA") else None
web = planner_app()


@bentoml.asgi_app(web, path="/planner")
@bentoml.service(
    name="anbu",
    workers=1,
    logging={"access": {"enabled": False}},
    traffic={"timeout": 60},
)
class Anbu:
    if bento_model_tag():
        # Inside a built Bento (or while building one): the model travels with the Bento.
        bento_model = bentoml.models.BentoModel(bento_model_tag())

    def __init__(self) -> None:
        self.settings = settings or Settings()
        self.records = Records(self.settings.records)
        self._load()

    def _load(self) -> None:
        gc.unfreeze()  # what an earlier load kept may be collected once it is dropped
        tag = bento_model_tag()
        champion = load_bento_champion(tag) if tag else load_champion()
        as_of = (
            pd.Timestamp(self.settings.as_of) if self.settings.as_of else _latest_scored(self.settings.data)
        )
        if as_of is None:
            raise RuntimeError(
                f"no scored round under {self.settings.data / SCORES_FOLDER}; run `anbu score` or set ANBU_AS_OF"
            )
        self.champion: Champion = champion
        self.plan = champion.plan
        self.explainer = champion.explainer  # built at start (path tables), not on a request
        self.as_of = as_of.normalize()
        self.rounds: dict[pd.Timestamp, pd.DataFrame] = {}
        self.districts: dict[tuple[pd.Timestamp, str], pd.DataFrame] = {}
        self.served = self._round(self.as_of)
        web.state.service = self

    def _round(self, as_of: pd.Timestamp) -> pd.DataFrame:
        """A scored round, kept in memory; only the served round and those asked for are loaded."""
        if as_of not in self.rounds:
            if not scores_path(self.settings.data, as_of).is_file():
                # Only rounds scored by `anbu score` are served: a request must not be able to make
                # the service build arbitrary rounds.
                scored = sorted(p.stem for p in (self.settings.data / SCORES_FOLDER).glob("*.parquet"))
                raise LookupError(
                    f"as_of: no scored round for {as_of.date()}; scored rounds: {', '.join(scored)}"
                )
            scored = scored_round(self.settings.data, as_of, self.champion)
            self.rounds[as_of] = scored.set_index("household_id", drop=False)
            _settle()
        return self.rounds[as_of]

    def _requested_round(self, requested: dt.date | None) -> pd.Timestamp | None:
        """The round a request asks for (default: the served one); None when it lies in the future."""
        as_of = pd.Timestamp(requested) if requested else self.as_of
        return None if as_of > self.as_of else as_of

    def _refuse_future(self, ctx: bentoml.Context, field: str, requested: dt.date | None) -> JSONResponse:
        """The 422 for a round after the served one, the same on every endpoint."""
        return _refuse(ctx, 422, field, f"{field}: {requested} is after the served round {self.as_of.date()}")

    # --- scores -------------------------------------------------------------------------------

    @bentoml.api
    def score(self, request: ScoreRequest, ctx: bentoml.Context) -> ScoreResponse:
        """Scores of registered households in a round, with reasons; unknown ids listed, not fatal."""
        as_of = self._requested_round(request.as_of)
        if as_of is None:
            return self._refuse_future(ctx, "as_of", request.as_of)  # type: ignore[return-value]
        try:
            scored = self._round(as_of)
        except LookupError as error:
            return _refuse(ctx, 404, "as_of", str(error))  # type: ignore[return-value]
        known = [h for h in dict.fromkeys(request.household_ids) if h in scored.index]
        unknown = [h for h in dict.fromkeys(request.household_ids) if h not in scored.index]
        rows = scored.loc[known]
        scores = [
            HouseholdScore(
                household_id=row["household_id"],
                risk=float(row["risk"]),
                band=row["band"],
                percentile=float(row["percentile"]),
                rank=int(row["rank"]),
                reasons=_reasons(row),
            )
            for row in rows.to_dict("records")
        ]
        self.records.audit(*_caller(ctx), "score", known, {"round": str(as_of.date())})
        return ScoreResponse(
            model_version=self.champion.version,
            round_date=str(as_of.date()),
            scores=scores,
            unknown_household_ids=unknown,
        )

    @bentoml.api
    def score_features(self, request: ScoreFeaturesRequest, ctx: bentoml.Context) -> ScoreFeaturesResponse:
        """Scores for feature rows a service holds itself; names must be catalogue features."""
        features = self.champion.features
        allowed = set(features)
        for index, row in enumerate(request.households):
            unknown = sorted(set(row.features) - allowed)
            if unknown:
                return _refuse(  # type: ignore[return-value]
                    ctx,
                    422,
                    f"households[{index}].features",
                    f"households[{index}].features has names the model does not use: {unknown[:5]}",
                )
        frame = pd.DataFrame([{f: row.features.get(f) for f in features} for row in request.households])
        values = frame.astype("float64").to_numpy(na_value=np.nan)
        risk = self.champion.booster.predict(values)
        reasons = explain(self.explainer, values, self.plan)
        city = self.served["risk"].to_numpy()
        city_sorted = np.sort(city)
        percentile = 100.0 * np.searchsorted(city_sorted, risk, side="left") / max(len(city), 1)
        bands = band_of(risk)
        present = {f for row in request.households for f, v in row.features.items() if v is not None}
        ids = [row.household_id for row in request.households]
        self.records.audit(*_caller(ctx), "score_features", [i for i in ids if i], {"rows": len(ids)})
        return ScoreFeaturesResponse(
            model_version=self.champion.version,
            scores=[
                HouseholdScore(
                    household_id=ids[i],
                    risk=float(risk[i]),
                    band=bands[i],
                    percentile=float(percentile[i]),
                    rank=None,
                    reasons=[
                        ReasonOut(code=r.code, text_ko=r.text_ko, text_en=r.text_en) for r in reasons[i]
                    ],
                )
                for i in range(len(ids))
            ],
            features_missing=[f for f in features if f not in present],
        )

    # --- lists --------------------------------------------------------------------------------

    def _district(self, as_of: pd.Timestamp, gu: str) -> pd.DataFrame:
        """One district of a scored round, by rank; cut once per (round, district), so a list never
        scans the whole city."""
        key = (as_of, gu)
        if key not in self.districts:
            scored = self._round(as_of)
            self.districts[key] = scored[scored["gu"] == gu].sort_values("rank").reset_index(drop=True)
            _settle()
        return self.districts[key]

    def outreach(self, gu: str, dong: str | None, capacity: int, as_of: pd.Timestamp) -> OutreachList:
        """The list, shared by `rank`, the downloads and the planner page."""
        area = self._district(as_of, gu)
        if area.empty:
            raise LookupError(f"gu: no households in {gu!r} in the round of {as_of.date()}")
        if dong and not (area["dong_code"] == dong).any():
            raise LookupError(f"dong: no households in dong {dong!r} of {gu} in the round of {as_of.date()}")
        before = previous_round(self.settings.data, as_of)
        try:
            previous = self._district(before, gu)
        except LookupError:
            previous = None
        return outreach_list(
            area,
            previous if previous is not None and len(previous) else None,
            gu,
            dong,
            capacity,
            self.records.overrides_for(as_of.date()),
            self.records.overrides_for(before.date()),
        )

    @bentoml.api
    def rank(self, request: RankRequest, ctx: bentoml.Context) -> RankResponse:
        """A district's (or dong's) list for a team's capacity, with reasons and changes."""
        as_of = self._requested_round(request.as_of)
        if as_of is None:
            return self._refuse_future(ctx, "as_of", request.as_of)  # type: ignore[return-value]
        try:
            listed = self.outreach(request.gu, request.dong, request.capacity, as_of)
        except LookupError as error:
            return _refuse(ctx, 404, str(error).split(":")[0], str(error))  # type: ignore[return-value]
        self.records.audit(
            *_caller(ctx),
            "rank",
            listed.rows["household_id"].tolist(),
            {
                "gu": request.gu,
                "dong": request.dong,
                "capacity": request.capacity,
                "round": str(as_of.date()),
            },
        )
        return rank_response(listed, self.champion.version, request.gu, request.dong, request.capacity)

    # --- what comes back ----------------------------------------------------------------------

    @bentoml.api
    def outcomes(self, request: OutcomesRequest, ctx: bentoml.Context) -> OutcomesResponse:
        """Visit outcomes and planner overrides, stored append-only for the next training run."""
        name, _ = _caller(ctx)
        requested = self._requested_round(request.round_date)
        if requested is None:
            return self._refuse_future(ctx, "round_date", request.round_date)  # type: ignore[return-value]
        round_date = requested.date()
        try:
            registry = self._round(pd.Timestamp(round_date)).index
        except LookupError as error:
            return _refuse(ctx, 404, "round_date", str(error).replace("as_of", "round_date", 1))  # type: ignore[return-value]
        mentioned = [v.household_id for v in request.visits] + [o.household_id for o in request.overrides]
        unknown = sorted({h for h in mentioned if h not in registry})
        if unknown:
            return _refuse(  # type: ignore[return-value]
                ctx,
                422,
                "household_id",
                f"household_id: not in the registry of the round {round_date}: {unknown[:10]}",
                unknown_household_ids=unknown,
            )
        visits = self.records.record_outcomes([v.model_dump() for v in request.visits], name)
        overrides = self.records.record_overrides(
            [o.model_dump() for o in request.overrides], round_date, name
        )
        return OutcomesResponse(
            recorded_visits=len(visits), recorded_overrides=len(overrides), unknown_household_ids=[]
        )

    @bentoml.api
    def model(self) -> ModelResponse:
        """Which model serves, what it learnt from, how it measured, and its feature catalogue."""
        catalogue = by_name()
        return ModelResponse(
            model_name=MODEL_NAME,
            model_version=self.champion.version,
            run_id=self.champion.run_id,
            round_served=str(self.as_of.date()),
            training_window=self.champion.training_window,
            metrics={k: v for k, v in self.champion.metrics.items() if np.isfinite(v)},
            promotion=self.champion.promotion,
            features=[
                {
                    "name": f,
                    "family": catalogue[f].family,
                    "description_ko": catalogue[f].description_ko,
                    "description_en": catalogue[f].description_en,
                    "unit": catalogue[f].unit,
                }
                for f in self.champion.features
            ],
        )

    @bentoml.api
    def reload(self) -> dict:
        """Load the current champion and the newest scored round (admin), without a restart."""
        self._load()
        return {"model_version": self.champion.version, "round_served": str(self.as_of.date())}


def rank_response(
    listed: OutreachList, version: str, gu: str, dong: str | None, capacity: int
) -> RankResponse:
    def number(value) -> float | None:
        return None if value is None or pd.isna(value) else float(value)

    return RankResponse(
        model_version=version,
        round_date=listed.round_date,
        previous_round=listed.previous_round,
        gu=gu,
        dong=dong,
        capacity=capacity,
        households_in_area=listed.households_in_area,
        households=[
            ListedHousehold(
                list_rank=int(row["list_rank"]),
                household_id=row["household_id"],
                dong_code=str(row["dong_code"]),
                risk=float(row["risk"]),
                band=row["band"],
                band_ko=row["band_ko"],
                percentile=float(row["percentile"]),
                change=row["change"],
                previous_risk=number(row["previous_risk"]),
                reasons_changed=bool(row["reasons_changed"]),
                override=row["override"] or "",
                override_reason=row["override_reason"] or "",
                reasons=_reasons(row),
            )
            for row in listed.rows.to_dict("records")
        ],
        left_the_list=[
            LeftHousehold(
                household_id=row["household_id"],
                previous_risk=number(row["previous_risk"]),
                now_risk=number(row["now_risk"]),
                why=row["why"],
            )
            for row in listed.left.to_dict("records")
        ],
    )


Anbu.add_asgi_middleware(JsonBodyMiddleware)
Anbu.add_asgi_middleware(ApiKeyMiddleware)

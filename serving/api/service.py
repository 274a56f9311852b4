"""The BentoML service: scores, lists, outcomes and the planner page, behind scoped API keys.

    ANBU_DATA=data/demo bentoml serve serving.api.service:Anbu      (or `anbu serve --data data/demo`)

At start it loads the registry's `champion` once and the rounds it answers from, as `anbu score`
stored them (serving/scoring/served_rounds.py): the service reads rounds, it never scores or rewrites one.
Every response carrying household scores is written to the append-only, chained audit log with
the caller, endpoint and households; the ordinary logs carry no household data (BentoML's access
log is off; a failed request is logged with its request id, the exception's type and where it was
raised, not its message or body).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import re

import bentoml
import numpy as np
import pandas as pd
import pydantic

from anbu.settings import process_settings
from features.catalogue import by_name
from serving.api.bento import bento_model_tag, load_bento_champion
from serving.api.models import (
    LARGEST_LIST,
    ExcludedHousehold,
    ExpectedFindsOut,
    HouseholdScore,
    KeyDistrict,
    KeyScopeResponse,
    LeftHousehold,
    ListedHousehold,
    ModelResponse,
    NamedDong,
    OutcomesRequest,
    OutcomesResponse,
    RankRequest,
    RankResponse,
    ReasonOut,
    RoundHealthOut,
    ScoreFeaturesRequest,
    ScoreFeaturesResponse,
    ScoreRequest,
    ScoreResponse,
)
from serving.api.planner import PLANNER_PATH, planner_app
from serving.api.preflight import StartRefused, preflight
from serving.http import metrics_labels, request_timeout
from serving.http.access import PUBLIC, ApiKeyMiddleware, RouteTable, allow, route_table
from serving.http.body_guard import JsonBodyMiddleware
from serving.http.docs_page import DocsPageMiddleware
from serving.http.error_shape import ErrorShapeMiddleware
from serving.http.errors import answers
from serving.http.openapi_doc import OpenApiDocMiddleware, build_spec
from serving.http.response_headers import ResponseHeadersMiddleware
from serving.keys.callers import Caller
from serving.lists.builder import ListBuilder, ListRequest, requested_round
from serving.lists.dong_choice import dong_code_of, dong_name
from serving.lists.ranking import OutreachList
from serving.records.feedback import checked_feedback
from serving.records.store import IdempotencyKeyReused, Records, RequestOnce
from serving.refusal import Refused
from serving.scoring.champion import Champion, NoChampion, load_champion
from serving.scoring.households import band_of
from serving.scoring.reasons import explain
from serving.scoring.reasons import warm as warm_reasons
from serving.scoring.rounds import RoundUnreadable
from serving.scoring.served_rounds import ServedRounds, settle
from training.tracking import MODEL_NAME


class _NoRequestBodies(logging.Filter):
    """BentoML logs a request that failed validation with its traceback, which may echo the body."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], pydantic.ValidationError))


logging.getLogger("bentoml._internal.server.http_app").addFilter(_NoRequestBodies())
metrics_labels.install(lambda: _routes())
request_timeout.install()


SCORE_FIELDS = ["household_id", "risk", "band", "percentile", "rank", "reasons"]
"""What a `score` answer reads of a stored round's row (serving/scoring/households.py: SCORE_COLUMNS)."""


def _reasons(row: dict) -> list[ReasonOut]:
    """A stored household's reasons (serving/scoring/reasons.py: REASONS_TYPE) as the API shows them."""
    return [
        ReasonOut(code=reason["code"], text_ko=reason["text_ko"], text_en=reason["text_en"])
        for reason in row["reasons"]
    ]


def _caller(ctx: bentoml.Context) -> Caller:
    return ctx.request.state.caller


web = planner_app()


@bentoml.asgi_app(web, path=PLANNER_PATH)
@bentoml.service(
    name="anbu",
    workers=process_settings().workers,
    logging={"access": {"enabled": False}},
    traffic={"timeout": 60},
)
class Anbu:
    if bento_model_tag():
        # Inside a built Bento (or while building one): the model travels with the Bento.
        bento_model = bentoml.models.BentoModel(bento_model_tag())

    @bentoml.on_deployment
    def refuse_to_start_broken() -> None:  # type: ignore[misc]
        """Before the port opens (main process): one sentence and exit 1, not a crash loop."""
        if not bento_model_tag():
            try:
                preflight(process_settings())
            except StartRefused as refusal:
                raise SystemExit(f"anbu: {refusal}") from None

    def __init__(self) -> None:
        self.settings = process_settings()
        self.records = Records(self.settings.records_location, self.settings.records_secret_file)
        self._load()

    def _load(self) -> None:
        tag = bento_model_tag()
        champion = load_bento_champion(tag) if tag else load_champion()
        as_of = preflight(self.settings, champion_version=champion.version)
        self.champion: Champion = champion
        self.plan = champion.plan
        self.explainer = champion.explainer  # built at start (path tables), not on a request
        warm_reasons(self.plan)
        self.as_of = as_of
        self.rounds = ServedRounds(self.settings.folder.root, self.as_of, champion.version).load()
        settle()
        self.lists = ListBuilder(self.rounds, self.records, self.settings.known_window_days)
        self.served = self.rounds.served.households
        # Every district of the round, even one whose codes validation blanked (a re-coded
        # district keeps its whole-district list), with the dong codes its households carry.
        self.dongs_by_district = {
            gu: sorted(codes.dropna().astype(str).unique())
            for gu, codes in self.served.groupby("gu", sort=True, observed=True, dropna=False)["dong_code"]
        }
        web.state.service = self

    # --- scores -------------------------------------------------------------------------------

    @bentoml.api
    @allow("service", "admin")
    @answers
    def score(self, request: ScoreRequest, ctx: bentoml.Context) -> ScoreResponse:
        """Scores of registered households in a round, with reasons; unknown ids listed, not fatal."""
        loaded = requested_round(self.rounds, "as_of", request.as_of)
        scored = loaded.households
        asked = list(dict.fromkeys(request.household_ids))
        known = [h for h in asked if h in scored.index]
        unknown = [h for h in asked if h not in scored.index]
        scores = [
            HouseholdScore(
                household_id=row["household_id"],
                risk=float(row["risk"]),
                band=row["band"],
                percentile=float(row["percentile"]),
                rank=int(row["rank"]),
                reasons=_reasons(row),
            )
            for row in loaded.rows(known, SCORE_FIELDS)
        ]
        caller = _caller(ctx)
        round_date = str(loaded.scored.as_of.date())
        self.records.audit(caller.name, caller.role, "score", known, {"round": round_date})
        return ScoreResponse(
            model_version=loaded.model_version,
            round_date=round_date,
            scores=scores,
            unknown_household_ids=unknown,
        )

    @bentoml.api
    @allow("service", "admin")
    @answers
    def score_features(self, request: ScoreFeaturesRequest, ctx: bentoml.Context) -> ScoreFeaturesResponse:
        """Scores for feature rows a service holds itself; names must be catalogue features."""
        features = self.champion.features
        allowed = set(features)
        for index, row in enumerate(request.households):
            unknown = sorted(set(row.features) - allowed)
            if unknown:
                field = f"households[{index}].features"
                raise Refused(
                    422,
                    field,
                    f"{field} has names the model does not use: {unknown[:5]}",
                    code="unknown_feature",
                )
        frame = pd.DataFrame([{f: row.features.get(f) for f in features} for row in request.households])
        values = frame.astype("float64").to_numpy(na_value=np.nan)
        risk = self.champion.model.predict(values)
        reasons = explain(self.explainer, values, self.plan)
        city_sorted = np.sort(self.served["risk"].to_numpy())
        percentile = 100.0 * np.searchsorted(city_sorted, risk, side="left") / max(len(city_sorted), 1)
        bands = band_of(risk)
        present = {f for row in request.households for f, v in row.features.items() if v is not None}
        ids = [row.household_id for row in request.households]
        caller = _caller(ctx)
        # No stored household is read: the rows are the caller's own, echoed back, so the audit row
        # names none (it still says who scored how many).
        self.records.audit(caller.name, caller.role, "score_features", [], {"rows": len(ids)})
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

    def outreach(
        self,
        caller: Caller,
        gu: str,
        dong: str | None,
        capacity: int,
        as_of: dt.date | None,
        recheck_capacity: int = 0,
    ) -> OutreachList:
        """The list, shared by `rank`, the downloads and the planner page: inside the caller's
        scope and capacity limit (checked first), built as every door builds it
        (serving/lists/builder.py). A dong may be named by its name or code (a name or code
        that is not one of the district's dongs is refused first: that is no secret)."""
        dong = dong_code_of(gu, dong, self.dongs_by_district.get(gu, ()))
        refusal = caller.refusal_for_area(gu, dong)
        if refusal is not None:
            raise Refused(403, *refusal, code="outside_scope")
        limit = caller.capacity_limit(self.settings.max_capacity)
        if caller.role != "admin" and capacity > limit:
            raise Refused(
                403,
                "capacity",
                f"capacity: {capacity} is over this key's limit of {limit} households",
                code="over_capacity_limit",
                limit=limit,
            )
        return self.lists.build(ListRequest(gu, capacity, dong, recheck_capacity, as_of))

    @bentoml.api
    @allow("planner", "admin")
    @answers
    def rank(self, request: RankRequest, ctx: bentoml.Context) -> RankResponse:
        """A district's (or dong's) list for a team's capacity, with reasons and changes."""
        caller = _caller(ctx)
        dong = dong_code_of(request.gu, request.dong, self.dongs_by_district.get(request.gu, ()))
        listed = self.outreach(
            caller, request.gu, dong, request.capacity, request.as_of, request.recheck_capacity
        )
        self.records.audit(
            caller.name,
            caller.role,
            "rank",
            revealed_by(listed),
            {
                "gu": request.gu,
                "dong": dong,
                "capacity": request.capacity,
                "recheck_capacity": request.recheck_capacity,
                "round": listed.round_date,
            },
        )
        return rank_response(listed, request.gu, dong, request.capacity)

    # --- what comes back ----------------------------------------------------------------------

    @bentoml.api
    @allow("planner", "admin", stores=True)
    @answers
    def outcomes(self, request: OutcomesRequest, ctx: bentoml.Context) -> OutcomesResponse:
        """Visit outcomes and planner overrides, stored append-only for the next training run.

        Decisions are taken for the round being served: a list planners saw in an earlier round stays
        as they saw it, so a planner key cannot record for a past round; an admin key can, and its
        record is kept as a correction (audited with the round it corrects)."""
        caller = _caller(ctx)
        answer = OutcomesResponse(
            recorded_visits=len(request.visits),
            recorded_overrides=len(request.overrides),
            unknown_household_ids=[],
        )
        once = request_once(ctx, request)
        if once is not None:
            # A retry is answered as the request it repeats was, before anything that depends on
            # what has been recorded since (an end_care already taken, a round since closed).
            taken = self.records.taken(once, caller.name)
            if taken is not None:
                if taken != once.body_sha256:
                    raise _key_reused(once.key)
                ctx.response.headers["Idempotent-Replayed"] = "true"
                return answer
        rounds = self.rounds  # read once: a reload mid-request changes nothing here
        loaded = requested_round(rounds, "round_date", request.round_date)
        feedback = checked_feedback(
            caller,
            [v.model_dump() for v in request.visits],
            [o.model_dump() for o in request.overrides],
            loaded.households,
            loaded.scored.as_of.date(),
            rounds.as_of.date(),
            self.records,
        )
        try:
            recorded = self.records.record_feedback(
                feedback.visits,
                feedback.decisions,
                feedback.care,
                feedback.round_date,
                caller.name,
                once,
                feedback.correction_audit,
            )
        except IdempotencyKeyReused as error:
            raise _key_reused(error.key) from None
        if recorded is None:  # a retry that raced the request it repeats: nothing stored again
            ctx.response.headers["Idempotent-Replayed"] = "true"
        return answer

    @bentoml.api
    @allow("planner", "service", "monitor", "admin", any_key=True)
    @answers
    def key_scope(self, ctx: bentoml.Context) -> KeyScopeResponse:
        """What the calling key may ask for: its districts and dongs in the served round, its
        capacity limit and routes (the planner page offers only these)."""
        caller = _caller(ctx)
        districts = []
        if caller.role in ("planner", "admin"):
            for gu, dongs in self.dongs_by_district.items():
                seen = [d for d in dongs if caller.sees(gu, d)]
                whole = caller.refusal_for_area(gu, None) is None
                if seen or whole:
                    named = sorted((dong_name(d), d) for d in seen)
                    districts.append(
                        KeyDistrict(
                            gu=gu,
                            dongs=seen,
                            named_dongs=[NamedDong(code=d, name=n) for n, d in named],
                            whole_district=whole,
                        )
                    )
        return KeyScopeResponse(
            name=caller.name,
            role=caller.role,
            city_wide=caller.city_wide,
            districts=districts,
            max_capacity=LARGEST_LIST
            if caller.role == "admin"
            else min(caller.capacity_limit(self.settings.max_capacity), LARGEST_LIST),
            routes=list(caller.routes),
            round_served=str(self.as_of.date()),
            rounds=sorted(self.rounds.scored_dates(), reverse=True),
            round_health=RoundHealthOut.of(self.rounds.served.health),
        )

    @bentoml.api
    @allow("planner", "service", "monitor", "admin")
    @answers
    def model(self) -> ModelResponse:
        """Which model serves, what it learnt from, how it measured, and its feature catalogue."""
        catalogue = by_name()
        return ModelResponse(
            model_name=MODEL_NAME,
            model_version=self.champion.version,
            model_family=self.champion.model.family,
            run_id=self.champion.run_id,
            round_served=str(self.as_of.date()),
            round_model_version=self.rounds.served.model_version,
            training_window=self.champion.training_window,
            metrics={k: v for k, v in self.champion.metrics.items() if np.isfinite(v)},
            promotion=self.champion.promotion,
            features=[
                {
                    "name": f,
                    "family": "protected" if catalogue[f].protected else catalogue[f].family,
                    "description_ko": catalogue[f].description_ko,
                    "description_en": catalogue[f].description_en,
                    "unit": catalogue[f].unit,
                }
                for f in self.champion.features
            ],
            round_health=RoundHealthOut.of(self.rounds.served.health),
        )

    @bentoml.api
    @allow("admin")
    @answers
    def reload(self) -> dict:
        """Load the current champion and the newest scored round (admin), without a restart; when
        that cannot be done, the service goes on as it was and says why."""
        try:
            self._load()
        except (StartRefused, NoChampion, RoundUnreadable) as error:
            raise Refused(
                409, "model", f"not reloaded, still serving as before: {error}", code="not_reloaded"
            ) from None
        return {
            "model_version": self.champion.version,
            "round_served": str(self.as_of.date()),
            "round_model_version": self.rounds.served.model_version,
        }


def _key_reused(key: str) -> Refused:
    return Refused(
        422,
        IDEMPOTENCY_HEADER,
        f"{IDEMPOTENCY_HEADER}: {key!r} was used before by this key for another body",
        code="idempotency_key_reused",
    )


IDEMPOTENCY_HEADER = "idempotency-key"
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


def request_once(ctx: bentoml.Context, request: OutcomesRequest) -> RequestOnce | None:
    """The request's Idempotency-Key with the digest of its body as validated (so spacing and key
    order do not make a retry another request); None without the header."""
    key = ctx.request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise Refused(
            400,
            IDEMPOTENCY_HEADER,
            f"{IDEMPOTENCY_HEADER}: give 1 to 200 visible ASCII characters (a UUID, say)",
            code="invalid_format",
        )
    body = json.dumps(request.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return RequestOnce(key, hashlib.sha256(body.encode()).hexdigest())


def revealed_by(listed: OutreachList) -> list[str]:
    """Every household a `rank` answer names: its lists, who left them since the previous round
    (with their risk then and now), and the area's excluded households: what its audit row holds."""
    named = [*listed.rows["household_id"], *listed.left["household_id"], *listed.excluded["household_id"]]
    return list(dict.fromkeys(named))


def rank_response(listed: OutreachList, gu: str, dong: str | None, capacity: int) -> RankResponse:
    def number(value) -> float | None:
        return None if value is None or pd.isna(value) else float(value)

    versions = listed.rows["model_version"].dropna().unique()
    return RankResponse(
        model_version=str(versions[0]) if len(versions) else "",
        round_date=listed.round_date,
        previous_round=listed.previous_round,
        gu=gu,
        dong=dong,
        dong_name=dong_name(dong) if dong else None,
        capacity=capacity,
        discovery_capacity=listed.discovery_capacity,
        recheck_capacity=listed.recheck_capacity,
        households_in_area=listed.households_in_area,
        known_in_area=listed.known_in_area,
        known_window_days=listed.known_window_days,
        expected_finds=ExpectedFindsOut(
            households=listed.expected.households,
            expected=round(listed.expected.expected, 2),
            low=listed.expected.low,
            high=listed.expected.high,
            sentence_ko=listed.expected.sentence_ko,
            sentence_en=listed.expected.sentence_en,
        ),
        households=[
            ListedHousehold(
                on_list=row["list"],
                list_why_ko=row["list_why_ko"],
                list_why_en=row["list_why_en"],
                list_rank=int(row["list_rank"]),
                household_id=row["household_id"],
                dong_code=None if pd.isna(row["dong_code"]) else str(row["dong_code"]),
                dong_name=row["dong_name"],
                risk=float(row["risk"]),
                band=row["band"],
                band_ko=row["band_ko"],
                percentile=float(row["percentile"]),
                change=row["change"],
                previous_risk=number(row["previous_risk"]),
                risk_rise=number(row["risk_rise"]),
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
        excluded=[
            ExcludedHousehold(**{**row, "dong_code": None if pd.isna(row["dong_code"]) else row["dong_code"]})
            for row in listed.excluded.to_dict("records")
        ],
    )


@functools.cache
def _routes() -> RouteTable:
    """Every route's declaration, read from the routes themselves once they are all defined."""
    return route_table(
        {api.route: api.func for api in Anbu.apis.values()},
        {PLANNER_PATH: web},
        process_settings().metrics_open,
    )


def _document() -> dict:
    """BentoML's document with our refusals and key schemes (serving/http/openapi_doc.py)."""
    table = _routes()
    generated = Anbu.openapi_spec.asdict()
    roles = {path: table.templates.get(path) or table.roles(path) for path in generated.get("paths", {})}
    apis = {api.route for api in Anbu.apis.values()} | set(table.templates)
    public = {path for path, r in roles.items() if r == PUBLIC}
    keyed = {path for path, r in roles.items() if r and r != PUBLIC}
    return build_spec(generated, keyed & apis, public, keyed - apis, stores=table.stores)


def _keys_file():
    return process_settings().keys_file


def _body_fields() -> dict[str, frozenset[str]]:
    """Each API route's top-level body names: its parameters as BentoML declares them."""
    return {api.route: frozenset(api.input_spec.model_fields) for api in Anbu.apis.values()}


Anbu.add_asgi_middleware(ErrorShapeMiddleware)  # first: it sees every answer the others give
Anbu.add_asgi_middleware(ResponseHeadersMiddleware)
Anbu.add_asgi_middleware(OpenApiDocMiddleware, document=_document)
Anbu.add_asgi_middleware(ApiKeyMiddleware, table=_routes, keys_file=_keys_file)
# Inside the key check: a body is read and parsed only for a caller with a key.
Anbu.add_asgi_middleware(
    JsonBodyMiddleware, fields=_body_fields, max_body_bytes=process_settings().max_body_bytes
)
Anbu.add_asgi_middleware(DocsPageMiddleware)

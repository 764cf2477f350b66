"""The scoring service's application: :func:`create_app` wires the model, the lookups, the
limits and the routes from one :class:`~custseg.serve.config.ServeConfig`.

Routes: ``POST /v1/score`` (segments of customers given by their totals or their orders),
``GET /v1/customers/{customer_id}`` (a customer's latest segment), ``GET /health`` (liveness)
and ``GET /ready`` (readiness). Every answer, errors included, is documented in the OpenAPI
schema (``/openapi.json``, browsable at ``/docs``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, FastAPI, Path, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from pydantic_core import to_json

from custseg.live.orders import MAX_ID_LENGTH
from custseg.live.scoring import PublishedModel
from custseg.live.state_store import SEGMENT_FIELDS
from custseg.serve.config import ServeConfig
from custseg.serve.limits import BodyLimitMiddleware
from custseg.serve.lookup import PublishedSegments, StateStore, StateStoreUnavailable
from custseg.serve.schemas import (
    FEATURE_EXAMPLE,
    ORDER_EXAMPLE,
    CustomerSegmentResponse,
    ErrorResponse,
    FeatureScoreRequest,
    HealthResponse,
    ReadyResponse,
    ScoreRequest,
    ScoreResponse,
    ValidationErrorResponse,
)
from custseg.serve.scoring import InvalidRequestError, score_features, score_orders
from custseg.serve.security import BearerTokenMiddleware
from custseg.version import __version__

DESCRIPTION = """\
Customer segments from the published custseg model, live.

`POST /v1/score` takes customers' totals (`"input": "features"`, the default) or their orders
(`"input": "orders"`) and returns each one's segment with the model version. `GET
/v1/customers/{customer_id}` returns a customer's latest segment: the stream consumer's, else
the last run's. With a token configured (`CUSTSEG_SERVE_TOKEN`), `/v1` requests need
`Authorization: Bearer <token>`. Limits: the request body (413), the customers per request
(413), and every value's type and bounds (422, naming the field).
"""


class FastJSONResponse(JSONResponse):
    """JSON rendered by pydantic's serializer (compiled): a batch's answer in a fraction of the
    time of :func:`json.dumps`; floats keep their shortest exact text."""

    def render(self, content: Any) -> bytes:
        return to_json(content)


def _error(description: str, model: type = ErrorResponse, **extra: Any) -> dict[str, Any]:
    return {"description": description, "model": model, **extra}


UNAUTHORIZED = _error(
    "The bearer token is missing or wrong (only when a token is configured).",
    headers={"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
)
TOO_LARGE = _error("The body is over --max-body-bytes, or the customers over --max-batch.")
BAD_LENGTH = _error("The Content-Length header is not a number.")
INVALID = _error("A value is missing or wrong; `field` names it.", ValidationErrorResponse)


def create_app(config: ServeConfig) -> Any:
    """The ASGI application serving ``config``'s model (loaded now).

    Raises
    ------
    ModelIntegrityError
        The model file is missing, damaged or from an incompatible version.
    ConfigError
        The Redis URL is not one.
    """
    model = PublishedModel(config.model_path, check_interval=config.reload_interval)
    segments = (
        PublishedSegments(config.segments_path, check_interval=config.reload_interval)
        if config.segments_path is not None
        else None
    )
    store = StateStore(config.redis_url, config.redis_prefix) if config.redis_url else None
    # Documents the scheme; BearerTokenMiddleware enforces it before the body is read.
    security = [Security(HTTPBearer(auto_error=False))] if config.token else []
    secured = {401: UNAUTHORIZED} if config.token else {}

    app = FastAPI(title="custseg scoring service", version=__version__, description=DESCRIPTION)
    app.state.model, app.state.segments, app.state.store = model, segments, store

    @app.post(
        "/v1/score",
        response_model=ScoreResponse,
        dependencies=security,
        responses={**secured, 400: BAD_LENGTH, 413: TOO_LARGE, 422: INVALID},
        summary="Segments of customers given by their totals or their orders",
    )
    async def score(
        body: Annotated[
            ScoreRequest,
            Body(
                openapi_examples={
                    "features": {"summary": "Customers' totals", "value": FEATURE_EXAMPLE},
                    "orders": {"summary": "Customers' orders", "value": ORDER_EXAMPLE},
                }
            ),
        ],
    ) -> Any:
        if len(body.customers) > config.max_batch:
            return JSONResponse(
                {
                    "detail": f"customers: {len(body.customers):,} customers in one request; at "
                    f"most {config.max_batch:,} (--max-batch). Split the request."
                },
                status_code=413,
            )
        loaded = model.current()  # once: a reload meanwhile never changes this answer
        if isinstance(body, FeatureScoreRequest):
            return FastJSONResponse(score_features(body, loaded))
        return FastJSONResponse(score_orders(body, loaded, config.default_as_of_date()))

    @app.get(
        "/v1/customers/{customer_id}",
        response_model=CustomerSegmentResponse,
        dependencies=security,
        responses={
            **secured,
            404: _error("Neither the state store nor the published segments know the customer."),
            422: INVALID,
            503: _error("The state store is configured but does not answer."),
        },
        summary="A customer's latest segment",
    )
    def customer(
        customer_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)],
    ) -> Any:
        live = store.get(customer_id) if store is not None else None
        if live is not None:
            return {**live.__dict__, "source": "stream"}
        published = segments.get(customer_id) if segments is not None else None
        if published is None:
            return JSONResponse(
                {
                    "detail": f"customer {customer_id!r} has no segment: not scored by the "
                    "stream consumer nor in the published segments."
                },
                status_code=404,
            )
        segment_id, segment_name = published
        return {
            "customer_id": customer_id,
            "segment_id": segment_id,
            "segment_name": segment_name,
            "source": "published",
            # The CSV holds the segment only: the state store's other fields are unknown.
            **dict.fromkeys(field for field in SEGMENT_FIELDS if not field.startswith("segment_")),
        }

    @app.get("/health", response_model=HealthResponse, summary="Liveness: the process answers")
    async def health() -> Any:
        return {"status": "ok"}

    @app.get(
        "/ready",
        response_model=ReadyResponse,
        responses={503: {"description": "Not ready; `reason` says why.", "model": ReadyResponse}},
        summary="Readiness: the model is loaded and the state store answers",
    )
    def ready() -> Any:
        loaded = model.current()
        answer: dict[str, Any] = {
            "ready": True,
            "reason": None,
            "model_version": loaded.version,
            "last_reload_error": model.reload_error,
            "state_store": "not configured",
        }
        if segments is not None and segments.error is not None:
            answer.update(ready=False, reason=f"published segments: {segments.error}")
        if store is not None:
            reachable = store.reachable()
            answer["state_store"] = "reachable" if reachable else "unreachable"
            if not reachable:
                answer.update(ready=False, reason="the state store (Redis) does not answer")
        return JSONResponse(answer, status_code=200 if answer["ready"] else 503)

    _add_error_handlers(app)
    # The last added runs first: the token is checked before any of the body is read.
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=config.max_body_bytes)
    if config.token:
        app.add_middleware(BearerTokenMiddleware, token=config.token)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": [_field_error(e) for e in exc.errors()]}, status_code=422)

    @app.exception_handler(InvalidRequestError)
    async def refused(_request: Request, exc: InvalidRequestError) -> JSONResponse:
        detail = [{"field": exc.field, "msg": exc.reason, "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(StateStoreUnavailable)
    async def unavailable(_request: Request, exc: StateStoreUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)


def _field_error(error: dict[str, Any]) -> dict[str, str]:
    """One pydantic error as ``{"field": "customers[0].revenue", "msg": ..., "type": ...}``."""
    loc = list(error.get("loc", ()))
    if loc and loc[0] in ("body", "path", "query", "header"):
        loc = loc[1:]
    if loc and loc[0] in ("features", "orders"):  # the tag of the form, not a field
        loc = loc[1:]
    kind = str(error.get("type", "value_error"))
    msg = str(error.get("msg", "")).removeprefix("Value error, ")
    if kind == "json_invalid":
        loc, msg = [], f"is not valid JSON ({(error.get('ctx') or {}).get('error', msg)})"
    elif kind == "union_tag_invalid":
        loc, msg = ["input"], 'must be "features" (the default) or "orders"'
    elif kind == "union_tag_not_found":
        msg = 'must be a JSON object: {"customers": [...]} (and "input": "orders" for orders)'
        loc = []
    field = ""
    for part in loc:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    return {"field": field or "body", "msg": msg, "type": kind}

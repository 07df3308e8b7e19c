"""`/ask`: answer a question from the indexed articles (POST with a JSON body, or GET)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from qa.validation import MAX_TOP_K
from web.deps import DeadlineDep, IndexDep, QueryFiltersDep, ServicesDep
from web.schemas import AskRequest, AskResponse

router = APIRouter(tags=["ask"])


def _answer(services: ServicesDep, index: IndexDep, request: AskRequest, deadline: float) -> dict:
    filters = request.filters.to_filters() if request.filters is not None else None
    return services.assistant.ask(request.question, request.top_k, index=index, min_score=request.min_score,
                                  deadline=deadline, filters=filters,
                                  recency_half_life_days=request.recency_half_life_days).to_dict()


@router.post("/ask", response_model=AskResponse)
def ask_post(request: AskRequest, services: ServicesDep, index: IndexDep, deadline: DeadlineDep) -> dict:
    """Answer a question from the indexed articles."""
    return _answer(services, index, request, deadline)


@router.get("/ask", response_model=AskResponse)
def ask_get(services: ServicesDep, index: IndexDep, deadline: DeadlineDep, filters: QueryFiltersDep,
            question: Annotated[str, Query(max_length=20_000)],
            top_k: Annotated[int, Query(ge=1, le=MAX_TOP_K)] = 3,
            min_score: Annotated[float, Query(ge=0.0, le=1.0)] = 0.0,
            recency_half_life_days: Annotated[float | None, Query(gt=0, le=36_500)] = None) -> dict:
    """The same as `POST /ask`, with the question and filters in the query string
    (`source`, `section` and `document_id` may repeat)."""
    try:
        request = AskRequest(question=question, top_k=top_k, min_score=min_score, filters=filters,
                             recency_half_life_days=recency_half_life_days)
    except ValidationError as err:
        raise RequestValidationError(err.errors()) from None
    return _answer(services, index, request, deadline)

"""`/ask`: answer a question from the indexed articles (POST with a JSON body, or GET)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from web.deps import DeadlineDep, IndexDep, QueryFiltersDep, ServicesDep
from web.openapi import responses
from web.schemas import AskRequest, AskResponse, HalfLife, MinScore, Question, TopK

router = APIRouter(tags=["ask"])


def _answer(services: ServicesDep, index: IndexDep, request: AskRequest, deadline: float) -> dict:
    filters = request.filters
    result = services.assistant.ask(request.question, request.top_k, index=index, min_score=request.min_score,
                                    deadline=deadline, filters=filters.as_given() if filters else None,
                                    recency_half_life_days=request.recency_half_life_days).to_dict()
    if filters is not None and filters.inverted:  # nothing can match: say why in the words of the request
        result["message"] = (f"No article can match: date_from {filters.date_from} is after date_to "
                             f"{filters.date_to}; swap them.")
    return result


@router.post("/ask", response_model=AskResponse, responses=responses(422, 503))
def ask_post(request: AskRequest, services: ServicesDep, index: IndexDep, deadline: DeadlineDep) -> dict:
    """Answer a question from the indexed articles."""
    return _answer(services, index, request, deadline)


@router.get("/ask", response_model=AskResponse, responses=responses(422, 503, long_query=True))
def ask_get(services: ServicesDep, index: IndexDep, deadline: DeadlineDep, filters: QueryFiltersDep,
            question: Annotated[Question, Query()], top_k: Annotated[TopK, Query()] = 3,
            min_score: Annotated[MinScore, Query()] = 0.0,
            recency_half_life_days: Annotated[HalfLife | None, Query()] = None) -> dict:
    """The same as `POST /ask`, with the question and filters in the query string
    (`source`, `section` and `document_id` may repeat)."""
    request = AskRequest.model_construct(question=question, top_k=top_k, min_score=min_score, filters=filters,
                                         recency_half_life_days=recency_half_life_days)
    return _answer(services, index, request, deadline)

"""`/feedback`: whether an answer was right, or where the right answer is."""

from __future__ import annotations

from fastapi import APIRouter

from qa.feedback import Feedback, FeedbackError, UnknownDocumentError
from web.deps import IndexDep, ServicesDep, WriteKeyDep
from web.errors import FeedbackConflict
from web.openapi import responses
from web.schemas import FeedbackOut, FeedbackRequest

router = APIRouter(tags=["feedback"])


@router.post("/feedback", response_model=FeedbackOut, status_code=201, responses=responses(401, 404, 409, 422, 503))
def post_feedback(_: WriteKeyDep, request: FeedbackRequest, services: ServicesDep, index: IndexDep) -> dict:
    """Record whether an answer was right, or where the right answer is (needs the API key when
    one is configured). A span that ends where or before it starts is a 422; offsets that do not
    cite `answer` in the article as it is now are a 409. Collected feedback becomes training data
    with `scripts/export_feedback.py`."""
    feedback = Feedback(question=request.question, answer=request.answer, document_id=request.document_id,
                        start=request.start, end=request.end, verdict=request.verdict,
                        corrected_start=request.corrected_start, corrected_end=request.corrected_end,
                        note=request.note)
    try:
        return services.record_feedback(index, feedback).to_dict()
    except UnknownDocumentError:
        raise
    except FeedbackError as err:  # FeedbackRequest checked the request's own rules: this is about the article
        raise FeedbackConflict(str(err)) from err

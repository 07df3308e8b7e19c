"""`/feedback`: whether an answer was right, or where the right answer is."""

from __future__ import annotations

from fastapi import APIRouter

from qa.feedback import Feedback
from qa.validation import check_document_id
from web.deps import IndexDep, ServicesDep, WriteKeyDep
from web.schemas import FeedbackOut, FeedbackRequest

router = APIRouter(tags=["feedback"])


@router.post("/feedback", response_model=FeedbackOut, status_code=201)
def post_feedback(_: WriteKeyDep, request: FeedbackRequest, services: ServicesDep, index: IndexDep) -> dict:
    """Record whether an answer was right, or where the right answer is (needs the API key when
    one is configured). Collected feedback becomes training data with `scripts/export_feedback.py`."""
    feedback = Feedback(question=request.question, answer=request.answer,
                        document_id=check_document_id(request.document_id), start=request.start, end=request.end,
                        verdict=request.verdict, corrected_start=request.corrected_start,
                        corrected_end=request.corrected_end, note=request.note)
    return services.record_feedback(index, feedback).to_dict()

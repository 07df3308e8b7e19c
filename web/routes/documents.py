"""`/documents`: list the archive, read one article, add articles (pasted text or an uploaded file)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from qa.ingestion.adding import pasted_article, uploaded_article
from qa.validation import DocumentNotFound
from web.deps import IndexDep, QueryFiltersDep, ServicesDep, WriteKeyDep, from_another_site
from web.openapi import responses
from web.schemas import AddedOut, DocumentId, DocumentListOut, DocumentOut, NewArticle, document_summary

router = APIRouter(tags=["documents"])


@router.get("/documents", response_model=DocumentListOut, responses=responses(422, 503, long_query=True))
def list_documents(index: IndexDep, filters: QueryFiltersDep,
                   offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                   limit: Annotated[int, Query(ge=0, le=100)] = 20,
                   newest_first: Annotated[bool, Query(description=(
                       "Newest published first (undated last, ties by id), as the archive page lists them; "
                       "default: by id"))] = False) -> dict:
    """The archive's articles ordered by id (or newest first), a page at a time, with the same
    filters as `/ask` (a date range that ends before it starts matches none)."""
    page = index.documents(filters.as_given(), offset, limit, newest_first=newest_first)
    return {"total": page.total, "offset": offset, "limit": limit,
            "documents": [document_summary(d) for d in page.documents], "archive": index.stats().to_dict()}


@router.post("/documents", response_model=AddedOut, status_code=201, responses=responses(401, 409, 422, 503, 507))
def add_document(_: WriteKeyDep, article: NewArticle, services: ServicesDep, index: IndexDep) -> dict:
    """Add an article from pasted text (needs the API key when one is configured). It is saved
    in the archive folder (`added/`) and indexed at once; answers can cite it on return."""
    published = article.published.isoformat() if article.published is not None else None
    name, data = pasted_article(article.title, article.text, published=published, source=article.source,
                                section=article.section, author=article.author, url=article.url)
    return services.add_article(index, name, data)


def same_site_only(request: Request) -> None:
    """Uploads come from this site's pages or from API clients, never from another site."""
    if from_another_site(request):
        raise HTTPException(403, detail="articles can be added from this site's own pages or from API clients only")


@router.post("/documents/upload", response_model=AddedOut, status_code=201, dependencies=[Depends(same_site_only)],
             responses=responses(401, 403, 409, 422, 503, 507))
async def upload_document(_: WriteKeyDep, services: ServicesDep, index: IndexDep,
                          file: Annotated[UploadFile, File(description="An article file: .html, .pdf, .txt, .md, "
                                                                       ".rss, .atom, .json, .jsonl")]) -> dict:
    """Add the articles of an uploaded file (its metadata comes from the file itself)."""
    name, data = uploaded_article(file.filename or "", await file.read())
    return await run_in_threadpool(services.add_article, index, name, data)


@router.get("/documents/{document_id:path}", response_model=DocumentOut, responses=responses(404, 422, 503))
def get_document(document_id: DocumentId, index: IndexDep) -> dict:
    """One indexed article, its text exactly as indexed (answer offsets refer to it)."""
    document = index.document(document_id)
    if document is None:
        raise DocumentNotFound(document_id)
    return document.to_dict()

"""`/documents`: list the archive, read one article, add articles (pasted text or an uploaded file)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from qa.ingestion.adding import pasted_article, uploaded_article
from qa.validation import DocumentNotFound, check_document_id
from web.deps import IndexDep, QueryFiltersDep, ServicesDep, WriteKeyDep, from_another_site
from web.schemas import AddedOut, DocumentListOut, DocumentOut, NewArticle, document_summary

router = APIRouter(tags=["documents"])


@router.get("/documents", response_model=DocumentListOut)
def list_documents(index: IndexDep, filters: QueryFiltersDep,
                   offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                   limit: Annotated[int, Query(ge=0, le=100)] = 20) -> dict:
    """The archive's articles ordered by id, a page at a time, with the same filters as `/ask`."""
    page = index.documents(filters.to_filters(), offset, limit)
    return {"total": page.total, "offset": offset, "limit": limit,
            "documents": [document_summary(d) for d in page.documents], "archive": index.stats().to_dict()}


@router.post("/documents", response_model=AddedOut, status_code=201)
def add_document(_: WriteKeyDep, article: NewArticle, services: ServicesDep, index: IndexDep) -> dict:
    """Add an article from pasted text (needs the API key when one is configured). It is saved
    in the archive folder (`added/`) and indexed at once; answers can cite it on return."""
    name, data = pasted_article(article.title, article.text, published=article.published, source=article.source,
                                section=article.section, author=article.author, url=article.url)
    return services.add_article(index, name, data)


def same_site_only(request: Request) -> None:
    """Uploads come from this site's pages or from API clients, never from another site."""
    if from_another_site(request):
        raise HTTPException(403, detail="articles can be added from this site's own pages or from API clients only")


@router.post("/documents/upload", response_model=AddedOut, status_code=201, dependencies=[Depends(same_site_only)])
async def upload_document(_: WriteKeyDep, services: ServicesDep, index: IndexDep,
                          file: Annotated[UploadFile, File(description="An article file: .html, .pdf, .txt, .md, "
                                                                       ".rss, .atom, .json, .jsonl")]) -> dict:
    """Add the articles of an uploaded file (its metadata comes from the file itself)."""
    name, data = uploaded_article(file.filename or "", await file.read())
    return await run_in_threadpool(services.add_article, index, name, data)


@router.get("/documents/{document_id:path}", response_model=DocumentOut)
def get_document(document_id: str, index: IndexDep) -> dict:
    """One indexed article, its text exactly as indexed (answer offsets refer to it)."""
    document = index.document(check_document_id(document_id))
    if document is None:
        raise DocumentNotFound(document_id)
    return document.to_dict()

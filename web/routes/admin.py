"""Operations: `/admin/reload` (load the current index version now) and `/healthz`."""

from __future__ import annotations

from fastapi import APIRouter

from web.deps import ServicesDep, WriteKeyDep
from web.errors import NoIndexError
from web.openapi import responses
from web.schemas import HealthOut, ReloadOut

router = APIRouter(tags=["admin"])
health_router = APIRouter(tags=["health"])


@router.post("/admin/reload", response_model=ReloadOut, responses=responses(401, 503))
def reload_index(_: WriteKeyDep, services: ServicesDep) -> dict:
    """Re-read the index directory's `CURRENT` and load that version now, without waiting
    for the periodic check (needs the API key when one is configured)."""
    services.live_index.load()
    index = services.live_index.get()
    if index is None:
        raise NoIndexError(services)
    return {"index_version": index.manifest.get("version"), "error": services.live_index.error}


@health_router.get("/healthz", response_model=HealthOut, response_model_exclude_unset=True, responses=responses())
def health(services: ServicesDep) -> dict:
    """Status, index versions and counts.

    `status` is "no_index" until an index loads, "degraded" while an error keeps the
    served version from being the one `CURRENT` names (a failed hot reload, or a start-up
    fallback from a damaged version; `error` says why), "ok" otherwise. `updated_at` says when
    the archive last changed; `following`, when the server follows its folders or feeds, what
    it follows, each feed's last poll and the last write.
    """
    index = services.live_index.get()
    state = services.live_index.health()
    versions = {"served_version": state.served_version, "current_version": state.current_version,
                "error": state.error}
    following = {"following": services.following.status()} if services.following is not None else {}
    if index is None:
        return {"status": "no_index", **versions, **following}
    manifest = index.manifest
    return {
        "status": state.status,
        "index_version": manifest.get("version"),
        **versions,
        "documents": manifest.get("documents"),
        "chunks": manifest.get("chunks"),
        "built_at": manifest.get("built_at"),
        "updated_at": manifest.get("updated_at") or manifest.get("built_at"),
        "embedding_model": manifest.get("embedding_model", {}).get("name"),
        "reader_backend": services.reader.backend,
        **following,
    }

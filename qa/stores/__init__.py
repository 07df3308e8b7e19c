"""Storage back ends behind one interface (`qa.stores.base`); `backend_from_settings` picks one."""

from __future__ import annotations

from qa.stores.base import StoreBackend


def backend_from_settings(settings) -> StoreBackend:
    """The configured store (`NEWSQA_STORE`): the FAISS folder `index_dir`, or Milvus at `milvus_uri`.
    Cheap: nothing is opened or connected until the first read or write."""
    if settings.store == "milvus":
        from qa.stores.milvus_store import MilvusBackend

        token = settings.milvus_token.get_secret_value() if settings.milvus_token is not None else None
        return MilvusBackend(settings.milvus_uri, settings.milvus_collection, token=token)
    from qa.stores.faiss_store import FaissBackend

    return FaissBackend(settings.index_dir)

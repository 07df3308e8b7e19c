"""Storage back ends behind one interface (`qa.stores.base`), and the one place that picks one.

Nothing outside `qa.stores` names a concrete store: it asks this factory for a `StoreBackend`
(`backend_from_settings`, `folder_backend`, `temporary_backend`). The concrete packages are
imported only when a backend of theirs is made.
"""

from __future__ import annotations

from pathlib import Path

from qa.stores.base import StoreBackend

STORE_NAMES = ("faiss", "milvus")


def backend_from_settings(settings) -> StoreBackend:
    """The configured store (`NEWSQA_STORE`): the FAISS folder `index_dir`, or Milvus at `milvus_uri`.
    Cheap: nothing is opened or connected until the first read or write."""
    if settings.store == "milvus":
        from qa.stores.milvus import MilvusBackend

        token = settings.milvus_token.get_secret_value() if settings.milvus_token is not None else None
        return MilvusBackend(settings.milvus_uri, settings.milvus_collection, token=token)
    return folder_backend(settings.index_dir)


def folder_backend(path: str | Path, **options) -> StoreBackend:
    """The default local store (FAISS + bm25s + SQLite) in the folder `path`; `options` go to it
    (`keep_previous`: older versions kept besides the current one)."""
    from qa.stores.faiss import FaissBackend

    return FaissBackend(path, **options)


def temporary_backend(store: str = STORE_NAMES[0]) -> StoreBackend:
    """A store of kind `store` (one of `STORE_NAMES`) in a new temporary folder, deleted once the
    returned backend is no longer referenced (the backend holds the folder in its `temporary`
    attribute): what an index built for an evaluation or a test lives in. Milvus runs as Milvus
    Lite from a file in that folder."""
    import tempfile

    if store not in STORE_NAMES:
        raise ValueError(f"unknown store {store!r}: use one of {', '.join(STORE_NAMES)}")
    folder = tempfile.TemporaryDirectory(prefix=f"newsqa-{store}-")
    if store == "milvus":
        from qa.stores.milvus import MilvusBackend

        backend = MilvusBackend(str(Path(folder.name) / "index.db"), "evaluation")
    else:
        backend = folder_backend(folder.name)
    backend.temporary = folder
    return backend

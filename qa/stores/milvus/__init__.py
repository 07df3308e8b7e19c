"""The Milvus store: hybrid retrieval in Milvus Lite (a local `.db` file) or a Milvus cluster.

`MilvusBackend(uri, collection, token)` is a place (`StoreBackend`); `MilvusBackend.open()`
returns a `MilvusStore` (`Store`), one version of the archive. The same code serves
Milvus Lite (`uri="/data/news.db"`) and a cluster (`uri="http://host:19530"`, `token`).

The modules, by concern:

- `backend`: `MilvusBackend`, the layout of versions and the alias, and the write path;
- `store`: `MilvusStore`, one opened version (search, documents, listings, statistics);
- `schema`: the collection of a version and its chunk rows (`document_rows`);
- `expressions`: filter expressions (`Expr`, `filter_expression`), never spliced user text;
- `connection`: the lazily opened client, "server gone" as `StoreUnavailableError`, scans;
- `lease`: one write at a time per place (process lock; cluster lease).

Milvus Lite runs all of it: aliases, filters on BM25 requests, nullable fields and collection
properties all work there; collections come back released after a restart, so `open` loads them.
"""

from qa.stores.milvus.backend import MilvusBackend
from qa.stores.milvus.expressions import Expr, filter_expression
from qa.stores.milvus.schema import document_rows
from qa.stores.milvus.store import MilvusStore

__all__ = ["Expr", "MilvusBackend", "MilvusStore", "document_rows", "filter_expression"]

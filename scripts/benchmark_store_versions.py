import sys, time, tempfile, cProfile, pstats, io, os
sys.path.insert(0, os.getcwd())
sys.argv = ["x"]
import numpy as np
from scripts import benchmark_scale as bs
from qa.stores import folder_backend
from qa.stores.base import ChangeSet
from qa.sync import embedding_info
from qa.config import Settings
from qa.embedding import Embedder
from qa.index import NewsIndex
N = int(os.environ.get("N", "200000"))
base = bs.base_vectors()
s = Settings()
emb = Embedder(s.embedding_model_path(), s.embedding_model_name)
arch = bs.scaled_archive(N, base)
tmp = tempfile.mkdtemp(dir="/tmp")
b = folder_backend(tmp)
t = time.perf_counter()
b.write(ChangeSet(upserts=arch, replace_all=True, settings={"embedding_model": embedding_info(emb), "chunking": bs.CHUNKING}))
print("write", round(time.perf_counter() - t, 2), b.manifest(b.current_version()).get("stage_seconds"))
del arch
t = time.perf_counter(); st = b.open(); print("open", round(time.perf_counter() - t, 2)); getattr(st, "warm_up", lambda: None)(); print("open+warm", round(time.perf_counter() - t, 2))
pr = cProfile.Profile(); pr.enable(); st2 = b.open(); pr.disable()
out = io.StringIO(); pstats.Stats(pr, stream=out).sort_stats("cumulative").print_stats(18); print(out.getvalue()[:3500])
q = emb.encode(bs.QUESTIONS)
for rep in range(2):
    ts = []
    for i in range(60):
        t = time.perf_counter(); st.search(bs.QUESTIONS[i % 20], q[i % 20], 10); ts.append(time.perf_counter() - t)
    print("search p50 ms", round(1000 * np.median(ts), 1))
ts = []
for i in range(60):
    t = time.perf_counter(); st.search(bs.QUESTIONS[i % 20], q[i % 20], 10, dense_weight=0.0); ts.append(time.perf_counter() - t)
print("sparse p50 ms", round(1000 * np.median(ts), 1))
ts = []
for i in range(60):
    t = time.perf_counter(); st.search(bs.QUESTIONS[i % 20], q[i % 20], 10, sparse_weight=0.0); ts.append(time.perf_counter() - t)
print("dense p50 ms", round(1000 * np.median(ts), 1))
from qa.sync import sync_index
ids = [d for d in list(st.fingerprints())[:100]]
t = time.perf_counter(); sm = sync_index(b, emb, deletes=ids); print("delete100", round(time.perf_counter() - t, 2), sm.stages)

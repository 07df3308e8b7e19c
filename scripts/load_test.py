#!/usr/bin/env python
"""Hostile-input fuzzing and load tests of the HTTP app, on loopback only; each stops by itself.

    python scripts/load_test.py fuzz   [--requests 10000]               # 0 5xx expected
    python scripts/load_test.py load   [--clients 50] [--seconds 60]    # errors besides deliberate 503s, p50/p95
    python scripts/load_test.py levels [--levels 1,4,16,64] [--seconds 15]
    python scripts/load_test.py soak   [--clients 16] [--seconds 600]   # errors, and memory over time
        [--url http://127.0.0.1:PORT --server-pid PID]                  # the server alone, in its own process
    common: [--index-dir DIR | --url http://127.0.0.1:PORT] [--max-in-flight N] [--out docs/load.json]

Without --url the app is served in this process (`serve_in_background`) over the given
index, or over the sample articles indexed into a temporary directory, with a random
API key so that the write endpoint refuses the fuzzer. Results are merged into
--out under the mode's name, with the date and the machine.

fuzz: raw HTTP requests over sockets (random bytes, lone surrogates, control
characters, bodies over the size limit with and without Content-Length, wrong types,
unknown fields, bad JSON, odd methods, paths and query strings, broken HTTP); about
3% are valid questions, so the fuzz stays cheap: the rest never reach a model.
soak: the load mode in one-minute windows, with the resident memory of this process (the
in-process server and its clients) read after each, or, with --url and --server-pid, of the
server process alone: memory growth is measured from the end of the first window (models
warm, caches filled) to the end of the last.
load/levels/soak: C threads, each with its own keep-alive connection, ask valid questions
for T seconds, every one distinct (a sample question with a request number), so no
answer could come from a cache; a 503 with Retry-After (the question queue full, or its
wait run out) is deliberate and is followed by a jittered back-off of up to Retry-After,
as a well-behaved client would.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import socket
import string
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from qa.config import PROJECT_ROOT, Settings  # noqa: E402
from qa.evaluation import percentile  # noqa: E402
from scripts.benchmark_scale import rss_mb  # noqa: E402

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
QUESTIONS = [
    "Who requested the meeting?", "How many civilians are besieged?",
    "Who did US officials blame for the convoy strike?",
    "When is the Security Council meeting?", "What did the Syrian government announce on Thursday?",
    "Which refugee camp did government troops seize?", "Who backs the Syrian government?",
    "What is the boiling point of liquid nitrogen?",
    "Who requested the meeting of the Security Council about the offensive on Aleppo, and when does it begin?",
]


def machine() -> str:
    model = platform.processor()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{platform.machine()}, {os.cpu_count()} cores, {model}".strip(", ")


@contextmanager
def target(args):
    """The base URL under test: --url (loopback only) or the app served here."""
    if args.url:
        host = urlsplit(args.url).hostname
        if host not in LOOPBACK:
            raise SystemExit(f"error: --url must be a loopback address ({', '.join(sorted(LOOPBACK))}), not {host}")
        yield args.url.rstrip("/"), {}
        return
    from pydantic import SecretStr

    from web.app import create_app, serve_in_background
    from qa.embedding import Embedder
    from qa.sync import rebuild_index
    from web.deps import load_services

    with ExitStack() as stack:
        index_dir = args.index_dir
        if index_dir is None:
            index_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="newsqa-load-")))
            settings = Settings()
            rebuild_index(settings.articles, index_dir, Embedder.from_settings(settings))
        overrides = {"index_dir": index_dir, "api_key": SecretStr(os.urandom(16).hex())}
        for name in ("max_in_flight", "max_queued", "queue_wait_s"):
            if getattr(args, name) is not None:
                overrides[name] = getattr(args, name)
        settings = Settings(**overrides)
        services = load_services(settings)
        errors = Counter()

        class CountErrors(logging.Handler):  # unexpected failures the app logged (each answered 500)
            def emit(self, record):
                errors[record.getMessage()[:120]] += 1

        logging.getLogger("web.errors").addHandler(CountErrors(logging.ERROR))
        url = stack.enter_context(serve_in_background(create_app(services=services)))
        logging.getLogger("uvicorn.error").setLevel(logging.ERROR)  # "Invalid HTTP request" by the thousand
        yield url, {"server": "in-process", "index_dir": str(index_dir), "max_in_flight": settings.max_in_flight,
                    "max_queued": settings.max_queued, "queue_wait_s": settings.queue_wait_s,
                    "request_timeout_s": settings.request_timeout_s, "max_body_bytes": settings.max_body_bytes,
                    "logged_errors": errors}


# ---------------------------------------------------------------- fuzz

def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=True).encode()


def _random_text(rng: random.Random, n: int) -> str:
    pools = [string.printable, "\x00\x01\x07\x08\x0b\x0c\x1b\x1f\x7f\x85\x9f", "\u200b\u202e\ufeff\ufffd\u2028",
             "éßøж中文🙂", "\ud800\udbff\udc00\udfff"]
    return "".join(rng.choice(rng.choice(pools)) for _ in range(n))


def _request(method: str, path: bytes | str, body: bytes = b"", headers: dict | None = None,
             chunked: bool = False, content_length: bool = True) -> bytes:
    path = path.encode("latin-1") if isinstance(path, str) else path
    lines = [method.encode("latin-1") + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: ".encode("latin-1") + (value if isinstance(value, bytes) else value.encode("latin-1")))
    if chunked:
        lines.append(b"Transfer-Encoding: chunked")
        pieces = [body[i:i + 4096] for i in range(0, len(body), 4096)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    elif content_length and (body or method in ("POST", "PUT", "PATCH")):
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def hostile_request(rng: random.Random) -> tuple[str, bytes]:
    """One (category, raw HTTP request); most are invalid and stop before any model."""
    ct = {"Content-Type": "application/json"}
    question = rng.choice(QUESTIONS)
    kind = rng.choices(
        ["valid", "random_bytes", "surrogate", "control", "oversized", "oversized_chunked", "wrong_type",
         "unknown_field", "bad_json", "non_object", "weird_path", "weird_query", "weird_method", "broken_http",
         "write_without_key", "bad_page_input"],
        weights=[3, 8, 8, 8, 3, 3, 8, 8, 8, 6, 10, 10, 4, 6, 3, 4])[0]
    if kind == "valid":
        choice = rng.randrange(3)
        if choice == 0:
            return kind, _request("POST", "/ask", _json({"question": question, "top_k": rng.randint(1, 10)}), ct)
        if choice == 1:
            return kind, _request("GET", "/ask?question=" + quote(question))
        return kind, _request("GET", "/?q=" + quote(question))
    if kind == "random_bytes":
        return kind, _request("POST", "/ask", os.urandom(rng.randint(0, 2000)), rng.choice([ct, {}]))
    if kind == "surrogate":
        escaped = rng.choice(["\\ud800", "\\udfff", "\\ud83d", "\\udc00x"])
        raw = rng.choice([b'{"question": "Who %s requested?"}' % escaped.encode(),
                          '{"question": "Who \udc80?"}'.encode("utf-8", "surrogatepass")])
        if rng.random() < 0.5:
            return kind, _request("POST", "/ask", raw, ct)
        return kind, _request("GET", rng.choice(["/ask?question=", "/?q=", "/documents/", "/articles/x?q="])
                              + rng.choice(["%ED%A0%80", "%ED%BF%BF", "%F0%9F", "%C0%AF", "%FF%FE"]) + "who")
    if kind == "control":
        text = question[:5] + rng.choice("\x00\x01\x07\x1b\x7f\x85\x9f\x1c") + question[5:]
        if rng.random() < 0.5:
            return kind, _request("POST", "/ask", _json({"question": text}), ct)
        return kind, _request("GET", rng.choice(["/ask?question=", "/?q="]) + quote(text))
    if kind in ("oversized", "oversized_chunked"):
        size = rng.choice([65_537, 100_000, 1_000_000])
        body = b'{"question": "' + b"a" * size + b'"}'
        return kind, _request("POST", "/ask", body, ct, chunked=kind == "oversized_chunked")
    if kind == "wrong_type":
        value = rng.choice([42, 3.5, None, True, ["Who?"], {"$gt": ""}, "", " " * 50, "x" * 1001])
        top_k = rng.choice([3, "3", "three", -1, 0, 11, 1e400 if rng.random() < 0.1 else 2.5, None, [1], 10**30])
        return kind, _request("POST", "/ask", json.dumps({"question": value, "top_k": top_k}).encode(), ct)
    if kind == "unknown_field":
        field = rng.choice(["topk", "Question", "extra", "__proto__", "constructor", "x" * 1000, "\\ud800"])
        return kind, _request("POST", "/ask", b'{"question": "Who?", "%s": 1}' % field.encode(), ct)
    if kind == "bad_json":
        body = rng.choice([b'{"question": "Who', b'{"question": "Who?"} trailing', b"{'question': 'Who?'}",
                           b'{"question": NaN}', b"[" * rng.randint(1000, 60_000), b'{"a":' * 5000,
                           b'{"question": "Who?", "top_k": 1' + b"0" * 5000 + b"}", b"\xef\xbb\xbf{}", b"\xff\xfe{}",
                           b'{"question": "Who?", "question": 1}', b"{}"])
        return kind, _request("POST", "/ask", body, rng.choice([ct, {"Content-Type": "text/plain"}, {}]))
    if kind == "non_object":
        return kind, _request("POST", "/ask", rng.choice([b"[]", b'"Who?"', b"42", b"null", b"true",
                                                          b'[{"question": "Who?"}]']), ct)
    if kind == "weird_path":
        path = rng.choice([
            "/documents/" + quote(_random_text(rng, rng.randint(1, 50)).encode("utf-8", "surrogatepass")),
            "/articles/" + quote(_random_text(rng, rng.randint(1, 50)).encode("utf-8", "surrogatepass")),
            "/static/%00", "/static/../../../etc/passwd", "/static/..%2f..%2fetc%2fpasswd", "//ask", "/ask/",
            "/%2e%2e/%2e%2e/", "/documents/" + "a" * rng.randint(1000, 6000), "/" + "%41" * 3000,
            "/docs/../ask", "/healthz/%00", "/favicon.ico", "*", "http://127.0.0.1/ask?question=Who",
        ])
        return kind, _request(rng.choice(["GET", "GET", "HEAD", "POST"]), path)
    if kind == "weird_query":
        query = rng.choice([
            "question=" + quote(_random_text(rng, rng.randint(1, 60)).encode("utf-8", "surrogatepass")),
            "question=Who%3F&question=What%3F&top_k=3&top_k=x", "question=&top_k=", "question", "=&&&=",
            "question=Who%3F&top_k=" + "9" * 5000, "question=" + "a" * 25_000, "question=Who%3F&top_k=-0",
            "q=" + quote(_random_text(rng, 30).encode("utf-8", "surrogatepass")) + "&top_k=0",
            "question=Who%3F&top_k=%00", "question=%", "question=%zz%",
        ])
        return kind, _request("GET", rng.choice(["/ask?", "/?"]) + query)
    if kind == "weird_method":
        return kind, _request(rng.choice(["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO", "CONNECT"]),
                              rng.choice(["/ask", "/", "/documents/x", "/admin/reload", "/healthz"]), b"{}", ct)
    if kind == "broken_http":
        return kind, rng.choice([
            os.urandom(rng.randint(1, 300)),
            b"GET /ask?question=Who HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: abc\r\n\r\n",
            b"POST /ask HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: -1\r\n\r\n",
            b"POST /ask HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\nContent-Length: 9\r\n\r\n{}",
            b"POST /ask HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            b"POST /ask HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Evil: a\rb\r\n\r\n",
            b"GET /\x00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            b"GET / HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n",
            b"GET / HTTP/1.1\r\nConnection: close\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n",
            b"GET /?q=Who HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: \xff\xfe\r\n\r\n",
        ])
    if kind == "write_without_key":
        headers = rng.choice([{}, {"Authorization": "Bearer wrong"}, {"X-API-Key": "' OR 1=1 --"},
                              {"Authorization": "Basic Zm9vOmJhcg=="}, {"Authorization": "Bearer"},
                              {"Authorization": b"Bearer \xff\xfe"}])
        return kind, _request("POST", "/admin/reload", b"", headers)
    # bad_page_input: offsets and ids of the article page
    start, end = rng.choice([("-1", "5"), ("10", "5"), ("x", "y"), ("9" * 400, "1"), ("0", "99999999"), ("", "")])
    return kind, _request("GET", f"/articles/un-security-council-aleppo?start={start}&end={end}&q="
                          + quote(_random_text(rng, 10).encode("utf-8", "surrogatepass")))


def send_raw(url: str, raw: bytes, timeout: float = 30.0) -> tuple[int | None, bytes]:
    """(status, body) of one raw request on its own connection; status None: no answer."""
    parts = urlsplit(url)
    data = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        try:
            sock.sendall(raw)
        except OSError:
            pass  # the server may answer (413) and close before a large body is all sent
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except OSError:
            pass
    if not data.startswith(b"HTTP/"):
        return None, data
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def fuzz(args) -> dict:
    rng = random.Random(args.seed)
    requests = [hostile_request(rng) for _ in range(args.requests)]
    by_status, by_kind, no_detail, no_answer = Counter(), {}, Counter(), Counter()
    examples_5xx = []
    lock = threading.Lock()
    started = time.monotonic()
    with target(args) as (url, info):
        def one(item):
            kind, raw = item
            status, body = send_raw(url, raw)
            detail = True
            if status is not None and status >= 400 and not raw.startswith(b"HEAD "):  # HEAD: never a body
                try:
                    detail = bool(json.loads(body).get("detail"))
                except (ValueError, AttributeError):
                    # uvicorn's own answer to broken HTTP is plain text; the pages answer in HTML
                    detail = body.strip() != b"" and kind in ("broken_http", "weird_path", "bad_page_input") or (
                        b"<html" in body.lower())
            with lock:
                by_status[str(status)] += 1
                by_kind.setdefault(kind, Counter())[str(status)] += 1
                if status is None:
                    no_answer[kind] += 1
                elif status >= 400 and not detail:
                    no_detail[f"{kind} {status}"] += 1
                if status is not None and status >= 500 and len(examples_5xx) < 10:
                    examples_5xx.append({"kind": kind, "status": status, "request": raw[:300].decode("latin-1"),
                                         "body": body[:300].decode("utf-8", "replace")})

        with ThreadPoolExecutor(args.clients or 4) as pool:
            list(pool.map(one, requests))
        seconds = time.monotonic() - started
        errors = dict(info.pop("logged_errors", {}))
    five_xx = sum(n for s, n in by_status.items() if s != "None" and int(s) >= 500)
    return {**info, "requests": len(requests), "seconds": round(seconds, 1),
            "by_status": dict(sorted(by_status.items())),
            "5xx": five_xx, "5xx_examples": examples_5xx, "4xx_without_reason": dict(no_detail),
            "closed_without_answer": dict(no_answer), "server_logged_errors": errors,
            "by_kind": {k: dict(sorted(v.items())) for k, v in sorted(by_kind.items())}}


# ---------------------------------------------------------------- load and levels

def run_clients(url: str, clients: int, seconds: float, seed: int, first: int = 0) -> dict:
    stop_at = time.monotonic() + seconds
    served, statuses, errors = [], Counter(), Counter()
    refusals: list[float] = []  # how long a refused request took to be refused
    lock = threading.Lock()
    asked = iter(range(first, 10**12))  # every request asks a distinct question: no answer can be reused

    def client(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        with httpx.Client(base_url=url, timeout=60) as http:
            while time.monotonic() < stop_at:
                with lock:
                    number = next(asked)
                question = f"{rng.choice(QUESTIONS)} ({number})"
                began = time.perf_counter()
                try:
                    response = http.post("/ask", json={"question": question, "top_k": 3})
                except httpx.HTTPError as err:
                    with lock:
                        errors[type(err).__name__] += 1
                    continue
                took = (time.perf_counter() - began) * 1000
                with lock:
                    statuses[response.status_code] += 1
                    if response.status_code == 200:
                        served.append(took)
                    elif response.status_code == 503:
                        refusals.append(took)
                    elif response.status_code != 503 or "retry-after" not in response.headers:
                        errors[f"HTTP {response.status_code}: {response.text[:100]}"] += 1
                if response.status_code == 503:
                    time.sleep(rng.uniform(0, float(response.headers.get("retry-after", 1))))

    began = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    elapsed = time.monotonic() - began
    return {"clients": clients, "seconds": round(elapsed, 1), "served": len(served),
            "served_per_s": round(len(served) / elapsed, 2), "refused_503": statuses.get(503, 0),
            "refused_share": round(statuses.get(503, 0) / max(1, len(served) + statuses.get(503, 0)), 4),
            "refusal_p50_ms": round(percentile(refusals, 0.5), 1) if refusals else None,
            "errors": sum(errors.values()), "error_kinds": dict(errors),
            "p50_ms": round(percentile(served, 0.5), 1), "p95_ms": round(percentile(served, 0.95), 1),
            "max_ms": round(max(served), 1) if served else None}


def load(args) -> dict:
    with target(args) as (url, info):
        httpx.post(f"{url}/ask", json={"question": QUESTIONS[0]}, timeout=60)  # warm-up
        result = run_clients(url, args.clients or 50, args.seconds or 60, args.seed)
        info["server_logged_errors"] = dict(info.pop("logged_errors", {}))
    return {**info, **result}


def levels(args) -> dict:
    rows = []
    with target(args) as (url, info):
        httpx.post(f"{url}/ask", json={"question": QUESTIONS[0]}, timeout=60)
        for clients in [int(c) for c in args.levels.split(",")]:
            rows.append(run_clients(url, clients, args.seconds or 15, args.seed))
            print(json.dumps(rows[-1]), flush=True)
        info["server_logged_errors"] = dict(info.pop("logged_errors", {}))
    return {**info, "levels": rows}


def soak(args) -> dict:
    if args.url and not args.server_pid:
        raise SystemExit("soak measures the server's memory: with --url, give the server's --server-pid")
    windows = []
    with target(args) as (url, info):
        httpx.post(f"{url}/ask", json={"question": QUESTIONS[0]}, timeout=60)
        seconds, window = args.seconds or 600, 60.0
        for number in range(max(1, round(seconds / window))):
            row = run_clients(url, args.clients or 16, window, args.seed + number, first=number * 10**9)
            row["resident_mb"] = round(rss_mb(args.server_pid or "self"), 1)
            windows.append(row)
            print(json.dumps(row), flush=True)
        info["server_logged_errors"] = dict(info.pop("logged_errors", {}))
    served = sum(w["served"] for w in windows)
    refused = sum(w["refused_503"] for w in windows)
    first, last = windows[0]["resident_mb"], windows[-1]["resident_mb"]
    measured = f"the server, process {args.server_pid} (clients in this one)" if args.server_pid else (
        "this process: the server and its clients")
    return {**info, "memory_of": measured, "clients": args.clients or 16, "seconds": round(sum(w["seconds"] for w in windows), 1),
            "served": served, "refused_503": refused, "refused_share": round(refused / max(1, served + refused), 4),
            "errors": sum(w["errors"] for w in windows),
            "p95_ms_worst_window": max(w["p95_ms"] for w in windows),
            "resident_mb_after_first_window": first, "resident_mb_at_end": last,
            "memory_growth_share": round((last - first) / first, 4), "windows": windows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["fuzz", "load", "levels", "soak"])
    parser.add_argument("--url", help="a running server on loopback (default: serve one in this process)")
    parser.add_argument("--index-dir", type=Path, help="index to serve (default: the sample articles, indexed afresh)")
    parser.add_argument("--max-in-flight", type=int, help="NEWSQA_MAX_IN_FLIGHT for the in-process server")
    parser.add_argument("--max-queued", type=int, help="NEWSQA_MAX_QUEUED for the in-process server")
    parser.add_argument("--queue-wait-s", type=float, help="NEWSQA_QUEUE_WAIT_S for the in-process server")
    parser.add_argument("--requests", type=int, default=10_000, help="fuzz: requests to send")
    parser.add_argument("--clients", type=int, help="concurrent clients (fuzz 4, load 50)")
    parser.add_argument("--seconds", type=float, help="duration (load 60, each level 15, soak 600)")
    parser.add_argument("--levels", default="1,4,16,64", help="levels: concurrent clients, comma-separated")
    parser.add_argument("--server-pid", type=int, help="soak with --url: the server process whose memory is read")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "load.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    result = {"fuzz": fuzz, "load": load, "levels": levels, "soak": soak}[args.mode](args)
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), **result}
    report = json.loads(args.out.read_text()) if args.out.exists() else {}
    report[args.mode] = result
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if args.mode == "fuzz":
        return 1 if result["5xx"] else 0
    return 1 if result.get("errors") or any(r["errors"] for r in result.get("levels", [])) else 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python
"""Check a served API against its own OpenAPI document with schemathesis, every check, and record it.

    newsqa serve --index-dir /tmp/sample-index --port 8765 &     # a served sample index
    python scripts/check_contract.py --url http://127.0.0.1:8765 [--examples 500] [--seed 29]
                                     [--out docs/contract.json]

Runs `schemathesis run URL/openapi.json --checks all` (all phases: examples, coverage, fuzzing,
stateful) with scripts/schemathesis.toml, one worker, up to --examples test cases per operation
and phase, prints schemathesis's own report, and merges the result into --out under the number
of examples, with the date, the machine and the command: the failures (0 expected), the test
cases and the running time. Exit status: schemathesis's (0 when nothing failed). The run adds
articles and feedback to the served index: serve a copy. `make test` runs a bounded check in
process (tests/integration/web/test_contract.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "scripts" / "schemathesis.toml"
KEPT = ("schemathesis_version", "seed", "started_at", "running_time", "stop_reason", "complete", "exit_code",
        "operations", "phases", "test_cases", "failures", "errors", "warnings")


def _machine() -> str:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    return f"{platform.machine()}, {os.cpu_count()} cores" + (f", {model}" if model else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the served API (default: make run's)")
    parser.add_argument("--examples", type=int, default=500, help="test cases per operation and phase")
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "contract.json")
    args = parser.parse_args(argv)

    schemathesis = Path(sys.executable).parent / "schemathesis"
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        command = [str(schemathesis), "--config-file", str(CONFIG), "run", f"{args.url.rstrip('/')}/openapi.json",
                   "--checks", "all", "--max-examples", str(args.examples), "--workers", "1",
                   "--seed", str(args.seed), "--report", "json", "--report-json-path", str(report)]
        status = subprocess.run(command, cwd=ROOT).returncode
        if not report.exists():
            print(f"schemathesis wrote no report (exit status {status})", file=sys.stderr)
            return status or 1
        result = json.loads(report.read_text())

    shown = ["schemathesis", "--config-file", "scripts/schemathesis.toml", *command[3:-4]]
    record = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": _machine(), "url": args.url,
              "command": " ".join(shown), **{key: result.get(key) for key in KEPT}}
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results[f"{args.examples} examples"] = record
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    unique = result.get("test_cases", {}).get("unique_failures")
    print(f"{args.examples} examples per operation: {unique} unique failures, "
          f"{result.get('test_cases', {}).get('generated')} test cases in {result.get('running_time', 0):.0f} s "
          f"-> {args.out}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())

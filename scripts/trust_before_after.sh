#!/usr/bin/env bash
# Issue #28's report sets, crowded and one-article ("alone": each set's own articles only), once per
# side, each with the candidate dump that scripts/plot_calibration.py draws from (runs/dumps/trust/).
# A side is a name, run with the shipped reader and calibration, or NAME=CALIBRATION_JSON, run with
# the shipped reader and that calibration (a copy in runs/reader-NAME). About 15 minutes a side on 2 cores.
#   bash scripts/trust_before_after.sh [OUT_DIR] [SIDES]
#   bash scripts/trust_before_after.sh docs/eval/trust/detail \
#     "before=docs/eval/trust/detail/calibration-before.json detail=qa/models/reader/calibration.json"
# (paths from the repository root; names and paths without spaces)
set -euo pipefail
cd "$(dirname "$0")/.."
D=../shared/data/qa
O=${1:-docs/eval/trust}
SIDES=${2:-shipped}
E=".venv/bin/newsqa evaluate"
mkdir -p runs/dumps/trust "$O"
for spec in $SIDES; do
  side=${spec%%=*}
  X=()
  if [ "$spec" != "$side" ]; then
    reader=runs/reader-$side
    rm -rf "$reader" && mkdir -p "$reader" && cp qa/models/reader/* "$reader"/ && cp "${spec#*=}" "$reader"/calibration.json
    X=(--reader-model "$reader")
  fi
  run() {  # NAME FILE OPTIONS...
    local name=$1 file=$2; shift 2
    $E "$file" --mode pipeline ${X[@]+"${X[@]}"} "$@" --dump "runs/dumps/trust/$name-$side.jsonl" --out "$O/$name-$side.json"
  }
  run story-report-crowd docs/story-questions/bbc-story-questions-report.json --crowd
  run story-report-alone docs/story-questions/bbc-story-questions-report.json
  run news-report-crowd docs/news-questions/bbc-news-questions-report.json --crowd
  run news-report-alone docs/news-questions/bbc-news-questions-report.json
  run squad-dev-crowd $D/squad-dev-v1.1.json --crowd --limit 1000
  run squad-dev-alone $D/squad-dev-v1.1.json --limit 1000
  run sample-alone docs/sample-questions.json --details
  run sample-crowd docs/sample-questions.json --crowd --details
  run tydi-unseen-crowd $D/tydiqa-en-train.json --crowd --unseen-by-calibration --limit 1000
done

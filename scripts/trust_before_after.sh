#!/usr/bin/env bash
# Issue #28's report sets, crowded and one-article ("alone": each set's own articles only), with the
# shipped calibration and with the calibration refitted on the story evidence
# (docs/eval/trust/calibration-story-evidence.json), each with the candidate dump that
# scripts/plot_calibration.py draws from (runs/dumps/trust/). About 15 minutes a side on 2 cores.
#   bash scripts/trust_before_after.sh [OUT_DIR] [SIDES]     (default docs/eval/trust, "shipped story-evidence")
set -euo pipefail
cd "$(dirname "$0")/.."
D=../shared/data/qa
O=${1:-docs/eval/trust}
SIDES=${2:-shipped story-evidence}
E=".venv/bin/newsqa evaluate"
REFIT=runs/reader-story-evidence  # the shipped reader with the refitted calibration
mkdir -p "$REFIT" runs/dumps/trust "$O"
cp qa/models/reader/* "$REFIT"/
cp docs/eval/trust/calibration-story-evidence.json "$REFIT"/calibration.json
for side in $SIDES; do
  if [ "$side" = story-evidence ]; then X="--reader-model $REFIT"; else X=""; fi
  run() {  # NAME FILE OPTIONS...
    local name=$1 file=$2; shift 2
    $E "$file" --mode pipeline $X "$@" --dump "runs/dumps/trust/$name-$side.jsonl" --out "$O/$name-$side.json"
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

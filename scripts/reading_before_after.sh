#!/usr/bin/env bash
# The report sets read as shipped (chunks as retrieved) and with 120-word windows around each
# chunk, the latter with the calibration refitted for it (docs/eval/reading/calibration-read-words-120.json),
# as docs/evaluation.md#reading-the-context-an-answer-needs reports them. About 25 minutes on 2 cores.
#   bash scripts/reading_before_after.sh [OUT_DIR]     (default docs/eval/reading)
set -euo pipefail
cd "$(dirname "$0")/.."
D=../shared/data/qa
O=${1:-docs/eval/reading}
E=".venv/bin/newsqa evaluate"
WINDOWS=runs/reader-read-words-120  # the shipped reader with the calibration fitted at --read-words 120
mkdir -p "$WINDOWS" runs/dumps "$O"
cp qa/models/reader/* "$WINDOWS"/
cp docs/eval/reading/calibration-read-words-120.json "$WINDOWS"/calibration.json
for side in before after; do
  if [ "$side" = before ]; then X="--read-words 0"; else X="--read-words 120 --reader-model $WINDOWS"; fi
  $E docs/story-questions/bbc-story-questions-report.json --mode pipeline --crowd $X --out "$O/story-report-$side.json"
  $E docs/news-questions/bbc-news-questions-report.json --mode pipeline --crowd $X --out "$O/news-report-$side.json"
  $E $D/squad-dev-v1.1.json --mode pipeline --crowd --limit 1000 $X --out "$O/squad-dev-$side.json"
  $E docs/sample-questions.json --mode pipeline $X --details --dump "runs/dumps/sample-alone-$side.jsonl" \
     --out "$O/sample-alone-$side.json"
  $E docs/sample-questions.json --mode pipeline --crowd $X --details --dump "runs/dumps/sample-crowd-$side.jsonl" \
     --out "$O/sample-crowd-$side.json"
done

#!/usr/bin/env bash
# The report sets read two ways, each with its own reader folder (weights and calibration), as
# docs/evaluation.md#reading-the-context-an-answer-needs reports them: every report half crowded
# (among the whole BBC archive and 20 SQuAD train articles), SQuAD v1.1 dev (1,000 questions,
# crowded), the sample article alone and crowded. About 15 minutes a side on 2 cores.
#
#   bash scripts/reading_before_after.sh OUT_DIR BEFORE_READER "BEFORE_OPTIONS" AFTER_READER "AFTER_OPTIONS"
#
# runs/reader-before: the reader folder with the calibration shipped before 2026-12-06's second
# session (mkdir runs/reader-before && cp qa/models/reader/* runs/reader-before/ && git show
# 3e3c553:qa/models/reader/calibration.json > runs/reader-before/calibration.json). Runs of record:
#   120-word windows in every article, refitted (docs/eval/reading; the calibration in that folder):
#     bash scripts/reading_before_after.sh docs/eval/reading runs/reader-before "--read-words 0" \
#          runs/reader-read-words-120 "--read-words 120 --read-min-article-words 0"
#   the search within the story, refitted (docs/eval/long-reading/story-chunks; not shipped;
#   runs/reader-sc1 is qa/models/reader with that folder's calibration-story-chunks-1.json as calibration.json):
#     bash scripts/reading_before_after.sh docs/eval/long-reading/story-chunks runs/reader-before \
#          "--read-words 0 --story-chunks 0" runs/reader-sc1 "--read-words 0 --story-chunks 1"
#   160-word windows in articles of 600+ words, refitted (docs/eval/long-reading, its "before" reports
#   copied from story-chunks/; not shipped; runs/reader-win holds calibration-read-words-160-min-600.json):
#     bash scripts/reading_before_after.sh docs/eval/long-reading - "" \
#          runs/reader-win "--read-words 160 --read-min-article-words 600"
# Each side's dumps go to runs/dumps/<side>-<set>.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 5 ]; then
  sed -n 7,7p "$0" >&2
  exit 2
fi
D=../shared/data/qa
O=$1
E=".venv/bin/newsqa evaluate"
mkdir -p runs/dumps "$O"
# shellcheck disable=SC2086  # the options are words
run_side() {  # side reader options
  local side=$1 reader=$2; shift 2
  local X="--reader-model $reader $*"
  $E docs/story-questions/bbc-story-questions-report.json --mode pipeline --crowd $X --dump "runs/dumps/$side-story.jsonl" \
     --out "$O/story-report-$side.json"
  $E docs/story-questions/long/bbc-long-story-questions-report.json --mode pipeline --crowd $X \
     --dump "runs/dumps/$side-long.jsonl" --out "$O/long-report-$side.json"
  $E docs/news-questions/bbc-news-questions-report.json --mode pipeline --crowd $X --dump "runs/dumps/$side-news.jsonl" \
     --out "$O/news-report-$side.json"
  $E $D/squad-dev-v1.1.json --mode pipeline --crowd --limit 1000 $X --dump "runs/dumps/$side-squad.jsonl" \
     --out "$O/squad-dev-$side.json"
  $E docs/sample-questions.json --mode pipeline $X --details --dump "runs/dumps/$side-sample-alone.jsonl" \
     --out "$O/sample-alone-$side.json"
  $E docs/sample-questions.json --mode pipeline --crowd $X --details --dump "runs/dumps/$side-sample-crowd.jsonl" \
     --out "$O/sample-crowd-$side.json"
}
# a reader of "-" skips that side (its reports are there already)
[ "$2" = - ] || run_side before "$2" "$3"
[ "$4" = - ] || run_side after "$4" "$5"

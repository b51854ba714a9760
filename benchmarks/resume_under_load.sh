#!/usr/bin/env bash
# Issue 17's acceptance: the resume tests pass RUNS times in a row while other processes keep
# every core busy. Stops at the first failure and says which run it was.
#
#   benchmarks/resume_under_load.sh            # 20 runs, one busy loop per core
#   RUNS=5 BUSY=4 benchmarks/resume_under_load.sh
#
# A benchmark, not a test: the suite runs the same tests once (make test).
set -uo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
runs=${RUNS:-20}
busy=${BUSY:-$(nproc)}
pids=()
for _ in $(seq "$busy"); do
  "$python" -c "while True: pass" &
  pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
echo "$(date +%T) $busy busy loops; load $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$runs"); do
  started=$SECONDS
  if ! "$python" -m pytest -q -p no:cacheprovider tests/agent/test_resume.py > "build/resume-run-$run.log" 2>&1; then
    echo "$(date +%T) run $run FAILED after $((SECONDS - started)) s: build/resume-run-$run.log"
    tail -n 20 "build/resume-run-$run.log"
    exit 1
  fi
  echo "$(date +%T) run $run/$runs: $(tail -n 1 "build/resume-run-$run.log") (load $(cut -d' ' -f1-3 /proc/loadavg))"
done
echo "all $runs runs passed"

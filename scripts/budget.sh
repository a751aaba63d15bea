#!/usr/bin/env bash
# One preparation step under its own time budget (the Makefile's `prepare` targets):
#   bash scripts/budget.sh NAME SECONDS COMMAND...
# Runs COMMAND under coreutils `timeout` (its whole process group: TERM at the budget,
# KILL 30 s later), prints how long the step took to stderr, and exits with COMMAND's
# status (124 or 137: over budget).
set -uo pipefail
name="$1"
seconds="$2"
shift 2
start=$SECONDS
timeout --kill-after=30 "$seconds" "$@"
status=$?
took=$((SECONDS - start))
case "$status" in
  0) echo "prepare $name: ready in ${took} s (budget ${seconds} s)" >&2 ;;
  124 | 137) echo "prepare $name: over its budget of ${seconds} s, stopped after ${took} s" >&2 ;;
  *) echo "prepare $name: failed with exit status $status after ${took} s" >&2 ;;
esac
exit "$status"

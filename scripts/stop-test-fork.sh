#!/usr/bin/env bash
# stop-test-fork.sh: runs one test class and stops its surefire fork (SIGSTOP) part-way, as a loaded
# machine or a shared host's measurements may (issue 18 item 6: tests that cannot flake). The test
# must pass all the same: its timeouts are hang guards, its assertions on what happened.
#
#   scripts/stop-test-fork.sh MODULE TEST [DELAY_S [STOP_S]]
#   scripts/stop-test-fork.sh mpi MpiFaultTest 12 65
#   scripts/stop-test-fork.sh cli 'StreamedAttendTest#aRunKilledPartWay*' 8 65
#
# DELAY_S (default 6): seconds after the fork started; STOP_S (default 20): how long it stays stopped.
# Only the fork found among this script's own descendants is stopped. Exit code: Maven's.
set -euo pipefail

ROOT=$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
MODULE=$1
TEST=$2
DELAY_S=${3:-6}
STOP_S=${4:-20}
LOG=${LOG:-$(mktemp -t stop-test-fork.XXXXXX.log)}

cd "$ROOT"
nice -n 19 ./mvnw -B -o -q -pl "$MODULE" -am test -Dtest="$TEST" -Dsurefire.failIfNoSpecifiedTests=false \
    >"$LOG" 2>&1 &
MVN=$!

descendants() {
    local p
    for p in $(ps -o pid= --ppid "$1"); do
        echo "$p"
        descendants "$p"
    done
}

FORK=""
while [ -z "$FORK" ] && kill -0 "$MVN" 2>/dev/null; do
    sleep 0.5
    for p in $(descendants "$MVN"); do
        if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q surefirebooter; then
            FORK=$p
        fi
    done
done
if [ -n "$FORK" ]; then
    echo "$(date -u +%T) fork $FORK started; stopping it in $DELAY_S s for $STOP_S s"
    sleep "$DELAY_S"
    kill -STOP "$FORK" 2>/dev/null && echo "$(date -u +%T) SIGSTOP $FORK"
    sleep "$STOP_S"
    kill -CONT "$FORK" 2>/dev/null && echo "$(date -u +%T) SIGCONT $FORK"
fi
RC=0
wait "$MVN" || RC=$?
echo "$(date -u +%T) Maven exit code $RC; log: $LOG"
exit "$RC"

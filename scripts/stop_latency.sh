#!/usr/bin/env bash
# stop_latency.sh: how long the streaming path of `attend` takes from a signal to its exit (issue
# 16: "SIGINT or SIGTERM stops within a second"), and what a stopped run leaves behind.
#
#   scripts/stop_latency.sh [WORKDIR]                       3 runs, SIGTERM to the launcher 5 s in
#   SIGNAL=INT TARGET=java REPEATS=5 scripts/stop_latency.sh /tmp/stop
#
# Each run starts `./ring-attention attend --stream --causal` on random inputs [1, H, N, d]
# (default N = 131072, d = 64, H = 1: about 30 s of 2 threads), sends SIGNAL (TERM or INT) AFTER
# seconds (default 5) after the run has started computing (its checkpoint exists) to TARGET (`launcher`, the ring-attention script as kill or timeout
# would, or `java`, the JVM itself as a terminal's Ctrl-C does), and prints the milliseconds from
# the signal to the launcher's exit, the exit code, attend's "stopped after K of M query chunks",
# and whether the target o.npy stayed absent, the partial files and the checkpoint stayed, and no
# java process of the run is left. RESUME=1 then resumes the last run and compares its files byte
# for byte with an uninterrupted run (two more runs).
#
# Environment: N, D, H, HEAP (default 1g), THREADS (default: all processors), AFTER, SIGNAL,
# TARGET, REPEATS (default 3), RESUME. Exit code 0 when every run stopped with the signal's code
# and left what it should, 1 otherwise. The time depends on the machine's load: on a loaded
# machine a nice 19 process gets a small share of a core, and the JVM's exit waits for it.
set -euo pipefail

ROOT=$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
TOOL=$ROOT/ring-attention
WORK=${1:-stop-latency-runs}
N=${N:-131072}
D=${D:-64}
H=${H:-1}
HEAP=${HEAP:-1g}
AFTER=${AFTER:-5}
SIGNAL=${SIGNAL:-TERM}
TARGET=${TARGET:-launcher}
REPEATS=${REPEATS:-3}
threads=()
[[ -n ${THREADS:-} ]] && threads=(--threads "$THREADS")
case $SIGNAL in
    TERM) want=143 ;;
    INT) want=130 ;;
    *) echo "stop_latency.sh: SIGNAL must be TERM or INT, got $SIGNAL" >&2; exit 2 ;;
esac
[[ $TARGET == launcher || $TARGET == java ]] || { echo "stop_latency.sh: TARGET must be launcher or java" >&2; exit 2; }

dir=$WORK/n$N-d$D-h$H
mkdir -p "$dir"
if [[ ! -f $dir/v.npy ]]; then
    echo "stop_latency.sh: writing random inputs [1, $H, $N, $D] to $dir..." >&2
    python3 "$ROOT/scripts/make_inputs.py" "$dir" "$N" "$D" "$H"
fi
attend=("$TOOL" attend --q "$dir/q.npy" --k "$dir/k.npy" --v "$dir/v.npy" --lse "$dir/lse.npy" --causal --stream
    ${threads[@]+"${threads[@]}"})

now_ms() { date +%s%3N; }

failed=0
worst=0
for run in $(seq 1 "$REPEATS"); do
    rm -f "$dir"/o.npy* "$dir"/lse.npy*
    # a background command of a script has SIGINT ignored (and java would keep it so): undo that
    (trap - INT; RING_ATTENTION_JAVA_OPTS="-Xmx$HEAP" exec "${attend[@]}" --out "$dir/o.npy") \
        2>"$dir/stop.log" &
    launcher=$!
    # under way: the checkpoint is written when the streaming path has created its outputs
    while [[ ! -e $dir/o.npy.checkpoint ]] && kill -0 "$launcher" 2>/dev/null; do
        sleep 0.05
    done
    sleep "$AFTER"
    jvm=$(pgrep -P "$launcher" -x java | head -n 1 || true)
    if [[ -z $jvm ]]; then
        echo "stop_latency.sh: run $run: no java process under the launcher after $AFTER s (finished already?)" >&2
        cat "$dir/stop.log" >&2
        wait "$launcher" || true
        failed=1
        continue
    fi
    [[ $TARGET == java ]] && pid=$jvm || pid=$launcher
    t0=$(now_ms)
    kill -"$SIGNAL" "$pid"
    code=0
    wait "$launcher" || code=$?
    t1=$(now_ms)
    ms=$((t1 - t0))
    [[ ${VERBOSE:-0} == 1 ]] && echo "stop_latency.sh: run $run: signal at $t0, exit seen at $t1 (ms since the epoch)" >&2
    # the JVM may outlive the launcher only if the launcher did not pass the signal on
    left=''
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        kill -0 "$jvm" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$jvm" 2>/dev/null; then
        left=" JAVA STILL RUNNING (pid $jvm)"
        kill -TERM "$jvm" 2>/dev/null || true
    fi
    stopped=$(grep -o 'stopped after [0-9]* of [0-9]* query chunks' "$dir/stop.log" || echo 'no "stopped after" line')
    files=''
    [[ -e $dir/o.npy ]] && files+=" o.npy EXISTS"
    [[ -e $dir/o.npy.partial && -e $dir/lse.npy.partial ]] || files+=" partial files MISSING"
    [[ -e $dir/o.npy.checkpoint ]] || files+=" checkpoint MISSING"
    ok=yes
    [[ $code == "$want" && -z $left && -z $files && $stopped == stopped* ]] || { ok=no; failed=1; }
    ((ms > worst)) && worst=$ms
    printf 'run %d: SIG%s to the %s %s s in: exit %d after %d ms, %s%s%s (%s)\n' "$run" "$SIGNAL" "$TARGET" \
        "$AFTER" "$code" "$ms" "$stopped" "$files" "$left" "$([[ $ok == yes ]] && echo ok || echo NOT OK)"
done
echo "stop_latency.sh: slowest stop $worst ms over $REPEATS runs (load average: $(cut -d' ' -f1-3 /proc/loadavg))"

if [[ ${RESUME:-0} == 1 && $failed == 0 ]]; then
    echo "stop_latency.sh: resuming the last run, then an uninterrupted run to compare..." >&2
    RING_ATTENTION_JAVA_OPTS="-Xmx$HEAP" "${attend[@]}" --out "$dir/o.npy" --resume --quiet
    RING_ATTENTION_JAVA_OPTS="-Xmx$HEAP" "${attend[@]/$dir\/lse.npy/$dir/lse2.npy}" --out "$dir/o2.npy" --quiet
    if cmp -s "$dir/o.npy" "$dir/o2.npy" && cmp -s "$dir/lse.npy" "$dir/lse2.npy"; then
        echo "resumed run: o.npy and lse.npy equal an uninterrupted run's byte for byte"
    else
        echo "resumed run: DIFFERS from an uninterrupted run"
        failed=1
    fi
fi
exit "$failed"

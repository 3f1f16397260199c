#!/usr/bin/env bash
# bench-compare.sh: the engine (`ring-attention bench`) against the NumPy peer
# (scripts/peer_numpy.py) and the FMA peak, on a set of configurations and thread counts,
# interleaved and repeated in rounds; medians over the rounds go into a Markdown table.
#
#   scripts/bench-compare.sh            # default set, 3 rounds (about 10 minutes with vector kernels)
#   scripts/bench-compare.sh --quick    # smoke run, about 1 minute
#
# Options:
#   --quick             small sizes, 1 round, short runs: shows that everything works
#   --rounds R          rounds (default 3; --quick: 1)
#   --threads "T ..."   thread counts (default "1 2")
#   --config SPEC       a configuration SEQ:DIM:HEADS[:MODE], MODE = full (default), causal, backward
#                       or causal-backward; repeat the option for several (replaces the default set)
#   --warmup W          warm-up runs per invocation (default 1; the engine also warms up for at least
#                       3 s, --quick 1.5 s, until its run time settles: see ring-attention bench --help)
#   --reps R            timed runs per invocation (default 9: a 2-thread run now and then takes twice
#                       as long on this kind of machine, and the median of 3 moves with one such run)
#   --out DIR           where the results go (default results/ in the repository)
#   --no-peer           the engine only
#   --python PY         the Python whose NumPy is the peer (default: the faster of `python3` on PATH
#                       and /usr/bin/python3, by a short sgemm probe; also the PYTHON variable)
#
# Default set: N=4096 with d=128 H=2 full, d=64 H=2 full, d=128 H=2 causal, d=128 H=2 backward.
# Writes DIR/bench-DATE.csv (every invocation of every round), DIR/bench-DATE.md (medians over the
# rounds, headed by the CPU model), DIR/bench-DATE.log (everything the runs printed).
# Within a round the engine and the peer alternate which goes first, so that neither always runs
# on a machine the other has just warmed. Backward configurations run two NumPy peers: P kept from the
# forward (as autograd keeps it) and P recomputed from the saved LSE (as a fused kernel does).
#
# A fair peer: the peer runs the fastest NumPy found (python3 on PATH, /usr/bin/python3) with
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset in its command alone (a machine-wide
# OPENBLAS_CORETYPE=Haswell makes OpenBLAS run AVX2 kernels on AVX-512 cores); the table names the
# NumPy, OpenBLAS version and core type the peer's process actually loaded. Needs NumPy for one of
# them (pip install numpy, or scripts/install-peer.sh for Debian's).
set -euo pipefail

ROOT=$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-}

quick=0 rounds='' threads='1 2' warmup=1 reps=9 out=$ROOT/results peer=1 peak_ms=500 warmup_ms=3000
configs=()
die() { echo "bench-compare: $*" >&2; exit 2; }
while (($#)); do
    case $1 in
        --quick) quick=1 ;;
        --rounds) rounds=${2:?--rounds needs a value}; shift ;;
        --threads) threads=${2:?--threads needs a value}; shift ;;
        --config) configs+=("${2:?--config needs a value}"); shift ;;
        --warmup) warmup=${2:?--warmup needs a value}; shift ;;
        --reps) reps=${2:?--reps needs a value}; shift ;;
        --out) out=${2:?--out needs a value}; shift ;;
        --no-peer) peer=0 ;;
        --python) PY=${2:?--python needs a value}; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1' (try --help)" ;;
    esac
    shift
done
if ((quick)); then
    ((${#configs[@]})) || configs=(1024:64:2:full 1024:64:2:causal 512:64:2:backward)
    rounds=${rounds:-1} warmup=1 reps=2 peak_ms=200 warmup_ms=1500
else
    ((${#configs[@]})) || configs=(4096:128:2:full 4096:64:2:full 4096:128:2:causal 4096:128:2:backward)
    rounds=${rounds:-3}
fi
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer, got '$rounds'"
[[ $warmup =~ ^[0-9]+$ ]] || die "--warmup must be a non-negative integer, got '$warmup'"
[[ $reps =~ ^[1-9][0-9]*$ ]] || die "--reps must be a positive integer, got '$reps'"
for t in $threads; do [[ $t =~ ^[1-9][0-9]*$ ]] || die "--threads must list positive integers, got '$t'"; done
for c in "${configs[@]}"; do
    [[ $c =~ ^[1-9][0-9]*:[1-9][0-9]*:[1-9][0-9]*(:(full|causal|backward|causal-backward))?$ ]] ||
        die "--config must be SEQ:DIM:HEADS[:full|causal|backward|causal-backward], got '$c'"
done
# The peer's environment: these two pick OpenBLAS's kernels by name and cache size; unset here only.
PEER_ENV=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
max_threads=1
for t in $threads; do ((t > max_threads)) && max_threads=$t; done
# probe PY: one JSON line (NumPy, BLAS, sgemm GFLOP/s) from the peer's own environment, or fails.
probe() { "${PEER_ENV[@]}" "$1" "$ROOT/scripts/peer_numpy.py" --probe --threads "$max_threads" 2>/dev/null | tail -n 1; }
field() { printf '%s' "$1" | sed -n "s/.*\"$2\": *\"\{0,1\}\([^,\"}]*\).*/\1/p"; }
peer_choice=''
if ((peer)); then
    candidates=()
    if [[ -n $PY ]]; then
        candidates=("$PY")
    else
        p=$(command -v python3 || true)
        [[ -n $p ]] && candidates+=("$p")
        [[ -x /usr/bin/python3 ]] && candidates+=(/usr/bin/python3)
    fi
    best='' best_g=0 seen=() probed=' '
    for c in ${candidates[@]+"${candidates[@]}"}; do
        real=$(readlink -f -- "$(command -v "$c")" 2>/dev/null || echo "$c")
        [[ $probed == *" $real "* ]] && continue # the same interpreter twice
        probed+="$real "
        if info=$(probe "$c") && [[ $info == '{'* ]]; then
            g=$(field "$info" sgemm_gflops)
            seen+=("$c ($(field "$info" python)): NumPy $(field "$info" numpy), OpenBLAS $(field "$info" blas_version) ($(field "$info" blas_core)), sgemm ${g%.*} GFLOP/s")
            if [[ -z $best ]] || awk -v a="$g" -v b="$best_g" 'BEGIN { exit !(a > b) }'; then
                best=$c best_g=$g
            fi
        else
            seen+=("$c: no NumPy")
        fi
    done
    [[ -n $best ]] || die "no NumPy found (${seen[*]:-no python3}): pip install numpy, run scripts/install-peer.sh, or pass --no-peer"
    PY=$best
    peer_choice="peer: $PY (of: $(IFS=';'; echo "${seen[*]}"))"
fi

mkdir -p "$out"
stamp=$(date +%Y-%m-%d-%H%M%S)
((quick)) && stamp=quick-$stamp
base=$out/bench-$stamp
jsonl=$base.jsonl log=$base.log
: >"$jsonl"
: >"$log"

cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo "bench-compare: ${cpu:-unknown CPU}, $(nproc) processors; ${#configs[@]} configuration(s) x threads ($threads)" \
    "x $rounds round(s); results in $base.{csv,md}"
[[ -n $peer_choice ]] && { echo "$peer_choice"; echo "$peer_choice" >>"$log"; }

# Build the CLI now (if needed) rather than inside the first timed invocation.
"$ROOT/ring-attention" --version >>"$log" 2>&1 || { cat "$log" >&2; die "cannot build or start ring-attention"; }

failures=0
# run ROUND TOOL CMD...: runs one invocation, appends its last line (the JSON) with the round.
run() {
    local round=$1 tool=$2 rc=0 output last
    shift 2
    echo "### round $round: $*" >>"$log"
    output=$("$@" 2>>"$log") || rc=$?
    printf '%s\n' "$output" >>"$log"
    last=$(printf '%s\n' "$output" | tail -n 1)
    if ((rc != 0)) || [[ $last != '{'* ]]; then
        echo "  $tool FAILED (exit $rc): $*" >&2
        failures=$((failures + 1))
        return
    fi
    printf '{"round": %d, %s\n' "$round" "${last#\{}" >>"$jsonl"
    local g
    g=$(printf '%s' "$last" | sed -n 's/.*"gflops": *\([^,}]*\).*/\1/p')
    printf '  %-7s %8.2f GFLOP/s\n' "$tool" "${g:-0}"
}

# run_peers ROUND: the NumPy peer; for a backward pass both of them (P kept, P recomputed).
run_peers() {
    if [[ ${mode:-full} == *backward ]]; then
        run "$1" numpy "${peer_cmd[@]}" --backward-p kept
        run "$1" numpy-lse "${peer_cmd[@]}" --backward-p recomputed
    else
        run "$1" numpy "${peer_cmd[@]}"
    fi
}

start=$SECONDS
for ((r = 1; r <= rounds; r++)); do
    for c in "${configs[@]}"; do
        IFS=: read -r n d h mode <<<"$c"
        flags=()
        case ${mode:-full} in
            causal) flags=(--causal) ;;
            backward) flags=(--backward) ;;
            causal-backward) flags=(--causal --backward) ;;
        esac
        for t in $threads; do
            echo "round $r/$rounds: N=$n d=$d H=$h ${mode:-full}, $t thread(s)"
            common=(--seq "$n" --head-dim "$d" --heads "$h" ${flags[@]+"${flags[@]}"} --threads "$t"
                --warmup "$warmup" --reps "$reps" --json)
            engine_cmd=("$ROOT/ring-attention" bench "${common[@]}" --peak-ms "$peak_ms" --warmup-ms "$warmup_ms")
            peer_cmd=("${PEER_ENV[@]}" "$PY" "$ROOT/scripts/peer_numpy.py" "${common[@]}")
            if ((!peer)); then
                run "$r" engine "${engine_cmd[@]}"
            elif ((r % 2 == 1)); then
                run "$r" engine "${engine_cmd[@]}"
                run_peers "$r"
            else
                run_peers "$r"
                run "$r" engine "${engine_cmd[@]}"
            fi
        done
    done
    echo "round $r done after $((SECONDS - start)) s"
done

python3 "$ROOT/scripts/bench_report.py" "$jsonl" "$base.csv" "$base.md"
rm -f "$jsonl"
echo
cat "$base.md"
echo
echo "bench-compare: wrote $base.csv, $base.md and $base.log ($((SECONDS - start)) s)"
if ((failures)); then
    echo "bench-compare: $failures invocation(s) failed; see $log" >&2
    exit 1
fi

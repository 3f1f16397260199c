#!/usr/bin/env bash
# mpi-vs-ring.sh: the MPI ring (2 ranks x 1 worker thread) against the in-process ring (P = 2 on 2
# threads), interleaved in rounds, the same bench settings for both; the MPI ring twice, with
# mpirun's default binding (a rank to a core) and with --bind-to none. Prints each round's medians,
# the median of the per-round ratios MPI / in-process and the target (at most 1.10).
#
#   scripts/mpi-vs-ring.sh                       # N=16384 d=128 H=2, 5 rounds
#   scripts/mpi-vs-ring.sh --seq 4096 --rounds 3 # smaller
#
# Options: --seq N (16384), --head-dim D (128), --heads H (2), --rounds R (5), --reps R (5),
# --backward. Run it on a quiet machine: both sides use both cores.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seq=16384 dim=128 heads=2 rounds=5 reps=5 extra=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --seq) seq=$2; shift 2 ;;
        --head-dim) dim=$2; shift 2 ;;
        --heads) heads=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        --backward) extra+=(--backward); shift ;;
        *) echo "mpi-vs-ring.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
export RING_ATTENTION_JAVA_OPTS=${RING_ATTENTION_JAVA_OPTS:--Xmx4g}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
common=(bench --seq "$seq" --head-dim "$dim" --heads "$heads" --reps "$reps" --json "${extra[@]}")
"$ROOT/ring-attention" info >/dev/null # builds the jar once, before anything is timed
median() { python3 -c 'import sys, statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
field() { python3 -c 'import json, sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])[sys.argv[1]])' "$1"; }
ratios=() unbound=()
for ((r = 1; r <= rounds; r++)); do
    # rotate which goes first, so that none always runs on a machine another just warmed
    order=("mpi" "mpi-unbound" "ring")
    order=("${order[@]:r%3}" "${order[@]:0:r%3}")
    for side in "${order[@]}"; do
        case $side in
            mpi) m=$(mpirun -np 2 "$ROOT/ring-attention" "${common[@]}" --threads 1 --mpi | field seconds_median) ;;
            mpi-unbound) u=$(mpirun -np 2 --bind-to none "$ROOT/ring-attention" "${common[@]}" --threads 1 --mpi \
                | field seconds_median) ;;
            ring) i=$("$ROOT/ring-attention" "${common[@]}" --devices 2 --threads 2 --peak-ms 0 | field seconds_median) ;;
        esac
    done
    ratios+=("$(python3 -c "print($m / $i)")")
    unbound+=("$(python3 -c "print($u / $i)")")
    printf 'round %d: mpi %.4f s, mpi --bind-to none %.4f s, in-process %.4f s; ratios %.3f, %.3f\n' "$r" "$m" "$u" \
        "$i" "${ratios[-1]}" "${unbound[-1]}"
done
printf 'median ratio MPI / in-process over %d rounds: %.3f (mpirun default binding), %.3f (--bind-to none);' \
    "$rounds" "$(median "${ratios[@]}")" "$(median "${unbound[@]}")"
printf ' target at most 1.10\n'

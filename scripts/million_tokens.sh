#!/usr/bin/env bash
# million_tokens.sh: the long-context runs of issue 16, each on the streaming path of `attend`
# (inputs memory-mapped, a small heap), with wall time, share of the FMA peak, peak resident
# memory, and `verify` (sampled float64 rows) of the outputs.
#
#   scripts/million_tokens.sh [WORKDIR]          both runs (minutes of all cores; a quiet machine)
#   SIZES="4096:64:1:64m" scripts/million_tokens.sh /tmp/x   a small check of the script itself
#
# SIZES lists runs as N:d:H:HEAP (causal, B = 1), default
#   1048576:64:1:1g    a million tokens, d = 64, one head, heap at most 1 GB
#   262144:128:4:256m  512 MiB per tensor, four heads, heap 256 MB
# WORKDIR (default ./long-context-runs) holds the inputs (kept between calls; 3 x 4 bytes x N x d x H:
# 768 MiB for the first run, 1.5 GiB for the second) and the outputs. THREADS (default:
# all processors) and ROWS (verify's sampled rows, default 64) may be set too; VERIFY_HEAP (default
# 1g) is verify's heap: it reads the float32 inputs and outputs through memory maps, and holds one
# score row (N doubles) and blocks of 512 keys.
#
# PATHS (default "stream") says which paths of attend run each shape: "stream" (--stream, HEAP),
# "heap" (--no-stream: inputs, outputs and the packed K and V on the heap, as a heap-resident run;
# its heap is RESIDENT_HEAP, default the heap path's need plus half, rounded up to a GiB), or
# "stream heap" for both, one row each, so that their shares of the peak can be compared:
#   PATHS="stream heap" SIZES="262144:128:4:256m" scripts/million_tokens.sh
#
# Prints one summary line per run and writes WORKDIR/summary.md (a Markdown table). Peak RSS is
# /usr/bin/time's maximum resident set: it includes the pages of the mapped inputs and outputs the
# process touched (file pages the kernel may drop), not only the heap.
set -euo pipefail

ROOT=$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
TOOL=$ROOT/ring-attention
WORK=${1:-long-context-runs}
SIZES=${SIZES:-"1048576:64:1:1g 262144:128:4:256m"}
ROWS=${ROWS:-64}
VERIFY_HEAP=${VERIFY_HEAP:-1g}
PATHS=${PATHS:-stream}
threads=()
[[ -n ${THREADS:-} ]] && threads=(--threads "$THREADS")
mkdir -p "$WORK"

if [[ ! -x /usr/bin/time ]]; then
    echo "million_tokens.sh: needs /usr/bin/time (Debian: apt-get install time)" >&2
    exit 3
fi

# The FMA peak of this machine on the same threads (benchkit's FmaPeak, through bench --json).
echo "million_tokens.sh: measuring the FMA peak..." >&2
peak=$(RING_ATTENTION_JAVA_OPTS=-Xmx1g "$TOOL" bench --seq 256 --head-dim 64 --heads 1 --warmup 1 \
    --warmup-ms 0 --reps 1 --peak-ms 1000 --json ${threads[@]+"${threads[@]}"} 2>/dev/null | tail -n 1 |
    python3 -c 'import json, sys; print(json.loads(sys.stdin.read())["peak_fma_gflops"])')

summary=$WORK/summary.md
{
    echo "| N | d | H | path | heap | wall (s) | attend (s) | GFLOP/s | share of peak | peak RSS (MiB) | verify |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
} >"$summary"

for size in $SIZES; do
  for path in $PATHS; do
    IFS=: read -r n d h heap <<<"$size"
    dir=$WORK/n$n-d$d-h$h
    mkdir -p "$dir"
    if [[ ! -f $dir/v.npy ]]; then
        echo "million_tokens.sh: writing random inputs [1, $h, $n, $d] to $dir..." >&2
        python3 "$ROOT/scripts/make_inputs.py" "$dir" "$n" "$d" "$h"
    fi
    case $path in
        stream) mode=--stream ;;
        heap)
            mode=--no-stream
            # the heap path's need (StreamedAttend.heapPathBytes: 2 (q + k + v) + (k + v) + 2 q), plus half
            heap=${RESIDENT_HEAP:-$(python3 -c "import math; e = 4 * $n * $d * $h; b = 2 * 3 * e + 2 * e + 2 * e
print(f'{math.ceil(1.5 * b / 2**30)}g')")}
            ;;
        *) echo "million_tokens.sh: PATHS holds stream and heap, got $path" >&2; exit 2 ;;
    esac
    rm -f "$dir/o.npy" "$dir/lse.npy"
    echo "million_tokens.sh: attend N=$n d=$d H=$h causal, $path path, heap $heap..." >&2
    log=$dir/attend-$path.log
    RING_ATTENTION_JAVA_OPTS="-Xmx$heap" /usr/bin/time -v -o "$dir/time.txt" "$TOOL" attend \
        --q "$dir/q.npy" --k "$dir/k.npy" --v "$dir/v.npy" --out "$dir/o.npy" --lse "$dir/lse.npy" \
        --causal "$mode" ${threads[@]+"${threads[@]}"} 2> >(tee "$log" >&2)
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$dir/time.txt" |
        awk -F: '{s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s}')
    rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir/time.txt")
    seconds=$(sed -n 's/.* in \([0-9.]*\) s .*/\1/p' "$log" | tail -n 1) # both paths: "in T s (" and "in T s ->"
    gflops=$(python3 -c "print(f'{4 * $n * $n * $d * $h / 2 / $seconds / 1e9:.1f}')")
    share=$(python3 -c "print(f'{100 * $gflops / $peak:.1f} %')")
    rss=$((rss_kb / 1024))
    echo "million_tokens.sh: verify ($ROWS sampled rows, float64)..." >&2
    verdict=fail
    if RING_ATTENTION_JAVA_OPTS="-Xmx$VERIFY_HEAP" "$TOOL" verify --q "$dir/q.npy" --k "$dir/k.npy" \
        --v "$dir/v.npy" --out "$dir/o.npy" --lse "$dir/lse.npy" --causal --rows "$ROWS" \
        --quiet >"$dir/verify.txt"; then
        verdict=pass
    fi
    worst=$(grep -o 'worst ratio to the bound [0-9.eE+-]*' "$dir/verify.txt" | head -n 1 || true)
    printf 'N=%s d=%s H=%s %s path heap=%s: wall %s s (attend %s s), %s GFLOP/s = %s of the %.1f GFLOP/s FMA peak, peak RSS %s MiB, verify %s%s\n' \
        "$n" "$d" "$h" "$path" "$heap" "$wall" "$seconds" "$gflops" "$share" "$peak" "$rss" "$verdict" \
        "${worst:+ ($worst)}"
    echo "| $n | $d | $h | $path | $heap | $wall | $seconds | $gflops | $share | $rss | $verdict |" >>"$summary"
  done
done
echo "million_tokens.sh: FMA peak $peak GFLOP/s; table in $summary" >&2

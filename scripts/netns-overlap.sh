#!/usr/bin/env bash
# netns-overlap.sh: the ring over real links between "hosts" on one machine (network namespaces
# joined by veth pairs shaped with tc tbf, ranks talking TCP under mpirun): runs
# `ring-attention experiment netns-overlap` and checks that no namespace or veth is left behind.
# Needs root, iproute2 and Open MPI; not part of the test suite (it takes minutes).
#
#   scripts/netns-overlap.sh                      # 2 ranks, d = 128, H = 1, c = 256..4096, rate auto
#   scripts/netns-overlap.sh --quick              # tiny sizes: shows that everything works
#   scripts/netns-overlap.sh -- --ranks 3 ...     # options after -- go to the experiment
#
# Writes results/netns-overlap-<timestamp>/netns-overlap.{csv,png} (or --out DIR after --).
# Exit code: the experiment's (0 ok, 1 a rank failed, 2 bad usage, 3 namespaces not permitted or
# no Open MPI), or 5 when a namespace or veth of the run was left behind (then removed).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
args=()
quick=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --quick) quick=1; shift ;;
        --) shift; args+=("$@"); break ;;
        *) echo "netns-overlap.sh: unknown option $1 (options for the experiment go after --)" >&2; exit 2 ;;
    esac
done
if [[ $quick == 1 ]]; then
    args=(--shards 128,256,512 --head-dim 32 --reps 1 --warmup-ms 0 "${args[@]}")
fi

# Namespaces are named ra<pid>h<i> (and ra<pid>probe) after the experiment's JVM: whatever of
# them outlives its process is ours to remove, also when this script is interrupted.
leftovers() {
    ip netns list 2>/dev/null | awk '{print $1}' | while read -r ns; do
        if [[ $ns =~ ^ra([0-9]+)(h[0-9]+|probe)$ ]] && ! kill -0 "${BASH_REMATCH[1]}" 2>/dev/null; then
            echo "$ns"
        fi
    done
}
veths() {
    ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^ra[0-9]+m[0-9]+$' || true
}
cleanup() {
    local left
    left=$( (leftovers; veths) | sort -u)
    if [[ -n $left ]]; then
        echo "netns-overlap.sh: removing what the run left: $(echo $left)" >&2
        for x in $left; do
            ip netns delete "$x" 2>/dev/null || ip link delete "$x" 2>/dev/null || true
        done
        return 1
    fi
    return 0
}
trap 'cleanup || true' INT TERM
before=$(veths)

set +e
RING_ATTENTION_JAVA_OPTS=${RING_ATTENTION_JAVA_OPTS:--Xmx2g} "$ROOT/ring-attention" experiment netns-overlap "${args[@]}"
status=$?
set -e
sleep 1 # the JVM's shutdown hook has run; mpirun's daemons are gone
if ! cleanup; then
    [[ $status == 0 ]] && status=5
fi
if [[ -n $before ]]; then
    echo "netns-overlap.sh: note: launch veths were present before the run: $before" >&2
fi
exit "$status"

#!/usr/bin/env bash
# jmh-run.sh: runs JMH benchmarks (jmh/target/benchmarks.jar) and writes their results as CSV and
# as a Markdown table headed by the CPU model, with GFLOP/s worked out from the parameters.
#
#   scripts/jmh-run.sh                                    # every benchmark, every parameter (long)
#   scripts/jmh-run.sh FmaPeak                            # benchmarks matching a regex
#   scripts/jmh-run.sh BlockwiseBackward -p seq=4096 -p dim=128 -p threads=2
#   scripts/jmh-run.sh Forward -f 1 -wi 1 -i 1            # a smoke run (not for quoting numbers)
#
# Every argument goes to JMH as it is (regexes, -p, -f, -wi, -i, -t, ...); the script adds
# "-rf csv -rff results/jmh-DATE.csv" and then writes results/jmh-DATE.md. It builds the jar with
# the Maven wrapper when it is missing or older than the engine or benchmark sources.
#
# Environment: JMH_JAVA  the java to run (default: $JAVA_HOME if it is 25+, else the newest JDK 25+
#                        under /usr/lib/jvm); RESULTS  the output folder (default results/).
set -euo pipefail

ROOT=$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
JAR=$ROOT/jmh/target/benchmarks.jar
OUT=${RESULTS:-$ROOT/results}

# Feature version of a java binary (25 for "25.0.3"), or nothing.
feature() {
    "$1" -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -n 1
}

java=${JMH_JAVA:-}
if [[ -z $java && -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]] && (($(feature "$JAVA_HOME/bin/java") >= 25)); then
    java=$JAVA_HOME/bin/java
fi
if [[ -z $java ]]; then
    best=0
    for j in /usr/lib/jvm/*/bin/java; do
        [[ -x $j ]] || continue
        f=$(feature "$j")
        if [[ -n $f ]] && ((f >= 25 && f > best)); then
            best=$f java=$j
        fi
    done
fi
[[ -n $java ]] || { echo "jmh-run: needs a JDK 25+ (set JMH_JAVA or JAVA_HOME)" >&2; exit 3; }

if [[ ! -f $JAR ]] || [[ -n $(find "$ROOT/engine/src" "$ROOT/jmh/src" "$ROOT/jmh/pom.xml" -newer "$JAR" -print -quit) ]]; then
    echo "jmh-run: building $JAR..." >&2
    (cd "$ROOT" && JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$java")")") \
        "$ROOT/mvnw" -B -q -pl jmh -am package -DskipTests) >&2
fi

mkdir -p "$OUT"
stamp=$(date +%Y-%m-%d-%H%M%S)
csv=$OUT/jmh-$stamp.csv
md=$OUT/jmh-$stamp.md
rc=0
"$java" --add-modules jdk.incubator.vector -jar "$JAR" "$@" -rf csv -rff "$csv" || rc=$?
if [[ -s $csv ]]; then
    python3 "$ROOT/scripts/jmh_csv_to_md.py" "$csv" "$md" --java "$("$java" -XshowSettings:properties -version 2>&1 |
        sed -n 's/^ *java.runtime.version = //p')" --args "$*"
    echo
    cat "$md"
    echo
    echo "jmh-run: wrote $csv and $md"
fi
exit "$rc"

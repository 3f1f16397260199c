#!/usr/bin/python3
"""Turns PIT's mutations.xml into a Markdown summary per package: mutants, killed, survived, no
coverage, timed out, the mutation score (killed / mutants with coverage) and the test strength,
then every surviving mutant of the packages that have a score target, for the triage file
(docs/mutation-triage.md).

    mutation_report.py MUTATIONS.xml [MUTATIONS.xml ...] OUT.md [--note TEXT]

Several inputs (the slices of one or more packages, each run into its own -Dmutation.reportDir)
are merged; a mutant found in more than one (slices that overlap) counts once, with the strongest
status any run gave it: KILLED, then MEMORY_ERROR, TIMED_OUT, SURVIVED, NO_COVERAGE (so a kill of a
confirming rerun is not hidden by a timeout of the first run, nor a survivor by no coverage). PIT writes mutations.xml as it goes: the file of a run that was stopped ends inside
a mutant, and is read up to its last complete one (the summary says so).

Killed counts KILLED, TIMED_OUT and MEMORY_ERROR (the tests noticed the mutant); NO_COVERAGE is
counted apart and left out of the score, as PIT's own "test strength" does; RUN_ERROR and
NON_VIABLE are listed but not scored.
"""

import collections
import datetime
import sys
import xml.etree.ElementTree as ET

TARGETS = {"attention": 0.90, "ring": 0.90, "kernel": 0.85, "tensor": 0.85}
KILLED = {"KILLED", "TIMED_OUT", "MEMORY_ERROR"}
RANK = {"KILLED": 5, "MEMORY_ERROR": 4, "TIMED_OUT": 3, "SURVIVED": 2, "NO_COVERAGE": 1}


def package_of(cls):
    parts = cls.split(".")
    return parts[2] if len(parts) > 3 and parts[0] == "org" and parts[1] == "ringattention" else ".".join(parts[:-1])


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    note = None
    if "--note" in argv:
        i = argv.index("--note")
        note = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    inputs, output = argv[1:-1], argv[-1]
    mutants = {}
    partial = []
    for path in inputs:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if "</mutations>" not in text:
            partial.append(path)
            text = text[:text.rfind("</mutation>") + len("</mutation>")] + "</mutations>"
        for m in ET.fromstring(text).iter("mutation"):
            key = tuple("".join(m.find(k).itertext()) if m.find(k) is not None else None
                        for k in ("mutatedClass", "mutatedMethod", "methodDescription", "lineNumber", "mutator",
                                  "indexes", "blocks"))
            if key not in mutants or RANK.get(m.get("status"), 0) > RANK.get(mutants[key].get("status"), 0):
                mutants[key] = m
    counts = collections.defaultdict(collections.Counter)
    survivors = collections.defaultdict(list)
    for m in mutants.values():
        status = m.get("status")
        cls = m.findtext("mutatedClass")
        pkg = package_of(cls)
        c = counts[pkg]
        c["mutants"] += 1
        if status in KILLED:
            c["killed"] += 1
            if status == "TIMED_OUT":
                c["timed_out"] += 1
        elif status == "SURVIVED":
            c["survived"] += 1
            survivors[pkg].append((cls.split(".")[-1], m.findtext("mutatedMethod"), m.findtext("lineNumber"),
                                   m.findtext("mutator").split(".")[-1], m.findtext("description")))
        elif status == "NO_COVERAGE":
            c["no_coverage"] += 1
        else:
            c["other"] += 1
    out = ["# Mutation testing: " + datetime.date.today().isoformat(), ""]
    if note:
        out += [note, ""]
    if partial:
        out += ["Partial: the run%s of %s stopped before the end; its mutants are counted up to the last one"
                " PIT wrote." % ("s" if len(partial) > 1 else "", ", ".join(partial)), ""]
    out += ["Score = killed / (killed + survived): mutants with coverage (PIT's test strength); killed includes"
            " timed out. The score beside it counts the timed-out mutants as survivors: a lower bound where a"
            " loaded or paused machine may have timed out a mutant that does not hang."
            " Target: 90 % in attention and ring, 85 % in kernel and tensor.", "",
            "| package | mutants | killed | of them timed out | survived | no coverage | other | score |"
            " score, timeouts as survivors | target |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    total = collections.Counter()
    for pkg in sorted(counts):
        c = counts[pkg]
        total.update(c)
        covered = c["killed"] + c["survived"]
        score = c["killed"] / covered if covered else float("nan")
        target = TARGETS.get(pkg)
        verdict = "" if target is None else ("%d %% %s" % (target * 100, "met" if score >= target else "NOT met"))
        strict = (c["killed"] - c["timed_out"]) / covered if covered else float("nan")
        out.append("| %s | %d | %d | %d | %d | %d | %d | %.1f %% | %.1f %% | %s |" % (
            pkg, c["mutants"], c["killed"], c["timed_out"], c["survived"], c["no_coverage"], c["other"],
            100 * score, 100 * strict, verdict))
    covered = total["killed"] + total["survived"]
    out.append("| **all** | %d | %d | %d | %d | %d | %d | %.1f %% | %.1f %% | |" % (
        total["mutants"], total["killed"], total["timed_out"], total["survived"], total["no_coverage"],
        total["other"], 100 * total["killed"] / covered if covered else float("nan"),
        100 * (total["killed"] - total["timed_out"]) / covered if covered else float("nan")))
    out += ["", "## Surviving mutants in the scored packages", ""]
    for pkg in sorted(survivors):
        if pkg not in TARGETS:
            continue
        out += ["### " + pkg, "", "| class | method | line | mutator | description |", "|---|---|---:|---|---|"]
        for s in sorted(survivors[pkg], key=lambda s: (s[0], int(s[2] or 0))):
            out.append("| %s | %s | %s | %s | %s |" % s)
        out.append("")
    with open(output, "w") as f:
        f.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

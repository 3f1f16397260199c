package org.ringattention.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the results of a conformance run say, per feature (cases, passed, failed) and as
 * diagnoses: the hypotheses the failing cases matched ({@link ConformJudge.Hint}) and the
 * patterns of which features fail and which pass, each put as the bug it most likely is.
 */
record ConformSummary(Map<String, int[]> perFeature, List<String> diagnoses, int passed, int failed) {

    static ConformSummary of(List<ConformJudge.Result> results) {
        Map<String, int[]> per = new LinkedHashMap<>();
        for (String f : ConformCase.FEATURES) {
            int[] n = new int[2];
            for (ConformJudge.Result r : results) {
                if (r.features().contains(f)) {
                    n[r.pass() ? 0 : 1]++;
                }
            }
            if (n[0] + n[1] > 0) {
                per.put(f, n);
            }
        }
        List<ConformJudge.Result> failing = results.stream().filter(r -> !r.pass()).toList();
        int passed = results.size() - failing.size();
        return new ConformSummary(per, diagnose(results, failing), passed, failing.size());
    }

    private static List<String> diagnose(List<ConformJudge.Result> all, List<ConformJudge.Result> failing) {
        Set<String> d = new LinkedHashSet<>();
        if (failing.isEmpty()) {
            return List.of();
        }
        int crashed = 0;
        int timedOut = 0;
        int noOutput = 0;
        for (ConformJudge.Result r : failing) {
            if (r.reason().startsWith("timed out")) {
                timedOut++;
            } else if (r.reason().startsWith("exit code")) {
                crashed++;
            } else if (r.checks().isEmpty()) {
                noOutput++;
            }
        }
        if (crashed > 0) {
            d.add(crashed + " case(s) exited with an error: see stderr.txt in the case directory (--keep DIR)");
        }
        if (timedOut > 0) {
            d.add(timedOut + " case(s) timed out: raise --timeout or look for a hang");
        }
        if (noOutput > 0) {
            d.add(noOutput + " case(s) wrote no usable output (missing file or wrong shape)");
        }
        List<ConformJudge.Result> judged = failing.stream().filter(r -> !r.checks().isEmpty()).toList();
        Map<String, List<ConformJudge.Result>> byKind = new LinkedHashMap<>();
        Map<String, String> firstText = new LinkedHashMap<>();
        for (ConformJudge.Result r : judged) {
            for (ConformJudge.Hint h : r.hints()) {
                List<ConformJudge.Result> l = byKind.computeIfAbsent(h.kind(), k -> new ArrayList<>());
                if (!l.contains(r)) {
                    l.add(r);
                }
                firstText.putIfAbsent(h.kind(), h.text());
            }
        }
        int n = judged.size();
        for (Map.Entry<String, List<ConformJudge.Result>> e : byKind.entrySet()) {
            int k = e.getValue().size();
            String of = k + " of " + n + " failing " + (n == 1 ? "case " : "cases ");
            String text = firstText.get(e.getKey());
            switch (e.getKey()) {
                case "align" -> {
                    boolean onlyUnequal = all.stream().filter(r -> r.c().aligned() && r.c().qLen() == r.c().kvLen())
                            .allMatch(ConformJudge.Result::pass);
                    String asked = text.contains("top-left") ? "top-left alignment where bottom-right is asked?"
                            : "bottom-right alignment where top-left is asked?";
                    d.add("causal/window cases fail" + (onlyUnequal ? " only where Nq != Nk" : "") + " (" + of
                            + text + "): " + asked);
                }
                case "window" -> d.add("window cases fail at the edge (" + of + text + "): window off by one?");
                case "softcap-order" -> {
                    boolean capAlonePasses = all.stream().filter(r -> r.c().rules().softcap() > 0
                            && !r.c().rules().alibi() && !r.c().rules().bias()).allMatch(ConformJudge.Result::pass);
                    d.add("softcap cases fail" + (capAlonePasses ? " only with ALiBi or a bias" : "") + " (" + of
                            + text + "): cap applied after the bias?");
                }
                case "scale" -> d.add((k == n ? "every case" : k + " of " + n + " failing cases")
                        + " off by a constant factor in the logits (" + of + text + "): missing scale?");
                case "scale-default" -> d.add("cases with a given scale fail (" + of + text
                        + "): is the scale of case.json ignored?");
                case "lse-empty", "out-empty" -> d.add(text + " (" + k + " case(s))");
                case "dsinks-form" -> d.add("dsinks fails where O and LSE pass (" + of + text + "): "
                        + (text.contains("sign") ? "sign of the sink gradient flipped?" : text.contains("batch")
                        ? "not summed over the batch?" : "one sink per key/value head instead of per query head?"));
                case "precision" -> d.add(of + "fail with " + text + ": a lower-precision implementation judged at"
                        + " float32? try --dtype " + text.substring(text.lastIndexOf(' ') + 1));
                default -> {
                }
            }
        }
        // gradient failures whose forward passes
        List<String> groupOnly = new ArrayList<>();
        int groupCases = 0;
        for (String g : List.of("dq", "dk", "dv", "dsinks")) {
            List<ConformJudge.Result> gf = byKind.getOrDefault("grad-" + g, List.of());
            if (gf.isEmpty() || g.equals("dsinks") && byKind.containsKey("dsinks-form")) {
                continue;
            }
            boolean allGrouped = gf.stream().allMatch(r -> r.c().kvHeads() < r.c().qHeads());
            boolean ungroupedPass = all.stream().filter(r -> r.c().kvHeads() == r.c().qHeads())
                    .noneMatch(r -> r.checks().stream().anyMatch(c -> c.output().equals(g) && c.failed()));
            if (allGrouped && ungroupedPass && (g.equals("dk") || g.equals("dv"))) {
                groupOnly.add(g.equals("dk") ? "dK" : "dV");
                groupCases = Math.max(groupCases, gf.size());
            } else {
                d.add(g + " fails in " + gf.size() + " case(s) where O and LSE pass: a bug in the backward pass");
            }
        }
        if (!groupOnly.isEmpty()) {
            d.add(String.join("/", groupOnly) + " fail only with GQA/MQA (" + groupCases + " case(s); the cases"
                    + " without a group pass): not summed over the group of query heads?");
        }
        if (d.isEmpty() || byKind.isEmpty()) {
            // no hypothesis matched: name the features all failures share and the passing cases lack
            for (String f : ConformCase.FEATURES) {
                boolean allHave = failing.stream().allMatch(r -> r.features().contains(f));
                boolean othersPass = all.stream().filter(r -> !r.features().contains(f))
                        .allMatch(ConformJudge.Result::pass);
                if (allHave && othersPass) {
                    d.add("failures only in " + f + " cases (" + failing.size() + " of "
                            + all.stream().filter(r -> r.features().contains(f)).count() + ")");
                }
            }
        }
        if (d.isEmpty()) {
            d.add(failing.size() + " failing case(s) and no single feature explains them: see the table");
        }
        return List.copyOf(d);
    }
}

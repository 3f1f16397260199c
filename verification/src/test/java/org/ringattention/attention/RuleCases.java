package org.ringattention.attention;

import java.util.ArrayList;
import java.util.List;
import org.ringattention.attention.AttentionSpec.CausalAlign;

/**
 * One small fixed problem per rule the engine implements: every mask kind and both causal
 * alignments, windows with a left side of 0, soft cap, ALiBi, bias, sinks, GQA, N_q ≠ N_k both
 * ways (so that some rows see no key), lengths 1 and 97, head dimension 59, sharp softmax rows.
 * Small enough that a pass over all of them takes about a second: the fixed-case tests of
 * blockwise and ring attention run them for every mutant in mutation testing, where the property
 * searches cost minutes.
 */
public final class RuleCases {

    private static final AttentionSpec D = AttentionSpec.DEFAULT;

    private RuleCases() {
    }

    public static List<Problem> all() {
        List<Problem> c = new ArrayList<>();
        AttentionShape mha = new AttentionShape(2, 2, 2, 23, 23, 8);
        AttentionShape gqa = new AttentionShape(1, 4, 2, 19, 31, 59);
        AttentionShape fewerKeys = new AttentionShape(1, 2, 1, 29, 13, 5);
        AttentionShape one = new AttentionShape(1, 1, 1, 1, 1, 3);
        AttentionShape oneQuery = new AttentionShape(1, 2, 2, 1, 97, 4);
        c.add(Problem.random(mha, D, 1, 1));
        c.add(Problem.random(mha, D.withCausal(true), 2, 1));
        c.add(Problem.random(gqa, D.withCausal(true), 3, 1));
        c.add(Problem.random(gqa, D.withCausal(true).withCausalAlign(CausalAlign.TOP_LEFT), 4, 1));
        c.add(Problem.random(fewerKeys, D.withCausal(true), 5, 1)); // the first rows see no key
        c.add(Problem.random(fewerKeys, D.withCausal(true).withCausalAlign(CausalAlign.TOP_LEFT), 6, 1));
        c.add(Problem.random(mha, D.withWindow(4), 7, 1));
        c.add(Problem.random(gqa, D.withWindow(3, 5), 8, 1));
        c.add(Problem.random(gqa, D.withWindow(-1, 2), 9, 1));
        c.add(Problem.random(gqa, D.withWindow(6, -1), 10, 1));
        c.add(Problem.random(mha, D.withSegments(Problem.segments(2, 23, 11, true)), 11, 1));
        c.add(Problem.random(mha, D.withCausal(true).withSegments(Problem.segments(2, 23, 12, false)), 12, 1));
        c.add(Problem.random(mha, D.withMask(Problem.keepMask(mha, 4, 13)), 13, 1));
        c.add(Problem.random(gqa, D.withMask(Problem.keepMask(gqa, 3, 14)).withCausal(true), 14, 1));
        c.add(Problem.random(mha, D.withBias(Problem.bias(mha, 4, 15)), 15, 1));
        c.add(Problem.random(gqa, D.withBias(Problem.bias(gqa, 1, 16)).withWindow(5, 5), 16, 1));
        c.add(Problem.random(mha, D.withSoftcap(2).withScale(1.5), 17, 3));
        c.add(Problem.random(mha, D.withAlibi(Problem.alibi(2, 2, 18, true)).withCausal(true), 18, 1));
        c.add(Problem.random(gqa, D.withAlibi(Problem.alibi(1, 4, 19, false)).withSoftcap(5), 19, 1));
        c.add(Problem.random(mha, D.withSinks(Problem.sinks(2, 20, 0)), 20, 1));
        c.add(Problem.random(fewerKeys, D.withSinks(Problem.sinks(2, 21, 1)).withCausal(true), 21, 1));
        c.add(Problem.random(one, D, 22, 1));
        c.add(Problem.random(oneQuery, D.withCausal(true), 23, 1));
        c.add(Problem.random(mha, D, 24, 30)); // sharp softmax rows
        c.add(Problem.random(mha, D.withWindow(1), 25, 1)); // left side 0: each query sees only its own key
        c.add(Problem.random(gqa, D.withWindow(0, 2), 26, 1));
        return c;
    }
}

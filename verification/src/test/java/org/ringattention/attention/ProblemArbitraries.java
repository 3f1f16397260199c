package org.ringattention.attention;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Tuple;

/**
 * Generators of attention problems: shapes biased towards edge cases (lengths 1, primes, 97,
 * 1025; head dims 1, 59, 111, 128), every mask, GQA and MQA, block sizes from 1 to beyond the
 * length. The work B·Hq·Nq·Nk·d is capped so that the float64 oracle stays fast: a problem over
 * the budget gets a smaller head dim, so long sequences come with small heads.
 */
public final class ProblemArbitraries {

    /** Multiply-adds of one oracle pass allowed per generated problem. */
    static final long WORK_BUDGET = 6_000_000L;

    private ProblemArbitraries() {
    }

    public static Arbitrary<Integer> lengths() {
        return Arbitraries.frequencyOf(
                Tuple.of(3, Arbitraries.of(1, 2, 3, 5, 7, 13, 31, 64, 97, 128, 1025)),
                Tuple.of(2, Arbitraries.integers().between(1, 160)));
    }

    public static Arbitrary<Integer> headDims() {
        return Arbitraries.frequencyOf(
                Tuple.of(3, Arbitraries.of(1, 2, 16, 59, 64, 111, 128)),
                Tuple.of(1, Arbitraries.integers().between(1, 130)));
    }

    public static Arbitrary<Integer> blockSizes() {
        return Arbitraries.frequencyOf(
                Tuple.of(3, Arbitraries.of(1, 2, 3, 16, 32, 64, 97, 128, 2000)),
                Tuple.of(1, Arbitraries.integers().between(1, 300)));
    }

    /** Random problems with every mask kind, sized within {@link #WORK_BUDGET}. */
    public static Arbitrary<Problem> problems() {
        return problems(Arbitraries.of(Problem.MaskKind.values()));
    }

    public static Arbitrary<Problem> problems(Arbitrary<Problem.MaskKind> masks) {
        Arbitrary<int[]> heads = Combinators.combine(Arbitraries.integers().between(1, 3),
                Arbitraries.of(1, 1, 2, 3, 4)).as((kv, group) -> new int[] {kv, kv * group});
        Arbitrary<int[]> lens = Combinators.combine(lengths(), lengths(), Arbitraries.of(true, false, false))
                .as((nq, nk, same) -> new int[] {nq, same ? nq : nk});
        return Combinators.combine(Arbitraries.integers().between(1, 2), heads, lens, headDims(), masks,
                Arbitraries.integers().between(1, 40), Arbitraries.longs(), Arbitraries.of(true, false))
                .as((batch, h, n, d, mask, window, seed, sortedSegments) -> {
                    int nq = n[0];
                    int nk = n[1];
                    if (mask == Problem.MaskKind.SEGMENTS || mask == Problem.MaskKind.CAUSAL_SEGMENTS) {
                        nk = nq; // segment ids need equal lengths
                    }
                    long rest = (long) batch * h[1] * nq * nk;
                    int dim = (int) Math.max(1, Math.min(d, WORK_BUDGET / rest));
                    AttentionShape shape = new AttentionShape(batch, h[1], h[0], nq, nk, dim);
                    AttentionSpec spec = switch (mask) {
                        case NONE -> AttentionSpec.DEFAULT;
                        case CAUSAL -> AttentionSpec.DEFAULT.withCausal(true);
                        case WINDOW -> AttentionSpec.DEFAULT.withWindow(window);
                        case SEGMENTS -> AttentionSpec.DEFAULT.withSegments(Problem.segments(batch, nq, seed,
                                sortedSegments));
                        case CAUSAL_SEGMENTS -> AttentionSpec.DEFAULT.withCausal(true)
                                .withSegments(Problem.segments(batch, nq, seed, sortedSegments));
                    };
                    return Problem.random(shape, spec, seed, 1);
                });
    }

    /**
     * Problems with the semantics of the conformance kit: either causal alignment, windows
     * (left, right) with either side unbounded or zero, the older window W, with or without
     * segment ids or cu_seqlens (packed sequences of a batch of one), soft caps, ALiBi slopes ([Hq] or [B, Hq]), attention sinks, keep masks and
     * biases broadcast from [B|1, H|1, Nq, Nk]; sized within {@link #WORK_BUDGET}.
     */
    public static Arbitrary<Problem> semantics() {
        Arbitrary<AttentionSpec.CausalAlign> aligns = Arbitraries.of(AttentionSpec.CausalAlign.values());
        Arbitrary<Integer> sides = Arbitraries.frequencyOf(Tuple.of(2, Arbitraries.of(-1, 0, 1)),
                Tuple.of(3, Arbitraries.integers().between(0, 40)));
        Arbitrary<AttentionSpec> masks = Combinators.combine(aligns, sides, sides, Arbitraries.integers().between(0, 4))
                .as((align, left, right, kind) -> {
                    AttentionSpec a = AttentionSpec.DEFAULT.withCausalAlign(align);
                    return switch (kind) {
                        case 0 -> a.withCausal(true);
                        case 1 -> a.withWindow(left + 2);
                        default -> a.withWindow(left, right);
                    };
                });
        Arbitrary<int[]> heads = Combinators.combine(Arbitraries.integers().between(1, 2),
                Arbitraries.of(1, 2, 3)).as((kv, group) -> new int[] {kv, kv * group});
        Arbitrary<int[]> lens = Combinators.combine(lengths(), lengths(), Arbitraries.of(true, false, false))
                .as((nq, nk, same) -> new int[] {nq, same ? nq : nk});
        Arbitrary<Double> softcaps = Arbitraries.of(0.0, 0.0, 0.3, 1.0, 5.0, 30.0);
        Arbitrary<Integer> alibis = Arbitraries.of(0, 0, 1, 2);
        Arbitrary<Integer> sinks = Arbitraries.of(0, 0, 1, 2);
        Arbitrary<Integer> pairs = Arbitraries.of(0, 0, 0, 1, 2, 3, 4); // broadcast kind of a mask or bias
        return Combinators.combine(Arbitraries.integers().between(1, 2), heads, lens, headDims(), masks,
                Arbitraries.of(0, 0, 0, 1, 2, 3, 3), Arbitraries.longs(), Combinators.combine(softcaps, alibis, sinks, pairs, pairs).as(
                        (c, a, k, m, bias) -> new double[] {c, a, k, m, bias}))
                .as((b, h, n, d, spec, segments, seed, features) -> {
                    boolean varlen = segments == 3; // cu_seqlens: a batch of one
                    int batch = varlen ? 1 : b;
                    int nq = n[0];
                    int nk = segments == 1 || segments == 2 ? nq : n[1];
                    long rest = (long) batch * h[1] * nq * nk;
                    int dim = (int) Math.max(1, Math.min(d, WORK_BUDGET / rest));
                    AttentionShape shape = new AttentionShape(batch, h[1], h[0], nq, nk, dim);
                    AttentionSpec s = segments == 1 || segments == 2
                            ? spec.withSegments(Problem.segments(batch, nq, seed, segments == 1))
                            : varlen ? spec.withVarlen(Problem.varlen(nq, nk, seed)) : spec;
                    s = s.withSoftcap(features[0]);
                    if (features[1] > 0) {
                        s = s.withAlibi(Problem.alibi(batch, h[1], seed, features[1] == 2));
                    }
                    if (features[2] > 0) {
                        s = s.withSinks(Problem.sinks(h[1], seed, features[2] == 2 ? 6 : 0));
                    }
                    if (features[3] > 0) {
                        s = s.withMask(Problem.keepMask(shape, (int) features[3], seed));
                    }
                    if (features[4] > 0) {
                        s = s.withBias(Problem.bias(shape, (int) features[4], seed));
                    }
                    return Problem.random(shape, s, seed, 1);
                });
    }
}

package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.Mask.Visibility;

/**
 * Corners of {@link Mask} that the random cases of MaskClassifyProperties seldom or never draw:
 * windows whose left side is 0 (each query sees no key before its own position), a keep mask
 * that keeps every pair of a tile (FULL, not merely PARTIAL, which gives the same results more
 * slowly), and the float32 score rule (soft cap, ALiBi, bias) of float64 scores against the
 * float version, which rounds the same steps.
 */
class MaskEdgeCasesTest {

    private static final AttentionSpec D = AttentionSpec.DEFAULT;

    /** Windows (left, right) with a left side of 0, on N_q = N_k and N_q ≠ N_k both ways, both alignments. */
    @Test
    void aWindowWithLeftSideZeroHidesEveryOlderKey() {
        int[][] windows = {{0, 0}, {0, 2}, {0, -1}};
        int[][] lengths = {{6, 6}, {4, 7}, {7, 4}};
        for (int[] w : windows) {
            for (int[] n : lengths) {
                for (AttentionSpec.CausalAlign align : AttentionSpec.CausalAlign.values()) {
                    int nq = n[0], nk = n[1];
                    AttentionSpec spec = D.withWindow(w[0], w[1]).withCausalAlign(align);
                    Mask mask = Mask.of(spec, new AttentionShape(1, 1, 1, nq, nk, 2));
                    int offset = align == AttentionSpec.CausalAlign.TOP_LEFT ? 0 : nk - nq;
                    String what = "window (" + w[0] + ", " + w[1] + "), Nq " + nq + ", Nk " + nk + ", " + align;
                    checkAgainstRule(mask, nq, nk, (i, j) -> j >= i + offset - w[0]
                            && (w[1] < 0 || j <= i + offset + w[1]), what);
                }
            }
        }
        // window W = 1 is causal with left side 0: the diagonal only
        Mask diagonal = Mask.of(D.withWindow(1), new AttentionShape(1, 1, 1, 5, 5, 2));
        checkAgainstRule(diagonal, 5, 5, (i, j) -> i == j, "window 1");
    }

    /** A keep mask that keeps every pair of a tile makes it FULL; one dropped pair makes it PARTIAL. */
    @Test
    void aTileWhoseEveryPairIsKeptIsFull() {
        int nq = 6, nk = 7;
        boolean[] keep = new boolean[nq * nk];
        java.util.Arrays.fill(keep, true);
        keep[5 * nk + 6] = false; // one pair dropped, outside the tiles judged FULL below
        Mask mask = Mask.of(D.withMask(KeepMask.of(keep, 1, 1, nq, nk)), new AttentionShape(1, 1, 1, nq, nk, 2));
        assertEquals(Visibility.FULL, mask.classify(0, 1, 4, 2, 6));
        assertEquals(Visibility.FULL, mask.classify(0, 2, 3, 3, 4), "a tile of one pair");
        assertEquals(Visibility.FULL, mask.classify(0, 0, 6, 0, 6));
        assertEquals(Visibility.PARTIAL, mask.classify(0, 3, 6, 4, 7), "the dropped pair is in it");
        checkAgainstRule(mask, nq, nk, (i, j) -> keep[i * nk + j], "keep all but one");

        boolean[] perHead = new boolean[2 * nq * nk];
        java.util.Arrays.fill(perHead, nq * nk, 2 * nq * nk, true); // head 0 keeps nothing, head 1 everything
        Mask heads = Mask.of(D.withMask(KeepMask.of(perHead, 1, 2, nq, nk)), new AttentionShape(1, 2, 1, nq, nk, 2));
        assertEquals(Visibility.HIDDEN, heads.classify(0, 0, 1, 4, 2, 6));
        assertEquals(Visibility.FULL, heads.classify(0, 1, 1, 4, 2, 6));
    }

    /**
     * The float32 rule of float64 scores gives the bits of the float version, and ALiBi and bias
     * change the scores as the rule says (−slope·|p − j|, then + bias).
     */
    @Test
    void theFloat32ScoreRuleOfDoublesIsTheFloatRule() {
        int nq = 3, nk = 5, heads = 2;
        SplittableRandom rnd = new SplittableRandom(11);
        double[] biasValues = new double[2 * heads * nq * nk];
        for (int e = 0; e < biasValues.length; e++) {
            biasValues[e] = rnd.nextDouble(-3, 3);
        }
        AlibiSlopes slopes = AlibiSlopes.perBatchAndHead(new double[] {0.3, 0.7, 0.11, 1.3}, 2, heads);
        ScoreBias bias = ScoreBias.of(biasValues, 2, heads, nq, nk);
        AttentionShape shape = new AttentionShape(2, heads, 1, nq, nk, 2);
        AttentionSpec[] specs = {D.withBias(bias), D.withAlibi(slopes), D.withSoftcap(2.5),
            D.withSoftcap(2.5).withAlibi(slopes).withBias(bias)};
        for (AttentionSpec spec : specs) {
            Mask mask = Mask.of(spec, shape);
            for (int b = 0; b < 2; b++) {
                for (int h = 0; h < heads; h++) {
                    float[] f = new float[nq * nk];
                    double[] d = new double[nq * nk];
                    double[] exact = new double[nq * nk];
                    for (int e = 0; e < f.length; e++) {
                        f[e] = (float) rnd.nextDouble(-6, 6);
                        d[e] = f[e];
                        exact[e] = f[e];
                    }
                    float[] fCap = new float[f.length];
                    double[] dCap = new double[f.length];
                    mask.adjust(b, h, 0, nq, 0, nk, f, fCap);
                    mask.adjust(b, h, 0, nq, 0, nk, d, dCap, true);
                    mask.adjust(b, h, 0, nq, 0, nk, exact, null, false);
                    for (int e = 0; e < f.length; e++) {
                        String where = spec + " b " + b + " h " + h + " e " + e;
                        assertEquals(Float.floatToIntBits(f[e]), Float.floatToIntBits((float) d[e]), where);
                        assertEquals(f[e], d[e], 0, where + ": the float32 rule leaves float values");
                        assertEquals(exact[e], d[e], 1e-5 * (1 + Math.abs(exact[e])), where + ": near the float64 rule");
                        if (mask.softcaps()) {
                            assertEquals(Float.floatToIntBits(fCap[e]), Float.floatToIntBits((float) dCap[e]), where);
                        }
                    }
                }
            }
        }
        // the float64 rule itself, by hand: −slope·|p − j| then + bias (bottom-right: p = i + 2)
        Mask both = Mask.of(D.withAlibi(slopes).withBias(bias), shape);
        double[] s = new double[nq * nk];
        both.adjust(1, 1, 0, nq, 0, nk, s, null, false);
        for (int i = 0; i < nq; i++) {
            for (int j = 0; j < nk; j++) {
                double want = -1.3 * Math.abs(i + 2 - j) + bias.bias(1, 1, i, j);
                assertEquals(want, s[i * nk + j], 1e-15, "pair " + i + "," + j);
            }
        }
    }

    /**
     * Packed sequences (cu_seqlens), empty ones on either side included: a query sees only keys of
     * its own sequence, through the window aligned on that sequence's own lengths, and ALiBi
     * measures |p(i) − j| from that alignment.
     */
    @Test
    void packedSequencesAreMaskedEachOnItsOwnAlignment() {
        long[][][] packs = {
            {{0, 2, 2, 5}, {0, 3, 4, 7}}, // a sequence without queries in the middle
            {{0, 3, 3, 6}, {0, 0, 4, 6}}, // one without keys, one without queries
            {{0, 4, 6}, {0, 2, 6}}, // more queries than keys, then fewer
            {{0, 2, 4, 6}, {0, 2, 2, 6}}, // one without keys in the middle
            {{0, 5}, {0, 5}}, // one sequence
        };
        AttentionSpec[] specs = {D, D.withCausal(true), D.withWindow(2), D.withWindow(0, 1), D.withWindow(1, -1),
            D.withWindow(-1, 1), D.withWindow(2, 1)};
        for (long[][] pack : packs) {
            long[] cq = pack[0], ck = pack[1];
            int nq = (int) cq[cq.length - 1], nk = (int) ck[ck.length - 1];
            SequenceLengths lengths = SequenceLengths.of(cq, ck);
            AttentionShape shape = new AttentionShape(1, 1, 1, nq, nk, 2);
            for (AttentionSpec base : specs) {
                for (AttentionSpec.CausalAlign align : AttentionSpec.CausalAlign.values()) {
                    AttentionSpec spec = base.withCausalAlign(align).withVarlen(lengths);
                    boolean bottomRight = align == AttentionSpec.CausalAlign.BOTTOM_RIGHT;
                    int left = spec.windowLeft(), right = spec.windowRight();
                    Rule rule = (i, j) -> {
                        int s = 0;
                        while (!(cq[s] <= i && i < cq[s + 1])) {
                            s++;
                        }
                        long p = ck[s] + (i - cq[s]) + (bottomRight ? (ck[s + 1] - ck[s]) - (cq[s + 1] - cq[s]) : 0);
                        return ck[s] <= j && j < ck[s + 1] && (left < 0 || j >= p - left)
                                && (right < 0 || j <= p + right);
                    };
                    Mask mask = Mask.of(spec, shape);
                    checkAgainstRule(mask, nq, nk, rule, java.util.Arrays.toString(cq) + " " + java.util.Arrays.toString(ck)
                            + " " + spec);
                }
            }
            // ALiBi inside a sequence: −slope · |p(i) − j|, p on the sequence's bottom-right alignment
            Mask alibi = Mask.of(D.withVarlen(lengths).withAlibi(AlibiSlopes.perHead(new double[] {0.5})), shape);
            double[] s = new double[nq * nk];
            alibi.adjust(0, 0, 0, nq, 0, nk, s, null, false);
            for (int i = 0; i < nq; i++) {
                int q = 0;
                while (!(cq[q] <= i && i < cq[q + 1])) {
                    q++;
                }
                long p = ck[q] + (i - cq[q]) + (ck[q + 1] - ck[q]) - (cq[q + 1] - cq[q]);
                for (int j = 0; j < nk; j++) {
                    assertEquals(0 - 0.5 * Math.abs(p - j), s[i * nk + j], "ALiBi of pair " + i + "," + j);
                }
            }
        }
        SpecValuesTest.assertMessage("cu_seqlens_q must end at the query length 6, got 5",
                () -> Mask.of(D.withVarlen(SequenceLengths.of(new long[] {0, 5}, new long[] {0, 6})),
                        new AttentionShape(1, 1, 1, 6, 6, 2)));
    }

    private interface Rule {
        boolean visible(int i, int j);
    }

    /** visible, apply (float and double) and classify of every tile against {@code rule}. */
    private static void checkAgainstRule(Mask mask, int nq, int nk, Rule rule, String what) {
        for (int i = 0; i < nq; i++) {
            for (int j = 0; j < nk; j++) {
                assertEquals(rule.visible(i, j), mask.visible(0, i, j), what + " pair " + i + "," + j);
            }
        }
        for (int i0 = 0; i0 < nq; i0++) {
            for (int i1 = i0 + 1; i1 <= nq; i1++) {
                for (int j0 = 0; j0 < nk; j0++) {
                    for (int j1 = j0 + 1; j1 <= nk; j1++) {
                        int seen = 0;
                        float[] f = new float[(i1 - i0) * (j1 - j0)];
                        double[] d = new double[f.length];
                        mask.apply(0, i0, i1 - i0, j0, j1 - j0, f);
                        mask.apply(0, i0, i1 - i0, j0, j1 - j0, d);
                        for (int i = i0; i < i1; i++) {
                            for (int j = j0; j < j1; j++) {
                                boolean v = rule.visible(i, j);
                                seen += v ? 1 : 0;
                                int e = (i - i0) * (j1 - j0) + (j - j0);
                                String pair = what + " tile " + i0 + ".." + i1 + " x " + j0 + ".." + j1 + " pair " + i
                                        + "," + j;
                                assertEquals(v ? 0f : Float.NEGATIVE_INFINITY, f[e], pair);
                                assertEquals(v ? 0 : Double.NEGATIVE_INFINITY, d[e], pair);
                            }
                        }
                        Visibility want = seen == 0 ? Visibility.HIDDEN
                                : seen == f.length ? Visibility.FULL : Visibility.PARTIAL;
                        assertEquals(want, mask.classify(0, i0, i1, j0, j1),
                                what + " tile " + i0 + ".." + i1 + " x " + j0 + ".." + j1);
                    }
                }
            }
        }
    }
}

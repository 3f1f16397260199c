package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.lifecycle.AfterContainer;
import org.ringattention.check.AccuracyRule;
import org.ringattention.check.ErrorStats;

/**
 * The analytic forward error bound of blockwise attention with online softmax in float32
 * (docs/error-bound.md), asserted element by element on random problems beside the 2x rule
 * for O (the rule's max-norm bound is the tighter on every case seen: the analytic one is a worst
 * case, the rule is measured on the same inputs). With u = 2⁻²⁴, γ(n) = nu/(1 − nu), σ_i the largest score
 * magnitude scale·Σ_x|Q_ix K_jx| of row i over visible keys, T key blocks, R = ⌈N_k/128⌉ chunks,
 * M_ix = Σ_j P_ij |V_jx|:
 * <pre>
 *   ε_i     = γ(d+1)·σ_i + 4u·σ_i + 5u·T                       (relative error of each P_ij)
 *   |ΔO_ix| ≤ (2ε_i + γ(128 + R + T + 2) + γ(⌈b_k/16⌉ + R + T + 6) + 2u)·M_ix + N_k·2⁻¹⁴⁷·max|V|
 *   |ΔLSE_i| ≤ ε_i + γ(⌈b_k/16⌉ + R + T + 6) + u·(|LSE_i| + 2)
 * </pre>
 * plus the float64 oracle's own error, below 10⁻¹³ of the same magnitudes (OracleErrorTest).
 */
class ErrorBoundProperties {

    private static final double U = AccuracyRule.U32;
    private static final double ORACLE = 1e-13;

    private static int tighter;
    private static int cases;
    private static double worstShare;

    @Provide
    Arbitrary<Problem> problems() {
        return ProblemArbitraries.problems();
    }

    @Provide
    Arbitrary<Integer> blocks() {
        return ProblemArbitraries.blockSizes();
    }

    static double gamma(double n) {
        return n * U / (1 - n * U);
    }

    @Property(tries = 15)
    void blockwiseForwardIsWithinTheAnalyticBound(@ForAll("problems") Problem p, @ForAll("blocks") int bq,
            @ForAll("blocks") int bkv) {
        AttentionOutput got = p.blockwise(bq, bkv);
        AttentionShape s = p.shape();
        int nq = s.qLen();
        int nk = s.kvLen();
        int d = s.dim();
        double scale = p.spec().scaleFor(d);
        double[] q = Problem.widen(p.q());
        double[] k = Problem.widen(p.k());
        double[] v = Problem.widen(p.v());
        VanillaAttention.Result ref = p.vanilla(VanillaAttention.Precision.FLOAT64);
        double[] o = Problem.widen(got.out());
        double[] lse = Problem.widen(got.lse());
        Mask mask = Mask.of(p.spec(), s);
        int bk = Math.min(bkv, nk);
        int t = (nk + bkv - 1) / bkv;
        int r = (nk + 127) / 128;
        double gO = gamma(128 + r + t + 2);
        double gL = gamma(Math.ceil(bk / 16.0) + r + t + 6);
        double vMax = ErrorStats.maxAbs(v);
        double maxBound = 0;
        double share = 0;
        for (int b = 0; b < s.batch(); b++) {
            for (int h = 0; h < s.qHeads(); h++) {
                int head = b * s.qHeads() + h;
                int qBase = head * nq * d;
                int kBase = (b * s.kvHeads() + s.kvHead(h)) * nk * d;
                for (int i = 0; i < nq; i++) {
                    double refLse = ref.lse()[head * nq + i];
                    if (refLse == Double.NEGATIVE_INFINITY) {
                        assertThat(lse[head * nq + i]).isEqualTo(Double.NEGATIVE_INFINITY);
                        continue;
                    }
                    double sigma = 0;
                    double[] m = new double[d];
                    for (int j = 0; j < nk; j++) {
                        if (!mask.visible(b, i, j)) {
                            continue;
                        }
                        double dot = 0;
                        double abs = 0;
                        for (int x = 0; x < d; x++) {
                            dot += q[qBase + i * d + x] * k[kBase + j * d + x];
                            abs += Math.abs(q[qBase + i * d + x] * k[kBase + j * d + x]);
                        }
                        sigma = Math.max(sigma, Math.abs(scale) * abs);
                        double pij = Math.exp(scale * dot - refLse);
                        for (int x = 0; x < d; x++) {
                            m[x] += pij * Math.abs(v[kBase + j * d + x]);
                        }
                    }
                    double eps = gamma(d + 1) * sigma + 4 * U * sigma + 5 * U * t;
                    for (int x = 0; x < d; x++) {
                        int e = qBase + i * d + x;
                        double bound = (2 * eps + gO + gL + 2 * U + ORACLE) * m[x] + nk * 0x1p-147 * vMax;
                        double err = Math.abs(o[e] - ref.out()[e]);
                        assertThat(err).as("O[%d] of %s blocks %dx%d: bound %s", e, p, bq, bkv, bound)
                                .isLessThanOrEqualTo(bound);
                        maxBound = Math.max(maxBound, bound);
                        share = Math.max(share, err / bound);
                    }
                    double lseBound = eps + gL + U * (Math.abs(refLse) + 2) + ORACLE * (Math.abs(refLse) + 1);
                    double lseErr = Math.abs(lse[head * nq + i] - refLse);
                    assertThat(lseErr).as("LSE[%d] of %s blocks %dx%d", head * nq + i, p, bq, bkv)
                            .isLessThanOrEqualTo(lseBound);
                }
            }
        }
        // beside the 2x rule; and whether the analytic bound (its largest element) is the tighter
        AccuracyRule.Verdict rule = AccuracyRule.FORWARD.judge(ref.out(), o,
                p.vanilla(VanillaAttention.Precision.FLOAT32).out(), vMax);
        assertThat(rule.pass()).as("O of %s blocks %dx%d: %s", p, bq, bkv, rule).isTrue();
        synchronized (ErrorBoundProperties.class) {
            cases++;
            tighter += maxBound < rule.bound() ? 1 : 0;
            worstShare = Math.max(worstShare, share);
        }
    }

    @AfterContainer
    static void report() {
        System.out.printf("analytic forward bound: %d cases, tighter than the 2x rule (max-norm) in %d;"
                + " worst error at %.3f of the bound%n", cases, tighter, worstShare);
    }
}

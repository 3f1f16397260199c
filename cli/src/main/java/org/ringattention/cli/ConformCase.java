package org.ringattention.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.ringattention.attention.AlibiSlopes;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSinks;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.AttentionSpec.CausalAlign;
import org.ringattention.attention.KeepMask;
import org.ringattention.attention.Mask;
import org.ringattention.attention.ScoreBias;
import org.ringattention.attention.SegmentIds;
import org.ringattention.attention.SequenceLengths;

/**
 * One case of the conformance grid: a shape, the semantics in force, and the seed its inputs come
 * from. Inputs are standard normal; a {@code peaky} case multiplies q by {@value #PEAKY_GAIN}, so
 * that each row's softmax is dominated by a few keys (where a missing max subtraction overflows).
 * Segment ids, when asked, cut the sequence into {@value #SEGMENTS} runs of random lengths; packed
 * sequences (cu_seqlens) cut the query and the key side each into {@value #SEGMENTS} runs of their
 * own random lengths (possibly empty), so sequences have N_q ≠ N_k and some rows see no key.
 * The score rules ({@link Rules}) draw their data from a stream of their own, so the q, k, v of a
 * case do not depend on them: ALiBi slopes [Hq] (the paper's geometric slopes), sink logits [Hq]
 * (normal), a keep mask [B, 1, Nq, Nk] (each pair kept with probability 0.8, one row in six keeping
 * nothing) and a bias [1, Hq, Nq, Nk] (normal).
 *
 * <p>Features are tags, used by {@code --only} and by the per-feature summary: the semantics
 * ({@code full}, {@code causal}, {@code top-left}, {@code window}, {@code segments}, {@code scale},
 * {@code softcap}, {@code alibi}, {@code sinks}, {@code mask}, {@code bias}, {@code varlen})
 * and the shapes that are known to trip implementations ({@code gqa}, {@code mqa}, {@code batch},
 * {@code nq<nk}, {@code nq>nk}, {@code n=1}, {@code odd-d}, {@code empty-rows}, {@code peaky}).
 *
 * @param windowLeft  L, −1 unbounded
 * @param windowRight R, −1 unbounded; {@code causal} means R = 0
 * @param scale       NaN: the default 1/√d (case.json always states the scale in force)
 */
record ConformCase(String name, int batch, int qHeads, int kvHeads, int qLen, int kvLen, int dim, boolean causal,
        CausalAlign align, int windowLeft, int windowRight, boolean segments, double scale, boolean peaky,
        Rules rules, long seed) {

    static final double PEAKY_GAIN = 8;
    static final int SEGMENTS = 3;

    /** Every feature tag, in summary order. */
    static final List<String> FEATURES = List.of("full", "causal", "top-left", "window", "segments", "scale",
            "softcap", "alibi", "sinks", "mask", "bias", "varlen", "gqa", "mqa", "batch", "nq<nk", "nq>nk", "n=1",
            "odd-d", "empty-rows", "peaky");

    /**
     * The score and packing rules of the kit beyond masks: soft cap C (0 none), ALiBi, sinks, a keep
     * mask, a bias, packed sequences (cu_seqlens; a batch of one).
     */
    record Rules(double softcap, boolean alibi, boolean sinks, boolean mask, boolean bias, boolean varlen) {
        static final Rules NONE = new Rules(0, false, false, false, false, false);
    }

    /**
     * The inputs of a case, float32 values held in doubles; {@code dO} only with gradients; the
     * rules' data (slopes [Hq], sinks [Hq], keep [B·Nq·Nk], bias [Hq·Nq·Nk], cu_seqlens) or null.
     */
    record Inputs(double[] q, double[] k, double[] v, double[] dO, long[] segmentIds, double[] alibi, double[] sinks,
            boolean[] keep, double[] bias, long[] cuQ, long[] cuK) {

        /** The same rules' data with other tensors (rounded ones). */
        Inputs withTensors(double[] q2, double[] k2, double[] v2, double[] dO2) {
            return new Inputs(q2, k2, v2, dO2, segmentIds, alibi, sinks, keep, bias, cuQ, cuK);
        }
    }

    AttentionShape shape() {
        return new AttentionShape(batch, qHeads, kvHeads, qLen, kvLen, dim);
    }

    boolean hasWindow() {
        return windowLeft >= 0 || (windowRight >= 0 && !causal);
    }

    /** True when a causal mask or a window is in force (alignment matters). */
    boolean aligned() {
        return causal || hasWindow();
    }

    AttentionSpec spec(Inputs in) {
        AttentionSpec s = AttentionSpec.DEFAULT.withCausalAlign(align);
        if (causal) {
            s = windowLeft >= 0 ? s.withWindow(windowLeft, 0) : s.withCausal(true);
        } else if (hasWindow()) {
            s = s.withWindow(windowLeft, windowRight);
        }
        if (!Double.isNaN(scale)) {
            s = s.withScale(scale);
        }
        if (segments) {
            s = s.withSegments(SegmentIds.of(in.segmentIds(), batch, qLen));
        }
        if (rules.softcap() > 0) {
            s = s.withSoftcap(rules.softcap());
        }
        if (rules.alibi()) {
            s = s.withAlibi(AlibiSlopes.perHead(in.alibi()));
        }
        if (rules.sinks()) {
            s = s.withSinks(AttentionSinks.of(in.sinks()));
        }
        if (rules.mask()) {
            s = s.withMask(KeepMask.of(in.keep(), batch, 1, qLen, kvLen));
        }
        if (rules.bias()) {
            s = s.withBias(ScoreBias.of(in.bias(), 1, qHeads, qLen, kvLen));
        }
        if (rules.varlen()) {
            s = s.withVarlen(SequenceLengths.of(in.cuQ(), in.cuK()));
        }
        return s;
    }

    /** The same case with other semantics (for the runner's hypotheses about a failure). */
    ConformCase variant(CausalAlign a, boolean c, int left, int right, double s) {
        return new ConformCase(name, batch, qHeads, kvHeads, qLen, kvLen, dim, c, a, left, right, segments, s, peaky,
                rules, seed);
    }

    /** The scale in force. */
    double effectiveScale() {
        return Double.isNaN(scale) ? 1.0 / Math.sqrt(dim) : scale;
    }

    Inputs inputs(boolean gradients) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double gain = peaky ? PEAKY_GAIN : 1;
        double[] q = normal(rnd, (long) batch * qHeads * qLen * dim, gain);
        double[] k = normal(rnd, (long) batch * kvHeads * kvLen * dim, 1);
        double[] v = normal(rnd, (long) batch * kvHeads * kvLen * dim, 1);
        double[] dO = gradients ? normal(rnd, (long) batch * qHeads * qLen * dim, 1) : null;
        long[] seg = null;
        if (segments) {
            seg = new long[batch * qLen];
            for (int b = 0; b < batch; b++) {
                int[] cuts = new int[SEGMENTS - 1];
                for (int c = 0; c < cuts.length; c++) {
                    cuts[c] = qLen <= 1 ? qLen : 1 + rnd.nextInt(qLen - 1);
                }
                java.util.Arrays.sort(cuts);
                for (int i = 0; i < qLen; i++) {
                    int id = 0;
                    while (id < cuts.length && i >= cuts[id]) {
                        id++;
                    }
                    seg[b * qLen + i] = id;
                }
            }
        }
        // the rules' data: a stream of its own, so that q, k, v do not depend on the rules
        SplittableRandom r = new SplittableRandom(seed ^ 0x5C0E_7A11L);
        double[] slopes = null;
        if (rules.alibi()) {
            slopes = new double[qHeads];
            for (int h = 0; h < qHeads; h++) {
                slopes[h] = (float) Math.pow(2, -8.0 * (h + 1) / qHeads); // as the float32 file holds it
            }
        }
        double[] sinkLogits = rules.sinks() ? normal(r, qHeads, 1) : null;
        boolean[] keep = null;
        if (rules.mask()) {
            keep = new boolean[batch * qLen * kvLen];
            for (int row = 0; row < batch * qLen; row++) {
                boolean blind = r.nextInt(6) == 0;
                for (int j = 0; j < kvLen; j++) {
                    keep[row * kvLen + j] = !blind && r.nextDouble() < 0.8;
                }
            }
        }
        double[] bias = rules.bias() ? normal(r, (long) qHeads * qLen * kvLen, 1) : null;
        long[] cuQ = rules.varlen() ? cuts(r, qLen) : null;
        long[] cuK = rules.varlen() ? cuts(r, kvLen) : null;
        return new Inputs(q, k, v, dO, seg, slopes, sinkLogits, keep, bias, cuQ, cuK);
    }

    /** Cumulative lengths of {@value #SEGMENTS} runs over n tokens, cut at random (runs may be empty). */
    private static long[] cuts(SplittableRandom r, int n) {
        long[] cu = new long[SEGMENTS + 1];
        for (int s = 1; s < SEGMENTS; s++) {
            cu[s] = r.nextInt(n + 1);
        }
        cu[SEGMENTS] = n;
        java.util.Arrays.sort(cu);
        return cu;
    }

    private static double[] normal(SplittableRandom rnd, long n, double gain) {
        double[] x = new double[Math.toIntExact(n)];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (gain * rnd.nextGaussian());
        }
        return x;
    }

    /** True when some query row sees no key (O = 0, LSE = −∞ there). */
    boolean hasEmptyRows() {
        if (!aligned() && !rules.mask() && !rules.varlen()) {
            return false; // full or segments alone: a query always sees itself
        }
        Mask mask = Mask.of(spec(inputs(false)), shape());
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < qLen; i++) {
                boolean any = false;
                for (int j = 0; j < kvLen && !any; j++) {
                    any = mask.visible(b, i, j); // the mask is the same for every head
                }
                if (!any) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The feature tags of this case. */
    List<String> features() {
        List<String> f = new ArrayList<>();
        if (!causal && !hasWindow() && !segments && !rules.mask() && !rules.varlen()) {
            f.add("full");
        }
        if (causal) {
            f.add("causal");
        }
        if (aligned() && align == CausalAlign.TOP_LEFT) {
            f.add("top-left");
        }
        if (hasWindow()) {
            f.add("window");
        }
        if (segments) {
            f.add("segments");
        }
        if (!Double.isNaN(scale)) {
            f.add("scale");
        }
        if (rules.softcap() > 0) {
            f.add("softcap");
        }
        if (rules.alibi()) {
            f.add("alibi");
        }
        if (rules.sinks()) {
            f.add("sinks");
        }
        if (rules.mask()) {
            f.add("mask");
        }
        if (rules.bias()) {
            f.add("bias");
        }
        if (rules.varlen()) {
            f.add("varlen");
        }
        if (kvHeads == 1 && qHeads > 1) {
            f.add("mqa");
        } else if (kvHeads < qHeads) {
            f.add("gqa");
        }
        if (batch > 1) {
            f.add("batch");
        }
        if (qLen < kvLen) {
            f.add("nq<nk");
        } else if (qLen > kvLen) {
            f.add("nq>nk");
        }
        if (qLen == 1 || kvLen == 1) {
            f.add("n=1");
        }
        if (dim % 2 == 1) {
            f.add("odd-d");
        }
        if (hasEmptyRows()) {
            f.add("empty-rows");
        }
        if (peaky) {
            f.add("peaky");
        }
        return f;
    }

    /** The semantics in words, for the table: "causal top-left window=(4,0) scale=0.3". */
    String semantics() {
        StringBuilder sb = new StringBuilder();
        if (causal) {
            sb.append("causal");
        }
        if (hasWindow()) {
            sb.append(sb.isEmpty() ? "" : " ").append("window=(").append(windowLeft).append(',')
                    .append(causal ? 0 : windowRight).append(')');
        }
        if (sb.isEmpty() && !segments && !rules.varlen()) {
            sb.append("full");
        }
        if (aligned()) {
            sb.append(align == CausalAlign.TOP_LEFT ? " top-left" : " bottom-right");
        }
        if (segments) {
            sb.append(sb.isEmpty() ? "" : " ").append("segments");
        }
        if (rules.varlen()) {
            sb.append(sb.isEmpty() ? "" : " ").append("varlen");
        }
        if (!Double.isNaN(scale)) {
            sb.append(" scale=").append(scale);
        }
        if (rules.softcap() > 0) {
            sb.append(" softcap=").append(rules.softcap());
        }
        for (String[] r : new String[][] {{rules.alibi() ? "alibi" : null}, {rules.sinks() ? "sinks" : null},
            {rules.mask() ? "mask" : null}, {rules.bias() ? "bias" : null}}) {
            if (r[0] != null) {
                sb.append(' ').append(r[0]);
            }
        }
        if (peaky) {
            sb.append(" peaky");
        }
        return sb.toString();
    }

    /** B×Hq/Hkv×Nq/Nk×d, e.g. "2x4/2x31/47x59". */
    String shapeText() {
        return batch + "x" + qHeads + "/" + kvHeads + "x" + qLen + "/" + kvLen + "x" + dim;
    }
}

package org.ringattention.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.AttentionSpec.CausalAlign;
import org.ringattention.attention.Mask;
import org.ringattention.attention.SegmentIds;

/**
 * One case of the conformance grid: a shape, the semantics in force, and the seed its inputs come
 * from. Inputs are standard normal; a {@code peaky} case multiplies q by {@value #PEAKY_GAIN}, so
 * that each row's softmax is dominated by a few keys (where a missing max subtraction overflows).
 * Segment ids, when asked, cut the sequence into {@value #SEGMENTS} runs of random lengths.
 *
 * <p>Features are tags, used by {@code --only} and by the per-feature summary: the semantics
 * ({@code full}, {@code causal}, {@code top-left}, {@code window}, {@code segments}, {@code scale})
 * and the shapes that are known to trip implementations ({@code gqa}, {@code mqa}, {@code batch},
 * {@code nq<nk}, {@code nq>nk}, {@code n=1}, {@code odd-d}, {@code empty-rows}, {@code peaky}).
 *
 * @param windowLeft  L, −1 unbounded
 * @param windowRight R, −1 unbounded; {@code causal} means R = 0
 * @param scale       NaN: the default 1/√d (case.json always states the scale in force)
 */
record ConformCase(String name, int batch, int qHeads, int kvHeads, int qLen, int kvLen, int dim, boolean causal,
        CausalAlign align, int windowLeft, int windowRight, boolean segments, double scale, boolean peaky,
        long seed) {

    static final double PEAKY_GAIN = 8;
    static final int SEGMENTS = 3;

    /** Every feature tag, in summary order. */
    static final List<String> FEATURES = List.of("full", "causal", "top-left", "window", "segments", "scale", "gqa",
            "mqa", "batch", "nq<nk", "nq>nk", "n=1", "odd-d", "empty-rows", "peaky");

    /** The inputs of a case, float32 values held in doubles; {@code dO} only with gradients. */
    record Inputs(double[] q, double[] k, double[] v, double[] dO, long[] segmentIds) {
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
        return s;
    }

    /** The same case with other semantics (for the runner's hypotheses about a failure). */
    ConformCase variant(CausalAlign a, boolean c, int left, int right, double s) {
        return new ConformCase(name, batch, qHeads, kvHeads, qLen, kvLen, dim, c, a, left, right, segments, s, peaky,
                seed);
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
        return new Inputs(q, k, v, dO, seg);
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
        if (!aligned()) {
            return false; // segments alone: a query always sees itself
        }
        Mask mask = Mask.of(spec(inputs(false)), shape());
        for (int i = 0; i < qLen; i++) {
            boolean any = false;
            for (int j = 0; j < kvLen && !any; j++) {
                any = mask.visible(0, i, j);
            }
            if (!any) {
                return true;
            }
        }
        return false;
    }

    /** The feature tags of this case. */
    List<String> features() {
        List<String> f = new ArrayList<>();
        if (!causal && !hasWindow() && !segments) {
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
        if (sb.isEmpty() && !segments) {
            sb.append("full");
        }
        if (aligned()) {
            sb.append(align == CausalAlign.TOP_LEFT ? " top-left" : " bottom-right");
        }
        if (segments) {
            sb.append(sb.isEmpty() ? "" : " ").append("segments");
        }
        if (!Double.isNaN(scale)) {
            sb.append(" scale=").append(scale);
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

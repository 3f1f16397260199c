package org.ringattention.attention;

/**
 * What a query may see and how scores are scaled; the shapes come from the tensors.
 *
 * <ul>
 *   <li>{@code scale}: multiplies q·k; {@code NaN} means the default 1/√d.
 *   <li>{@code causal}: bottom-right aligned: query i sits at position p = i + N_k − N_q and sees
 *       keys j ≤ p.
 *   <li>{@code window} W ≥ 1 (0 = none, W implies causal): query at p sees keys p − W &lt; j ≤ p.
 *   <li>{@code segments}: packed documents; a query sees only keys of its own segment (needs
 *       N_q = N_k).
 * </ul>
 *
 * The rule itself lives in {@link Mask}.
 */
public record AttentionSpec(double scale, boolean causal, int window, SegmentIds segments) {

    /** Full attention, default scale. */
    public static final AttentionSpec DEFAULT = new AttentionSpec(Double.NaN, false, 0, null);

    public AttentionSpec {
        if (!Double.isNaN(scale) && (Double.isInfinite(scale) || scale == 0)) {
            throw new IllegalArgumentException("scale must be finite and non-zero, got " + scale);
        }
        if (window < 0) {
            throw new IllegalArgumentException("window must be >= 1 (or 0 for none), got " + window);
        }
        if (window > 0) {
            causal = true;
        }
    }

    public AttentionSpec withScale(double s) {
        return new AttentionSpec(s, causal, window, segments);
    }

    public AttentionSpec withCausal(boolean c) {
        return new AttentionSpec(scale, c, c ? window : 0, segments);
    }

    public AttentionSpec withWindow(int w) {
        return new AttentionSpec(scale, causal || w > 0, w, segments);
    }

    public AttentionSpec withSegments(SegmentIds s) {
        return new AttentionSpec(scale, causal, window, s);
    }

    /** The scale in force for head dimension {@code d}. */
    public double scaleFor(int d) {
        return Double.isNaN(scale) ? 1.0 / Math.sqrt(d) : scale;
    }

    /** True when every query sees every key. */
    public boolean isFull() {
        return !causal && segments == null;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(causal ? (window > 0 ? "window=" + window : "causal") : "full");
        if (segments != null) {
            sb.append("+segments");
        }
        if (!Double.isNaN(scale)) {
            sb.append(", scale=").append(scale);
        }
        return sb.toString();
    }
}

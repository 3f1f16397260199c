package org.ringattention.attention;

/**
 * What a query may see and how scores are scaled; the shapes come from the tensors. The rule
 * itself, with its formulas, lives in {@link Mask}.
 *
 * <ul>
 *   <li>{@code scale}: multiplies q·k; {@code NaN} means the default 1/√d.
 *   <li>{@code causalAlign}: where query i sits, p(i) = i + N_k − N_q ({@link CausalAlign#BOTTOM_RIGHT},
 *       the default) or p(i) = i ({@link CausalAlign#TOP_LEFT}).
 *   <li>{@code windowLeft} L, {@code windowRight} R (−1 = unbounded on that side, FlashAttention's
 *       window_size): query i sees keys p(i) − L ≤ j ≤ p(i) + R.
 *   <li>{@code causal}: R = 0 (a spec with R = 0 is causal; causal with R &gt; 0 is an error).
 *   <li>{@code window} W ≥ 1 (0 = none): the older form of causal with L = W − 1, kept as an
 *       accessor; it is derived from L when the spec is causal.
 *   <li>{@code segments}: packed documents; a query sees only keys of its own segment (needs
 *       N_q = N_k).
 *   <li>{@code softcap} C &gt; 0 (0 = none): s = C·tanh(scale·q·k / C).
 *   <li>{@code alibi}: slopes [Hq] or [B, Hq]; −slope·|p(i) − j| is added after the soft cap.
 *   <li>{@code sinks}: one logit per query head in each row's softmax denominator ({@link AttentionSinks}).
 *   <li>{@code mask}: a boolean keep mask [B|1, H|1, N_q, N_k], ANDed with every rule above.
 *   <li>{@code bias}: a float bias [B|1, H|1, N_q, N_k], added after ALiBi.
 *   <li>{@code varlen}: packed sequences of a batch of one (cu_seqlens, {@link SequenceLengths}); each
 *       sequence sees only its own keys and is aligned on its own lengths.
 * </ul>
 *
 * Build specs with {@code DEFAULT.withX(...)}: the canonical constructor grows as features do.
 */
public record AttentionSpec(double scale, boolean causal, int window, SegmentIds segments, CausalAlign causalAlign,
        int windowLeft, int windowRight, double softcap, AlibiSlopes alibi, AttentionSinks sinks, KeepMask mask,
        ScoreBias bias, SequenceLengths varlen) {

    /** Where a query row sits relative to the keys. */
    public enum CausalAlign {
        /** p(i) = i + N_k − N_q: the last query sees the last key (FlashAttention, the default). */
        BOTTOM_RIGHT("bottom-right"),
        /** p(i) = i: the first query sees the first key (PyTorch's is_causal). */
        TOP_LEFT("top-left");

        private final String text;

        CausalAlign(String text) {
            this.text = text;
        }

        /** "bottom-right" or "top-left". */
        public String text() {
            return text;
        }

        /** Parses "bottom-right" / "top-left" (also with '_'). */
        public static CausalAlign parse(String s) {
            for (CausalAlign a : values()) {
                if (a.text.equals(s) || a.text.replace('-', '_').equals(s)) {
                    return a;
                }
            }
            throw new IllegalArgumentException("causal alignment must be bottom-right or top-left, got '" + s + "'");
        }
    }

    /** Full attention, default scale. */
    public static final AttentionSpec DEFAULT = new AttentionSpec(Double.NaN, false, 0, null);

    public AttentionSpec {
        if (!Double.isNaN(scale) && (Double.isInfinite(scale) || scale == 0)) {
            throw new IllegalArgumentException("scale must be finite and non-zero, got " + scale);
        }
        if (window < 0) {
            throw new IllegalArgumentException("window must be >= 1 (or 0 for none), got " + window);
        }
        if (windowLeft < -1 || windowRight < -1) {
            throw new IllegalArgumentException("window sides must be >= 0 or -1 (unbounded), got left " + windowLeft
                    + ", right " + windowRight);
        }
        if (causalAlign == null) {
            causalAlign = CausalAlign.BOTTOM_RIGHT;
        }
        if (window > 0) {
            if (windowLeft != -1 && windowLeft != window - 1) {
                throw new IllegalArgumentException("window " + window + " means window left " + (window - 1)
                        + ", not " + windowLeft);
            }
            causal = true;
            windowLeft = window - 1;
        }
        if (causal && windowRight > 0) {
            throw new IllegalArgumentException("causal means window right 0, not " + windowRight);
        }
        if (causal || windowRight == 0) {
            causal = true;
            windowRight = 0;
        }
        window = causal && windowLeft >= 0 ? windowLeft + 1 : 0;
        if (segments != null && varlen != null) {
            throw new IllegalArgumentException("segments and cu_seqlens both pack sequences: give one of them");
        }
        if (!(softcap >= 0) || Double.isInfinite(softcap)) {
            throw new IllegalArgumentException("softcap must be finite and > 0 (or 0 for none), got " + softcap);
        }
    }

    /** The older form: causal for W ≥ 1 (causal with L = W − 1), full when W = 0. */
    public AttentionSpec(double scale, boolean causal, int window, SegmentIds segments) {
        this(scale, causal, window, segments, CausalAlign.BOTTOM_RIGHT, -1, -1, 0, null, null, null, null, null);
    }

    public AttentionSpec withScale(double s) {
        return new AttentionSpec(s, causal, 0, segments, causalAlign, windowLeft, windowRight, softcap, alibi, sinks,
                mask, bias, varlen);
    }

    /** Causal (R = 0) keeps the left side of the window; not causal drops the window a causal spec had. */
    public AttentionSpec withCausal(boolean c) {
        if (c) {
            return withSides(true, windowLeft, windowRight);
        }
        return causal ? withSides(false, -1, -1) : this;
    }

    /** Window W ≥ 1: causal with L = W − 1; W = 0 drops the left side of the window. */
    public AttentionSpec withWindow(int w) {
        if (w < 0) {
            throw new IllegalArgumentException("window must be >= 1 (or 0 for none), got " + w);
        }
        return w > 0 ? withSides(true, w - 1, 0) : withSides(causal, -1, windowRight);
    }

    /** FlashAttention's window_size (left, right), −1 = unbounded; replaces any causal mask (R = 0 is causal). */
    public AttentionSpec withWindow(int left, int right) {
        return withSides(false, left, right);
    }

    private AttentionSpec withSides(boolean c, int left, int right) {
        return new AttentionSpec(scale, c, 0, segments, causalAlign, left, right, softcap, alibi, sinks, mask, bias,
                varlen);
    }

    public AttentionSpec withCausalAlign(CausalAlign a) {
        return new AttentionSpec(scale, causal, 0, segments, a, windowLeft, windowRight, softcap, alibi, sinks, mask,
                bias, varlen);
    }

    /** Soft cap C &gt; 0 of the scaled scores, 0 for none. */
    public AttentionSpec withSoftcap(double c) {
        return new AttentionSpec(scale, causal, 0, segments, causalAlign, windowLeft, windowRight, c, alibi, sinks,
                mask, bias, varlen);
    }

    /** ALiBi slopes, or null for none. */
    public AttentionSpec withAlibi(AlibiSlopes a) {
        return new AttentionSpec(scale, causal, 0, segments, causalAlign, windowLeft, windowRight, softcap, a, sinks,
                mask, bias, varlen);
    }

    /** Attention sinks, one logit per query head, or null for none. */
    public AttentionSpec withSinks(AttentionSinks k) {
        return new AttentionSpec(scale, causal, 0, segments, causalAlign, windowLeft, windowRight, softcap, alibi, k,
                mask, bias, varlen);
    }

    /** A boolean keep mask, or null for none. */
    public AttentionSpec withMask(KeepMask m) {
        return new AttentionSpec(scale, causal, 0, segments, causalAlign, windowLeft, windowRight, softcap, alibi,
                sinks, m, bias, varlen);
    }

    /** An additive score bias, or null for none. */
    public AttentionSpec withBias(ScoreBias b) {
        return new AttentionSpec(scale, causal, 0, segments, causalAlign, windowLeft, windowRight, softcap, alibi,
                sinks, mask, b, varlen);
    }

    /** Packed variable-length sequences (cu_seqlens), or null for none; not together with segments. */
    public AttentionSpec withVarlen(SequenceLengths l) {
        return new AttentionSpec(scale, causal, 0, segments, causalAlign, windowLeft, windowRight, softcap, alibi,
                sinks, mask, bias, l);
    }

    public AttentionSpec withSegments(SegmentIds s) {
        return new AttentionSpec(scale, causal, 0, s, causalAlign, windowLeft, windowRight, softcap, alibi, sinks, mask,
                bias, varlen);
    }

    /** The scale in force for head dimension {@code d}. */
    public double scaleFor(int d) {
        return Double.isNaN(scale) ? 1.0 / Math.sqrt(d) : scale;
    }

    /** True when every query sees every key. */
    public boolean isFull() {
        return !causal && windowLeft < 0 && windowRight < 0 && segments == null && mask == null && varlen == null;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        if (causal) {
            sb.append(window > 0 ? "window=" + window : "causal");
        } else if (windowLeft >= 0 || windowRight >= 0) {
            sb.append("window=(").append(windowLeft).append(", ").append(windowRight).append(')');
        } else {
            sb.append("full");
        }
        if (causalAlign == CausalAlign.TOP_LEFT) {
            sb.append(" top-left");
        }
        if (segments != null) {
            sb.append("+segments");
        }
        if (varlen != null) {
            sb.append('+').append(varlen);
        }
        if (alibi != null) {
            sb.append('+').append(alibi);
        }
        if (sinks != null) {
            sb.append('+').append(sinks);
        }
        if (mask != null) {
            sb.append('+').append(mask);
        }
        if (bias != null) {
            sb.append('+').append(bias);
        }
        if (!Double.isNaN(scale)) {
            sb.append(", scale=").append(scale);
        }
        if (softcap > 0) {
            sb.append(", softcap=").append(softcap);
        }
        return sb.toString();
    }
}

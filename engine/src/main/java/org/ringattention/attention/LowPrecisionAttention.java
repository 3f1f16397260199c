package org.ringattention.attention;

import java.util.Arrays;
import org.ringattention.tensor.BFloat16;
import org.ringattention.tensor.DType;
import org.ringattention.tensor.Tensor;

/**
 * The reference low-precision path: attention as a good bfloat16 or float16 kernel computes it
 * (FlashAttention's rounding points), emulated in float32 with explicit roundings to the format.
 * Its error against the float64 oracle is the baseline an implementation in that format is
 * judged by ({@code compare --baseline}), since float32's error would be an unfair bar.
 *
 * <p>With ρ(x) the rounding of a float32 to the format (nearest, ties to even) and every other
 * operation in float32, the forward pass is
 * <pre>
 *   Q̃ = ρ(Q),  K̃ = ρ(K),  Ṽ = ρ(V)                       inputs in the format
 *   S_ij = scale · Σ_x Q̃_ix K̃_jx                          float32 accumulation, masked −∞
 *   m_i = max_j S_ij,   P_ij = exp(S_ij − m_i),   l_i = Σ_j P_ij     softmax in float32
 *   O_i = ρ( (Σ_j ρ(P_ij) Ṽ_j) / l_i )                    P rounded before P·V, float32 sum
 *   LSE_i = m_i + log l_i                                  stays float32
 * </pre>
 * and the backward pass, from dÕ = ρ(dO), the forward's (rounded) O and its LSE,
 * <pre>
 *   P_ij  = exp(S_ij − LSE_i)                              recomputed in float32
 *   D_i   = Σ_x dÕ_ix O_ix                                 float32
 *   dV_j  = ρ( Σ_i ρ(P_ij) dÕ_i )                          P rounded, as in the forward
 *   dP_ij = Σ_x dÕ_ix Ṽ_jx,    dS_ij = P_ij (dP_ij − D_i)  float32
 *   dQ_i  = ρ( scale · Σ_j ρ(dS_ij) K̃_j ),   dK_j = ρ( scale · Σ_i ρ(dS_ij) Q̃_i )
 * </pre>
 * so every matrix product takes operands in the format and accumulates in float32, as tensor
 * cores do, and every output (O, dQ, dK, dV) is stored in the format; with GQA, dK and dV sum the
 * group's heads in float32 before their one rounding. The softmax is not blockwise: P uses the
 * row's final max, which is what an online softmax's rescaling converges to, without its
 * block-dependent roundings, so the baseline does not depend on anyone's tile size.
 *
 * <p>Visibility comes from {@link Mask}, the engine's one rule; a row that sees no key gives
 * O = 0, LSE = −∞ and zero gradients. Inputs must be finite and within the format's range
 * (float16 ends at 65504). Sums run in index order, so results are deterministic.
 * Deliberately simple loops over the whole score matrix of one head: a reference, not a kernel.
 */
public final class LowPrecisionAttention {

    /** The emulated storage format. */
    public enum Format {
        /** 8 exponent bits, 7 fraction bits: unit roundoff 2^-8. */
        BFLOAT16(DType.BFLOAT16, 0x1p-8),
        /** IEEE binary16, 5 exponent bits, 10 fraction bits: unit roundoff 2^-11; overflows past 65504. */
        FLOAT16(DType.FLOAT16, 0x1p-11);

        private final DType dtype;
        private final double unitRoundoff;

        Format(DType dtype, double unitRoundoff) {
            this.dtype = dtype;
            this.unitRoundoff = unitRoundoff;
        }

        /** {@code x} rounded to this format, nearest with ties to even, as a float32. */
        public float round(float x) {
            return this == BFLOAT16 ? BFloat16.round(x) : Float.float16ToFloat(Float.floatToFloat16(x));
        }

        /** The format's unit roundoff u: half the gap between 1 and the next value. */
        public double unitRoundoff() {
            return unitRoundoff;
        }

        /** The tensor element type of this format. */
        public DType dtype() {
            return dtype;
        }

        /** The format named {@code name} ("bfloat16" or "float16"). */
        public static Format parse(String name) {
            for (Format f : values()) {
                if (f.dtype.numpyName().equals(name)) {
                    return f;
                }
            }
            throw new IllegalArgumentException("unknown low-precision format '" + name + "' (bfloat16 or float16)");
        }

        @Override
        public String toString() {
            return dtype.numpyName();
        }
    }

    private final Format format;

    public LowPrecisionAttention(Format format) {
        this.format = java.util.Objects.requireNonNull(format, "format");
    }

    public Format format() {
        return format;
    }

    /** O (values of the format, held in float32) and LSE (float32) of q, k, v; no tiles are counted. */
    public AttentionOutput forward(Tensor q, Tensor k, Tensor v, AttentionSpec spec) {
        AttentionShape shape = AttentionShape.of(q, k, v);
        Mask mask = Mask.of(spec, shape);
        int nq = shape.qLen();
        int nk = shape.kvLen();
        int d = shape.dim();
        float[] qr = rounded(q, "q");
        float[] kr = rounded(k, "k");
        float[] vr = rounded(v, "v");
        float[] out = new float[qr.length];
        float[] lse = new float[shape.batch() * shape.qHeads() * nq];
        float[] s = new float[nk];
        for (int b = 0; b < shape.batch(); b++) {
            for (int h = 0; h < shape.qHeads(); h++) {
                int head = b * shape.qHeads() + h;
                int kvBase = (b * shape.kvHeads() + shape.kvHead(h)) * nk * d;
                for (int i = 0; i < nq; i++) {
                    int qBase = (head * nq + i) * d;
                    float m = scores(shape, spec, mask, qr, kr, b, h, i, qBase, kvBase, s);
                    if (m == Float.NEGATIVE_INFINITY) {
                        lse[head * nq + i] = Float.NEGATIVE_INFINITY; // sees no key: O stays 0
                        continue;
                    }
                    float l = 0;
                    for (int j = 0; j < nk; j++) {
                        s[j] = (float) Math.exp(s[j] - m); // exp(−∞) = 0 for hidden keys
                        l += s[j];
                    }
                    for (int x = 0; x < d; x++) {
                        float acc = 0;
                        for (int j = 0; j < nk; j++) {
                            acc = Math.fma(format.round(s[j]), vr[kvBase + j * d + x], acc);
                        }
                        out[qBase + x] = format.round(acc / l);
                    }
                    lse[head * nq + i] = m + (float) Math.log(l);
                }
            }
        }
        return new AttentionOutput(Tensor.wrap(out, q.batch(), q.heads(), q.rows(), q.dim()), lse, 0, 0);
    }

    /**
     * dQ, dK, dV of Σ dO ∘ O (values of the format, held in float32), from the forward's result
     * {@code fwd} of this same instance.
     */
    public Gradients backward(Tensor q, Tensor k, Tensor v, AttentionOutput fwd, Tensor dOut, AttentionSpec spec) {
        AttentionShape shape = AttentionShape.of(q, k, v);
        if (dOut.size() != q.size() || fwd.out().size() != q.size()) {
            throw new IllegalArgumentException("dO " + dOut.shape() + " and O " + fwd.out().shape()
                    + " must be shaped like q " + q.shape());
        }
        Mask mask = Mask.of(spec, shape);
        int nq = shape.qLen();
        int nk = shape.kvLen();
        int d = shape.dim();
        float scale = (float) spec.scaleFor(d);
        float[] qr = rounded(q, "q");
        float[] kr = rounded(k, "k");
        float[] vr = rounded(v, "v");
        float[] dor = rounded(dOut, "dO");
        float[] o = fwd.out().toArray();
        float[] dq = new float[qr.length];
        float[] dk = new float[kr.length]; // float32 sums over a GQA group, rounded at the end
        float[] dv = new float[vr.length];
        float[] p = new float[nq * nk];
        float[] ds = new float[nq * nk];
        float[] s = new float[nk];
        for (int b = 0; b < shape.batch(); b++) {
            for (int h = 0; h < shape.qHeads(); h++) {
                int head = b * shape.qHeads() + h;
                int kvBase = (b * shape.kvHeads() + shape.kvHead(h)) * nk * d;
                for (int i = 0; i < nq; i++) {
                    int qBase = (head * nq + i) * d;
                    float lse = fwd.lse()[head * nq + i];
                    if (lse == Float.NEGATIVE_INFINITY) {
                        Arrays.fill(p, i * nk, (i + 1) * nk, 0f);
                        Arrays.fill(ds, i * nk, (i + 1) * nk, 0f);
                        continue; // sees no key: no gradient flows through it
                    }
                    scores(shape, spec, mask, qr, kr, b, h, i, qBase, kvBase, s);
                    float di = 0;
                    for (int x = 0; x < d; x++) {
                        di = Math.fma(dor[qBase + x], o[qBase + x], di);
                    }
                    for (int j = 0; j < nk; j++) {
                        float pij = (float) Math.exp(s[j] - lse);
                        float dp = 0;
                        for (int x = 0; x < d; x++) {
                            dp = Math.fma(dor[qBase + x], vr[kvBase + j * d + x], dp);
                        }
                        p[i * nk + j] = format.round(pij);
                        ds[i * nk + j] = format.round(pij * (dp - di));
                    }
                }
                int qHeadBase = head * nq * d;
                for (int i = 0; i < nq; i++) {
                    for (int x = 0; x < d; x++) {
                        float acc = 0;
                        for (int j = 0; j < nk; j++) {
                            acc = Math.fma(ds[i * nk + j], kr[kvBase + j * d + x], acc);
                        }
                        dq[qHeadBase + i * d + x] = format.round(scale * acc);
                    }
                }
                for (int j = 0; j < nk; j++) {
                    for (int x = 0; x < d; x++) {
                        float accV = 0;
                        float accK = 0;
                        for (int i = 0; i < nq; i++) {
                            accV = Math.fma(p[i * nk + j], dor[qHeadBase + i * d + x], accV);
                            accK = Math.fma(ds[i * nk + j], qr[qHeadBase + i * d + x], accK);
                        }
                        dv[kvBase + j * d + x] += accV;
                        dk[kvBase + j * d + x] += scale * accK;
                    }
                }
            }
        }
        roundInPlace(dk);
        roundInPlace(dv);
        return new Gradients(Tensor.wrap(dq, q.batch(), q.heads(), q.rows(), q.dim()),
                Tensor.wrap(dk, k.batch(), k.heads(), k.rows(), k.dim()),
                Tensor.wrap(dv, v.batch(), v.heads(), v.rows(), v.dim()));
    }

    /** Scores of query row i of head (b, h) against every key into {@code s} (hidden keys −∞); returns their max. */
    private static float scores(AttentionShape shape, AttentionSpec spec, Mask mask, float[] q, float[] k, int b,
            int h, int i, int qBase, int kvBase, float[] s) {
        int d = shape.dim();
        float scale = (float) spec.scaleFor(d);
        float m = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < shape.kvLen(); j++) {
            if (!mask.visible(b, h, i, j)) { // a keep mask may differ from head to head
                s[j] = Float.NEGATIVE_INFINITY;
                continue;
            }
            float dot = 0;
            for (int x = 0; x < d; x++) {
                dot = Math.fma(q[qBase + x], k[kvBase + j * d + x], dot);
            }
            s[j] = scale * dot;
            m = Math.max(m, s[j]);
        }
        return m;
    }

    /** The elements of {@code t} in the format; NaN, ±∞ and values beyond the format's range are errors. */
    private float[] rounded(Tensor t, String what) {
        t.requireFinite(what);
        float[] a = t.toArray();
        for (int i = 0; i < a.length; i++) {
            float r = format.round(a[i]);
            if (!Float.isFinite(r)) {
                throw new IllegalArgumentException(what + " holds " + a[i] + " at " + t.indexString(i)
                        + ", beyond the range of " + format);
            }
            a[i] = r;
        }
        return a;
    }

    private void roundInPlace(float[] a) {
        for (int i = 0; i < a.length; i++) {
            a[i] = format.round(a[i]);
        }
    }
}

package org.ringattention.attention;

import java.util.Arrays;
import java.util.Objects;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;

/**
 * Exact attention computed block by block, never holding the N_q × N_k score matrix.
 *
 * <p><b>Forward.</b> For each head and each query block Q_i (B_q rows) the key/value blocks K_j, V_j
 * (B_kv rows) stream through an {@link OnlineSoftmax}: scores S_ij = scale · Q_i K_jᵀ, masked by
 * the {@link Mask}, update the running max, sum and unnormalized output. Tiles the mask hides
 * entirely are skipped. Memory beyond inputs and outputs: O(B_q·d + B_kv·d + B_q·B_kv).
 *
 * <p><b>Backward</b> (given dO and the forward's O and LSE), with P recomputed block by block:
 * <pre>
 *   D_i   = rowsum(dO_i ∘ O_i)
 *   P_ij  = exp(scale · Q_i K_jᵀ − LSE_i)          (0 where masked)
 *   dV_j += P_ijᵀ dO_i
 *   dP_ij = dO_i V_jᵀ
 *   dS_ij = P_ij ∘ (dP_ij − D_i)
 *   dQ_i += scale · dS_ij K_j
 *   dK_j += scale · dS_ijᵀ Q_i
 * </pre>
 * Key/value blocks form the outer loop so that dK_j and dV_j finish in a small buffer; dQ
 * accumulates over them. With GQA, dK and dV of a key/value head sum over the query heads of its
 * group, in increasing head order. The factor {@code scale} is applied once, after the sums.
 *
 * <p>Block sizes are free: any ≥ 1, they need not divide N and may exceed it. Every reduction runs
 * in a fixed order, so results do not depend on anything but inputs, spec, block sizes and kernels.
 */
public final class BlockwiseAttention {

    private final Kernels kernels;
    private final int blockQ;
    private final int blockKv;

    public BlockwiseAttention(Kernels kernels, int blockQ, int blockKv) {
        this.kernels = Objects.requireNonNull(kernels, "kernels");
        if (blockQ < 1 || blockKv < 1) {
            throw new IllegalArgumentException("block sizes must be >= 1, got block-q " + blockQ + ", block-kv "
                    + blockKv);
        }
        this.blockQ = blockQ;
        this.blockKv = blockKv;
    }

    public int blockQ() {
        return blockQ;
    }

    public int blockKv() {
        return blockKv;
    }

    public Kernels kernels() {
        return kernels;
    }

    /** O and LSE of softmax(scale · Q Kᵀ, masked) V. Inputs must be finite. */
    public AttentionOutput forward(Tensor q, Tensor k, Tensor v, AttentionSpec spec) {
        AttentionShape shape = AttentionShape.of(q, k, v);
        Mask mask = Mask.of(spec, shape);
        q.requireFinite("q");
        k.requireFinite("k");
        v.requireFinite("v");
        int d = shape.dim();
        int bq = Math.min(blockQ, shape.qLen());
        int bkv = Math.min(blockKv, shape.kvLen());
        float scale = (float) spec.scaleFor(d);

        Tensor out = Tensor.zeros(shape.batch(), shape.qHeads(), shape.qLen(), d);
        float[] lse = new float[shape.batch() * shape.qHeads() * shape.qLen()];
        float[] qBuf = new float[bq * d];
        float[] kBuf = new float[bkv * d];
        float[] vBuf = new float[bkv * d];
        float[] sBuf = new float[bq * bkv];
        float[] oBuf = new float[bq * d];
        OnlineSoftmax state = new OnlineSoftmax(bq, d);
        long computed = 0;
        long skipped = 0;

        for (int b = 0; b < shape.batch(); b++) {
            for (int h = 0; h < shape.qHeads(); h++) {
                int g = shape.kvHead(h);
                for (int i0 = 0; i0 < shape.qLen(); i0 += bq) {
                    int rows = Math.min(bq, shape.qLen() - i0);
                    q.rows(b, h, i0, rows).copyTo(qBuf, 0);
                    state.reset(rows);
                    for (int j0 = 0; j0 < shape.kvLen(); j0 += bkv) {
                        int cols = Math.min(bkv, shape.kvLen() - j0);
                        Mask.Visibility vis = mask.classify(b, i0, i0 + rows, j0, j0 + cols);
                        if (vis == Mask.Visibility.HIDDEN) {
                            skipped++;
                            continue;
                        }
                        computed++;
                        k.rows(b, g, j0, cols).copyTo(kBuf, 0);
                        v.rows(b, g, j0, cols).copyTo(vBuf, 0);
                        kernels.scoreTile(qBuf, 0, kBuf, 0, rows, cols, d, scale, sBuf);
                        if (vis == Mask.Visibility.PARTIAL) {
                            mask.apply(b, i0, rows, j0, cols, sBuf);
                        }
                        state.absorb(sBuf, cols, vBuf, kernels);
                    }
                    state.finish(oBuf, lse, (b * shape.qHeads() + h) * shape.qLen() + i0);
                    out.rows(b, h, i0, rows).copyFrom(oBuf, 0);
                }
            }
        }
        return new AttentionOutput(out, lse, computed, skipped);
    }

    /** Runs the forward pass, then the backward pass with {@code dOut}. */
    public Gradients backward(Tensor q, Tensor k, Tensor v, Tensor dOut, AttentionSpec spec) {
        return backward(q, k, v, forward(q, k, v, spec), dOut, spec);
    }

    /** Gradients of Σ dO ∘ O with respect to q, k and v, given the forward result {@code fwd}. */
    public Gradients backward(Tensor q, Tensor k, Tensor v, AttentionOutput fwd, Tensor dOut, AttentionSpec spec) {
        AttentionShape shape = AttentionShape.of(q, k, v);
        Mask mask = Mask.of(spec, shape);
        Tensor out = fwd.out();
        if (dOut.batch() != q.batch() || dOut.heads() != q.heads() || dOut.rows() != q.rows()
                || dOut.dim() != q.dim()) {
            throw new IllegalArgumentException("dO has shape " + dOut.shape() + ", expected the shape of q "
                    + q.shape());
        }
        dOut.requireFinite("dO");
        int d = shape.dim();
        int nq = shape.qLen();
        int nk = shape.kvLen();
        int group = shape.group();
        int bq = Math.min(blockQ, nq);
        int bkv = Math.min(blockKv, nk);
        float scale = (float) spec.scaleFor(d);

        Tensor dq = Tensor.zeros(shape.batch(), shape.qHeads(), nq, d);
        Tensor dk = Tensor.zeros(shape.batch(), shape.kvHeads(), nk, d);
        Tensor dv = Tensor.zeros(shape.batch(), shape.kvHeads(), nk, d);

        float[] qBuf = new float[bq * d];
        float[] doBuf = new float[bq * d];
        float[] kBuf = new float[bkv * d];
        float[] vBuf = new float[bkv * d];
        float[] dkAcc = new float[bkv * d];
        float[] dvAcc = new float[bkv * d];
        float[] pBuf = new float[bq * bkv];
        float[] dsBuf = new float[bq * bkv];
        float[] rowsA = new float[nq * d];
        float[] rowsB = new float[nq * d];
        float[] dqAcc = new float[group * nq * d]; // unscaled dQ of the query heads of one kv head
        float[] delta = new float[group * nq];    // D = rowsum(dO ∘ O)

        for (int b = 0; b < shape.batch(); b++) {
            for (int g = 0; g < shape.kvHeads(); g++) {
                for (int m = 0; m < group; m++) {
                    int h = g * group + m;
                    rowDots(dOut, out, b, h, nq, d, rowsA, rowsB, delta, m * nq);
                }
                Arrays.fill(dqAcc, 0f);
                for (int j0 = 0; j0 < nk; j0 += bkv) {
                    int cols = Math.min(bkv, nk - j0);
                    k.rows(b, g, j0, cols).copyTo(kBuf, 0);
                    v.rows(b, g, j0, cols).copyTo(vBuf, 0);
                    Arrays.fill(dkAcc, 0f);
                    Arrays.fill(dvAcc, 0f);
                    for (int m = 0; m < group; m++) {
                        int h = g * group + m;
                        int lseBase = (b * shape.qHeads() + h) * nq;
                        for (int i0 = 0; i0 < nq; i0 += bq) {
                            int rows = Math.min(bq, nq - i0);
                            Mask.Visibility vis = mask.classify(b, i0, i0 + rows, j0, j0 + cols);
                            if (vis == Mask.Visibility.HIDDEN) {
                                continue;
                            }
                            q.rows(b, h, i0, rows).copyTo(qBuf, 0);
                            dOut.rows(b, h, i0, rows).copyTo(doBuf, 0);
                            // P = exp(scale·Q Kᵀ − LSE)
                            kernels.scoreTile(qBuf, 0, kBuf, 0, rows, cols, d, scale, pBuf);
                            if (vis == Mask.Visibility.PARTIAL) {
                                mask.apply(b, i0, rows, j0, cols, pBuf);
                            }
                            for (int r = 0; r < rows; r++) {
                                float lse = fwd.lse()[lseBase + i0 + r];
                                if (lse == Float.NEGATIVE_INFINITY) {
                                    Arrays.fill(pBuf, r * cols, (r + 1) * cols, 0f); // row sees no key
                                } else {
                                    kernels.expShifted(pBuf, r * cols, cols, lse);
                                }
                            }
                            kernels.accumulateTransposedProduct(pBuf, rows, cols, doBuf, d, dvAcc, 0);
                            // dS = P ∘ (dO Vᵀ − D)
                            kernels.scoreTile(doBuf, 0, vBuf, 0, rows, cols, d, 1f, dsBuf);
                            for (int r = 0; r < rows; r++) {
                                float dr = delta[m * nq + i0 + r];
                                for (int c = r * cols, end = c + cols; c < end; c++) {
                                    dsBuf[c] = pBuf[c] * (dsBuf[c] - dr);
                                }
                            }
                            kernels.accumulateProduct(dsBuf, rows, cols, kBuf, d, dqAcc, (m * nq + i0) * d);
                            kernels.accumulateTransposedProduct(dsBuf, rows, cols, qBuf, d, dkAcc, 0);
                        }
                    }
                    scaleInPlace(dkAcc, cols * d, scale);
                    dk.rows(b, g, j0, cols).copyFrom(dkAcc, 0);
                    dv.rows(b, g, j0, cols).copyFrom(dvAcc, 0);
                }
                scaleInPlace(dqAcc, group * nq * d, scale);
                for (int m = 0; m < group; m++) {
                    dq.rows(b, g * group + m, 0, nq).copyFrom(dqAcc, m * nq * d);
                }
            }
        }
        return new Gradients(dq, dk, dv);
    }

    /** dst[off + i] = Σ_k a[i,k]·b[i,k] over the rows of head (bi, h), k in increasing order. */
    private static void rowDots(Tensor a, Tensor b, int bi, int h, int n, int d, float[] aRows, float[] bRows,
            float[] dst, int off) {
        a.rows(bi, h, 0, n).copyTo(aRows, 0);
        b.rows(bi, h, 0, n).copyTo(bRows, 0);
        for (int i = 0; i < n; i++) {
            float s = 0f;
            for (int x = i * d, end = x + d; x < end; x++) {
                s = Math.fma(aRows[x], bRows[x], s);
            }
            dst[off + i] = s;
        }
    }

    private static void scaleInPlace(float[] x, int len, float s) {
        for (int i = 0; i < len; i++) {
            x[i] *= s;
        }
    }
}

package org.ringattention.attention;

import org.ringattention.tensor.Tensor;

/**
 * The sizes of one attention problem: q [B, Hq, Nq, d], k and v [B, Hkv, Nk, d], Hq a multiple of
 * Hkv. Query head h reads key/value head h / (Hq / Hkv): MHA when Hq = Hkv, GQA in between, MQA
 * when Hkv = 1.
 */
public record AttentionShape(int batch, int qHeads, int kvHeads, int qLen, int kvLen, int dim) {

    public AttentionShape {
        if (batch < 1 || qHeads < 1 || kvHeads < 1 || qLen < 1 || kvLen < 1 || dim < 1) {
            throw new IllegalArgumentException("every dimension must be >= 1: " + describe(batch, qHeads, kvHeads,
                    qLen, kvLen, dim));
        }
        if (qHeads % kvHeads != 0) {
            throw new IllegalArgumentException("query heads (" + qHeads + ") must be a multiple of key/value heads ("
                    + kvHeads + ")");
        }
    }

    /** Checks that q, k and v fit together and returns their shape. */
    public static AttentionShape of(Tensor q, Tensor k, Tensor v) {
        if (k.batch() != q.batch() || v.batch() != q.batch()) {
            throw new IllegalArgumentException("batch sizes differ: q " + q.shape() + ", k " + k.shape() + ", v "
                    + v.shape());
        }
        if (k.heads() != v.heads()) {
            throw new IllegalArgumentException("k and v heads differ: k " + k.shape() + ", v " + v.shape());
        }
        if (k.rows() != v.rows()) {
            throw new IllegalArgumentException("k and v lengths differ: k " + k.shape() + ", v " + v.shape());
        }
        if (k.dim() != q.dim() || v.dim() != q.dim()) {
            throw new IllegalArgumentException("head dims differ: q " + q.shape() + ", k " + k.shape() + ", v "
                    + v.shape());
        }
        return new AttentionShape(q.batch(), q.heads(), k.heads(), q.rows(), k.rows(), q.dim());
    }

    /** Query heads per key/value head. */
    public int group() {
        return qHeads / kvHeads;
    }

    /** The key/value head that query head {@code h} reads. */
    public int kvHead(int h) {
        return h / group();
    }

    /** Checks segment ids against this shape (they need Nq = Nk and shape [B, N]). */
    public void checkSegments(SegmentIds s) {
        if (s == null) {
            return;
        }
        if (qLen != kvLen) {
            throw new IllegalArgumentException("segment ids need equal query and key lengths, got Nq=" + qLen
                    + ", Nk=" + kvLen);
        }
        if (s.batch() != batch || s.length() != qLen) {
            throw new IllegalArgumentException("segment ids have shape [" + s.batch() + ", " + s.length()
                    + "], expected [" + batch + ", " + qLen + "]");
        }
    }

    public long qSize() {
        return (long) batch * qHeads * qLen * dim;
    }

    public long kvSize() {
        return (long) batch * kvHeads * kvLen * dim;
    }

    @Override
    public String toString() {
        return describe(batch, qHeads, kvHeads, qLen, kvLen, dim);
    }

    private static String describe(int b, int hq, int hkv, int nq, int nk, int d) {
        return "B=" + b + " Hq=" + hq + " Hkv=" + hkv + " Nq=" + nq + " Nk=" + nk + " d=" + d;
    }
}

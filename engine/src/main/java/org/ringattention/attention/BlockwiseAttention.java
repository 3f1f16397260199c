package org.ringattention.attention;

import java.util.Objects;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;

/**
 * Exact attention computed block by block, never holding the N_q × N_k score matrix.
 *
 * <p><b>Forward.</b> For each head and each query block Q_i (B_q rows) the key/value blocks K_j, V_j
 * (B_kv rows) stream through an {@link OnlineSoftmax}: scores S_ij = scale · Q_i K_jᵀ, masked by
 * the {@link Mask}, update the running max, sum and unnormalized output. Tiles the mask hides
 * entirely are skipped. K is packed once per call, block by block and transposed, for the
 * register-tiled score kernel. Memory: a packed copy of K, plus O(B_q·d + B_kv·d + B_q·B_kv) per
 * worker.
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
 * It runs in two passes so that every output element has one owner: one task per key/value block
 * sums dK_j and dV_j over all query blocks (and, with GQA, over the query heads of the group, in
 * increasing head order); one task per query block sums dQ_i over all key/value blocks. P and dS
 * are computed in both passes, which costs 7 tile products per tile instead of 5 but needs no
 * shared accumulators. The factor {@code scale} is applied once, after the sums.
 *
 * <p><b>Threads and determinism.</b> Tasks (one per head and block) run on a fixed pool
 * ({@link ParallelTasks}). Each output row is computed by one task, in a fixed order, with kernels
 * whose results do not depend on the vector width ({@link Kernels}): results are bit-identical for
 * any number of threads and for every kernel implementation.
 *
 * <p>Block sizes are free: any ≥ 1, they need not divide N and may exceed it.
 */
public final class BlockwiseAttention {

    private final Kernels kernels;
    private final int blockQ;
    private final int blockKv;
    private final int threads;

    /** Single-threaded. */
    public BlockwiseAttention(Kernels kernels, int blockQ, int blockKv) {
        this(kernels, blockQ, blockKv, 1);
    }

    /** With {@code threads} worker threads; results are bit-identical for any number of threads. */
    public BlockwiseAttention(Kernels kernels, int blockQ, int blockKv, int threads) {
        this.kernels = Objects.requireNonNull(kernels, "kernels");
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        if (blockQ < 1 || blockKv < 1) {
            throw new IllegalArgumentException("block sizes must be >= 1, got block-q " + blockQ + ", block-kv "
                    + blockKv);
        }
        this.threads = threads;
        this.blockQ = blockQ;
        this.blockKv = blockKv;
    }

    public int blockQ() {
        return blockQ;
    }

    public int blockKv() {
        return blockKv;
    }

    public int threads() {
        return threads;
    }

    public Kernels kernels() {
        return kernels;
    }

    /** O and LSE of softmax(scale · Q Kᵀ, masked) V. Inputs must be finite. */
    public AttentionOutput forward(Tensor q, Tensor k, Tensor v, AttentionSpec spec) {
        Problem p = new Problem(q, k, v, spec);
        q.requireFinite("q");
        k.requireFinite("k");
        v.requireFinite("v");
        Tensor out = Tensor.zeros(p.shape.batch(), p.shape.qHeads(), p.shape.qLen(), p.shape.dim());
        float[] lse = new float[p.shape.batch() * p.shape.qHeads() * p.shape.qLen()];
        int qBlocks = p.qBlocks();
        Workspace[] ws = workspaces(p);
        float[] kPacked = packBlocks(p, p.k);
        // Last query blocks first: under a causal mask they carry the most work, and starting them
        // early keeps a worker from being left alone with one at the end.
        ParallelTasks.run(p.shape.batch() * p.shape.qHeads() * qBlocks, ws, (w, task) -> {
            int head = task / qBlocks;
            int block = qBlocks - 1 - task % qBlocks;
            forwardBlock(p, w, kPacked, head / p.shape.qHeads(), head % p.shape.qHeads(), block * p.bq, out, lse);
        });
        long computed = 0;
        long skipped = 0;
        for (Workspace w : ws) {
            computed += w.tilesComputed;
            skipped += w.tilesSkipped;
        }
        return new AttentionOutput(out, lse, computed, skipped);
    }

    private void forwardBlock(Problem p, Workspace w, float[] kPacked, int b, int h, int i0, Tensor out,
            float[] lse) {
        int d = p.shape.dim();
        int rows = Math.min(p.bq, p.shape.qLen() - i0);
        int g = p.shape.kvHead(h);
        p.q.rows(b, h, i0, rows).copyTo(w.q, 0);
        w.softmax.reset(rows);
        for (int j0 = 0; j0 < p.shape.kvLen(); j0 += p.bkv) {
            int cols = Math.min(p.bkv, p.shape.kvLen() - j0);
            Mask.Visibility vis = p.mask.classify(b, i0, i0 + rows, j0, j0 + cols);
            if (vis == Mask.Visibility.HIDDEN) {
                w.tilesSkipped++;
                continue;
            }
            w.tilesComputed++;
            p.v.rows(b, g, j0, cols).copyTo(w.v, 0);
            boolean full = vis == Mask.Visibility.FULL;
            kernels.scoreTile(w.q, 0, rows, kPacked, p.packedOffset(b, g, j0), cols, d, p.scale, w.s,
                    full ? w.rowMax : null);
            if (!full) {
                p.mask.apply(b, i0, rows, j0, cols, w.s);
            }
            w.softmax.absorb(w.s, j0, cols, p.shape.kvLen(), w.v, kernels, full ? w.rowMax : null);
        }
        w.softmax.finish(w.o, lse, (b * p.shape.qHeads() + h) * p.shape.qLen() + i0);
        out.rows(b, h, i0, rows).copyFrom(w.o, 0);
    }

    /** Runs the forward pass, then the backward pass with {@code dOut}. */
    public Gradients backward(Tensor q, Tensor k, Tensor v, Tensor dOut, AttentionSpec spec) {
        return backward(q, k, v, forward(q, k, v, spec), dOut, spec);
    }

    /** Gradients of Σ dO ∘ O with respect to q, k and v, given the forward result {@code fwd}. */
    public Gradients backward(Tensor q, Tensor k, Tensor v, AttentionOutput fwd, Tensor dOut, AttentionSpec spec) {
        Problem p = new Problem(q, k, v, spec);
        if (dOut.batch() != q.batch() || dOut.heads() != q.heads() || dOut.rows() != q.rows()
                || dOut.dim() != q.dim()) {
            throw new IllegalArgumentException("dO has shape " + dOut.shape() + ", expected the shape of q "
                    + q.shape());
        }
        dOut.requireFinite("dO");
        AttentionShape s = p.shape;
        float[] delta = rowDots(dOut, fwd.out(), s);
        Backward bw = new Backward(p, dOut, fwd.lse(), delta, packBlocks(p, k), packBlocks(p, v));
        Tensor dq = Tensor.zeros(s.batch(), s.qHeads(), s.qLen(), s.dim());
        Tensor dk = Tensor.zeros(s.batch(), s.kvHeads(), s.kvLen(), s.dim());
        Tensor dv = Tensor.zeros(s.batch(), s.kvHeads(), s.kvLen(), s.dim());
        Workspace[] ws = workspaces(p);
        int kvBlocks = p.kvBlocks();
        ParallelTasks.run(s.batch() * s.kvHeads() * kvBlocks, ws, (w, task) -> {
            int head = task / kvBlocks;
            keyValueGradients(bw, w, head / s.kvHeads(), head % s.kvHeads(), (task % kvBlocks) * p.bkv, dk, dv);
        });
        int qBlocks = p.qBlocks();
        ParallelTasks.run(s.batch() * s.qHeads() * qBlocks, ws, (w, task) -> {
            int head = task / qBlocks;
            queryGradients(bw, w, head / s.qHeads(), head % s.qHeads(), (qBlocks - 1 - task % qBlocks) * p.bq, dq);
        });
        return new Gradients(dq, dk, dv);
    }

    /** What both backward passes read: K and V packed block by block, transposed. */
    private record Backward(Problem p, Tensor dOut, float[] lse, float[] delta, float[] kPacked, float[] vPacked) {
    }

    /** dK_j and dV_j of key/value block [j0, j0 + cols) of head (b, g). */
    private void keyValueGradients(Backward bw, Workspace w, int b, int g, int j0, Tensor dk, Tensor dv) {
        Problem p = bw.p;
        AttentionShape s = p.shape;
        int d = s.dim();
        int cols = Math.min(p.bkv, s.kvLen() - j0);
        w.gradA.reset(cols * d); // dK
        w.gradB.reset(cols * d); // dV
        for (int h = g * s.group(); h < (g + 1) * s.group(); h++) {
            for (int i0 = 0; i0 < s.qLen(); i0 += p.bq) {
                int rows = Math.min(p.bq, s.qLen() - i0);
                Mask.Visibility vis = p.mask.classify(b, i0, i0 + rows, j0, j0 + cols);
                if (vis == Mask.Visibility.HIDDEN) {
                    continue;
                }
                p.q.rows(b, h, i0, rows).copyTo(w.q, 0);
                bw.dOut.rows(b, h, i0, rows).copyTo(w.dOut, 0);
                probabilitiesAndScoreGradients(bw, w, vis, b, h, i0, rows, j0, cols);
                float[] dvTarget = w.gradB.target(h, i0, rows, s.qLen());
                float[] dkTarget = w.gradA.target(h, i0, rows, s.qLen());
                kernels.accumulateTransposedProduct(w.s, rows, cols, w.dOut, d, dvTarget, 0);
                kernels.accumulateTransposedProduct(w.ds, rows, cols, w.q, d, dkTarget, 0);
            }
        }
        w.gradA.fold();
        w.gradB.fold();
        scale(w.gradA.total, cols * d, p.scale);
        dk.rows(b, g, j0, cols).copyFrom(w.gradA.total, 0);
        dv.rows(b, g, j0, cols).copyFrom(w.gradB.total, 0);
    }

    /** dQ_i of query block [i0, i0 + rows) of head (b, h). */
    private void queryGradients(Backward bw, Workspace w, int b, int h, int i0, Tensor dq) {
        Problem p = bw.p;
        AttentionShape s = p.shape;
        int d = s.dim();
        int rows = Math.min(p.bq, s.qLen() - i0);
        int g = s.kvHead(h);
        p.q.rows(b, h, i0, rows).copyTo(w.q, 0);
        bw.dOut.rows(b, h, i0, rows).copyTo(w.dOut, 0);
        w.gradA.reset(rows * d);
        for (int j0 = 0; j0 < s.kvLen(); j0 += p.bkv) {
            int cols = Math.min(p.bkv, s.kvLen() - j0);
            Mask.Visibility vis = p.mask.classify(b, i0, i0 + rows, j0, j0 + cols);
            if (vis == Mask.Visibility.HIDDEN) {
                continue;
            }
            p.k.rows(b, g, j0, cols).copyTo(w.k, 0);
            probabilitiesAndScoreGradients(bw, w, vis, b, h, i0, rows, j0, cols);
            kernels.accumulateProduct(w.ds, rows, cols, w.k, d, w.gradA.target(0, j0, cols, s.kvLen()), 0);
        }
        w.gradA.fold();
        scale(w.gradA.total, rows * d, p.scale);
        dq.rows(b, h, i0, rows).copyFrom(w.gradA.total, 0);
    }

    /**
     * With Q_i and dO_i loaded: w.s = P_ij = exp(scale·Q_i K_jᵀ − LSE_i) (0 where masked
     * or where a row sees no key) and w.ds = P_ij ∘ (dO_i V_jᵀ − D_i).
     */
    private void probabilitiesAndScoreGradients(Backward bw, Workspace w, Mask.Visibility vis, int b, int h, int i0,
            int rows, int j0, int cols) {
        Problem p = bw.p;
        int d = p.shape.dim();
        int rowBase = (b * p.shape.qHeads() + h) * p.shape.qLen() + i0;
        int g = p.shape.kvHead(h);
        kernels.scoreTile(w.q, 0, rows, bw.kPacked, p.packedOffset(b, g, j0), cols, d, p.scale, w.s, null);
        if (vis == Mask.Visibility.PARTIAL) {
            p.mask.apply(b, i0, rows, j0, cols, w.s);
        }
        for (int r = 0; r < rows; r++) {
            float lse = bw.lse[rowBase + r];
            if (lse == Float.NEGATIVE_INFINITY) {
                java.util.Arrays.fill(w.s, r * cols, (r + 1) * cols, 0f); // the row sees no key
            } else {
                kernels.expShifted(w.s, r * cols, cols, lse);
            }
        }
        kernels.scoreTile(w.dOut, 0, rows, bw.vPacked, p.packedOffset(b, g, j0), cols, d, 1f, w.ds, null);
        for (int r = 0; r < rows; r++) {
            float dr = bw.delta[rowBase + r];
            for (int c = r * cols, end = c + cols; c < end; c++) {
                w.ds[c] = w.s[c] * (w.ds[c] - dr);
            }
        }
    }

    /**
     * {@code x} [B, Hkv, Nk, d] with each key/value block stored transposed (d × cols) where the
     * block's rows were, as {@link Kernels#scoreTile} reads it: packed once per call instead of once
     * per tile.
     */
    private float[] packBlocks(Problem p, Tensor x) {
        AttentionShape s = p.shape;
        int d = s.dim();
        int n = s.kvLen();
        float[] packed = new float[Math.toIntExact(s.kvSize())];
        float[] rows = new float[n * d];
        for (int b = 0; b < s.batch(); b++) {
            for (int g = 0; g < s.kvHeads(); g++) {
                x.rows(b, g, 0, n).copyTo(rows, 0);
                for (int j0 = 0; j0 < n; j0 += p.bkv) {
                    int cols = Math.min(p.bkv, n - j0);
                    kernels.packTransposed(rows, j0 * d, cols, d, packed, p.packedOffset(b, g, j0));
                }
            }
        }
        return packed;
    }

    /** D = rowsum(dO ∘ O) for every query row, [B, Hq, Nq], each sum in increasing order. */
    private static float[] rowDots(Tensor dOut, Tensor out, AttentionShape s) {
        int d = s.dim();
        int n = s.qLen();
        float[] delta = new float[s.batch() * s.qHeads() * n];
        float[] a = new float[n * d];
        float[] o = new float[n * d];
        for (int b = 0; b < s.batch(); b++) {
            for (int h = 0; h < s.qHeads(); h++) {
                dOut.rows(b, h, 0, n).copyTo(a, 0);
                out.rows(b, h, 0, n).copyTo(o, 0);
                int base = (b * s.qHeads() + h) * n;
                for (int i = 0; i < n; i++) {
                    float acc = 0f;
                    for (int x = i * d, end = x + d; x < end; x++) {
                        acc = Math.fma(a[x], o[x], acc);
                    }
                    delta[base + i] = acc;
                }
            }
        }
        return delta;
    }

    private static void scale(float[] x, int len, float s) {
        for (int i = 0; i < len; i++) {
            x[i] *= s;
        }
    }

    private Workspace[] workspaces(Problem p) {
        Workspace[] ws = new Workspace[threads];
        for (int t = 0; t < threads; t++) {
            ws[t] = new Workspace(p.bq, p.bkv, p.shape.dim());
        }
        return ws;
    }

    /** The inputs of one call, checked, with derived sizes. */
    private final class Problem {
        final Tensor q;
        final Tensor k;
        final Tensor v;
        final AttentionShape shape;
        final Mask mask;
        final float scale;
        final int bq;
        final int bkv;

        Problem(Tensor q, Tensor k, Tensor v, AttentionSpec spec) {
            this.q = q;
            this.k = k;
            this.v = v;
            this.shape = AttentionShape.of(q, k, v);
            this.mask = Mask.of(spec, shape);
            this.scale = (float) spec.scaleFor(shape.dim());
            this.bq = Math.min(blockQ, shape.qLen());
            this.bkv = Math.min(blockKv, shape.kvLen());
        }

        int qBlocks() {
            return (shape.qLen() + bq - 1) / bq;
        }

        int kvBlocks() {
            return (shape.kvLen() + bkv - 1) / bkv;
        }

        /** Where key/value block j0 of head (b, g) starts in a packed array. */
        int packedOffset(int b, int g, int j0) {
            return ((b * shape.kvHeads() + g) * shape.kvLen() + j0) * shape.dim();
        }
    }

    /** One worker's buffers, allocated once per call: nothing is allocated per tile. */
    private static final class Workspace {
        final float[] q;
        final float[] dOut;
        final float[] o;
        final float[] k;
        final float[] v;
        final float[] s;
        final float[] ds;
        final float[] rowMax;
        final OnlineSoftmax softmax;
        final ChunkedSum gradA;
        final ChunkedSum gradB;
        long tilesComputed;
        long tilesSkipped;

        Workspace(int bq, int bkv, int d) {
            q = new float[bq * d];
            dOut = new float[bq * d];
            o = new float[bq * d];
            k = new float[bkv * d];
            v = new float[bkv * d];
            s = new float[bq * bkv];
            ds = new float[bq * bkv];
            rowMax = new float[bq];
            softmax = new OnlineSoftmax(bq, d);
            gradA = new ChunkedSum(Math.max(bq, bkv) * d);
            gradB = new ChunkedSum(bkv * d);
        }
    }
}

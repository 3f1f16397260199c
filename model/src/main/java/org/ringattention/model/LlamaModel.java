package org.ringattention.model;

import java.util.Objects;
import org.ringattention.attention.AttentionEngine;
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.Positions;
import org.ringattention.attention.VanillaAttention;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;

/**
 * A Llama-family decoder in float32, computed block by block as in the blockwise transformer of
 * Liu, Zaharia and Abbeel: with h the hidden size and x a token's hidden state,
 * <pre>
 *   x   = E[token]
 *   per layer:   a = RMSNorm(x) ∘ w_in;   q, k, v = a W_qᵀ, a W_kᵀ, a W_vᵀ;   q, k = RoPE(q, k; position)
 *                x = x + Attention_causal(q, k, v) W_oᵀ                      (GQA: head j reads k/v head j / (Hq/Hkv))
 *                x = x + W_down(silu(a' W_gateᵀ) ∘ a' W_upᵀ),   a' = RMSNorm(x) ∘ w_post
 *   logits = (RMSNorm(x) ∘ w_norm) W_headᵀ
 * </pre>
 * with Hugging Face LlamaForCausalLM's numerics ({@link RowMath}, {@link Rope}).
 *
 * <p><b>Blocks and devices.</b> The sequence is shared out over the devices of a {@link Sharding};
 * each device holds the hidden states of its positions through the whole stack and runs the
 * projections, RoPE (at the rows' true positions) and the feed-forward per block of
 * {@code blockRows} rows, so the activations beyond the hidden states, the attention inputs and
 * outputs are O(blockRows · max(I, V)) per task, not O(N · I). Attention is the engine's: blockwise
 * on one device, {@link org.ringattention.ring.RingAttention} with the same layout over several
 * (this in-process host writes each device's q, k, v rows into the full tensors the ring splits
 * again, as the ring itself does with its inputs).
 *
 * <p><b>Determinism.</b> Every row is computed by one task in a fixed order (see {@link RowMath});
 * bits are identical for any thread count, block size and kernel implementation, and differ
 * between engines only through attention.
 */
public final class LlamaModel {

    /** Receives each layer's keys and values (after RoPE), [B, Hkv, N, d]: how the decoder fills its cache. */
    public interface KvSink {
        void layer(int layer, Tensor k, Tensor v);
    }

    static final AttentionSpec CAUSAL = AttentionSpec.DEFAULT.withCausal(true);

    private final LlamaConfig c;
    private final LlamaWeights w;
    private final Kernels kernels;
    private final int blockRows;
    private final int threads;
    private final Rope rope;
    /** The cap of each forward call's RoPE tables ({@link RopeTables}); tests lower it to reach the uncached path. */
    long ropeTableDoubles = RopeTables.DEFAULT_CAP;
    final PackedLinear[] qT;
    final PackedLinear[] kT;
    final PackedLinear[] vT;
    final PackedLinear[] oT;
    final PackedLinear[] gateT;
    final PackedLinear[] upT;
    final PackedLinear[] downT;
    final PackedLinear headT;

    /**
     * @param blockRows rows per block of projections and feed-forward (any ≥ 1)
     * @param threads   worker threads for the per-block work (the engine has its own)
     */
    public LlamaModel(LlamaWeights weights, Kernels kernels, int blockRows, int threads) {
        this.w = Objects.requireNonNull(weights, "weights");
        this.c = weights.config();
        this.kernels = Objects.requireNonNull(kernels, "kernels");
        if (blockRows < 1) {
            throw new IllegalArgumentException("block rows must be >= 1, got " + blockRows);
        }
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.blockRows = blockRows;
        this.threads = threads;
        this.rope = new Rope(c.headDim(), c.ropeTheta());
        int n = c.layers();
        int h = c.hiddenSize();
        qT = new PackedLinear[n];
        kT = new PackedLinear[n];
        vT = new PackedLinear[n];
        oT = new PackedLinear[n];
        gateT = new PackedLinear[n];
        upT = new PackedLinear[n];
        downT = new PackedLinear[n];
        for (int i = 0; i < n; i++) {
            LlamaWeights.Layer l = w.layer(i);
            qT[i] = new PackedLinear(l.q(), c.qWidth(), h);
            kT[i] = new PackedLinear(l.k(), c.kvWidth(), h);
            vT[i] = new PackedLinear(l.v(), c.kvWidth(), h);
            oT[i] = new PackedLinear(l.o(), h, c.qWidth());
            gateT[i] = new PackedLinear(l.gate(), c.intermediateSize(), h);
            upT[i] = new PackedLinear(l.up(), c.intermediateSize(), h);
            downT[i] = new PackedLinear(l.down(), h, c.intermediateSize());
        }
        headT = new PackedLinear(w.lmHead(), c.vocabSize(), h);
    }

    /**
     * The plain float32 twin, the baseline of the accuracy rule: the same model over the whole
     * sequence as one block on one device, with float32 vanilla attention.
     */
    public static LlamaModel plain(LlamaWeights weights) {
        return new LlamaModel(weights, Kernels.preferred(), Integer.MAX_VALUE, 1);
    }

    /** The engine the plain twin attends with. */
    public static AttentionEngine plainAttention() {
        return new VanillaAttention(VanillaAttention.Precision.FLOAT32);
    }

    public LlamaConfig config() {
        return c;
    }

    public LlamaWeights weights() {
        return w;
    }

    Kernels kernels() {
        return kernels;
    }

    public int blockRows() {
        return blockRows;
    }

    public int threads() {
        return threads;
    }

    /** Logits [B, N, V] of {@code tokens} [B, N] (row-major), attention by {@code engine} over {@code sharding}. */
    public float[] forward(int[] tokens, int batch, AttentionEngine engine, Sharding sharding) {
        return forward(tokens, batch, engine, sharding, null);
    }

    /** The same, handing each layer's keys and values to {@code sink} (null for none). */
    public float[] forward(int[] tokens, int batch, AttentionEngine engine, Sharding sharding, KvSink sink) {
        int n = checkTokens(tokens, batch, c.vocabSize());
        int h = c.hiddenSize();
        int d = c.headDim();
        Positions[] shards = sharding.split(n);
        int devices = shards.length;
        // the hidden states each device holds: row (b, r) of device i at (b·len_i + r)·h
        float[][] x = new float[devices][];
        int[][] blocks = blocks(shards, batch); // task -> {device, b, first row, rows}
        for (int i = 0; i < devices; i++) {
            x[i] = new float[batch * shards[i].length() * h];
        }
        float[] logits = new float[Math.toIntExact((long) batch * n * c.vocabSize())];
        try (Tasks tasks = new Tasks(threads)) {
            tasks.run(blocks.length, t -> {
                int[] bl = blocks[t];
                Positions p = shards[bl[0]];
                for (int r = 0; r < bl[3]; r++) {
                    int token = tokens[bl[1] * n + p.at(bl[2] + r)];
                    System.arraycopy(w.embed(), token * h, x[bl[0]], ((bl[1] * p.length()) + bl[2] + r) * h, h);
                }
            });
            RopeTables tables = ropeTables(shards, blocks, tasks);
            for (int layer = 0; layer < c.layers(); layer++) {
                Tensor q = Tensor.zeros(batch, c.heads(), n, d);
                Tensor k = Tensor.zeros(batch, c.kvHeads(), n, d);
                Tensor v = Tensor.zeros(batch, c.kvHeads(), n, d);
                int l = layer;
                tasks.run(blocks.length, t -> {
                    int[] bl = blocks[t];
                    Positions p = shards[bl[0]];
                    int rows = bl[3];
                    float[] qb = new float[rows * c.qWidth()];
                    float[] kb = new float[rows * c.kvWidth()];
                    float[] vb = new float[rows * c.kvWidth()];
                    int[] pos = new int[rows];
                    for (int r = 0; r < rows; r++) {
                        pos[r] = p.at(bl[2] + r);
                    }
                    project(l, x[bl[0]], (bl[1] * p.length() + bl[2]) * h, rows, pos, tables.of(t), qb, kb, vb);
                    for (int r = 0; r < rows; r++) {
                        scatterHeads(qb, r, q, bl[1], pos[r]);
                        scatterHeads(kb, r, k, bl[1], pos[r]);
                        scatterHeads(vb, r, v, bl[1], pos[r]);
                    }
                });
                AttentionOutput att = engine.attend(q, k, v, CAUSAL);
                if (sink != null) {
                    sink.layer(layer, k, v);
                }
                Tensor o = att.out();
                tasks.run(blocks.length, t -> {
                    int[] bl = blocks[t];
                    Positions p = shards[bl[0]];
                    int rows = bl[3];
                    float[] ob = new float[rows * c.qWidth()];
                    for (int r = 0; r < rows; r++) {
                        gatherHeads(o, bl[1], p.at(bl[2] + r), ob, r);
                    }
                    finishLayer(l, x[bl[0]], (bl[1] * p.length() + bl[2]) * h, rows, ob, null);
                });
            }
            tasks.run(blocks.length, t -> {
                int[] bl = blocks[t];
                Positions p = shards[bl[0]];
                int rows = bl[3];
                float[] y = new float[rows * c.vocabSize()];
                head(x[bl[0]], (bl[1] * p.length() + bl[2]) * h, rows, y, null);
                for (int r = 0; r < rows; r++) {
                    System.arraycopy(y, r * c.vocabSize(), logits,
                            (bl[1] * n + p.at(bl[2] + r)) * c.vocabSize(), c.vocabSize());
                }
            });
        }
        return logits;
    }

    /** The blocks of rows each task handles: {device, batch row, first row in the device's shard, rows}. */
    int[][] blocks(Positions[] shards, int batch) {
        java.util.List<int[]> list = new java.util.ArrayList<>();
        for (int dev = 0; dev < shards.length; dev++) {
            int len = shards[dev].length();
            for (int b = 0; b < batch; b++) {
                for (int r0 = 0; r0 < len; ) {
                    int rows = Math.min(blockRows, len - r0);
                    list.add(new int[] {dev, b, r0, rows});
                    r0 += rows;
                }
            }
        }
        return list.toArray(new int[0][]);
    }

    /**
     * The RoPE tables of one call over {@code blocks} ({@link #blocks}), within this model's cap:
     * the forward pass and the backward pass ({@link ModelBackward}) take their angles from them.
     */
    RopeTables ropeTables(Positions[] shards, int[][] blocks, Tasks tasks) {
        return new RopeTables(rope, shards, blocks, ropeTableDoubles, tasks);
    }

    /**
     * Layer {@code l} up to attention for {@code rows} rows of hidden states {@code x[xOff ..]}
     * at positions {@code pos}: q [rows × Hq·d], k and v [rows × Hkv·d], RoPE applied with the
     * block's angles {@code table} ({@link RopeTables#of}; null beyond the cap).
     */
    void project(int l, float[] x, int xOff, int rows, int[] pos, double[] table, float[] q, float[] k, float[] v) {
        linearsIn(l, x, xOff, rows, q, k, v, null);
        rotateRows(pos, table, q, k, false);
    }

    /**
     * RoPE's backward pass for rows at positions {@code pos}: the gradients {@code dq}, {@code dk} of
     * the rotated vectors become those of the vectors before it (the transposed rotation), with the
     * angles {@link #project} used.
     */
    void unrotate(int[] pos, double[] table, float[] dq, float[] dk) {
        rotateRows(pos, table, dq, dk, true);
    }

    /** Row r's angles from {@code table} at r·d, or computed for this row if it is null (beyond the cap). */
    private void rotateRows(int[] pos, double[] table, float[] q, float[] k, boolean transpose) {
        int d = c.headDim();
        for (int r = 0; r < pos.length; r++) {
            double[] cs = table == null ? rope.angles(pos[r]) : table;
            int csOff = table == null ? 0 : r * d;
            if (transpose) {
                rope.applyTranspose(q, r * c.qWidth(), c.heads(), cs, csOff);
                rope.applyTranspose(k, r * c.kvWidth(), c.kvHeads(), cs, csOff);
            } else {
                rotate(r, cs, csOff, q, k);
            }
        }
    }

    /**
     * {@link #project} for rows that all sit at one position, whose RoPE angles {@code cs}
     * ({@link Rope#angles}) the caller computed once: a decoding step's rows, in every layer; the
     * products' panels shared out over {@code tasks} (see {@link #linear}).
     */
    void projectAt(int l, float[] x, int xOff, int rows, double[] cs, float[] q, float[] k, float[] v, Tasks tasks) {
        linearsIn(l, x, xOff, rows, q, k, v, tasks);
        for (int r = 0; r < rows; r++) {
            rotate(r, cs, 0, q, k);
        }
    }

    private void linearsIn(int l, float[] x, int xOff, int rows, float[] q, float[] k, float[] v, Tasks tasks) {
        int h = c.hiddenSize();
        float[] a = new float[rows * h];
        RowMath.rmsNorm(x, xOff, rows, h, w.layer(l).inputNorm(), c.rmsNormEps(), a, 0);
        linear(qT[l], a, rows, q, tasks);
        linear(kT[l], a, rows, k, tasks);
        linear(vT[l], a, rows, v, tasks);
    }

    private void rotate(int r, double[] cs, int csOff, float[] q, float[] k) {
        rope.apply(q, r * c.qWidth(), c.heads(), cs, csOff);
        rope.apply(k, r * c.kvWidth(), c.kvHeads(), cs, csOff);
    }

    /**
     * Layer {@code l} after attention: x += o W_oᵀ, then x += SwiGLU(RMSNorm(x)), for {@code rows}
     * rows; {@code tasks} as in {@link #linear}.
     */
    void finishLayer(int l, float[] x, int xOff, int rows, float[] o, Tasks tasks) {
        int h = c.hiddenSize();
        int inter = c.intermediateSize();
        float[] y = new float[rows * h];
        linear(oT[l], o, rows, y, tasks);
        RowMath.addInto(x, xOff, y, rows * h);
        float[] a = new float[rows * h];
        RowMath.rmsNorm(x, xOff, rows, h, w.layer(l).postNorm(), c.rmsNormEps(), a, 0);
        float[] g = new float[rows * inter];
        float[] u = new float[rows * inter];
        linear(gateT[l], a, rows, g, tasks);
        linear(upT[l], a, rows, u, tasks);
        RowMath.swiglu(kernels, g, u, rows * inter);
        linear(downT[l], g, rows, y, tasks);
        RowMath.addInto(x, xOff, y, rows * h);
    }

    /**
     * The final norm and LM head: logits [rows × V] of hidden states {@code x[xOff ..]};
     * {@code tasks} as in {@link #linear}.
     */
    void head(float[] x, int xOff, int rows, float[] logits, Tasks tasks) {
        int h = c.hiddenSize();
        float[] a = new float[rows * h];
        RowMath.rmsNorm(x, xOff, rows, h, w.norm(), c.rmsNormEps(), a, 0);
        linear(headT, a, rows, logits, tasks);
    }

    /**
     * y = x Wᵀ, on this thread when {@code tasks} is null (a block of the forward pass, already one
     * task of many), else with W's panels shared out over {@code tasks}: the same bits either way.
     */
    private void linear(PackedLinear w, float[] x, int rows, float[] y, Tasks tasks) {
        if (tasks == null) {
            w.apply(kernels, x, rows, y);
        } else {
            w.apply(kernels, x, rows, y, tasks);
        }
    }

    Rope rope() {
        return rope;
    }

    /** Row r of {@code rows} [·, H·d] into tensor t [B, H, N, d] at (b, ·, position). */
    private static void scatterHeads(float[] rows, int r, Tensor t, int b, int position) {
        float[] dst = t.heapArray();
        int d = t.dim();
        int width = t.heads() * d;
        for (int hd = 0; hd < t.heads(); hd++) {
            System.arraycopy(rows, r * width + hd * d, dst, (int) t.rowOffset(b, hd, position), d);
        }
    }

    private static void gatherHeads(Tensor t, int b, int position, float[] rows, int r) {
        int d = t.dim();
        int width = t.heads() * d;
        for (int hd = 0; hd < t.heads(); hd++) {
            t.rows(b, hd, position, 1).copyTo(rows, r * width + hd * d);
        }
    }

    /** Checks tokens [B, N] against the vocabulary; returns N. */
    static int checkTokens(int[] tokens, int batch, int vocab) {
        if (batch < 1 || tokens.length == 0 || tokens.length % batch != 0) {
            throw new IllegalArgumentException("need tokens [B, N] with B >= 1 and N >= 1, got " + tokens.length
                    + " tokens for B = " + batch);
        }
        int n = tokens.length / batch;
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocab) {
                throw new IllegalArgumentException("token " + tokens[i] + " at [" + i / n + ", " + i % n
                        + "] is outside the vocabulary [0, " + vocab + ")");
            }
        }
        return n;
    }
}

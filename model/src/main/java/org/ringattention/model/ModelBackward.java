package org.ringattention.model;

import java.util.Arrays;
import org.ringattention.attention.AttentionEngine;
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.Gradients;
import org.ringattention.attention.Positions;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;

/**
 * The backward pass of {@link LlamaModel}: the gradients of L = Σ dLogits ∘ logits with respect to
 * every weight (by checkpoint name) and to the embedded input x₀ = E[token].
 *
 * <p>Memory: the forward pass keeps only each layer's input hidden states (c·h floats per layer
 * and device); the backward pass recomputes the layer from them block by block (RMSNorm, q, k, v,
 * RoPE, attention, the feed-forward) and runs back through it:
 * <pre>
 *   dz = dx W_down, dW_down += dxᵀ z;  dg, du from silu;  da' = dg W_gate + du W_up (and their dW)
 *   dx_mid = dx + RMSNorm'(da');       dO = dx_mid W_o, dW_o += dx_midᵀ O
 *   dq, dk, dv = the engine's gradients;  RoPE backward (the transposed rotation)
 *   da = dq W_q + dk W_k + dv W_v (and their dW);  dx_in = dx_mid + RMSNorm'(da)
 * </pre>
 * RoPE's angles come from one {@link RopeTables} per call, as in the forward pass, shared by every
 * layer's recomputation and backward pass.
 * Weight gradients are summed block after block in a fixed order (devices, batch rows, blocks), on
 * one thread, so the bits do not depend on the thread count; the attention engine has its own
 * threads. With tied embeddings the embedding gradient is the LM head's plus the input's.
 */
public final class ModelBackward {

    /** The weight gradients by checkpoint name, and dL/dx₀ [B, N, h]. */
    public record Result(InMemoryWeights weights, float[] inputGradient) {
    }

    private ModelBackward() {
    }

    /** Gradients of Σ dLogits ∘ logits for tokens [B, N]; dLogits is [B, N, V]. */
    public static Result backward(LlamaModel model, int[] tokens, int batch, float[] dLogits, AttentionEngine engine,
            Sharding sharding) {
        LlamaConfig c = model.config();
        LlamaWeights w = model.weights();
        Kernels k = model.kernels();
        int n = LlamaModel.checkTokens(tokens, batch, c.vocabSize());
        int h = c.hiddenSize();
        int d = c.headDim();
        int inter = c.intermediateSize();
        int vocab = c.vocabSize();
        if (dLogits.length != batch * n * vocab) {
            throw new IllegalArgumentException("dLogits holds " + dLogits.length + " values, expected [" + batch + ", "
                    + n + ", " + vocab + "]");
        }
        Positions[] shards = sharding.split(n);
        int[][] blocks = model.blocks(shards, batch);
        int devices = shards.length;
        // xs[l][dev]: the input of layer l (xs[L] the input of the final norm)
        float[][][] xs = new float[c.layers() + 1][devices][];
        for (int dev = 0; dev < devices; dev++) {
            xs[0][dev] = new float[batch * shards[dev].length() * h];
        }
        for (int[] bl : blocks) {
            Positions p = shards[bl[0]];
            for (int r = 0; r < bl[3]; r++) {
                int token = tokens[bl[1] * n + p.at(bl[2] + r)];
                System.arraycopy(w.embed(), token * h, xs[0][bl[0]], rowOff(bl, p, r, h), h);
            }
        }
        RopeTables tables;
        try (Tasks tasks = new Tasks(model.threads())) {
            tables = model.ropeTables(shards, blocks, tasks); // one call's angles, for every layer's passes
        }
        for (int l = 0; l < c.layers(); l++) {
            LayerPass pass = new LayerPass(model, l, xs[l], shards, blocks, tables, batch, n, engine);
            xs[l + 1] = pass.output();
        }
        InMemoryWeights grads = zeros(c);
        // the head: logits = RMSNorm(x_L) W_headᵀ
        float[][] dx = new float[devices][];
        for (int dev = 0; dev < devices; dev++) {
            dx[dev] = new float[xs[c.layers()][dev].length];
        }
        float[] dHead = new float[vocab * h];
        float[] dNorm = grads.floats(LlamaWeights.NORM);
        for (int[] bl : blocks) {
            Positions p = shards[bl[0]];
            int rows = bl[3];
            float[] x = xs[c.layers()][bl[0]];
            int off = rowOff(bl, p, 0, h);
            float[] a = new float[rows * h];
            RowMath.rmsNorm(x, off, rows, h, w.norm(), c.rmsNormEps(), a, 0);
            float[] dy = new float[rows * vocab];
            for (int r = 0; r < rows; r++) {
                System.arraycopy(dLogits, (bl[1] * n + p.at(bl[2] + r)) * vocab, dy, r * vocab, vocab);
            }
            RowMath.linearWeightGrad(k, dy, rows, vocab, a, h, dHead);
            float[] da = new float[rows * h];
            RowMath.linearInputGrad(k, dy, rows, vocab, w.lmHead(), h, da);
            RowMath.rmsNormBackward(x, off, rows, h, w.norm(), c.rmsNormEps(), da, dx[bl[0]], off, dNorm);
        }
        for (int l = c.layers() - 1; l >= 0; l--) {
            LayerPass pass = new LayerPass(model, l, xs[l], shards, blocks, tables, batch, n, engine);
            dx = pass.backward(dx, grads);
        }
        float[] dEmbed = grads.floats(LlamaWeights.EMBED);
        float[] inputGrad = new float[batch * n * h];
        for (int[] bl : blocks) {
            Positions p = shards[bl[0]];
            for (int r = 0; r < bl[3]; r++) {
                int pos = p.at(bl[2] + r);
                int token = tokens[bl[1] * n + pos];
                int off = rowOff(bl, p, r, h);
                System.arraycopy(dx[bl[0]], off, inputGrad, (bl[1] * n + pos) * h, h);
                for (int i = 0; i < h; i++) {
                    dEmbed[token * h + i] += dx[bl[0]][off + i];
                }
            }
        }
        if (c.tieWordEmbeddings()) {
            for (int i = 0; i < dEmbed.length; i++) {
                dEmbed[i] += dHead[i];
            }
        } else {
            System.arraycopy(dHead, 0, grads.floats(LlamaWeights.LM_HEAD), 0, dHead.length);
        }
        return new Result(grads, inputGrad);
    }

    private static int rowOff(int[] bl, Positions p, int r, int h) {
        return (bl[1] * p.length() + bl[2] + r) * h;
    }

    private static InMemoryWeights zeros(LlamaConfig c) {
        InMemoryWeights z = new InMemoryWeights();
        long h = c.hiddenSize();
        z.put(LlamaWeights.EMBED, new float[Math.toIntExact(c.vocabSize() * h)], c.vocabSize(), h);
        for (int i = 0; i < c.layers(); i++) {
            for (String t : LlamaWeights.LAYER_TENSORS) {
                long[] shape = LlamaWeights.expectedShape(c, t);
                z.put(LlamaWeights.layerName(i, t), new float[Math.toIntExact(shape.length == 1 ? shape[0]
                        : shape[0] * shape[1])], shape);
            }
        }
        z.put(LlamaWeights.NORM, new float[c.hiddenSize()], h);
        if (!c.tieWordEmbeddings()) {
            z.put(LlamaWeights.LM_HEAD, new float[Math.toIntExact(c.vocabSize() * h)], c.vocabSize(), h);
        }
        return z;
    }

    /** One layer's recomputation from its input hidden states, and its backward pass. */
    private static final class LayerPass {
        final LlamaModel m;
        final LlamaConfig c;
        final int l;
        final float[][] xIn;
        final Positions[] shards;
        final int[][] blocks;
        final RopeTables tables;
        final int n;
        final AttentionEngine engine;
        final Tensor q;
        final Tensor k;
        final Tensor v;
        final AttentionOutput att;
        final float[][] xMid;

        LayerPass(LlamaModel m, int l, float[][] xIn, Positions[] shards, int[][] blocks, RopeTables tables,
                int batch, int n, AttentionEngine engine) {
            this.m = m;
            this.c = m.config();
            this.l = l;
            this.xIn = xIn;
            this.shards = shards;
            this.blocks = blocks;
            this.tables = tables;
            this.n = n;
            this.engine = engine;
            int h = c.hiddenSize();
            q = Tensor.zeros(batch, c.heads(), n, c.headDim());
            k = Tensor.zeros(batch, c.kvHeads(), n, c.headDim());
            v = Tensor.zeros(batch, c.kvHeads(), n, c.headDim());
            for (int t = 0; t < blocks.length; t++) {
                int[] bl = blocks[t];
                int rows = bl[3];
                float[] qb = new float[rows * c.qWidth()];
                float[] kb = new float[rows * c.kvWidth()];
                float[] vb = new float[rows * c.kvWidth()];
                int[] pos = positions(bl);
                m.project(l, xIn[bl[0]], rowOff(bl, shards[bl[0]], 0, h), rows, pos, tables.of(t), qb, kb, vb);
                for (int r = 0; r < rows; r++) {
                    scatter(qb, r, q, bl[1], pos[r]);
                    scatter(kb, r, k, bl[1], pos[r]);
                    scatter(vb, r, v, bl[1], pos[r]);
                }
            }
            att = engine.attend(q, k, v, LlamaModel.CAUSAL);
            xMid = new float[xIn.length][];
            for (int dev = 0; dev < xIn.length; dev++) {
                xMid[dev] = xIn[dev].clone();
            }
            for (int[] bl : blocks) {
                int rows = bl[3];
                float[] o = gather(att.out(), bl, positions(bl));
                float[] y = new float[rows * h];
                m.oT[l].apply(m.kernels(), o, rows, y);
                RowMath.addInto(xMid[bl[0]], rowOff(bl, shards[bl[0]], 0, h), y, rows * h);
            }
        }

        int[] positions(int[] bl) {
            int[] pos = new int[bl[3]];
            for (int r = 0; r < pos.length; r++) {
                pos[r] = shards[bl[0]].at(bl[2] + r);
            }
            return pos;
        }

        /** The layer's output x_mid + FFN(x_mid), as the forward pass computes it. */
        float[][] output() {
            float[][] out = new float[xMid.length][];
            for (int dev = 0; dev < xMid.length; dev++) {
                out[dev] = xMid[dev].clone();
            }
            int h = c.hiddenSize();
            int inter = c.intermediateSize();
            LlamaWeights.Layer lw = m.weights().layer(l);
            for (int[] bl : blocks) {
                int rows = bl[3];
                int off = rowOff(bl, shards[bl[0]], 0, h);
                float[] a = new float[rows * h];
                RowMath.rmsNorm(xMid[bl[0]], off, rows, h, lw.postNorm(), c.rmsNormEps(), a, 0);
                float[] g = new float[rows * inter];
                float[] u = new float[rows * inter];
                m.gateT[l].apply(m.kernels(), a, rows, g);
                m.upT[l].apply(m.kernels(), a, rows, u);
                RowMath.swiglu(m.kernels(), g, u, rows * inter);
                float[] y = new float[rows * h];
                m.downT[l].apply(m.kernels(), g, rows, y);
                RowMath.addInto(out[bl[0]], off, y, rows * h);
            }
            return out;
        }

        /** From dL/d(output) per device, adds this layer's weight gradients to {@code grads}; returns dL/d(input). */
        float[][] backward(float[][] dOut, InMemoryWeights grads) {
            int h = c.hiddenSize();
            int inter = c.intermediateSize();
            Kernels kk = m.kernels();
            LlamaWeights.Layer lw = m.weights().layer(l);
            float[] dGate = grads.floats(LlamaWeights.layerName(l, "mlp.gate_proj.weight"));
            float[] dUp = grads.floats(LlamaWeights.layerName(l, "mlp.up_proj.weight"));
            float[] dDown = grads.floats(LlamaWeights.layerName(l, "mlp.down_proj.weight"));
            float[] dPost = grads.floats(LlamaWeights.layerName(l, "post_attention_layernorm.weight"));
            float[] dO = grads.floats(LlamaWeights.layerName(l, "self_attn.o_proj.weight"));
            float[][] dMid = new float[dOut.length][];
            for (int dev = 0; dev < dOut.length; dev++) {
                dMid[dev] = dOut[dev].clone(); // the residual
            }
            Tensor dAtt = Tensor.zeros(q.batch(), q.heads(), q.rows(), q.dim());
            for (int[] bl : blocks) {
                int rows = bl[3];
                int off = rowOff(bl, shards[bl[0]], 0, h);
                float[] a = new float[rows * h];
                RowMath.rmsNorm(xMid[bl[0]], off, rows, h, lw.postNorm(), c.rmsNormEps(), a, 0);
                float[] g = new float[rows * inter];
                float[] u = new float[rows * inter];
                m.gateT[l].apply(kk, a, rows, g);
                m.upT[l].apply(kk, a, rows, u);
                float[] z = g.clone();
                RowMath.swiglu(kk, z, u, rows * inter);
                float[] dy = Arrays.copyOfRange(dOut[bl[0]], off, off + rows * h);
                RowMath.linearWeightGrad(kk, dy, rows, h, z, inter, dDown);
                float[] dz = new float[rows * inter];
                RowMath.linearInputGrad(kk, dy, rows, h, lw.down(), inter, dz);
                RowMath.swigluBackward(g, u, dz, rows * inter); // g, u now hold dg, du
                RowMath.linearWeightGrad(kk, g, rows, inter, a, h, dGate);
                RowMath.linearWeightGrad(kk, u, rows, inter, a, h, dUp);
                float[] da = new float[rows * h];
                RowMath.linearInputGrad(kk, g, rows, inter, lw.gate(), h, da);
                RowMath.linearInputGrad(kk, u, rows, inter, lw.up(), h, da);
                RowMath.rmsNormBackward(xMid[bl[0]], off, rows, h, lw.postNorm(), c.rmsNormEps(), da, dMid[bl[0]], off,
                        dPost);
                // attention output projection
                float[] dm = Arrays.copyOfRange(dMid[bl[0]], off, off + rows * h);
                int[] pos = positions(bl);
                float[] o = gather(att.out(), bl, pos);
                RowMath.linearWeightGrad(kk, dm, rows, h, o, c.qWidth(), dO);
                float[] dob = new float[rows * c.qWidth()];
                RowMath.linearInputGrad(kk, dm, rows, h, lw.o(), c.qWidth(), dob);
                for (int r = 0; r < rows; r++) {
                    scatter(dob, r, dAtt, bl[1], pos[r]);
                }
            }
            Gradients ga = engine.gradients(q, k, v, att, dAtt, LlamaModel.CAUSAL);
            float[] dQ = grads.floats(LlamaWeights.layerName(l, "self_attn.q_proj.weight"));
            float[] dK = grads.floats(LlamaWeights.layerName(l, "self_attn.k_proj.weight"));
            float[] dV = grads.floats(LlamaWeights.layerName(l, "self_attn.v_proj.weight"));
            float[] dIn = grads.floats(LlamaWeights.layerName(l, "input_layernorm.weight"));
            float[][] dx = dMid; // the residual carries dx_mid into dx_in
            for (int t = 0; t < blocks.length; t++) {
                int[] bl = blocks[t];
                int rows = bl[3];
                int off = rowOff(bl, shards[bl[0]], 0, h);
                int[] pos = positions(bl);
                float[] dq = gather(ga.dq(), bl, pos);
                float[] dk = gather(ga.dk(), bl, pos);
                float[] dv = gather(ga.dv(), bl, pos);
                m.unrotate(pos, tables.of(t), dq, dk);
                float[] a = new float[rows * h];
                RowMath.rmsNorm(xIn[bl[0]], off, rows, h, lw.inputNorm(), c.rmsNormEps(), a, 0);
                RowMath.linearWeightGrad(kk, dq, rows, c.qWidth(), a, h, dQ);
                RowMath.linearWeightGrad(kk, dk, rows, c.kvWidth(), a, h, dK);
                RowMath.linearWeightGrad(kk, dv, rows, c.kvWidth(), a, h, dV);
                float[] da = new float[rows * h];
                RowMath.linearInputGrad(kk, dq, rows, c.qWidth(), lw.q(), h, da);
                RowMath.linearInputGrad(kk, dk, rows, c.kvWidth(), lw.k(), h, da);
                RowMath.linearInputGrad(kk, dv, rows, c.kvWidth(), lw.v(), h, da);
                RowMath.rmsNormBackward(xIn[bl[0]], off, rows, h, lw.inputNorm(), c.rmsNormEps(), da, dx[bl[0]], off,
                        dIn);
            }
            return dx;
        }

        private float[] gather(Tensor t, int[] bl, int[] pos) {
            int width = t.heads() * t.dim();
            float[] rows = new float[pos.length * width];
            for (int r = 0; r < pos.length; r++) {
                for (int hd = 0; hd < t.heads(); hd++) {
                    t.rows(bl[1], hd, pos[r], 1).copyTo(rows, r * width + hd * t.dim());
                }
            }
            return rows;
        }

        private static void scatter(float[] rows, int r, Tensor t, int b, int position) {
            float[] dst = t.heapArray();
            int d = t.dim();
            int width = t.heads() * d;
            for (int hd = 0; hd < t.heads(); hd++) {
                System.arraycopy(rows, r * width + hd * d, dst, (int) t.rowOffset(b, hd, position), d);
            }
        }
    }
}

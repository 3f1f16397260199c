package org.ringattention.model;

import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.VanillaAttention;

/**
 * The float64 twin of {@link LlamaModel}, its oracle: the same formulas over the whole sequence
 * at once in float64, with attention by the float64 {@link VanillaAttention} oracle. Deliberately
 * simple: plain loops, no blocks, no devices. Memory O(N² + N·I); for tests and checks.
 */
public final class LlamaReference {

    private final LlamaConfig c;
    private final LlamaWeights w;
    private final Rope rope;

    public LlamaReference(LlamaWeights weights) {
        this.w = weights;
        this.c = weights.config();
        this.rope = new Rope(c.headDim(), c.ropeTheta());
    }

    /** Logits [B, N, V] of tokens [B, N]. */
    public double[] forward(int[] tokens, int batch) {
        int n = LlamaModel.checkTokens(tokens, batch, c.vocabSize());
        int h = c.hiddenSize();
        int d = c.headDim();
        int rows = batch * n;
        double[] x = new double[rows * h];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < h; i++) {
                x[r * h + i] = w.embed()[tokens[r] * h + i];
            }
        }
        AttentionShape shape = new AttentionShape(batch, c.heads(), c.kvHeads(), n, n, d);
        for (int l = 0; l < c.layers(); l++) {
            LlamaWeights.Layer lw = w.layer(l);
            double[] a = rmsNorm(x, rows, h, lw.inputNorm());
            double[] q = linear(a, rows, h, lw.q(), c.qWidth());
            double[] k = linear(a, rows, h, lw.k(), c.kvWidth());
            double[] v = linear(a, rows, h, lw.v(), c.kvWidth());
            for (int r = 0; r < rows; r++) {
                double[] cs = rope.angles(r % n);
                rope.apply(q, r * c.qWidth(), c.heads(), cs);
                rope.apply(k, r * c.kvWidth(), c.kvHeads(), cs);
            }
            double[] o = VanillaAttention.oracle().forward(shape, LlamaModel.CAUSAL, heads(q, batch, n, c.heads(), d),
                    heads(k, batch, n, c.kvHeads(), d), heads(v, batch, n, c.kvHeads(), d)).out();
            double[] att = linear(tokensMajor(o, batch, n, c.heads(), d), rows, c.qWidth(), lw.o(), h);
            for (int t = 0; t < x.length; t++) {
                x[t] += att[t];
            }
            double[] a2 = rmsNorm(x, rows, h, lw.postNorm());
            double[] g = linear(a2, rows, h, lw.gate(), c.intermediateSize());
            double[] u = linear(a2, rows, h, lw.up(), c.intermediateSize());
            for (int t = 0; t < g.length; t++) {
                g[t] = g[t] / (1 + Math.exp(-g[t])) * u[t];
            }
            double[] f = linear(g, rows, c.intermediateSize(), lw.down(), h);
            for (int t = 0; t < x.length; t++) {
                x[t] += f[t];
            }
        }
        return linear(rmsNorm(x, rows, h, w.norm()), rows, h, w.lmHead(), c.vocabSize());
    }

    private double[] rmsNorm(double[] x, int rows, int h, float[] weight) {
        double[] y = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int i = 0; i < h; i++) {
                ss += x[r * h + i] * x[r * h + i];
            }
            double inv = 1 / Math.sqrt(ss / h + c.rmsNormEps());
            for (int i = 0; i < h; i++) {
                y[r * h + i] = weight[i] * (x[r * h + i] * inv);
            }
        }
        return y;
    }

    /** y [rows × out] = x [rows × in] Wᵀ, W [out × in]. */
    static double[] linear(double[] x, int rows, int in, float[] weight, int out) {
        double[] y = new double[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                double s = 0;
                for (int i = 0; i < in; i++) {
                    s += x[r * in + i] * weight[o * in + i];
                }
                y[r * out + o] = s;
            }
        }
        return y;
    }

    /** [B·N, H·d] to [B, H, N, d]. */
    private static double[] heads(double[] x, int batch, int n, int heads, int d) {
        double[] y = new double[x.length];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < n; t++) {
                for (int hd = 0; hd < heads; hd++) {
                    System.arraycopy(x, ((b * n + t) * heads + hd) * d, y, ((b * heads + hd) * n + t) * d, d);
                }
            }
        }
        return y;
    }

    /** [B, H, N, d] to [B·N, H·d]. */
    private static double[] tokensMajor(double[] x, int batch, int n, int heads, int d) {
        double[] y = new double[x.length];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < n; t++) {
                for (int hd = 0; hd < heads; hd++) {
                    System.arraycopy(x, ((b * heads + hd) * n + t) * d, y, ((b * n + t) * heads + hd) * d, d);
                }
            }
        }
        return y;
    }
}

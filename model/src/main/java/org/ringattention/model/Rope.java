package org.ringattention.model;

/**
 * Rotary position embedding in Hugging Face's rotate_half form: for a head vector x of even
 * length d, half = d/2, position t and inverse frequencies f_i = θ^(−2i/d), i &lt; half,
 * <pre>
 *   x'_i        = x_i · cos(t f_i) − x_{i+half} · sin(t f_i)
 *   x'_{i+half} = x_{i+half} · cos(t f_i) + x_i · sin(t f_i)
 * </pre>
 * The angle, its cosine and sine, and the rotation are computed in float64 ({@link StrictMath},
 * the same bits on every machine) and the float32 path rounds the result once.
 */
final class Rope {

    private final int dim;
    private final double[] invFreq;

    Rope(int dim, double theta) {
        this.dim = dim;
        this.invFreq = new double[dim / 2];
        for (int i = 0; i < dim / 2; i++) {
            invFreq[i] = 1.0 / StrictMath.pow(theta, (2.0 * i) / dim);
        }
    }

    /** cos and sin of t·f_i for position t: {@code cs[2i]} = cos, {@code cs[2i+1]} = sin. */
    double[] angles(int position) {
        double[] cs = new double[dim];
        angles(position, cs, 0);
        return cs;
    }

    /** The same written to {@code cs[off .. off + d)}: one row of a table shared by every layer ({@link RopeTables}). */
    void angles(int position, double[] cs, int off) {
        for (int i = 0; i < dim / 2; i++) {
            double a = position * invFreq[i];
            cs[off + 2 * i] = StrictMath.cos(a);
            cs[off + 2 * i + 1] = StrictMath.sin(a);
        }
    }

    int dim() {
        return dim;
    }

    /** Rotates {@code heads} head vectors of d floats from {@code x[off]} by the angles at {@code cs[c ..]}. */
    void apply(float[] x, int off, int heads, double[] cs, int c) {
        int half = dim / 2;
        for (int h = 0; h < heads; h++) {
            int b = off + h * dim;
            for (int i = 0; i < half; i++) {
                double x1 = x[b + i];
                double x2 = x[b + i + half];
                x[b + i] = (float) (x1 * cs[c + 2 * i] - x2 * cs[c + 2 * i + 1]);
                x[b + i + half] = (float) (x2 * cs[c + 2 * i] + x1 * cs[c + 2 * i + 1]);
            }
        }
    }

    /**
     * The backward pass: the gradient of a rotated vector, {@code g} in place, becomes the gradient
     * of the vector before the rotation (the rotation's transpose, an angle of −t·f_i); angles at
     * {@code cs[c ..]}.
     */
    void applyTranspose(float[] g, int off, int heads, double[] cs, int c) {
        int half = dim / 2;
        for (int h = 0; h < heads; h++) {
            int b = off + h * dim;
            for (int i = 0; i < half; i++) {
                double g1 = g[b + i];
                double g2 = g[b + i + half];
                g[b + i] = (float) (g1 * cs[c + 2 * i] + g2 * cs[c + 2 * i + 1]);
                g[b + i + half] = (float) (g2 * cs[c + 2 * i] - g1 * cs[c + 2 * i + 1]);
            }
        }
    }

    /** {@link #apply} in float64, with the angles at {@code cs[0 ..]}. */
    void apply(double[] x, int off, int heads, double[] cs) {
        int half = dim / 2;
        for (int h = 0; h < heads; h++) {
            int b = off + h * dim;
            for (int i = 0; i < half; i++) {
                double x1 = x[b + i];
                double x2 = x[b + i + half];
                x[b + i] = x1 * cs[2 * i] - x2 * cs[2 * i + 1];
                x[b + i + half] = x2 * cs[2 * i] + x1 * cs[2 * i + 1];
            }
        }
    }
}

package org.ringattention.kernel;

/**
 * Plain-Java kernels: the reference twin of the SIMD kernels and the fallback when the Vector API
 * is missing. Loops are written in the summation order the interface promises, with fused
 * multiply-adds so that each product is rounded once, as in the SIMD kernels.
 */
public final class ScalarKernels implements Kernels {

    public static final ScalarKernels INSTANCE = new ScalarKernels();

    private ScalarKernels() {
    }

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public void scoreTile(float[] a, int aOff, float[] b, int bOff, int rows, int cols, int d, float scale,
            float[] s) {
        for (int r = 0; r < rows; r++) {
            int ar = aOff + r * d;
            for (int c = 0; c < cols; c++) {
                int bc = bOff + c * d;
                float acc = 0f;
                for (int k = 0; k < d; k++) {
                    acc = Math.fma(a[ar + k], b[bc + k], acc);
                }
                s[r * cols + c] = scale * acc;
            }
        }
    }

    @Override
    public float expShifted(float[] x, int off, int len, float shift) {
        float sum = 0f;
        for (int t = off; t < off + len; t++) {
            float e = (float) Math.exp(x[t] - shift);
            x[t] = e;
            sum += e;
        }
        return sum;
    }

    @Override
    public float max(float[] x, int off, int len) {
        float m = Float.NEGATIVE_INFINITY;
        for (int t = off; t < off + len; t++) {
            m = Math.max(m, x[t]);
        }
        return m;
    }

    @Override
    public void accumulateProduct(float[] p, int rows, int inner, float[] b, int n, float[] c, int cOff) {
        for (int r = 0; r < rows; r++) {
            int cr = cOff + r * n;
            for (int t = 0; t < inner; t++) {
                float w = p[r * inner + t];
                if (w == 0f) {
                    continue; // masked or underflowed: adds nothing (skipping keeps 0·∞ out, inputs are finite)
                }
                int bt = t * n;
                for (int x = 0; x < n; x++) {
                    c[cr + x] = Math.fma(w, b[bt + x], c[cr + x]);
                }
            }
        }
    }

    @Override
    public void accumulateTransposedProduct(float[] p, int rows, int cols, float[] b, int n, float[] c,
            int cOff) {
        for (int r = 0; r < rows; r++) {
            int br = r * n;
            for (int t = 0; t < cols; t++) {
                float w = p[r * cols + t];
                if (w == 0f) {
                    continue;
                }
                int ct = cOff + t * n;
                for (int x = 0; x < n; x++) {
                    c[ct + x] = Math.fma(w, b[br + x], c[ct + x]);
                }
            }
        }
    }
}

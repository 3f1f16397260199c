package org.ringattention.model;

import java.util.Arrays;
import org.ringattention.kernel.Kernels;

/**
 * The weights of a linear layer, y = x Wᵀ with W [out × in], stored for the product kernel as
 * column panels of Wᵀ: panel j holds the columns [{@link #PANEL}·j, {@link #PANEL}·j + w) of Wᵀ
 * [in × out] as one contiguous [in × w] block (w = {@link #PANEL}, less in the last panel).
 *
 * <p>Why panels: {@link Kernels#accumulateProduct} walks down the rows of its right-hand matrix.
 * Over Wᵀ itself each step lands {@code out} floats (kilobytes) further on, on cache lines the
 * hardware prefetchers do not foresee, and a layer's weights (megabytes) come from L3 for every
 * block of rows; within a panel the same walk is a sequential read. docs/performance.md has the
 * measurement.
 *
 * <p>Bits: element (r, x) of y is the kernel's chunked sum over u &lt; in of x[r, u]·Wᵀ[u, x], whose
 * order does not depend on the width of the block it is computed in, so y has the bits of one
 * product over the whole of Wᵀ.
 */
final class PackedLinear {

    /** Columns per panel: two vectors of 16 floats, the width of the kernel's tiles. */
    static final int PANEL = 32;

    private final int in;
    private final int out;
    private final float[] panels;

    /** Packs W [out × in], row-major. */
    PackedLinear(float[] w, int out, int in) {
        if ((long) out * in != w.length) {
            throw new IllegalArgumentException("weights of " + w.length + " floats are not " + out + " x " + in);
        }
        this.in = in;
        this.out = out;
        this.panels = new float[w.length];
        int t = 0;
        for (int x0 = 0; x0 < out; x0 += PANEL) {
            int width = Math.min(PANEL, out - x0);
            for (int u = 0; u < in; u++) {
                for (int x = 0; x < width; x++) {
                    panels[t++] = w[(x0 + x) * in + u];
                }
            }
        }
    }

    int in() {
        return in;
    }

    int out() {
        return out;
    }

    /** {@code y [rows × out] = x [rows × in] · Wᵀ}; x and y start at index 0, y is overwritten. */
    void apply(Kernels kernels, float[] x, int rows, float[] y) {
        applyPanels(kernels, x, rows, y, 0, panelCount());
    }

    /**
     * The same with the panels shared out over {@code tasks} in contiguous runs: for the few rows of
     * a decoding step, where one product is too small to split by rows. Each element is still one
     * panel's product, so the bits are those of {@link #apply(Kernels, float[], int, float[])}.
     */
    void apply(Kernels kernels, float[] x, int rows, float[] y, Tasks tasks) {
        int panels = panelCount();
        int parts = Math.min(tasks.threads(), panels);
        tasks.run(parts, t -> applyPanels(kernels, x, rows, y, (int) ((long) panels * t / parts),
                (int) ((long) panels * (t + 1) / parts)));
    }

    private int panelCount() {
        return (out + PANEL - 1) / PANEL;
    }

    /** Panels [p0, p1) of y = x Wᵀ. */
    private void applyPanels(Kernels kernels, float[] x, int rows, float[] y, int p0, int p1) {
        float[] panel = new float[rows * Math.min(PANEL, out)];
        for (int j = p0; j < p1; j++) {
            int x0 = j * PANEL;
            int width = Math.min(PANEL, out - x0);
            Arrays.fill(panel, 0, rows * width, 0f);
            kernels.accumulateProduct(x, rows, in, panels, in * x0, width, panel, 0);
            for (int r = 0; r < rows; r++) {
                System.arraycopy(panel, r * width, y, r * out + x0, width);
            }
        }
    }
}

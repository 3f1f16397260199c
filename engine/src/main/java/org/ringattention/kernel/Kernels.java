package org.ringattention.kernel;

/**
 * The tile operations that blockwise attention is built from. Everything above this interface is
 * written once and runs with any implementation; implementations must give the same results for
 * the same inputs whatever the number of threads (each reduction in a fixed order).
 *
 * <p>Tiles are row-major {@code float[]} arrays: a tile of {@code rows × cols} values has element
 * (r, c) at {@code r·cols + c}. Vectors of length d (queries, keys, values, output rows) are rows.
 * In the paper's notation, for a query block Q_i and a key/value block K_j, V_j:
 * <pre>
 *   scoreTile:                   S   = scale · Q_i K_jᵀ            (also dP = dO_i V_jᵀ)
 *   expShifted:                  P   = exp(S − m), returns rowsum
 *   accumulateProduct:           O  += P V_j                       (also dQ += dS K_j)
 *   accumulateTransposedProduct: dV += Pᵀ dO_i                     (also dK += dSᵀ Q_i)
 * </pre>
 */
public interface Kernels {

    /** A short name for reports: "scalar", "vector-512", ... */
    String name();

    /**
     * {@code s[r·cols + c] = scale · Σ_k a[aOff + r·d + k] · b[bOff + c·d + k]} for r &lt; rows,
     * c &lt; cols. The sum runs over k in increasing order.
     */
    void scoreTile(float[] a, int aOff, float[] b, int bOff, int rows, int cols, int d, float scale, float[] s);

    /**
     * {@code x[off + t] = exp(x[off + t] − shift)} for t &lt; len, and returns the sum of the new
     * values, added in increasing t. {@code x = −∞} gives 0; {@code shift} is finite.
     */
    float expShifted(float[] x, int off, int len, float shift);

    /** The largest of {@code x[off .. off + len)}; −∞ when all are −∞. */
    float max(float[] x, int off, int len);

    /**
     * {@code c[cOff + r·n + x] += Σ_t p[r·inner + t] · b[t·n + x]}: C += P B with P [rows × inner]
     * and B [inner × n]. The sum runs over t in increasing order, on top of the value already in c.
     */
    void accumulateProduct(float[] p, int rows, int inner, float[] b, int n, float[] c, int cOff);

    /**
     * {@code c[cOff + t·n + x] += Σ_r p[r·cols + t] · b[r·n + x]}: C += Pᵀ B with P [rows × cols]
     * and B [rows × n]. The sum runs over r in increasing order, on top of the value already in c.
     */
    void accumulateTransposedProduct(float[] p, int rows, int cols, float[] b, int n, float[] c, int cOff);

    /** The implementation chosen for this JVM. */
    static Kernels preferred() {
        return ScalarKernels.INSTANCE;
    }
}

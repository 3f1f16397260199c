package org.ringattention.kernel;

/**
 * The tile operations blockwise attention is built from. Everything above this interface is
 * written once and runs with any implementation.
 *
 * <p><b>Same bits everywhere.</b> Every implementation computes every element with the same
 * operations in the same order, so the scalar twin and the SIMD kernels at any vector width give
 * bit-identical results: dot products over d run in increasing index order with fused
 * multiply-adds; long sums run in {@link #CHUNK}-term chunks, each summed from zero in increasing
 * order and then added to the accumulator (the two-level order of a blocked matrix product, which
 * keeps the rounding error of a sum of n terms near (CHUNK + n/CHUNK)·u instead of n·u); row sums
 * of a score tile use {@link #SUM_LANES} interleaved partial sums combined by a fixed tree; exp
 * is {@link PolynomialExp}.
 *
 * <p>Layout: tiles are row-major {@code float[]}: element (r, c) of a rows × cols tile sits at
 * {@code r·cols + c}. Rows of q, k, v, dO are vectors of length d. A key block used by
 * {@link #scoreTile} is packed transposed ({@link #packTransposed}), d × cols, so that the lanes of
 * a vector run along keys while one query element is broadcast: the register-tiled form of
 * Q Kᵀ. In the paper's notation, for a query block Q_i and a key/value block K_j, V_j:
 * <pre>
 *   scoreTile:                   S   = scale · Q_i K_jᵀ            (also dP = dO_i V_jᵀ)
 *   expShifted:                  P   = exp(S − m), returns rowsum
 *   accumulateProduct:           O  += P V_j                       (also dQ += dS K_j)
 *   accumulateTransposedProduct: dV += Pᵀ dO_i                     (also dK += dSᵀ Q_i)
 * </pre>
 * Implementations are stateless and thread-safe.
 */
public interface Kernels {

    /** Length of the chunks long sums are cut into. */
    int CHUNK = 128;

    /** Number of interleaved partial sums of {@link #expShifted}. */
    int SUM_LANES = 16;

    /** A short name for reports: "scalar", "vector-512", ... */
    String name();

    /** {@code dst[dstOff + k·rows + c] = src[srcOff + c·d + k]}: a rows × d block stored as d × rows. */
    void packTransposed(float[] src, int srcOff, int rows, int d, float[] dst, int dstOff);

    /**
     * {@code s[r·cols + c] = scale · Σ_k q[qOff + r·d + k] · kT[kOff + k·cols + c]} for r &lt; rows,
     * c &lt; cols, with {@code kT} packed by {@link #packTransposed}. The sum runs over k in
     * increasing order, one fused multiply-add per term. When {@code rowMax} is not null it receives
     * the largest score of each row, found while the scores are still in registers.
     */
    void scoreTile(float[] q, int qOff, int rows, float[] kT, int kOff, int cols, int d, float scale, float[] s,
            float[] rowMax);

    /** The largest of {@code x[off .. off + len)}; −∞ when all are −∞. */
    float max(float[] x, int off, int len);

    /**
     * Whether {@code x[off .. off + len)} holds no NaN and no ±∞: the input check, run on blocks
     * already in cache where the engine copies or packs its inputs.
     */
    boolean allFinite(float[] x, int off, int len);

    /**
     * {@code x[off + t] = exp(x[off + t] − shift)} ({@link PolynomialExp}, the difference rounded
     * to float first) for t &lt; len, and returns the sum of the new values: value t goes to partial
     * sum p[t mod 16] ({@link #SUM_LANES}), and the partial sums are combined as a fixed tree,
     * p[j] += p[j + w] for j &lt; w, w = 8, 4, 2, 1, giving p[0]. {@code x = −∞} gives 0;
     * {@code shift} is finite.
     */
    float expShifted(float[] x, int off, int len, float shift);

    /**
     * {@code c[cOff + r·n + x] += Σ_t p[r·inner + t] · b[bOff + t·n + x]}: C += P B with P
     * [rows × inner] and B [inner × n], the sum over t in {@link #CHUNK}-term chunks as described
     * above. B is read where it lies (a block of a larger array), not copied.
     */
    void accumulateProduct(float[] p, int rows, int inner, float[] b, int bOff, int n, float[] c, int cOff);

    /**
     * {@code c[cOff + t·n + x] += Σ_r p[r·cols + t] · b[bOff + r·n + x]}: C += Pᵀ B with P
     * [rows × cols] and B [rows × n], the sum over r in {@link #CHUNK}-term chunks as described above.
     */
    void accumulateTransposedProduct(float[] p, int rows, int cols, float[] b, int bOff, int n, float[] c,
            int cOff);

    /**
     * The implementation chosen once for this JVM: the Vector API kernels when the
     * {@code jdk.incubator.vector} module is present, else the scalar twin (one warning says why).
     * The system property {@code ringattention.kernels=scalar} forces the scalar twin.
     */
    static Kernels preferred() {
        return KernelChoice.PREFERRED;
    }

    /** The plain-Java twin, always available. */
    static Kernels scalar() {
        return ScalarKernels.INSTANCE;
    }

    /**
     * The Vector API kernels at the preferred species.
     *
     * @throws UnsupportedOperationException when the Vector API is not available
     */
    static Kernels vector() {
        return KernelChoice.vector();
    }
}

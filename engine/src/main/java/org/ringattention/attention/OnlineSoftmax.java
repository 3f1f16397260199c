package org.ringattention.attention;

import java.util.Arrays;
import org.ringattention.kernel.Kernels;
import org.ringattention.kernel.PolynomialExp;

/**
 * The running state of one query block: the one place where the online-softmax rule lives.
 *
 * <p>For each query row the state holds the running max m, the running sum l and the
 * unnormalized output õ. Absorbing a tile of scores S_j = scale · q K_jᵀ (−∞ where masked) with its
 * values V_j:
 * <pre>
 *   m'  = max(m, rowmax(S_j))
 *   P_j = exp(S_j − m')
 *   l'  = exp(m − m') · l + rowsum(P_j)
 *   õ'  = exp(m − m') · õ + P_j V_j
 * </pre>
 * and at the end {@code o = õ / l}, {@code LSE = m + log l}. A row that has seen no key keeps
 * m = −∞ and l = 0 and finishes as o = 0, LSE = −∞. With a sink logit σ in the denominator
 * ({@link AttentionSinks}) the end is, for M = max(m, σ) and a = exp(m − M),
 * {@code l' = a·l + exp(σ − M)}, {@code o = a·õ / l'}, {@code LSE = M + log l'}; a row that has
 * seen no key finishes as o = 0, LSE = σ. l and õ are {@link ChunkedSum}s, so their
 * accuracy does not depend on the block size.
 *
 * <p>Across ring steps the same rule merges the partial results of successive key/value shards:
 * the state (m, l, õ) is saved after one shard ({@link #store}) and continued with the next
 * ({@link #load}), so a ring absorbs its shards exactly as one device absorbs its blocks. (The
 * equivalent merge of finished results, o = exp(L₁ − L) o₁ + exp(L₂ − L) o₂ with
 * L = logaddexp(L₁, L₂), would divide and take a logarithm at every step.)
 *
 * <p>Decoding merges partial states of the same rows computed over disjoint key shards
 * ({@link #merge}, used by {@link SoftmaxPartial}):
 * <pre>
 *   m = max(m₁, m₂),   l = exp(m₁ − m) · l₁ + exp(m₂ − m) · l₂,   õ = exp(m₁ − m) · õ₁ + exp(m₂ − m) · õ₂
 * </pre>
 * the update above with the second shard's (m₂, l₂, õ₂) in place of a tile's rowmax, rowsum and P V.
 *
 * <p>Layout: m and l are arrays over rows; õ is row-major [rows × d]. One instance per worker;
 * not thread-safe.
 */
final class OnlineSoftmax {

    private final int dim;
    private final float[] max;
    private final ChunkedSum sum;
    private final ChunkedSum acc;
    private int rows;

    OnlineSoftmax(int maxRows, int dim) {
        this.dim = dim;
        this.max = new float[maxRows];
        this.sum = new ChunkedSum(maxRows);
        this.acc = new ChunkedSum(maxRows * dim);
    }

    /** Starts a new query block of {@code rows} rows. */
    void reset(int rows) {
        this.rows = rows;
        Arrays.fill(max, 0, rows, Float.NEGATIVE_INFINITY);
        sum.reset(rows);
        acc.reset(rows * dim);
    }

    /**
     * Continues the state of {@code rows} rows saved by {@link #store} at row {@code row} of
     * {@code m} and {@code l} (and row {@code row} of {@code o}, d floats a row).
     */
    void load(int rows, float[] m, float[] l, float[] o, int row) {
        this.rows = rows;
        System.arraycopy(m, row, max, 0, rows);
        sum.load(l, row, rows);
        acc.load(o, row * dim, rows * dim);
    }

    /** Saves the state (m, l, õ) of the current rows at row {@code row}; see {@link #load}. */
    void store(float[] m, float[] l, float[] o, int row) {
        System.arraycopy(max, 0, m, row, rows);
        sum.store(l, row, rows);
        acc.store(o, row * dim, rows * dim);
    }

    /** Floats held by this state. */
    long floats() {
        return max.length + 2L * (sum.total.length + acc.total.length);
    }

    /**
     * Absorbs the score tile {@code s} [rows × cols] (overwritten with P_j) and the value block
     * {@code v} [cols × d] (from {@code vOff}) of keys from position {@code j0} of key shard {@code shard}, which has
     * {@code keys} keys. {@code rowMax} holds each row's largest score when the score kernel found
     * it, or is null.
     */
    void absorb(float[] s, int shard, int j0, int cols, int keys, float[] v, int vOff, Kernels kernels,
            float[] rowMax) {
        float[] sumTarget = sum.target(shard, j0, cols, keys); // may fold: before any rescaling
        float[] accTarget = acc.target(shard, j0, cols, keys);
        for (int r = 0; r < rows; r++) {
            int off = r * cols;
            float mOld = max[r];
            float mNew = Math.max(mOld, rowMax != null ? rowMax[r] : kernels.max(s, off, cols));
            if (mNew == Float.NEGATIVE_INFINITY) {
                Arrays.fill(s, off, off + cols, 0f); // nothing visible yet: exp(−∞ − (−∞)) would be NaN
                continue;
            }
            float rowSum = kernels.expShifted(s, off, cols, mNew);
            if (mNew != mOld) {
                float alpha = PolynomialExp.exp(mOld - mNew); // 0 on the first visible tile
                acc.scale(r * dim, dim, alpha);
                sum.scale(r, 1, alpha);
                max[r] = mNew;
            }
            sumTarget[r] += rowSum;
        }
        kernels.accumulateProduct(s, rows, cols, v, vOff, dim, accTarget, 0);
    }

    /** {@link #finish} with the sink logit {@code sink} in every row's denominator. */
    void finish(float[] out, float[] lse, int lseOff, double sink) {
        sum.fold();
        acc.fold();
        float sg = (float) sink;
        for (int r = 0; r < rows; r++) {
            int base = r * dim;
            float l = sum.total[r];
            if (l == 0f) {
                Arrays.fill(out, base, base + dim, 0f);
                lse[lseOff + r] = sg;
                continue;
            }
            float m = max[r];
            float top = Math.max(m, sg);
            float a = (float) StrictMath.exp(m - top);
            float denominator = a * l + (float) StrictMath.exp(sg - top);
            float f = a / denominator;
            for (int x = base; x < base + dim; x++) {
                out[x] = acc.total[x] * f;
            }
            lse[lseOff + r] = (float) (top + Math.log(denominator));
        }
    }

    /**
     * Merges the partial state (m₂, l₂, õ₂) of {@code rows} rows into (m₁, l₁, õ₁), in place (õ is
     * [rows × dim]); a row that has seen no key on one side takes the other side's state.
     */
    static void merge(float[] m1, float[] l1, float[] o1, float[] m2, float[] l2, float[] o2, int rows, int dim) {
        for (int r = 0; r < rows; r++) {
            float m = Math.max(m1[r], m2[r]);
            if (m == Float.NEGATIVE_INFINITY) {
                continue; // neither side has seen a key: exp(−∞ − (−∞)) would be NaN
            }
            float a1 = PolynomialExp.exp(m1[r] - m); // 0 for a side that has seen nothing
            float a2 = PolynomialExp.exp(m2[r] - m);
            l1[r] = a1 * l1[r] + a2 * l2[r];
            for (int x = r * dim; x < (r + 1) * dim; x++) {
                o1[x] = a1 * o1[x] + a2 * o2[x];
            }
            m1[r] = m;
        }
    }

    /** Writes o = õ / l into {@code out} [rows × d] and LSE = m + log l into {@code lse[lseOff ..]}. */
    void finish(float[] out, float[] lse, int lseOff) {
        sum.fold();
        acc.fold();
        for (int r = 0; r < rows; r++) {
            int base = r * dim;
            float l = sum.total[r];
            if (l == 0f) {
                Arrays.fill(out, base, base + dim, 0f);
                lse[lseOff + r] = Float.NEGATIVE_INFINITY;
                continue;
            }
            for (int x = base; x < base + dim; x++) {
                out[x] = acc.total[x] / l;
            }
            lse[lseOff + r] = (float) (max[r] + Math.log(l));
        }
    }
}

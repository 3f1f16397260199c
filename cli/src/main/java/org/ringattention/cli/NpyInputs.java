package org.ringattention.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import org.ringattention.attention.AlibiSlopes;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSinks;
import org.ringattention.attention.KeepMask;
import org.ringattention.attention.ScoreBias;
import org.ringattention.attention.SegmentIds;
import org.ringattention.attention.SequenceLengths;
import org.ringattention.tensor.DType;
import org.ringattention.tensor.NpyArray;
import org.ringattention.tensor.Tensor;

/**
 * Loads the attend command's {@code .npy} inputs (or {@code FILE.safetensors:NAME} tensors, see
 * {@link TensorPath}) and checks them, naming the file in every message. Tensors of rank 2
 * [N, d] and 3 [H, N, d] are taken as [1, 1, N, d] and [1, H, N, d].
 */
final class NpyInputs {

    private NpyInputs() {
    }

    /**
     * A loaded floating-point input: its file, its [B, H, N, d] sizes, its rank in the file, and the
     * file's layout ({@link TensorLayout}; values come out in [B, H, N, d] order).
     */
    record Input(Path file, int[] dims, int rank, NpyArray array, TensorLayout layout, long[] fileShape) {

        Input(Path file, int[] dims, int rank, NpyArray array) {
            this(file, dims, rank, array, TensorLayout.BHND);
        }

        Input(Path file, int[] dims, int rank, NpyArray array, TensorLayout layout) {
            this(file, dims, rank, array, layout, array.shape());
        }

        /** The [B, H, N] sizes an LSE of these queries has in its file (rank − 1 of them, like the file's). */
        long[] lseShape() {
            long[] all = {dims[0], dims[1], dims[2]};
            return java.util.Arrays.copyOfRange(all, 4 - rank, 3);
        }

        /** [B, H, N, d] values of an output shaped like this input, in the file's layout. */
        float[] toFile(float[] x) {
            return layout.transposes(rank) ? TensorLayout.toTokensFirst(x, dims) : x;
        }

        double[] toFile(double[] x) {
            return layout.transposes(rank) ? TensorLayout.toTokensFirst(x, dims) : x;
        }

        int batch() {
            return dims[0];
        }

        int heads() {
            return dims[1];
        }

        int rows() {
            return dims[2];
        }

        int dim() {
            return dims[3];
        }

        String shape() {
            return Arrays.toString(fileShape);
        }

        /** float32 values as a tensor; refuses NaN and infinities, and float64 values beyond float32's range. */
        Tensor toTensor() throws IOException {
            float[] data = array.toFloatArray();
            for (int i = 0; i < data.length; i++) {
                if (!Float.isFinite(data[i])) {
                    double original = array.dtype() == DType.FLOAT64 ? array.toDoubleArray()[i] : data[i];
                    throw CliException.data(file + ": " + (Double.isFinite(original)
                            ? "value " + original + " at index " + index(i) + " overflows float32 (use --precision float64)"
                            : "contains " + original + " at index " + index(i) + "; inputs must be finite"));
                }
            }
            if (layout.transposes(rank)) {
                data = TensorLayout.toHeadsFirst(data, dims);
            }
            return Tensor.wrap(data, dims[0], dims[1], dims[2], dims[3]);
        }

        /** float64 values; refuses NaN and infinities. */
        double[] toDoubles() throws IOException {
            double[] data = array.toDoubleArray();
            for (int i = 0; i < data.length; i++) {
                if (!Double.isFinite(data[i])) {
                    throw CliException.data(file + ": contains " + data[i] + " at index " + index(i)
                            + "; inputs must be finite");
                }
            }
            return layout.transposes(rank) ? TensorLayout.toHeadsFirst(data, dims) : data;
        }

        /** Flat index i as the file's own multi-index, e.g. [0, 3, 17, 5]. */
        String index(long i) {
            long[] shape = fileShape;
            long[] at = new long[shape.length];
            for (int x = shape.length - 1; x >= 0; x--) {
                at[x] = i % shape[x];
                i /= shape[x];
            }
            return Arrays.toString(at);
        }
    }

    /** Reads a {@code .npy} file or a {@code FILE.safetensors:NAME} tensor. */
    static NpyArray read(Path file) throws IOException {
        return TensorPath.of(file, null).read();
    }

    /** Reads like {@link #read(Path)}; with {@code bf16Bits} a uint16 array is taken as bfloat16 bit patterns. */
    static NpyArray read(Path file, boolean bf16Bits) throws IOException {
        NpyArray a = read(file);
        return bf16Bits && a.dtype() == DType.UINT16 ? a.asBFloat16Bits() : a;
    }

    /** The one-line refusal of a non-floating array, with the hint for uint16. */
    static CliException notFloating(Path file, DType dtype, String need) {
        return CliException.data(file + ": dtype " + dtype + " is not floating point (" + need + ")"
                + (dtype == DType.UINT16 ? "; pass --bf16-bits if it holds bfloat16 bit patterns" : ""));
    }

    /** Reads a q, k, v or dO file: floating point, rank 2 to 4, no zero-size dimension. */
    static Input tensor(Path file) throws IOException {
        return tensor(file, false);
    }

    /** Reads like {@link #tensor(Path)}; with {@code bf16Bits} a uint16 array is taken as bfloat16 bit patterns. */
    static Input tensor(Path file, boolean bf16Bits) throws IOException {
        return tensor(file, bf16Bits, TensorLayout.BHND);
    }

    /** Reads like {@link #tensor(Path, boolean)} a file in {@code layout} ([B, N, H, d] for bnhd). */
    static Input tensor(Path file, boolean bf16Bits, TensorLayout layout) throws IOException {
        NpyArray a = read(file, bf16Bits);
        if (!a.dtype().isFloating()) {
            throw notFloating(file, a.dtype(), "need float16, bfloat16, float32 or float64");
        }
        return shaped(file, a.shape(), a, layout);
    }

    /**
     * A q, k or v file whose values stay where they are (a memory-mapped float32 file, see
     * {@link org.ringattention.tensor.MappedNpy}): its shape checked as {@link #tensor(Path)} checks
     * it, no values ({@link Input#array()} is null).
     */
    static Input header(Path file, long[] shape) {
        return shaped(file, shape, null, TensorLayout.BHND);
    }

    private static Input shaped(Path file, long[] shape, NpyArray a, TensorLayout layout) {
        if (shape.length < 2 || shape.length > 4) {
            throw CliException.data(file + ": shape " + Arrays.toString(shape) + " has rank " + shape.length
                    + (layout == TensorLayout.BNHD ? "; need [B, N, H, d], [N, H, d] or [N, d] (--tensor-layout bnhd)"
                            : "; need [B, H, N, d], [H, N, d] or [N, d]"));
        }
        int[] dims = {1, 1, 1, 1};
        for (int i = 0; i < shape.length; i++) {
            long n = shape[i];
            if (n < 1) {
                throw CliException.data(file + ": shape " + Arrays.toString(shape) + " has an empty dimension");
            }
            if (n > Integer.MAX_VALUE - 8) {
                throw CliException.data(file + ": dimension " + n + " is too large");
            }
            dims[4 - shape.length + i] = (int) n;
        }
        if (layout.transposes(shape.length)) { // the file is [B, N, H, d]
            int n = dims[1];
            dims[1] = dims[2];
            dims[2] = n;
        }
        return new Input(file, dims, shape.length, a, layout, shape.clone());
    }

    /** Checks that q, k and v fit together (ranks, head dims, batch, GQA groups) and returns their shape. */
    static AttentionShape attentionShape(Input qIn, Input kIn, Input vIn) {
        Path q = qIn.file();
        Path k = kIn.file();
        Path v = vIn.file();
        if (kIn.rank() != qIn.rank() || vIn.rank() != qIn.rank()) {
            throw CliException.data("ranks differ: " + q + " " + qIn.shape() + ", " + k + " " + kIn.shape() + ", " + v
                    + " " + vIn.shape());
        }
        if (kIn.dim() != qIn.dim()) {
            throw CliException.data(k + ": head dim " + kIn.dim() + " (shape " + kIn.shape() + ") differs from " + q
                    + " head dim " + qIn.dim() + " (shape " + qIn.shape() + ")");
        }
        if (!Arrays.equals(vIn.dims(), kIn.dims())) {
            throw CliException.data(v + ": shape " + vIn.shape() + " differs from " + k + " shape " + kIn.shape());
        }
        if (kIn.batch() != qIn.batch()) {
            throw CliException.data(k + ": batch " + kIn.batch() + " differs from " + q + " batch " + qIn.batch());
        }
        if (qIn.heads() % kIn.heads() != 0) {
            throw CliException.data(q + ": " + qIn.heads() + " query heads are not a multiple of the " + kIn.heads()
                    + " key/value heads of " + k);
        }
        return new AttentionShape(qIn.batch(), qIn.heads(), kIn.heads(), qIn.rows(), kIn.rows(), qIn.dim());
    }

    /** Reads segment ids: int32 or int64, shape [B, N] (or [N] when B = 1). */
    static SegmentIds segments(Path file, int batch, int length) throws IOException {
        NpyArray a = read(file);
        if (a.dtype() != DType.INT32 && a.dtype() != DType.INT64) {
            throw CliException.data(file + ": segment ids must be int32 or int64, got " + a.dtype());
        }
        long[] shape = a.shape();
        boolean ok = (shape.length == 2 && shape[0] == batch && shape[1] == length)
                || (shape.length == 1 && batch == 1 && shape[0] == length);
        if (!ok) {
            throw CliException.data(file + ": segment ids have shape " + Arrays.toString(shape) + ", expected ["
                    + batch + ", " + length + "] (batch, sequence length of q and k)");
        }
        return SegmentIds.of(a.toLongArray(), batch, length);
    }

    /**
     * Reads cu_seqlens_q and cu_seqlens_k (int32 or int64, [S + 1] each, from 0 to Nq and Nk, never
     * decreasing, the same S) for q of {@code shape}, which must have a batch of one.
     */
    static SequenceLengths sequenceLengths(Path cq, Path ck, Path q, AttentionShape shape) throws IOException {
        long[] lq = cumulative(cq, "cu_seqlens_q", shape.qLen(), "query length of " + q);
        long[] lk = cumulative(ck, "cu_seqlens_k", shape.kvLen(), "key length of k");
        if (lq.length != lk.length) {
            throw CliException.data(cq + ": holds " + (lq.length - 1) + " sequences but " + ck + " holds "
                    + (lk.length - 1) + " (cu_seqlens_q and cu_seqlens_k need the same length S+1)");
        }
        if (shape.batch() != 1) {
            throw CliException.data(q + ": batch " + shape.batch() + " with --cu-seqlens-q " + cq + "; packed"
                    + " sequences need [1, H, total, d]");
        }
        return SequenceLengths.of(lq, lk);
    }

    private static long[] cumulative(Path file, String what, int total, String totalName) throws IOException {
        NpyArray a = read(file);
        if (a.dtype() != DType.INT32 && a.dtype() != DType.INT64) {
            throw CliException.data(file + ": " + what + " must be int32 or int64, got " + a.dtype());
        }
        long[] shape = a.shape();
        if (shape.length != 1 || shape[0] < 2) {
            throw CliException.data(file + ": " + what + " has shape " + Arrays.toString(shape)
                    + ", expected [S+1] with S >= 1 sequences");
        }
        long[] cu = a.toLongArray();
        if (cu[0] != 0) {
            throw CliException.data(file + ": " + what + " must start at 0, got " + cu[0]);
        }
        for (int s = 1; s < cu.length; s++) {
            if (cu[s] < cu[s - 1]) {
                throw CliException.data(file + ": " + what + " decreases at index " + s + " (" + cu[s - 1] + " then "
                        + cu[s] + "); it must be monotone");
            }
        }
        if (cu[cu.length - 1] != total) {
            throw CliException.data(file + ": " + what + " ends at " + cu[cu.length - 1] + ", but the " + totalName
                    + " is " + total);
        }
        return cu;
    }

    /** Reads ALiBi slopes: floating point, finite, shape [Hq] or [B, Hq]. */
    static AlibiSlopes alibi(Path file, int batch, int heads) throws IOException {
        double[] x = floats(file, "ALiBi slopes");
        long[] shape = read(file).shape();
        if (shape.length == 1 && shape[0] == heads) {
            return AlibiSlopes.perHead(x);
        }
        if (shape.length == 2 && shape[0] == batch && shape[1] == heads) {
            return AlibiSlopes.perBatchAndHead(x, batch, heads);
        }
        throw CliException.data(file + ": ALiBi slopes have shape " + Arrays.toString(shape) + ", expected [" + heads
                + "] or [" + batch + ", " + heads + "] (query heads of q)");
    }

    /** Reads a keep mask: bool, broadcast from [B|1, Hq|1, Nq, Nk]. */
    static KeepMask keepMask(Path file, AttentionShape shape) throws IOException {
        NpyArray a = read(file);
        if (a.dtype() != DType.BOOL) {
            throw CliException.data(file + ": the keep mask must be bool (True = keep), got " + a.dtype());
        }
        int[] d = pairShape(file, a.shape(), shape, "keep mask");
        return KeepMask.of(a.toBooleanArray(), d[0], d[1], d[2], d[3]);
    }

    /** Reads a score bias: floating point, finite, broadcast from [B|1, Hq|1, Nq, Nk]. */
    static ScoreBias bias(Path file, AttentionShape shape) throws IOException {
        double[] x = floats(file, "bias values");
        int[] d = pairShape(file, read(file).shape(), shape, "bias");
        return ScoreBias.of(x, d[0], d[1], d[2], d[3]);
    }

    /** The [B|1, Hq|1, Nq, Nk] sizes of a mask or bias of rank 2 to 4 (leading sizes 1 when absent). */
    private static int[] pairShape(Path file, long[] s, AttentionShape shape, String what) {
        long[] full = {1, 1, 1, 1};
        if (s.length >= 2 && s.length <= 4) {
            System.arraycopy(s, 0, full, 4 - s.length, s.length);
        }
        boolean ok = s.length >= 2 && s.length <= 4 && (full[0] == 1 || full[0] == shape.batch())
                && (full[1] == 1 || full[1] == shape.qHeads()) && full[2] == shape.qLen() && full[3] == shape.kvLen();
        if (!ok) {
            throw CliException.data(file + ": the " + what + " has shape " + Arrays.toString(s) + ", which does not"
                    + " broadcast to [" + shape.batch() + ", " + shape.qHeads() + ", " + shape.qLen() + ", "
                    + shape.kvLen() + "] (B|1, Hq|1, Nq, Nk)");
        }
        return new int[] {(int) full[0], (int) full[1], (int) full[2], (int) full[3]};
    }

    /** Reads attention sinks: floating point, finite, shape [Hq]. */
    static AttentionSinks sinks(Path file, int heads) throws IOException {
        double[] x = floats(file, "sink logits");
        long[] shape = read(file).shape();
        if (shape.length != 1 || shape[0] != heads) {
            throw CliException.data(file + ": sinks have shape " + Arrays.toString(shape) + ", expected [" + heads
                    + "] (one logit per query head of q)");
        }
        return AttentionSinks.of(x);
    }

    /** The finite floating-point values of a small input ({@code what} names it in messages). */
    static double[] floats(Path file, String what) throws IOException {
        NpyArray a = read(file);
        if (!a.dtype().isFloating()) {
            throw CliException.data(file + ": " + what + " must be floating point, got " + a.dtype());
        }
        double[] x = a.toDoubleArray();
        for (int i = 0; i < x.length; i++) {
            if (!Double.isFinite(x[i])) {
                throw CliException.data(file + ": " + what + " contain " + x[i] + " at index " + i
                        + "; they must be finite");
            }
        }
        return x;
    }
}

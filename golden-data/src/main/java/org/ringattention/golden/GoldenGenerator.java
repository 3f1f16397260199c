package org.ringattention.golden;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.ringattention.check.AccuracyRule;
import org.ringattention.tensor.DType;
import org.ringattention.tensor.Npy;
import org.ringattention.tensor.NpyHeader;
import org.ringattention.tensor.StagedFiles;

/**
 * Builds the golden set: for every case its inputs ({@link CaseInputs#generate}), the float64
 * oracle's outputs, the float32 baseline's errors and the bounds they give, written as
 * {@code cases/<name>/*.npy} and {@code manifest.json}.
 *
 * <p>Deterministic: the bytes depend only on the case list and the engine's float64 and float32
 * vanilla attention, so generating twice gives identical files. All files are written to
 * temporary files first and renamed over the old ones only when every one is written.
 */
public final class GoldenGenerator {

    /** File name of the manifest in the set's folder. */
    public static final String MANIFEST = "manifest.json";

    /** Format name and version written to the manifest. */
    public static final String FORMAT = "ring-attention-golden";
    public static final int VERSION = 1;

    /** The float64 vanilla path must match the stored reference to this fraction of max|ref|. */
    public static final double FLOAT64_RELATIVE = 1e-12;

    /** The independent NumPy implementation must match the stored reference to this fraction of max|ref|. */
    public static final double NUMPY_RELATIVE = 1e-10;

    /** Stored input names, in file order. */
    static final List<String> INPUTS = List.of("q", "k", "v", "do");

    private GoldenGenerator() {
    }

    /** What was written. */
    public record Result(int cases, int files, long bytes) {
    }

    /**
     * Writes the set for {@code cases} into {@code dir} (created if missing), replacing files of
     * the same names; {@code progress} is told each case's name when it is done.
     */
    public static Result generate(Path dir, List<GoldenCase> cases, Consumer<String> progress) throws IOException {
        Files.createDirectories(dir);
        List<Object> entries = new ArrayList<>();
        try (StagedFiles out = new StagedFiles()) {
            for (GoldenCase c : cases) {
                entries.add(generateCase(dir, c, out));
                progress.accept(c.name());
            }
            Map<String, Object> manifest = manifest(entries);
            byte[] json = Json.write(manifest).getBytes(StandardCharsets.UTF_8);
            out.stage(dir.resolve(MANIFEST), temp -> Files.write(temp, json));
            Result r = new Result(cases.size(), out.count(), out.bytes());
            out.commit();
            return r;
        }
    }

    private static Map<String, Object> generateCase(Path dir, GoldenCase c, StagedFiles out) throws IOException {
        CaseInputs in = CaseInputs.generate(c);
        Outputs ref = EnginePaths.reference(c, in);
        Outputs base = EnginePaths.baseline(c, in);
        String folder = "cases/" + c.name() + "/";
        Files.createDirectories(dir.resolve(folder));

        Map<String, Object> files = new LinkedHashMap<>();
        double[][] inputs = {in.q(), in.k(), in.v(), in.dOut()};
        long[][] inputShapes = {c.qShape(), c.kvShape(), c.kvShape(), c.qShape()};
        for (int i = 0; i < INPUTS.size(); i++) {
            String file = folder + INPUTS.get(i) + ".npy";
            double[] data = inputs[i];
            long[] shape = inputShapes[i];
            out.stage(dir.resolve(file), temp -> writeFloat(temp, shape, data, c.dtype()));
            files.put(INPUTS.get(i), file);
        }
        if (c.hasSegments()) {
            String file = folder + "segments.npy";
            long[] ids = in.segments();
            out.stage(dir.resolve(file), temp -> {
                if (c.segmentDtype() == DType.INT64) {
                    Npy.writeInt64(temp, c.segmentShape(), ids);
                } else {
                    int[] small = new int[ids.length];
                    for (int i = 0; i < ids.length; i++) {
                        small[i] = Math.toIntExact(ids[i]);
                    }
                    Npy.writeInt32(temp, c.segmentShape(), small);
                }
            });
            files.put("segments", file);
        }
        if (c.alibi() != GoldenCase.Alibi.NONE) {
            String file = folder + "alibi.npy";
            double[] slopes = c.alibiSlopes();
            out.stage(dir.resolve(file), temp -> Npy.write(temp, c.alibiShape(), slopes));
            files.put("alibi", file);
        }
        if (c.maskKind() > 0) {
            String file = folder + "mask.npy";
            boolean[] keep = in.keep();
            out.stage(dir.resolve(file), temp -> Npy.writeBool(temp, c.pairShape(c.maskKind()), keep));
            files.put("mask", file);
        }
        if (c.biasKind() > 0) {
            String file = folder + "bias.npy";
            double[] bias = in.bias();
            out.stage(dir.resolve(file), temp -> Npy.write(temp, c.pairShape(c.biasKind()), bias));
            files.put("bias", file);
        }
        if (c.hasVarlen()) {
            for (String side : List.of("q", "k")) {
                String file = folder + "cu_seqlens_" + side + ".npy";
                int[] cu = (side.equals("q") ? c.cuSeqlensQ() : c.cuSeqlensK()).stream().mapToInt(Integer::intValue)
                        .toArray();
                out.stage(dir.resolve(file), temp -> Npy.writeInt32(temp, new long[] {cu.length}, cu));
                files.put("cu_seqlens_" + side, file);
            }
        }
        if (c.hasSinks()) {
            String file = folder + "sinks.npy";
            double[] logits = c.sinkLogits();
            out.stage(dir.resolve(file), temp -> Npy.write(temp, new long[] {c.qHeads()}, logits));
            files.put("sinks", file);
        }
        Map<String, Object> tolerance = new LinkedHashMap<>();
        Map<String, Object> refMax = new LinkedHashMap<>();
        for (Output o : c.outputs()) {
            String file = folder + o.key() + ".npy";
            double[] data = ref.get(o);
            long[] shape = c.outputShape(o);
            out.stage(dir.resolve(file), temp -> Npy.write(temp, shape, data));
            files.put(o.key(), file);
            tolerance.put(o.key(), Tolerance.of(o, in, ref, base).toJson());
            refMax.put(o.key(), org.ringattention.check.ErrorStats.maxAbs(data));
        }
        int empty = 0;
        if (c.hasSinks()) { // their LSE is the sink's logit: ask the mask
            org.ringattention.attention.Mask mask = org.ringattention.attention.Mask.of(in.spec(c), c.shape());
            for (int b = 0; b < c.batch(); b++) {
                for (int i = 0; i < c.qLen(); i++) {
                    for (int h = 0; h < c.qHeads(); h++) {
                        boolean sees = false;
                        for (int j = 0; j < c.kvLen() && !sees; j++) {
                            sees = mask.visible(b, h, i, j);
                        }
                        empty += sees ? 0 : 1;
                    }
                }
            }
        } else {
            for (double l : ref.lse()) {
                if (l == Double.NEGATIVE_INFINITY) {
                    empty++;
                }
            }
        }
        Map<String, Object> entry = c.toJson();
        entry.put("files", files);
        entry.put("rows_seeing_no_key", empty);
        entry.put("reference_max_abs", refMax);
        entry.put("tolerance", tolerance);
        return entry;
    }

    private static Map<String, Object> manifest(List<Object> cases) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", FORMAT);
        m.put("version", VERSION);
        m.put("description", "Golden cases for exact softmax attention: inputs (.npy) and float64 reference"
                + " outputs O, LSE, dQ, dK, dV of the float64 oracle, with the bound a float32 implementation"
                + " is held to for each. Semantics: README.md of the ring-attention project, section Semantics.");
        m.put("generated_by", "ring-attention golden generate (org.ringattention.golden.GoldenGenerator);"
                + " references by the float64 oracle org.ringattention.attention.VanillaAttention,"
                + " cross-checked by numpy_reference.py");
        Map<String, Object> layout = new LinkedHashMap<>();
        layout.put("q", "[B, Hq, Nq, d], input dtype of the case");
        layout.put("k", "[B, Hkv, Nk, d]");
        layout.put("v", "[B, Hkv, Nk, d]");
        layout.put("do", "[B, Hq, Nq, d]: upstream gradient; dq, dk, dv are the gradients of sum(do * o)");
        layout.put("segments", "[B, N] int32 or int64, only for cases with segments");
        layout.put("alibi", "[Hq] or [B, Hq] float64 ALiBi slopes, only for cases with ALiBi");
        layout.put("sinks", "[Hq] float64 attention sink logits, only for cases with sinks");
        layout.put("mask", "[B|1, Hq|1, Nq, Nk] bool keep mask (True = keep), only for cases with a mask");
        layout.put("bias", "[B|1, Hq|1, Nq, Nk] float64 score bias (added after ALiBi), only for cases with a bias");
        layout.put("cu_seqlens_q", "[S+1] int32 cumulative query lengths of packed sequences (FlashAttention's varlen,"
                + " B = 1), only for varlen cases; also listed in mask.cu_seqlens_q");
        layout.put("cu_seqlens_k", "[S+1] int32 cumulative key lengths, with cu_seqlens_q");
        layout.put("o", "[B, Hq, Nq, d] float64");
        layout.put("lse", "[B, Hq, Nq] float64, natural log; -inf for a row that sees no key (its o row is 0), or its"
                + " head's sink logit with sinks");
        layout.put("dq", "[B, Hq, Nq, d] float64");
        layout.put("dk", "[B, Hkv, Nk, d] float64 (with GQA, summed over the query heads of the group)");
        layout.put("dv", "[B, Hkv, Nk, d] float64");
        layout.put("dsinks", "[Hq] float64: the gradient of sum(do * o) with respect to the sink logits,"
                + " -sum over b, i of exp(sink_h - lse_i) * rowsum(do_i * o_i); only for cases with sink_gradient");
        m.put("files", layout);
        m.put("tolerance", toleranceSection());
        m.put("cases", cases);
        return m;
    }

    private static Map<String, Object> toleranceSection() {
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("rule", "max|got - ref| <= factor * max|baseline - ref| + eps, eps = 8 * 2^-24 * M");
        t.put("error", "largest absolute elementwise difference from the float64 reference; equal infinities"
                + " (lse = -inf of a row that sees no key) count as 0, NaN or any other infinity as infinite");
        t.put("baseline", "plain float32 vanilla attention: scores materialized, every operation rounded to float32,"
                + " on the inputs rounded to float32 (org.ringattention.attention.VanillaAttention FLOAT32)");
        Map<String, Object> factor = new LinkedHashMap<>();
        for (Output o : Output.values()) {
            factor.put(o.key(), o.rule().factor());
        }
        t.put("factor", factor);
        t.put("eps_units", AccuracyRule.FORWARD.epsilonUnits());
        t.put("unit_roundoff", AccuracyRule.U32);
        Map<String, Object> mag = new LinkedHashMap<>();
        mag.put("o", "max|v|");
        mag.put("lse", "max|lse| + 1 (finite entries)");
        mag.put("dq", "max|dq|");
        mag.put("dk", "max|dk|");
        mag.put("dv", "max|dv|");
        mag.put("dsinks", "max|dsinks|");
        t.put("magnitude", mag);
        t.put("derivation", List.of(
                "A float32 implementation cannot be held to a fixed tolerance: its rounding error grows with N, d,"
                        + " the spread of the scores and the size of the outputs. It is held instead to what plain"
                        + " float32 attention achieves on the same inputs (the baseline, recorded per case as"
                        + " baseline_error): a correct implementation reorders the same sums and roundings, so its"
                        + " error is of the same size, while a real bug gives errors hundreds to millions of times"
                        + " larger.",
                "factor 2 for o and lse: a blockwise or online-softmax path adds a rescaling exp(m - m') and a"
                        + " division by l per row, a few more roundings than the baseline per term; twice the baseline"
                        + " leaves room for that.",
                "factor 3 for dq, dk, dv: the backward pass recomputes P from the float32 LSE (one more rounded"
                        + " quantity that enters every term) and sums over query blocks and GQA heads in another"
                        + " order.",
                "factor 3 for dsinks too: a sum over the rows of exp(sink - lse) * rowsum(do * o), made of the"
                        + " float32 forward outputs, summed in another order than the baseline's.",
                "eps = 8 u M, u = 2^-24: a handful of final roundings one path makes and the other does not"
                        + " (division by l, rescaling, the final scale, conversion to float32), each at most u M. It"
                        + " matters only where the baseline is almost exact (one key, d = 1).",
                "M is the magnitude the output is made of: each o row is a convex combination of v rows, so"
                        + " |o| <= max|v| whatever cancellation makes o small; lse = m + log l with log l >= 0;"
                        + " gradients are measured against their own largest element.",
                "The float64 references are checked to " + NUMPY_RELATIVE + " of max|ref| by an independent NumPy"
                        + " implementation (numpy_reference.py), and the oracle's gradients against central finite"
                        + " differences in the test suite. An implementation that computes in float64 should match to"
                        + " about 1e-12 of max|ref|."));
        t.put("float64_relative", FLOAT64_RELATIVE);
        t.put("numpy_relative", NUMPY_RELATIVE);
        return t;
    }

    /** Writes float values of {@code dtype} (all exactly representable in it). */
    static void writeFloat(Path file, long[] shape, double[] data, DType dtype) throws IOException {
        switch (dtype) {
            case FLOAT64 -> Npy.write(file, shape, data);
            case FLOAT32 -> Npy.write(file, shape, CaseInputs.toFloats(data));
            case FLOAT16 -> writeFloat16(file, shape, data);
            default -> throw new IllegalArgumentException("not a float dtype: " + dtype);
        }
    }

    /** A float16 .npy file as numpy.save writes it ({@link Npy} writes float32 and float64 only). */
    private static void writeFloat16(Path file, long[] shape, double[] data) throws IOException {
        byte[] header = NpyHeader.encode(shape, DType.FLOAT16);
        ByteBuffer buf = ByteBuffer.allocate(header.length + 2 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        buf.put(header);
        for (double x : data) {
            buf.putShort(Float.floatToFloat16((float) x));
        }
        Files.write(file, buf.array());
    }
}

package org.ringattention.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ringattention.tensor.Npy;

/**
 * Writes a case directory as the conformance contract states it (docs/conformance.md): q.npy,
 * k.npy, v.npy as [B, H, N, d], do.npy with gradients, segments.npy [B, N] int64 when the case
 * has segments, alibi.npy [Hq] and sinks.npy [Hq] float32, mask.npy [B, 1, Nq, Nk] bool, bias.npy
 * [1, Hq, Nq, Nk] float32, cu_seqlens_q.npy [S + 1] int32 and cu_seqlens_k.npy [S + 1] int64 (both
 * integer types are in use) when the case has them, and case.json with every key of the contract
 * (a file name, or null when the case has no such input; softcap 0 for none). The implementation
 * then writes out.npy, lse.npy and, with gradients, dq.npy, dk.npy, dv.npy (and dsinks.npy [Hq]
 * when the case has sinks) beside them.
 */
final class ConformCaseDir {

    static final ObjectMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

    private ConformCaseDir() {
    }

    /** The contents of case.json, in the contract's key order. */
    static Map<String, Object> caseJson(ConformCase c, String dtype, boolean gradients) {
        return caseJson(c, dtype, gradients, TensorLayout.BHND);
    }

    /** The contents of case.json for tensors in {@code layout}. */
    static Map<String, Object> caseJson(ConformCase c, String dtype, boolean gradients, TensorLayout layout) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", c.name());
        m.put("causal", c.causal());
        m.put("causal_align", c.align() == org.ringattention.attention.AttentionSpec.CausalAlign.TOP_LEFT
                ? "top_left" : "bottom_right");
        m.put("window", c.hasWindow() ? List.of(c.windowLeft(), c.causal() ? 0 : c.windowRight()) : null);
        m.put("scale", c.effectiveScale());
        ConformCase.Rules r = c.rules();
        m.put("softcap", r.softcap());
        m.put("segments", c.segments() ? "segments.npy" : null);
        m.put("alibi", r.alibi() ? "alibi.npy" : null);
        m.put("sinks", r.sinks() ? "sinks.npy" : null);
        m.put("mask", r.mask() ? "mask.npy" : null);
        m.put("bias", r.bias() ? "bias.npy" : null);
        m.put("cu_seqlens_q", r.varlen() ? "cu_seqlens_q.npy" : null);
        m.put("cu_seqlens_k", r.varlen() ? "cu_seqlens_k.npy" : null);
        m.put("tensor_layout", layout == TensorLayout.BNHD ? "bnhd" : "bhnd");
        m.put("dtype", dtype);
        m.put("gradients", gradients);
        List<String> outputs = new ArrayList<>(List.of("out.npy", "lse.npy"));
        if (gradients) {
            outputs.addAll(List.of("dq.npy", "dk.npy", "dv.npy"));
            if (r.sinks()) {
                outputs.add("dsinks.npy");
            }
        }
        m.put("outputs", outputs);
        return m;
    }

    /** Creates {@code dir} and writes the case's inputs and case.json into it. */
    static void write(Path dir, ConformCase c, ConformCase.Inputs in, String dtype, boolean gradients)
            throws IOException {
        write(dir, c, in, dtype, gradients, TensorLayout.BHND);
    }

    /** Writes the case with q, k, v, dO in {@code layout} ([B, N, H, d] for bnhd). */
    static void write(Path dir, ConformCase c, ConformCase.Inputs in, String dtype, boolean gradients,
            TensorLayout layout) throws IOException {
        Files.createDirectories(dir);
        int[] qDims = {c.batch(), c.qHeads(), c.qLen(), c.dim()};
        int[] kvDims = {c.batch(), c.kvHeads(), c.kvLen(), c.dim()};
        writeTensor(dir.resolve("q.npy"), fileShape(qDims, layout), inLayout(in.q(), qDims, layout), dtype);
        writeTensor(dir.resolve("k.npy"), fileShape(kvDims, layout), inLayout(in.k(), kvDims, layout), dtype);
        writeTensor(dir.resolve("v.npy"), fileShape(kvDims, layout), inLayout(in.v(), kvDims, layout), dtype);
        if (gradients) {
            writeTensor(dir.resolve("do.npy"), fileShape(qDims, layout), inLayout(in.dO(), qDims, layout), dtype);
        }
        if (c.segments()) {
            Npy.writeInt64(dir.resolve("segments.npy"), new long[] {c.batch(), c.qLen()}, in.segmentIds());
        }
        ConformCase.Rules r = c.rules();
        if (r.alibi()) {
            Npy.write(dir.resolve("alibi.npy"), new long[] {c.qHeads()}, toFloats(in.alibi()));
        }
        if (r.sinks()) {
            Npy.write(dir.resolve("sinks.npy"), new long[] {c.qHeads()}, toFloats(in.sinks()));
        }
        if (r.mask()) {
            Npy.writeBool(dir.resolve("mask.npy"), new long[] {c.batch(), 1, c.qLen(), c.kvLen()}, in.keep());
        }
        if (r.bias()) {
            Npy.write(dir.resolve("bias.npy"), new long[] {1, c.qHeads(), c.qLen(), c.kvLen()}, toFloats(in.bias()));
        }
        if (r.varlen()) {
            int[] cq = java.util.Arrays.stream(in.cuQ()).mapToInt(Math::toIntExact).toArray();
            Npy.writeInt32(dir.resolve("cu_seqlens_q.npy"), new long[] {cq.length}, cq);
            Npy.writeInt64(dir.resolve("cu_seqlens_k.npy"), new long[] {in.cuK().length}, in.cuK());
        }
        JSON.writeValue(dir.resolve("case.json").toFile(), caseJson(c, dtype, gradients, layout));
    }

    /** The file shape of a tensor of [B, H, N, d] sizes {@code dims}: [B, N, H, d] for bnhd. */
    static long[] fileShape(int[] dims, TensorLayout layout) {
        return layout == TensorLayout.BNHD ? new long[] {dims[0], dims[2], dims[1], dims[3]}
                : new long[] {dims[0], dims[1], dims[2], dims[3]};
    }

    private static double[] inLayout(double[] x, int[] dims, TensorLayout layout) {
        return layout == TensorLayout.BNHD ? TensorLayout.toTokensFirst(x, dims) : x;
    }

    /** float32 as '<f4', float16 as '<f2', bfloat16 as '<V2' (ml_dtypes' form; view it as uint16 bits). */
    private static void writeTensor(Path file, long[] shape, double[] x, String dtype) throws IOException {
        switch (dtype) {
            case "float16" -> Npy.writeFloat16(file, shape, toFloats(x));
            case "bfloat16" -> Npy.writeBFloat16(file, shape, toFloats(x), false);
            default -> Npy.write(file, shape, toFloats(x));
        }
    }

    private static float[] toFloats(double[] x) {
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            f[i] = (float) x[i];
        }
        return f;
    }
}

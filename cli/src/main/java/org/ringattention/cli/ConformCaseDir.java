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
 * has segments, and case.json with every key of the contract; features the engine does not have
 * yet are written as null (files) or 0 (softcap), so an implementation can refuse what it does not
 * know. The implementation then writes out.npy, lse.npy and, with gradients, dq.npy, dk.npy, dv.npy
 * beside them.
 */
final class ConformCaseDir {

    static final ObjectMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

    private ConformCaseDir() {
    }

    /** The contents of case.json, in the contract's key order. */
    static Map<String, Object> caseJson(ConformCase c, String dtype, boolean gradients) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", c.name());
        m.put("causal", c.causal());
        m.put("causal_align", c.align() == org.ringattention.attention.AttentionSpec.CausalAlign.TOP_LEFT
                ? "top_left" : "bottom_right");
        m.put("window", c.hasWindow() ? List.of(c.windowLeft(), c.causal() ? 0 : c.windowRight()) : null);
        m.put("scale", c.effectiveScale());
        m.put("softcap", 0.0);
        m.put("segments", c.segments() ? "segments.npy" : null);
        m.put("alibi", null);
        m.put("sinks", null);
        m.put("mask", null);
        m.put("bias", null);
        m.put("cu_seqlens_q", null);
        m.put("cu_seqlens_k", null);
        m.put("tensor_layout", "bhnd");
        m.put("dtype", dtype);
        m.put("gradients", gradients);
        List<String> outputs = new ArrayList<>(List.of("out.npy", "lse.npy"));
        if (gradients) {
            outputs.addAll(List.of("dq.npy", "dk.npy", "dv.npy"));
        }
        m.put("outputs", outputs);
        return m;
    }

    /** Creates {@code dir} and writes the case's inputs and case.json into it. */
    static void write(Path dir, ConformCase c, ConformCase.Inputs in, String dtype, boolean gradients)
            throws IOException {
        Files.createDirectories(dir);
        long[] qShape = {c.batch(), c.qHeads(), c.qLen(), c.dim()};
        long[] kvShape = {c.batch(), c.kvHeads(), c.kvLen(), c.dim()};
        writeTensor(dir.resolve("q.npy"), qShape, in.q(), dtype);
        writeTensor(dir.resolve("k.npy"), kvShape, in.k(), dtype);
        writeTensor(dir.resolve("v.npy"), kvShape, in.v(), dtype);
        if (gradients) {
            writeTensor(dir.resolve("do.npy"), qShape, in.dO(), dtype);
        }
        if (c.segments()) {
            Npy.writeInt64(dir.resolve("segments.npy"), new long[] {c.batch(), c.qLen()}, in.segmentIds());
        }
        JSON.writeValue(dir.resolve("case.json").toFile(), caseJson(c, dtype, gradients));
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

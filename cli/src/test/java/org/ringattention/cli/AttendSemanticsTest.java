package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ringattention.attention.AlibiSlopes;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSinks;
import org.ringattention.attention.KeepMask;
import org.ringattention.attention.ScoreBias;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.BlockwiseAttention;
import org.ringattention.attention.Gradients;
import org.ringattention.attention.LowPrecisionAttention;
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.VanillaAttention;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;
import org.ringattention.ring.LinkModel;
import org.ringattention.ring.RingAttention;
import org.ringattention.tensor.Npy;
import org.ringattention.tensor.Tensor;

/**
 * The semantics options of attend (alignment, windows and the features of the conformance kit):
 * each gives the engine's result for the spec it names, on every path, and combinations the
 * engine does not support are usage errors naming both options.
 */
class AttendSemanticsTest {

    @TempDir
    Path dir;

    static final int B = 1;
    static final int HQ = 4;
    static final int HKV = 2;
    static final int NQ = 9;
    static final int NK = 11;
    static final int D = 5;

    final float[] q = CliRun.random(B * HQ * NQ * D, 11);
    final float[] k = CliRun.random(B * HKV * NK * D, 12);
    final float[] v = CliRun.random(B * HKV * NK * D, 13);
    final float[] dOut = CliRun.random(B * HQ * NQ * D, 14);

    @BeforeEach
    void writeInputs() throws IOException {
        Npy.write(dir.resolve("q.npy"), new long[] {B, HQ, NQ, D}, q);
        Npy.write(dir.resolve("k.npy"), new long[] {B, HKV, NK, D}, k);
        Npy.write(dir.resolve("v.npy"), new long[] {B, HKV, NK, D}, v);
        Npy.write(dir.resolve("do.npy"), new long[] {B, HQ, NQ, D}, dOut);
    }

    String[] base() {
        return new String[] {"attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o.npy"),
            "--lse", p("lse.npy"), "--do", p("do.npy"), "--dq", p("dq.npy"), "--dk", p("dk.npy"), "--dv", p("dv.npy"),
            "--block-q", "4", "--block-kv", "3", "--quiet"};
    }

    @Test
    void alignmentAndWindowReachEveryPath() throws IOException {
        String[] opts = {"--causal-align", "top-left", "--window-left", "3", "--window-right", "2"};
        AttentionSpec spec = AttentionSpec.DEFAULT.withCausalAlign(AttentionSpec.CausalAlign.TOP_LEFT).withWindow(3, 2);
        assertEveryPath(opts, spec);
        assertEveryPath(new String[] {"--causal", "--window-left", "4"}, AttentionSpec.DEFAULT.withWindow(5));
        assertEveryPath(new String[] {"--window-right", "0", "--causal-align", "top-left"},
                AttentionSpec.DEFAULT.withCausal(true).withCausalAlign(AttentionSpec.CausalAlign.TOP_LEFT));
    }

    @Test
    void softcapAndAlibiReachEveryPath() throws IOException {
        double[] slopes = {0.5, 0.25, 0.125, 0.0625};
        Npy.write(dir.resolve("alibi.npy"), new long[] {HQ}, slopes);
        double[] batched = {0.3, 0.2, 0.1, 0.05};
        Npy.write(dir.resolve("alibi_b.npy"), new long[] {1, HQ}, batched);
        assertEveryPath(new String[] {"--softcap", "0.7", "--causal"},
                AttentionSpec.DEFAULT.withCausal(true).withSoftcap(0.7));
        assertEveryPath(new String[] {"--alibi", p("alibi.npy"), "--causal-align", "top-left", "--causal"},
                AttentionSpec.DEFAULT.withCausal(true).withCausalAlign(AttentionSpec.CausalAlign.TOP_LEFT)
                        .withAlibi(AlibiSlopes.perHead(slopes)));
        assertEveryPath(new String[] {"--alibi", p("alibi_b.npy"), "--softcap", "2", "--window-left", "4"},
                AttentionSpec.DEFAULT.withWindow(4, -1).withSoftcap(2).withAlibi(AlibiSlopes.perBatchAndHead(batched,
                        1, HQ)));
    }

    @Test
    void sinksAndTheirGradientReachEveryPath() throws IOException {
        double[] logits = {0.5, -1, 2, 0};
        Npy.write(dir.resolve("sinks.npy"), new long[] {HQ}, logits);
        AttentionSinks sinks = AttentionSinks.of(logits);
        String[] opts = {"--sinks", p("sinks.npy"), "--causal", "--dsinks", p("dsinks.npy")};
        AttentionSpec spec = AttentionSpec.DEFAULT.withCausal(true).withSinks(sinks);
        assertEveryPath(opts, spec);
        Tensor qt = Tensor.wrap(q.clone(), B, HQ, NQ, D);
        Tensor kt = Tensor.wrap(k.clone(), B, HKV, NK, D);
        Tensor vt = Tensor.wrap(v.clone(), B, HKV, NK, D);
        CliRun r = CliRun.of(CliRun.concat(base(), opts));
        assertThat(r.code()).as(r.err()).isZero();
        AttentionOutput fwd = new BlockwiseAttention(Kernels.preferred(), 4, 3).forward(qt, kt, vt, spec);
        assertFloats("dsinks.npy", sinks.gradient(fwd, Tensor.wrap(dOut.clone(), B, HQ, NQ, D)));
        r = CliRun.of(CliRun.concat(CliRun.concat(base(), opts), "--precision", "float64"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(Npy.read(dir.resolve("dsinks.npy")).toDoubleArray()).isEqualTo(VanillaAttention.oracle()
                .sinkGradient(new AttentionShape(B, HQ, HKV, NQ, NK, D), spec, widen(q), widen(k), widen(v),
                        widen(dOut)));
        CliRun.of(CliRun.concat(base(), "--dsinks", p("ds.npy"))).assertOneLineError(2, "--dsinks", "--sinks");
        Npy.write(dir.resolve("sinks2.npy"), new long[] {2}, new double[] {1, 2});
        CliRun.of(CliRun.concat(base(), "--sinks", p("sinks2.npy"))).assertOneLineError(1, "sinks2.npy", "[4]");
    }

    @Test
    void maskAndBiasReachEveryPath() throws IOException {
        boolean[] keep = new boolean[NQ * NK];
        for (int e = 0; e < keep.length; e++) {
            keep[e] = (e * 7) % 5 != 0 && e / NK != 3; // row 3 keeps nothing
        }
        Npy.writeBool(dir.resolve("mask.npy"), new long[] {NQ, NK}, keep);
        float[] bias = CliRun.random(B * HQ * NQ * NK, 15);
        Npy.write(dir.resolve("bias.npy"), new long[] {B, HQ, NQ, NK}, bias);
        double[] biasD = widen(bias);
        assertEveryPath(new String[] {"--mask", p("mask.npy"), "--bias", p("bias.npy"), "--causal-align", "top-left",
            "--window-left", "6"}, AttentionSpec.DEFAULT.withCausalAlign(AttentionSpec.CausalAlign.TOP_LEFT)
                .withWindow(6, -1).withMask(KeepMask.of(keep, 1, 1, NQ, NK)).withBias(ScoreBias.of(biasD, B, HQ, NQ, NK)));
        Npy.writeBool(dir.resolve("mask_bad.npy"), new long[] {NQ, NK + 1}, new boolean[NQ * (NK + 1)]);
        CliRun.of(CliRun.concat(base(), "--mask", p("mask_bad.npy"))).assertOneLineError(1, "mask_bad.npy",
                "broadcast");
        CliRun.of(CliRun.concat(base(), "--mask", p("bias.npy"))).assertOneLineError(1, "bias.npy", "bool");
    }

    @Test
    void packedSequencesReachEveryPath() throws IOException {
        // 3 sequences: 2 queries / 6 keys, 0 / 2, 7 / 3 (Nq > Nk: rows that see no key bottom-right)
        Npy.writeInt32(dir.resolve("cq.npy"), new long[] {4}, new int[] {0, 2, 2, 9});
        Npy.writeInt64(dir.resolve("ck.npy"), new long[] {4}, new long[] {0, 6, 8, 11});
        org.ringattention.attention.SequenceLengths cu = org.ringattention.attention.SequenceLengths.of(
                new long[] {0, 2, 2, 9}, new long[] {0, 6, 8, 11});
        String[] opts = {"--cu-seqlens-q", p("cq.npy"), "--cu-seqlens-k", p("ck.npy")};
        assertEveryPath(CliRun.concat(opts, "--causal"), AttentionSpec.DEFAULT.withVarlen(cu).withCausal(true));
        double[] slopes = {0.5, 0.25, 0.125, 0.0625};
        Npy.write(dir.resolve("alibi.npy"), new long[] {HQ}, slopes);
        assertEveryPath(CliRun.concat(opts, "--causal-align", "top-left", "--window-left", "2", "--window-right", "1",
                "--alibi", p("alibi.npy"), "--softcap", "1.5"), AttentionSpec.DEFAULT.withVarlen(cu)
                        .withCausalAlign(AttentionSpec.CausalAlign.TOP_LEFT).withWindow(2, 1)
                        .withAlibi(AlibiSlopes.perHead(slopes)).withSoftcap(1.5));
    }

    @Test
    void badPackedSequencesAreRefusedNamingTheFile() throws IOException {
        Npy.writeInt32(dir.resolve("cq.npy"), new long[] {3}, new int[] {0, 5, 9});
        Npy.writeInt32(dir.resolve("ck.npy"), new long[] {3}, new int[] {0, 4, 11});
        Npy.writeInt32(dir.resolve("down.npy"), new long[] {3}, new int[] {0, 6, 4});
        Npy.writeInt32(dir.resolve("short.npy"), new long[] {3}, new int[] {0, 4, 10});
        Npy.writeInt32(dir.resolve("one.npy"), new long[] {3}, new int[] {1, 4, 11});
        Npy.writeInt32(dir.resolve("two.npy"), new long[] {2}, new int[] {0, 11});
        Npy.write(dir.resolve("float.npy"), new long[] {3}, new double[] {0, 4, 11});
        String cq = p("cq.npy");
        CliRun.of(CliRun.concat(base(), "--cu-seqlens-q", cq, "--cu-seqlens-k", p("down.npy")))
                .assertOneLineError(1, "down.npy", "monotone");
        CliRun.of(CliRun.concat(base(), "--cu-seqlens-q", cq, "--cu-seqlens-k", p("short.npy")))
                .assertOneLineError(1, "short.npy", "ends at 10", "11");
        CliRun.of(CliRun.concat(base(), "--cu-seqlens-q", cq, "--cu-seqlens-k", p("one.npy")))
                .assertOneLineError(1, "one.npy", "start at 0");
        CliRun.of(CliRun.concat(base(), "--cu-seqlens-q", cq, "--cu-seqlens-k", p("two.npy")))
                .assertOneLineError(1, "two.npy", "same length");
        CliRun.of(CliRun.concat(base(), "--cu-seqlens-q", cq, "--cu-seqlens-k", p("float.npy")))
                .assertOneLineError(1, "float.npy", "int32 or int64");
        CliRun.of(CliRun.concat(base(), "--cu-seqlens-q", cq)).assertOneLineError(2, "--cu-seqlens-q",
                "--cu-seqlens-k");
        Npy.writeInt32(dir.resolve("seg.npy"), new long[] {1, NQ}, new int[NQ]);
        CliRun.of(CliRun.concat(base(), "--cu-seqlens-q", cq, "--cu-seqlens-k", p("ck.npy"), "--segments",
                p("seg.npy"))).assertOneLineError(2, "--cu-seqlens-q", "--segments");
    }

    @Test
    void tokensFirstLayoutIsTransposedAtTheFilesOnly() throws IOException {
        CliRun r = CliRun.of(CliRun.concat(base(), "--causal"));
        assertThat(r.code()).as(r.err()).isZero();
        float[][] bhnd = new float[5][];
        String[] outs = {"o.npy", "lse.npy", "dq.npy", "dk.npy", "dv.npy"};
        for (int i = 0; i < outs.length; i++) {
            bhnd[i] = Npy.read(dir.resolve(outs[i])).toFloatArray();
        }
        int[] qDims = {B, HQ, NQ, D};
        int[] kvDims = {B, HKV, NK, D};
        Npy.write(dir.resolve("q.npy"), new long[] {B, NQ, HQ, D}, TensorLayout.toTokensFirst(q, qDims));
        Npy.write(dir.resolve("k.npy"), new long[] {B, NK, HKV, D}, TensorLayout.toTokensFirst(k, kvDims));
        Npy.write(dir.resolve("v.npy"), new long[] {B, NK, HKV, D}, TensorLayout.toTokensFirst(v, kvDims));
        Npy.write(dir.resolve("do.npy"), new long[] {B, NQ, HQ, D}, TensorLayout.toTokensFirst(dOut, qDims));
        r = CliRun.of(CliRun.concat(base(), "--causal", "--tensor-layout", "bnhd"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(Npy.read(dir.resolve("o.npy")).shape()).containsExactly(B, NQ, HQ, D);
        assertThat(Npy.read(dir.resolve("lse.npy")).shape()).containsExactly(B, HQ, NQ); // as FlashAttention's
        assertThat(Npy.read(dir.resolve("dk.npy")).shape()).containsExactly(B, NK, HKV, D);
        assertFloats("o.npy", TensorLayout.toTokensFirst(bhnd[0], qDims));
        assertFloats("lse.npy", bhnd[1]);
        assertFloats("dq.npy", TensorLayout.toTokensFirst(bhnd[2], qDims));
        assertFloats("dk.npy", TensorLayout.toTokensFirst(bhnd[3], kvDims));
        assertFloats("dv.npy", TensorLayout.toTokensFirst(bhnd[4], kvDims));
        r = CliRun.of(CliRun.concat(base(), "--causal", "--tensor-layout", "bnhd", "--precision", "float64"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(Npy.read(dir.resolve("o.npy")).shape()).containsExactly(B, NQ, HQ, D);
        CliRun.of(CliRun.concat(base(), "--tensor-layout", "nbhd")).assertOneLineError(2, "--tensor-layout");
        // the emulated path reads and writes the same layout
        r = CliRun.of(CliRun.concat(base(), "--causal", "--tensor-layout", "bnhd", "--emulate", "float16"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(Npy.read(dir.resolve("dk.npy")).shape()).containsExactly(B, NK, HKV, D);
        float[][] tokensFirst = {Npy.read(dir.resolve("o.npy")).toFloatArray(),
            Npy.read(dir.resolve("dk.npy")).toFloatArray()};
        writeInputs();
        r = CliRun.of(CliRun.concat(base(), "--causal", "--emulate", "float16"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(TensorLayout.toTokensFirst(Npy.read(dir.resolve("o.npy")).toFloatArray(), qDims))
                .isEqualTo(tokensFirst[0]);
        assertThat(TensorLayout.toTokensFirst(Npy.read(dir.resolve("dk.npy")).toFloatArray(), kvDims))
                .isEqualTo(tokensFirst[1]);
    }

    @Test
    void badSoftcapsAndSlopesAreRefused() throws IOException {
        CliRun.of(CliRun.concat(base(), "--softcap", "0")).assertOneLineError(2, "--softcap");
        CliRun.of(CliRun.concat(base(), "--softcap", "-1")).assertOneLineError(2, "--softcap");
        Npy.write(dir.resolve("alibi3.npy"), new long[] {3}, new double[] {1, 2, 3});
        CliRun.of(CliRun.concat(base(), "--alibi", p("alibi3.npy"))).assertOneLineError(1, "alibi3.npy", "[4]");
        Npy.write(dir.resolve("alibi_nan.npy"), new long[] {HQ}, new double[] {1, Double.NaN, 3, 4});
        CliRun.of(CliRun.concat(base(), "--alibi", p("alibi_nan.npy"))).assertOneLineError(1, "alibi_nan.npy",
                "finite");
    }

    @Test
    void mpiRefusesWhatNeedsAllRowsOrTheTokensFirstFiles() {
        // --mpi runs the kit's rules (AttendMpiTest) but neither a tokens-first file layout nor a sum over all rows
        CliRun.of(CliRun.concat(base(), "--causal-align", "top-left", "--tensor-layout", "bnhd", "--mpi"))
                .assertOneLineError(2, "--tensor-layout", "--mpi");
        CliRun.of(CliRun.concat(base(), "--sinks", "sinks.npy", "--dsinks", "ds.npy", "--mpi"))
                .assertOneLineError(2, "--dsinks", "--mpi");
    }

    @Test
    void conflictingWindowsAreUsageErrors() {
        CliRun.of(CliRun.concat(base(), "--causal", "--window-right", "2"))
                .assertOneLineError(2, "--causal", "--window-right");
        CliRun.of(CliRun.concat(base(), "--window", "4", "--window-left", "2"))
                .assertOneLineError(2, "--window", "--window-left");
        CliRun.of(CliRun.concat(base(), "--window-left", "-2")).assertOneLineError(2, "--window-left");
        CliRun.of(CliRun.concat(base(), "--causal-align", "middle")).assertOneLineError(2, "--causal-align");
    }

    /** Blockwise, ring (striped, 3 devices) and the float64 oracle each give what the engine gives for {@code spec}. */
    void assertEveryPath(String[] opts, AttentionSpec spec) throws IOException {
        Tensor qt = Tensor.wrap(q.clone(), B, HQ, NQ, D);
        Tensor kt = Tensor.wrap(k.clone(), B, HKV, NK, D);
        Tensor vt = Tensor.wrap(v.clone(), B, HKV, NK, D);
        Tensor dt = Tensor.wrap(dOut.clone(), B, HQ, NQ, D);

        CliRun r = CliRun.of(CliRun.concat(base(), opts));
        assertThat(r.code()).as(r.err()).isZero();
        BlockwiseAttention engine = new BlockwiseAttention(Kernels.preferred(), 4, 3);
        AttentionOutput fwd = engine.forward(qt, kt, vt, spec);
        Gradients g = engine.backward(qt, kt, vt, fwd, dt, spec);
        assertFloats("o.npy", fwd.out().toArray());
        assertFloats("lse.npy", fwd.lse());
        assertFloats("dq.npy", g.dq().toArray());
        assertFloats("dk.npy", g.dk().toArray());
        assertFloats("dv.npy", g.dv().toArray());

        r = CliRun.of(CliRun.concat(CliRun.concat(base(), opts), "--devices", "3", "--layout", "striped"));
        assertThat(r.code()).as(r.err()).isZero();
        RingAttention.Backward rb = new RingAttention(Kernels.preferred(), 4, 3, 1, 3, Layout.STRIPED,
                LinkModel.UNTHROTTLED).backward(qt, kt, vt, dt, spec);
        assertFloats("o.npy", rb.output().out().toArray());
        assertFloats("dk.npy", rb.gradients().dk().toArray());

        r = CliRun.of(CliRun.concat(CliRun.concat(base(), opts), "--precision", "float64"));
        assertThat(r.code()).as(r.err()).isZero();
        AttentionShape shape = new AttentionShape(B, HQ, HKV, NQ, NK, D);
        VanillaAttention oracle = VanillaAttention.oracle();
        assertThat(Npy.read(dir.resolve("o.npy")).toDoubleArray())
                .isEqualTo(oracle.forward(shape, spec, widen(q), widen(k), widen(v)).out());
        assertThat(Npy.read(dir.resolve("dq.npy")).toDoubleArray())
                .isEqualTo(oracle.backward(shape, spec, widen(q), widen(k), widen(v), widen(dOut)).dq());

        r = CliRun.of(CliRun.concat(CliRun.concat(base(), opts), "--emulate", "bfloat16"));
        assertThat(r.code()).as(r.err()).isZero();
        LowPrecisionAttention low = new LowPrecisionAttention(LowPrecisionAttention.Format.BFLOAT16);
        AttentionOutput lo = low.forward(qt, kt, vt, spec);
        assertFloats("o.npy", lo.out().toArray());
        assertFloats("lse.npy", lo.lse());
        assertFloats("dk.npy", low.backward(qt, kt, vt, lo, dt, spec).dk().toArray());
    }

    void assertFloats(String file, float[] expected) throws IOException {
        assertThat(Npy.read(dir.resolve(file)).toFloatArray()).as(file).isEqualTo(expected);
    }

    String p(String name) {
        return dir.resolve(name).toString();
    }

    static double[] widen(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = x[i];
        }
        return d;
    }
}

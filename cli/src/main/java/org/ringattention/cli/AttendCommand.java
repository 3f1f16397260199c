package org.ringattention.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.ringattention.attention.AttentionEngine;
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.Gradients;
import org.ringattention.attention.LowPrecisionAttention;
import org.ringattention.attention.SegmentIds;
import org.ringattention.attention.VanillaAttention;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code attend}: attention of .npy inputs into .npy outputs, the contract other implementations
 * are checked against. float32 runs the blockwise engine; float64 runs the float64 oracle.
 */
@Command(name = "attend", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Computes O = softmax(scale * Q K^T, masked) V (and LSE, and with --do the gradients)"
            + " from .npy files.",
            "q is [B, Hq, Nq, d], k and v [B, Hkv, Nk, d] with Hq a multiple of Hkv ([N, d] and [H, N, d] are"
            + " read as B = H = 1). LSE is natural-log, shaped like q without d; rows that see no key give"
            + " O = 0 and LSE = -inf. Outputs replace existing files only when every output is written."},
        footer = {"", "Every .npy argument may also name one tensor of a safetensors file: FILE.safetensors:NAME"
            + " (outputs naming the same file are written together into it, replacing it).",
            "", "Exit codes: 0 success, 1 bad input data, 2 bad usage."})
final class AttendCommand implements Callable<Integer> {

    @Option(names = "--q", required = true, paramLabel = "Q.npy", description = "Queries [B, Hq, Nq, d].")
    Path q;

    @Option(names = "--k", required = true, paramLabel = "K.npy", description = "Keys [B, Hkv, Nk, d].")
    Path k;

    @Option(names = "--v", required = true, paramLabel = "V.npy", description = "Values [B, Hkv, Nk, d].")
    Path v;

    @Option(names = "--out", required = true, paramLabel = "O.npy", description = "Output O, shaped like q.")
    Path out;

    @Option(names = "--lse", paramLabel = "LSE.npy", description = "Also write LSE [B, Hq, Nq].")
    Path lse;

    @Option(names = "--causal", description = "Causal mask: query i sees keys j <= p(i), p(i) its aligned position"
            + " (--causal-align). The same as --window-right 0.")
    boolean causal;

    @Option(names = "--causal-align", paramLabel = "A", description = "Where query i sits: bottom-right"
            + " (p(i) = i + Nk - Nq, the default, FlashAttention's) or top-left (p(i) = i, PyTorch's is_causal).")
    String causalAlign;

    @Option(names = "--window", paramLabel = "W", description = "Sliding window (implies --causal): query at p sees"
            + " keys p - W < j <= p; the same as --causal --window-left W-1.")
    Integer window;

    @Option(names = "--window-left", paramLabel = "L", description = "Window: query i sees keys j >= p(i) - L"
            + " (-1 = unbounded, the default; FlashAttention's window_size[0]).")
    Integer windowLeft;

    @Option(names = "--window-right", paramLabel = "R", description = "Window: query i sees keys j <= p(i) + R"
            + " (-1 = unbounded, the default; 0 is --causal; FlashAttention's window_size[1]).")
    Integer windowRight;

    @Option(names = "--segments", paramLabel = "SEG.npy", description = "Segment ids [B, N] (int32/int64): a query"
            + " sees only keys of its own segment. Needs Nq = Nk.")
    Path segments;

    @Option(names = "--cu-seqlens-q", paramLabel = "CQ.npy", description = "Packed sequences (FlashAttention's"
            + " varlen): cumulative query lengths [S+1] (int32/int64, 0 first, Nq last); q is [1, Hq, total_q, d]."
            + " Sequence s's queries [CQ[s], CQ[s+1]) see only its keys [CK[s], CK[s+1]), aligned, windowed and"
            + " ALiBi-distanced on that sequence's own lengths. Needs --cu-seqlens-k.")
    Path cuSeqlensQ;

    @Option(names = "--cu-seqlens-k", paramLabel = "CK.npy", description = "Cumulative key lengths [S+1] (int32/int64,"
            + " 0 first, Nk last) of the packed sequences; k and v are [1, Hkv, total_k, d]. Needs --cu-seqlens-q.")
    Path cuSeqlensK;

    @Option(names = "--tensor-layout", paramLabel = "L", defaultValue = "bhnd", description = "How q, k, v, dO"
            + " and O, dQ, dK, dV lie in their files: bhnd [B, H, N, d] (the default) or bnhd [B, N, H, d]"
            + " (FlashAttention's; rank 3 is [N, H, d]). LSE is [B, H, N] in both layouts, as FlashAttention's"
            + " softmax_lse; masks and biases stay [B|1, H|1, Nq, Nk].")
    String tensorLayout;

    @Option(names = "--scale", paramLabel = "S", description = "Score scale (default 1/sqrt(d)).")
    Double scale;

    @Option(names = "--softcap", paramLabel = "C", description = "Soft cap C > 0 of the scaled scores:"
            + " s = C * tanh(scale * q.k / C) (Gemma 2, FlashAttention's softcap); gradients through tanh.")
    Double softcap;

    @Option(names = "--sinks", paramLabel = "SINKS.npy", description = "Attention sinks [Hq] (float, one logit per"
            + " query head): each joins its row's softmax denominator and carries no value; a row that sees no key"
            + " has O = 0 and LSE = sink.")
    Path sinks;

    @Option(names = "--mask", paramLabel = "MASK.npy", description = "Keep mask (bool, True = keep), broadcast"
            + " from [B|1, Hq|1, Nq, Nk] as PyTorch's attn_mask ([Nq, Nk] and [H, Nq, Nk] too): ANDed with every"
            + " other rule.")
    Path keepMask;

    @Option(names = "--bias", paramLabel = "BIAS.npy", description = "Score bias (float, finite), broadcast from"
            + " [B|1, Hq|1, Nq, Nk]: added to each score after the soft cap and ALiBi.")
    Path bias;

    @Option(names = "--alibi", paramLabel = "SLOPES.npy", description = "ALiBi slopes [Hq] or [B, Hq] (float): adds"
            + " -slope * |p(i) - j| to each score, after the soft cap.")
    Path alibi;

    @Mixin
    EngineOptions engineOptions;

    @Mixin
    RingOptions ringOptions;

    @Option(names = "--precision", paramLabel = "P", defaultValue = "float32", description = "float32 (blockwise"
            + " engine, float32 outputs) or float64 (the float64 oracle, float64 outputs). Default ${DEFAULT-VALUE}.")
    String precision;

    @Option(names = "--do", paramLabel = "DO.npy", description = "Upstream gradient dO, shaped like q: also compute"
            + " dQ, dK, dV of sum(dO * O).")
    Path dOut;

    @Option(names = "--dq", paramLabel = "DQ.npy", description = "Output dQ (with --do).")
    Path dq;

    @Option(names = "--dk", paramLabel = "DK.npy", description = "Output dK (with --do).")
    Path dk;

    @Option(names = "--dv", paramLabel = "DV.npy", description = "Output dV (with --do).")
    Path dv;

    @Option(names = "--dsinks", paramLabel = "DSINKS.npy", description = "Output the gradient of the sinks [Hq]"
            + " (with --do and --sinks): -sum over b, i of exp(sink - LSE_i) * rowsum(dO_i * O_i).")
    Path dsinks;

    @Option(names = "--quiet", description = "Print nothing on success.")
    boolean quiet;

    @Option(names = "--stream", negatable = true, description = "The streaming path: float32 .npy inputs"
            + " memory-mapped, outputs written through mappings, query chunks against key/value chunks, so the"
            + " sequence may exceed the heap (forward pass, LSE and with --do the gradients; the same bits as the heap"
            + " path). Default: chosen"
            + " when the inputs would not fit the heap; --no-stream never.")
    Boolean stream;

    @Option(names = "--chunk", paramLabel = "ROWS", description = "Rows of the streaming path's query chunks (a"
            + " multiple of the blocks and of 128; default: the largest that fits 40%% of the heap); its key/value"
            + " chunks are at most as long, and sized to 1 MiB of K and V per head.")
    Integer chunk;

    @Option(names = "--resume", description = "Continue an interrupted streaming run from its checkpoint"
            + " (O.npy.checkpoint beside --out); refused when the inputs or options changed.")
    boolean resume;

    @Option(names = "--mpi", description = "Run under mpirun: each of the P MPI ranks is one ring device, reads only"
            + " its rows and writes them into the outputs (see docs/mpi.md).")
    boolean mpi;

    // Low-precision inputs and the emulated low-precision reference path (issue 15).
    @Mixin
    Bf16BitsOption bf16;

    @Mixin
    EmulateOption emulate;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (mpi && "bnhd".equalsIgnoreCase(tensorLayout)) {
            throw CliException.usage("--tensor-layout bnhd and --mpi cannot be combined: the ranks map [B, H, N, d]"
                    + " files in place");
        }
        if (mpi && dsinks != null) {
            throw CliException.usage("--dsinks and --mpi cannot be combined: the sinks' gradient sums over the rows"
                    + " of every rank");
        }
        if (mpi) {
            return new MpiAttend(this).call();
        }
        boolean float64 = checkOptions();
        if (streaming()) {
            return new StreamedAttend(this).call(System.nanoTime());
        }
        LowPrecisionAttention.Format emulated = emulate.format(float64, ringOptions.active());
        long start = System.nanoTime();

        TensorLayout layout = TensorLayout.parse(tensorLayout);
        NpyInputs.Input qIn = NpyInputs.tensor(q, bf16.bf16Bits, layout);
        NpyInputs.Input kIn = NpyInputs.tensor(k, bf16.bf16Bits, layout);
        NpyInputs.Input vIn = NpyInputs.tensor(v, bf16.bf16Bits, layout);
        NpyInputs.Input doIn = dOut == null ? null : NpyInputs.tensor(dOut, bf16.bf16Bits, layout);
        AttentionShape shape = checkShapes(qIn, kIn, vIn, doIn);
        AttentionSpec attention = attentionSpec(shape);

        if (!float64) {
            engineOptions.useTuned(shape.dim(), attention.causal(), doIn != null, spec.commandLine().getErr());
        }
        long[] oShape = qIn.array().shape();
        long[] lseShape = qIn.lseShape();
        String what;
        try (AtomicOutputs outputs = new AtomicOutputs();
             Progress progress = Progress.start(spec.commandLine().getErr(), "attend", doIn != null ? 3 : 2, quiet)) {
            if (emulated != null) {
                what = EmulatedAttend.run(this, emulated, bf16.bf16Bits, attention, qIn, kIn, vIn, doIn, outputs,
                        progress, oShape, lseShape);
            } else if (float64) {
                VanillaAttention oracle = VanillaAttention.oracle();
                double[] qd = qIn.toDoubles();
                double[] kd = kIn.toDoubles();
                double[] vd = vIn.toDoubles();
                VanillaAttention.Result r = oracle.forward(shape, attention, qd, kd, vd);
                progress.step("forward done");
                outputs.stage(out, oShape, qIn.toFile(r.out()));
                if (lse != null) {
                    outputs.stage(lse, lseShape, r.lse());
                }
                if (doIn != null) {
                    VanillaAttention.Grads g = oracle.backward(shape, attention, qd, kd, vd, doIn.toDoubles());
                    progress.step("backward done");
                    outputs.stage(dq, oShape, qIn.toFile(g.dq()));
                    outputs.stage(dk, kIn.array().shape(), kIn.toFile(g.dk()));
                    outputs.stage(dv, vIn.array().shape(), vIn.toFile(g.dv()));
                    if (dsinks != null) {
                        outputs.stage(dsinks, new long[] {shape.qHeads()},
                                oracle.sinkGradient(shape, attention, qd, kd, vd, doIn.toDoubles()));
                    }
                }
                what = "float64 oracle";
            } else {
                AttentionEngine engine;
                if (ringOptions.active()) {
                    ringOptions.checkLength(Math.min(shape.qLen(), shape.kvLen()));
                    engine = ringOptions.engine(Kernels.preferred(), engineOptions);
                } else {
                    engine = engineOptions.engine(Kernels.preferred());
                }
                Tensor qt = qIn.toTensor();
                Tensor kt = kIn.toTensor();
                Tensor vt = vIn.toTensor();
                AttentionOutput r = engine.attend(qt, kt, vt, attention);
                progress.step("forward done");
                Gradients g = null;
                if (doIn != null) {
                    g = engine.gradients(qt, kt, vt, r, doIn.toTensor(), attention);
                    progress.step("backward done");
                }
                stage(outputs, r, g, oShape, lseShape, qIn, kIn, vIn);
                stageSinkGradient(outputs, attention, r, doIn);
                String blocks = "blocks " + engineOptions.blockQ + "x" + engineOptions.blockKv;
                what = engine.describe().replace(blocks, blocks + tunedNote());
            }
            outputs.commit();
            progress.step("written");
        }
        if (!quiet) {
            spec.commandLine().getErr().printf("attend: %s, %s, %s%s in %.3f s -> %s%n", shape, attention, what,
                    doIn != null ? ", with gradients" : "", (System.nanoTime() - start) / 1e9, out);
        }
        return 0;
    }

    /**
     * The attention rule the options describe, side inputs (ALiBi, sinks, mask, bias, segments,
     * packed sequence lengths) read and checked.
     */
    AttentionSpec attentionSpec(AttentionShape shape) throws IOException {
        AttentionSpec attention = AttentionSpec.DEFAULT.withCausal(causal);
        if (causalAlign != null) {
            attention = attention.withCausalAlign(AttentionSpec.CausalAlign.parse(causalAlign));
        }
        if (window != null) {
            attention = attention.withWindow(window);
        }
        if (windowLeft != null || windowRight != null) {
            int right = windowRight != null ? windowRight : causal ? 0 : -1;
            attention = attention.withWindow(windowLeft != null ? windowLeft : -1, right);
        }
        if (scale != null) {
            attention = attention.withScale(scale);
        }
        if (softcap != null) {
            attention = attention.withSoftcap(softcap);
        }
        if (alibi != null) {
            attention = attention.withAlibi(NpyInputs.alibi(alibi, shape.batch(), shape.qHeads()));
        }
        if (sinks != null) {
            attention = attention.withSinks(NpyInputs.sinks(sinks, shape.qHeads()));
        }
        if (keepMask != null) {
            attention = attention.withMask(NpyInputs.keepMask(keepMask, shape));
        }
        if (bias != null) {
            attention = attention.withBias(NpyInputs.bias(bias, shape));
        }
        if (segments != null) {
            if (shape.qLen() != shape.kvLen()) {
                throw CliException.data(segments + ": segment ids need Nq = Nk, but " + q + " has Nq = " + shape.qLen()
                        + " and " + k + " has Nk = " + shape.kvLen());
            }
            SegmentIds ids = NpyInputs.segments(segments, shape.batch(), shape.qLen());
            attention = attention.withSegments(ids);
        }
        if (cuSeqlensQ != null) {
            attention = attention.withVarlen(NpyInputs.sequenceLengths(cuSeqlensQ, cuSeqlensK, q, shape));
        }
        return attention;
    }

    /**
     * Whether the streaming path runs: as asked by --stream / --no-stream / --resume, else when the
     * heap path would need more than 60 % of the heap and the streaming path can run the options.
     */
    private boolean streaming() {
        String why = StreamedAttend.whyNot(this);
        boolean asked = Boolean.TRUE.equals(stream) || resume || chunk != null;
        if (asked) {
            if (Boolean.FALSE.equals(stream)) {
                throw CliException.usage("--no-stream cannot be combined with " + (resume ? "--resume" : "--chunk"));
            }
            if (why != null) {
                throw CliException.usage((resume ? "--resume" : chunk != null ? "--chunk" : "--stream")
                        + ": the streaming path cannot run " + why);
            }
            return true;
        }
        return stream == null && why == null
                && StreamedAttend.heapPathBytes(this) > 0.6 * Runtime.getRuntime().maxMemory();
    }

    /** " (tuned)" when the block sizes came from the tuning file. */
    private String tunedNote() {
        return engineOptions.blockSource.startsWith("tuned") ? " (tuned)" : "";
    }

    /** Stages the float32 outputs asked for: O, LSE, and the gradients when computed. */
    private void stage(AtomicOutputs outputs, AttentionOutput r, Gradients g, long[] oShape, long[] lseShape,
            NpyInputs.Input qIn, NpyInputs.Input kIn, NpyInputs.Input vIn) throws IOException {
        outputs.stage(out, oShape, qIn.toFile(r.out().toArray()));
        if (lse != null) {
            outputs.stage(lse, lseShape, r.lse());
        }
        if (g != null) {
            outputs.stage(dq, oShape, qIn.toFile(g.dq().toArray()));
            outputs.stage(dk, kIn.array().shape(), kIn.toFile(g.dk().toArray()));
            outputs.stage(dv, vIn.array().shape(), vIn.toFile(g.dv().toArray()));
        }
    }

    /** Stages ∂L/∂sink of a float32 forward result when --dsinks asks for it. */
    private void stageSinkGradient(AtomicOutputs outputs, AttentionSpec attention, AttentionOutput r,
            NpyInputs.Input doIn) throws IOException {
        if (dsinks != null) {
            outputs.stage(dsinks, new long[] {attention.sinks().heads()},
                    attention.sinks().gradient(r, doIn.toTensor()));
        }
    }

    /** Checks option values and combinations; returns whether float64 was asked for. */
    boolean checkOptions() {
        engineOptions.check();
        ringOptions.check();
        if (window != null && window < 1) {
            throw CliException.usage("--window must be >= 1, got " + window);
        }
        if (causalAlign != null) {
            try {
                AttentionSpec.CausalAlign.parse(causalAlign);
            } catch (IllegalArgumentException e) {
                throw CliException.usage("--causal-align must be bottom-right or top-left, got '" + causalAlign + "'");
            }
        }
        for (Map.Entry<String, Integer> side : Map.of("--window-left", windowLeft == null ? -1 : windowLeft,
                "--window-right", windowRight == null ? -1 : windowRight).entrySet()) {
            if (side.getValue() < -1) {
                throw CliException.usage(side.getKey() + " must be >= 0, or -1 for unbounded, got " + side.getValue());
            }
        }
        if (window != null && (windowLeft != null || windowRight != null)) {
            throw CliException.usage("--window and " + (windowLeft != null ? "--window-left" : "--window-right")
                    + " cannot be combined: --window W is --causal --window-left W-1");
        }
        if (causal && windowRight != null && windowRight != 0) {
            throw CliException.usage("--causal and --window-right " + windowRight + " cannot be combined: --causal is"
                    + " --window-right 0");
        }
        TensorLayout.parse(tensorLayout);
        if ((cuSeqlensQ == null) != (cuSeqlensK == null)) {
            throw CliException.usage(cuSeqlensQ == null ? "--cu-seqlens-k needs --cu-seqlens-q"
                    : "--cu-seqlens-q needs --cu-seqlens-k");
        }
        if (cuSeqlensQ != null && segments != null) {
            throw CliException.usage("--cu-seqlens-q and --segments cannot be combined: both pack sequences; give one");
        }
        if (scale != null && (!Double.isFinite(scale) || scale == 0)) {
            throw CliException.usage("--scale must be a finite non-zero number, got " + scale);
        }
        if (softcap != null && (!Double.isFinite(softcap) || softcap <= 0)) {
            throw CliException.usage("--softcap must be a finite number > 0, got " + softcap);
        }
        boolean float64 = switch (precision) {
            case "float32" -> false;
            case "float64" -> true;
            default -> throw CliException.usage("--precision must be float32 or float64, got '" + precision + "'");
        };
        if (dsinks != null && (sinks == null || dOut == null)) {
            throw CliException.usage("--dsinks needs " + (sinks == null ? "--sinks" : "--do (the upstream gradient)"));
        }
        boolean anyGrad = dq != null || dk != null || dv != null;
        if (dOut != null && (dq == null || dk == null || dv == null)) {
            throw CliException.usage("--do needs all of --dq, --dk and --dv");
        }
        if (dOut == null && anyGrad) {
            throw CliException.usage("--dq, --dk and --dv need --do (the upstream gradient)");
        }
        Map<String, Path> outs = new LinkedHashMap<>();
        outs.put("--out", out);
        outs.put("--lse", lse);
        outs.put("--dq", dq);
        outs.put("--dk", dk);
        outs.put("--dv", dv);
        outs.put("--dsinks", dsinks);
        Set<Path> inputs = new HashSet<>();
        for (Path p : new Path[] {q, k, v, segments, alibi, sinks, keepMask, bias, cuSeqlensQ, cuSeqlensK, dOut}) {
            if (p != null) {
                inputs.add(TensorPath.fileOf(p));
            }
        }
        Set<Path> seen = new HashSet<>();
        List<String> names = new ArrayList<>(outs.keySet());
        for (String name : names) {
            Path p = outs.get(name);
            if (p == null) {
                continue;
            }
            Path norm = p.toAbsolutePath().normalize();
            if (inputs.contains(TensorPath.fileOf(p))) {
                throw CliException.usage(name + " " + p + ": is also an input");
            }
            if (!seen.add(norm)) {
                throw CliException.usage(name + " " + p + ": is named by another output option too");
            }
            AtomicOutputs.checkWritable(p, name);
        }
        return float64;
    }

    private AttentionShape checkShapes(NpyInputs.Input qIn, NpyInputs.Input kIn, NpyInputs.Input vIn,
            NpyInputs.Input doIn) {
        AttentionShape shape = NpyInputs.attentionShape(qIn, kIn, vIn);
        if (doIn != null && !Arrays.equals(doIn.array().shape(), qIn.array().shape())) {
            throw CliException.data(dOut + ": shape " + doIn.shape() + " differs from " + q + " shape " + qIn.shape());
        }
        return shape;
    }
}

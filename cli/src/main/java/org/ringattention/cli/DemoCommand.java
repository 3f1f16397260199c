package org.ringattention.cli;

import java.io.PrintWriter;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.BlockwiseAttention;
import org.ringattention.attention.VanillaAttention;
import org.ringattention.bench.AttentionFlops;
import org.ringattention.check.AccuracyRule;
import org.ringattention.check.ErrorStats;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code demo}: random inputs, blockwise attention against vanilla attention, for full and causal
 * masks; prints time and error against the float64 oracle as a table.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Runs blockwise attention on random inputs (standard normal) and compares it with vanilla"
            + " attention, materialized scores, in float64 (the oracle) and float32 (the baseline).",
            "Error is the largest absolute difference from the oracle; the rule passes when the blockwise error is"
            + " at most 2x the float32 vanilla error plus 8*2^-24*max|v|. GFLOP/s counts 4*N^2*d*H (half for"
            + " causal)."})
final class DemoCommand implements Callable<Integer> {

    private static final int ENGINE_RUNS = 5;

    @Option(names = "--seq", paramLabel = "N", defaultValue = "2048", description = "Sequence length (default"
            + " ${DEFAULT-VALUE}).")
    int seq;

    @Option(names = "--head-dim", paramLabel = "D", defaultValue = "64", description = "Head dimension (default"
            + " ${DEFAULT-VALUE}).")
    int dim;

    @Option(names = "--heads", paramLabel = "H", defaultValue = "2", description = "Query heads (default"
            + " ${DEFAULT-VALUE}).")
    int heads;

    @Option(names = "--kv-heads", paramLabel = "K", defaultValue = "1", description = "Key/value heads (default"
            + " ${DEFAULT-VALUE}: grouped-query attention).")
    int kvHeads;

    @Mixin
    EngineOptions engineOptions;

    @Option(names = "--seed", defaultValue = "1", description = "Random seed (default ${DEFAULT-VALUE}).")
    long seed;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (seq < 1 || dim < 1 || heads < 1 || kvHeads < 1) {
            throw CliException.usage("--seq, --head-dim, --heads and --kv-heads must be >= 1");
        }
        engineOptions.check();
        if (heads % kvHeads != 0) {
            throw CliException.usage("--heads (" + heads + ") must be a multiple of --kv-heads (" + kvHeads + ")");
        }
        if ((long) seq * seq > 64L << 20) {
            throw CliException.usage("--seq " + seq + " is too long for the demo's materialized float64 oracle"
                    + " (at most 8192)");
        }
        PrintWriter out = spec.commandLine().getOut();
        AttentionShape shape = new AttentionShape(1, heads, kvHeads, seq, seq, dim);
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] q = gaussian(rnd, shape.qSize());
        float[] k = gaussian(rnd, shape.kvSize());
        float[] v = gaussian(rnd, shape.kvSize());
        BlockwiseAttention engine = engineOptions.engine(Kernels.preferred());
        out.printf("ring-attention demo: %s, blocks %dx%d, %s kernels, %d threads, seed %d%n%n", shape,
                engine.blockQ(), engine.blockKv(), engine.kernels().name(), engine.threads(), seed);
        out.printf("%-7s %-18s %9s %9s %12s %12s  %s%n", "mask", "path", "time (s)", "GFLOP/s", "max|O err|",
                "max|LSE err|", "rule: err <= 2 x float32 vanilla + eps");
        boolean allPass = true;
        for (AttentionSpec mask : new AttentionSpec[] {AttentionSpec.DEFAULT, AttentionSpec.DEFAULT.withCausal(true)}) {
            String name = mask.causal() ? "causal" : "full";
            double flops = AttentionFlops.of(seq, dim, heads, mask.causal(), false);

            long t0 = System.nanoTime();
            VanillaAttention.Result ref = VanillaAttention.oracle().forward(shape, mask, widen(q), widen(k), widen(v));
            double tRef = seconds(t0);
            row(out, name, "float64 oracle", tRef, flops, "(reference)", "", "");

            t0 = System.nanoTime();
            VanillaAttention.Result base = new VanillaAttention(VanillaAttention.Precision.FLOAT32)
                    .forward(shape, mask, widen(q), widen(k), widen(v));
            double tBase = seconds(t0);
            ErrorStats baseO = ErrorStats.of(ref.out(), base.out());
            ErrorStats baseL = ErrorStats.of(ref.lse(), base.lse());
            row(out, name, "float32 vanilla", tBase, flops, sci(baseO.maxAbs()), sci(baseL.maxAbs()), "(baseline)");

            // The engine is fast enough to run a few times: report the best run, after the JIT has compiled it.
            AttentionOutput got = null;
            double tGot = Double.POSITIVE_INFINITY;
            for (int run = 0; run < ENGINE_RUNS; run++) {
                t0 = System.nanoTime();
                got = engine.forward(Tensor.wrap(q, 1, heads, seq, dim), Tensor.wrap(k, 1, kvHeads, seq, dim),
                        Tensor.wrap(v, 1, kvHeads, seq, dim), mask);
                tGot = Math.min(tGot, seconds(t0));
            }
            double[] gotO = widen(got.out().toArray());
            double[] gotL = widen(got.lse());
            AccuracyRule.Verdict vo = AccuracyRule.FORWARD.judge(ref.out(), gotO, base.out(), ErrorStats.maxAbs(widen(v)));
            AccuracyRule.Verdict vl = AccuracyRule.FORWARD.judge(ref.lse(), gotL, base.lse(),
                    ErrorStats.maxAbs(ref.lse()) + 1);
            boolean pass = vo.pass() && vl.pass();
            allPass &= pass;
            row(out, name, "blockwise float32", tGot, flops, sci(vo.engine().maxAbs()), sci(vl.engine().maxAbs()),
                    pass ? "pass" : "FAIL (O " + vo + "; LSE " + vl + ")");
            out.flush();
        }
        out.printf("%nVanilla times are single runs, the blockwise time the best of %d; measure speed with"
                + " ./ring-attention bench or the JMH benchmarks (jmh/).%n", ENGINE_RUNS);
        return allPass ? 0 : Main.INTERNAL_ERROR;
    }

    private static void row(PrintWriter out, String mask, String path, double seconds, double flops, String errO,
            String errL, String verdict) {
        out.printf("%-7s %-18s %9.3f %9.2f %12s %12s  %s%n", mask, path, seconds, flops / seconds / 1e9, errO, errL,
                verdict);
    }

    private static String sci(double x) {
        return String.format("%.3e", x);
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    private static float[] gaussian(SplittableRandom rnd, long n) {
        float[] x = new float[Math.toIntExact(n)];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    private static double[] widen(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = x[i];
        }
        return d;
    }
}

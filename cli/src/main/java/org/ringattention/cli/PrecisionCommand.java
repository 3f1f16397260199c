package org.ringattention.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.function.ToDoubleFunction;
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.VanillaAttention;
import org.ringattention.check.AccuracyRule;
import org.ringattention.check.ErrorStats;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;
import org.ringattention.ring.LinkModel;
import org.ringattention.ring.RingAttention;
import org.ringattention.tensor.Tensor;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code experiment precision}: how the error of ring attention against the float64 oracle grows
 * with the number of devices P at a fixed N: the engine's ring (float32 state carried between
 * steps; O, LSE and the gradients) beside {@link PartialMerge}, the per-step merge of partial
 * (O, LSE) as GPU ring implementations do it, in float32 and with bfloat16 rounding at every step.
 */
@Command(name = "precision", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Error of ring attention against the float64 oracle for P = 1, 2, 4, ... devices at a fixed N:"
            + " the engine's ring (float32 online-softmax state carried from step to step) for O, LSE, dQ, dK and"
            + " dV, beside the merge of per-device partial (O, LSE) after every step as GPU ring implementations do"
            + " it: in float32, with O rounded to bfloat16 at every step, and with O and LSE rounded.",
            "Full attention (no mask) on standard normal q, k, v and dO from --seed, B = 1. The accuracy rule's"
            + " baseline (plain float32 vanilla attention) is printed beside: the ring's outputs are judged by the"
            + " rule at every P (ratio <= 1 passes).",
            "Writes precision.csv and precision.png to --out."},
        footer = {"", "Exit codes: 0 success, 1 the output folder cannot be written, 2 bad usage."})
final class PrecisionCommand implements Callable<Integer> {

    static final String CSV = "precision.csv";
    static final String PNG = "precision.png";
    static final String CSV_HEADER = "devices,n,shard,head_dim,heads,"
            + "o_err_ring,lse_err_ring,dq_err_ring,dk_err_ring,dv_err_ring,"
            + "o_ratio_ring,lse_ratio_ring,dq_ratio_ring,dk_ratio_ring,dv_ratio_ring,"
            + "o_err_merge_f32,lse_err_merge_f32,o_err_bf16_out,lse_err_bf16_out,o_err_bf16,lse_err_bf16,"
            + "o_err_baseline,lse_err_baseline,dq_err_baseline,dk_err_baseline,dv_err_baseline";

    @Option(names = "--n", paramLabel = "N", defaultValue = "2048", description = "Sequence length (default"
            + " ${DEFAULT-VALUE}); the oracle holds N x N float64 scores.")
    int n;

    @Option(names = "--head-dim", paramLabel = "D", defaultValue = "64", description = "Head dimension (default"
            + " ${DEFAULT-VALUE}).")
    int dim;

    @Option(names = "--heads", paramLabel = "H", defaultValue = "1", description = "Heads (default"
            + " ${DEFAULT-VALUE}).")
    int heads;

    @Option(names = "--max-devices", paramLabel = "P", defaultValue = "64", description = "Largest P; P runs over"
            + " the powers of two up to it and up to N (default ${DEFAULT-VALUE}).")
    int maxDevices;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "1", description = "Seed of the inputs (default"
            + " ${DEFAULT-VALUE}).")
    long seed;

    @Mixin
    EngineOptions engineOptions;

    @Option(names = "--out", paramLabel = "DIR", description = "Folder for precision.csv and precision.png (default"
            + " results/precision-<timestamp>); created if missing.")
    Path outDir;

    @Option(names = "--quiet", description = "Print only where the files went.")
    boolean quiet;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** The errors at one P: max abs error against the oracle, and the ring's ratio to the rule's bound. */
    record Row(int devices, double[] ringErr, double[] ringRatio, double[] mergeF32, double[] bf16Out,
            double[] bf16) {
    }

    @Override
    public Integer call() throws IOException {
        engineOptions.check();
        if (n < 1 || dim < 1 || heads < 1 || maxDevices < 1) {
            throw CliException.usage("--n, --head-dim, --heads and --max-devices must be >= 1");
        }
        if ((long) n * n > 1L << 26) {
            throw CliException.usage("--n " + n + " is too large for the float64 oracle (N x N scores); at most 8192");
        }
        Path folder = ExperimentFiles.folder(outDir, "precision");
        ExperimentFiles.checkFolder(folder);
        PrintWriter out = spec.commandLine().getOut();

        SplittableRandom rnd = new SplittableRandom(seed);
        float[] q = gaussian(rnd);
        float[] k = gaussian(rnd);
        float[] v = gaussian(rnd);
        float[] dOut = gaussian(rnd);
        AttentionShape shape = new AttentionShape(1, heads, heads, n, n, dim);
        AttentionSpec full = AttentionSpec.DEFAULT;
        List<Integer> ps = new ArrayList<>();
        for (int p = 1; p <= Math.min(maxDevices, n); p *= 2) {
            ps.add(p);
        }
        List<Row> rows = new ArrayList<>();
        double[] baseErr;
        try (Progress progress = Progress.start(spec.commandLine().getErr(), "precision", 2 + ps.size(), quiet)) {
            double[] qd = wide(q);
            double[] kd = wide(k);
            double[] vd = wide(v);
            double[] dod = wide(dOut);
            VanillaAttention oracle = VanillaAttention.oracle();
            VanillaAttention.Result ref = oracle.forward(shape, full, qd, kd, vd);
            VanillaAttention.Grads refG = oracle.backward(shape, full, qd, kd, vd, dod);
            VanillaAttention.Grads mags = oracle.gradientMagnitudes(shape, full, qd, kd, vd, dod);
            progress.step("float64 oracle");
            VanillaAttention f32 = new VanillaAttention(VanillaAttention.Precision.FLOAT32);
            VanillaAttention.Result base = f32.forward(shape, full, qd, kd, vd);
            VanillaAttention.Grads baseG = f32.backward(shape, full, qd, kd, vd, dod);
            progress.step("float32 baseline");
            double[][] refs = {ref.out(), ref.lse(), refG.dq(), refG.dk(), refG.dv()};
            double[][] bases = {base.out(), base.lse(), baseG.dq(), baseG.dk(), baseG.dv()};
            double[][] magnitudes = {null, null, mags.dq(), mags.dk(), mags.dv()};
            baseErr = new double[5];
            for (int x = 0; x < 5; x++) {
                baseErr[x] = ErrorStats.of(refs[x], bases[x]).maxAbs();
            }
            double oMagnitude = ErrorStats.maxAbs(vd);
            double lseMagnitude = ErrorStats.maxAbs(ref.lse()) + 1;
            PartialMerge merge = new PartialMerge(engineOptions.engine(Kernels.preferred()));
            for (int p : ps) {
                RingAttention ring = new RingAttention(Kernels.preferred(), engineOptions.blockQ,
                        engineOptions.blockKv, engineOptions.threads(), p, Layout.CONTIGUOUS, LinkModel.UNTHROTTLED);
                RingAttention.Backward r = ring.backward(tensor(q), tensor(k), tensor(v), tensor(dOut), full);
                double[][] got = {wide(r.output().out().toArray()), wide(r.output().lse()),
                    wide(r.gradients().dq().toArray()), wide(r.gradients().dk().toArray()),
                    wide(r.gradients().dv().toArray())};
                double[] err = new double[5];
                double[] ratio = new double[5];
                for (int x = 0; x < 5; x++) {
                    AccuracyRule.Verdict verdict = x < 2
                            ? AccuracyRule.FORWARD.judge(refs[x], got[x], bases[x], x == 0 ? oMagnitude : lseMagnitude)
                            : AccuracyRule.GRADIENT.judge(refs[x], got[x], bases[x], ErrorStats.maxAbs(refs[x]),
                                    magnitudes[x]);
                    err[x] = verdict.engine().maxAbs();
                    ratio[x] = err[x] / verdict.bound();
                }
                rows.add(new Row(p, err, ratio, mergeErrors(merge, q, k, v, p, PartialMerge.Rounding.NONE, refs),
                        mergeErrors(merge, q, k, v, p, PartialMerge.Rounding.BF16_OUT, refs),
                        mergeErrors(merge, q, k, v, p, PartialMerge.Rounding.BF16, refs)));
                progress.step("P = " + p);
            }
        }
        ExperimentFiles.write(folder, CSV, csv(rows, baseErr), PNG, chart(rows, baseErr));
        if (!quiet) {
            table(out, rows, baseErr);
        }
        out.printf("wrote %s and %s%n", folder.resolve(CSV), folder.resolve(PNG));
        out.flush();
        return 0;
    }

    private double[] mergeErrors(PartialMerge merge, float[] q, float[] k, float[] v, int p,
            PartialMerge.Rounding rounding, double[][] refs) {
        AttentionOutput o = merge.forward(tensor(q), tensor(k), tensor(v), p, rounding);
        return new double[] {ErrorStats.of(refs[0], wide(o.out().toArray())).maxAbs(),
            ErrorStats.of(refs[1], wide(o.lse())).maxAbs()};
    }

    private String csv(List<Row> rows, double[] base) {
        StringBuilder sb = new StringBuilder(CSV_HEADER).append('\n');
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "%d,%d,%d,%d,%d", r.devices(), n, n / r.devices(), dim, heads));
            for (double[] group : new double[][] {r.ringErr(), r.ringRatio(), r.mergeF32(), r.bf16Out(), r.bf16(),
                base}) {
                for (double x : group) {
                    sb.append(String.format(Locale.ROOT, ",%.6g", x));
                }
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private void table(PrintWriter out, List<Row> rows, double[] base) {
        out.printf(Locale.ROOT, "experiment precision: N = %d, d = %d, H = %d, full attention; max abs error against"
                + " the float64 oracle%n", n, dim, heads);
        out.printf(Locale.ROOT, "%4s %10s %10s %10s %10s %10s %8s | %10s %10s %10s %10s%n", "P", "O ring", "LSE ring",
                "dQ ring", "dK ring", "dV ring", "ratio", "O bf16 O", "O bf16", "LSE bf16", "O f32 mrg");
        for (Row r : rows) {
            double worst = 0;
            for (double x : r.ringRatio()) {
                worst = Math.max(worst, x);
            }
            out.printf(Locale.ROOT, "%4d %10.3e %10.3e %10.3e %10.3e %10.3e %8.3f | %10.3e %10.3e %10.3e %10.3e%n",
                    r.devices(), r.ringErr()[0], r.ringErr()[1], r.ringErr()[2], r.ringErr()[3], r.ringErr()[4], worst,
                    r.bf16Out()[0], r.bf16()[0], r.bf16()[1], r.mergeF32()[0]);
        }
        out.printf(Locale.ROOT, "float32 vanilla baseline: O %.3e, LSE %.3e, dQ %.3e, dK %.3e, dV %.3e; ratio: the"
                + " ring's worst error / the accuracy rule's bound (<= 1 passes)%n", base[0], base[1], base[2],
                base[3], base[4]);
    }

    private Chart chart(List<Row> rows, double[] base) {
        double[] p = rows.stream().mapToDouble(Row::devices).toArray();
        Chart c = new Chart(String.format(Locale.ROOT, "Ring attention error against the float64 oracle: N = %d, d = %d,"
                + " H = %d", n, dim, heads), "Full attention, standard normal inputs (seed " + seed + "). Ring: the"
                + " engine (float32 state between steps). Merge: per-step merge of partial (O, LSE) as GPU rings do.",
                "devices P (N / P tokens each)", "max abs error against float64").legendBeside();
        c.add(series("O, ring (float32 state)", Chart.BLUE, false, Chart.Marker.CIRCLE, p, rows, r -> r.ringErr()[0]));
        c.add(series("LSE, ring", Chart.ORANGE, false, Chart.Marker.SQUARE, p, rows, r -> r.ringErr()[1]));
        c.add(series("dQ, ring", Chart.GREEN, false, Chart.Marker.TRIANGLE, p, rows, r -> r.ringErr()[2]));
        c.add(series("dK, ring", Chart.BROWN, false, Chart.Marker.TRIANGLE, p, rows, r -> r.ringErr()[3]));
        c.add(series("dV, ring", Chart.OLIVE, false, Chart.Marker.TRIANGLE, p, rows, r -> r.ringErr()[4]));
        c.add(series("O, merge in float32", Chart.CYAN, true, Chart.Marker.NONE, p, rows, r -> r.mergeF32()[0]));
        c.add(series("O, merge with O rounded to bfloat16", Chart.PINK, false, Chart.Marker.DIAMOND, p, rows,
                r -> r.bf16Out()[0]));
        c.add(series("O, merge with O and LSE rounded to bfloat16", Chart.RED, false, Chart.Marker.DIAMOND, p, rows,
                r -> r.bf16()[0]));
        c.add(series("LSE, merge with O and LSE rounded to bfloat16", Chart.PURPLE, false, Chart.Marker.DIAMOND, p,
                rows, r -> r.bf16()[1]));
        c.add(series("O, float32 vanilla (the rule's baseline)", Chart.BLACK, true, Chart.Marker.NONE, p, rows,
                r -> base[0]));
        c.add(series("dQ, float32 vanilla", Chart.GRAY, true, Chart.Marker.NONE, p, rows, r -> base[2]));
        return c;
    }

    private static Chart.Series series(String name, java.awt.Color color, boolean dashed, Chart.Marker marker,
            double[] p, List<Row> rows, ToDoubleFunction<Row> y) {
        return new Chart.Series(name, color, dashed, marker, p, rows.stream().mapToDouble(y).toArray());
    }

    private float[] gaussian(SplittableRandom rnd) {
        float[] x = new float[heads * n * dim];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    private Tensor tensor(float[] x) {
        return Tensor.wrap(x.clone(), 1, heads, n, dim);
    }

    private static double[] wide(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = x[i];
        }
        return d;
    }
}

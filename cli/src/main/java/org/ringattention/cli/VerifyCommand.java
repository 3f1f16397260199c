package org.ringattention.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.RowSample;
import org.ringattention.attention.SampledAttention;
import org.ringattention.attention.VanillaAttention;
import org.ringattention.check.AccuracyRule;
import org.ringattention.check.ErrorStats;
import org.ringattention.tensor.MappedNpy;
import org.ringattention.tensor.Npy;
import org.ringattention.tensor.NpyArray;
import org.ringattention.tensor.NpyFormatException;
import org.ringattention.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code verify}: judges an attention output by the accuracy rule on sampled query rows, where the
 * full float64 oracle (N × N scores) cannot go. The exact rows come from {@link SampledAttention}
 * in float64, the baseline from the same rows in float32, the rows from {@link RowSample}; the
 * judgement is {@link AccuracyRule#FORWARD} over all sampled elements of O (and of LSE), as
 * {@code compare --baseline} judges whole arrays.
 */
@Command(name = "verify", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Checks an attention output O (and LSE) against exact float64 attention on sampled query"
            + " rows, by the accuracy rule, without the N x N scores: for any sequence length, and for outputs of"
            + " any implementation (float16, float32 or float64 .npy).",
            "The rows: the first and last, rows at the mask's edges (where the causal boundary or the window's"
            + " start crosses a 128-block edge, rows that see no key, first rows of segments), then random rows"
            + " from --seed, --rows in all, each checked in every batch and head. Cost O(rows x N x d) per head.",
            "  PASS iff max|got - exact| <= 2 x max|float32 - exact| + eps over the sampled elements,",
            "where float32 is plain float32 attention on the same rows and eps = 8*2^-24*M (M = max|v| for O,"
            + " max|LSE| + 1 for LSE). Rows that see no key must give O = 0 and LSE = -inf.",
            "Give the mask options the output was computed with (as for attend)."},
        footer = {"", "Exit codes: 0 every sampled row passes, 4 some row fails, 1 bad input data, 2 bad usage."})
final class VerifyCommand implements Callable<Integer> {

    /** Rows computed between two progress steps. */
    private static final int ROWS_PER_STEP = 8;

    /** Failing rows listed in the report. */
    private static final int LISTED_FAILURES = 10;

    @Option(names = "--q", required = true, paramLabel = "Q.npy", description = "Queries [B, Hq, Nq, d].")
    Path q;

    @Option(names = "--k", required = true, paramLabel = "K.npy", description = "Keys [B, Hkv, Nk, d].")
    Path k;

    @Option(names = "--v", required = true, paramLabel = "V.npy", description = "Values [B, Hkv, Nk, d].")
    Path v;

    @Option(names = "--out", required = true, paramLabel = "O.npy", description = "The output to check, shaped"
            + " like q.")
    Path out;

    @Option(names = "--lse", paramLabel = "LSE.npy", description = "Also check LSE [B, Hq, Nq] (natural log).")
    Path lse;

    @Mixin
    MaskOptions mask;

    @Option(names = "--rows", paramLabel = "R", defaultValue = "64", description = "Query rows to check (default"
            + " ${DEFAULT-VALUE}, at least 2; all rows when R >= Nq).")
    int rows;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "1", description = "Seed of the random rows"
            + " (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--json", description = "Print one JSON object (one line) instead of the text report;"
            + " infinite or NaN numbers appear as the strings \"inf\", \"-inf\", \"nan\".")
    boolean json;

    @Option(names = "--quiet", description = "No progress bar.")
    boolean quiet;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** The judgement of one output over the sampled rows. */
    record Check(String name, AccuracyRule.Verdict verdict, double magnitude, List<RowError> failing,
            RowError worst) {
    }

    /** The largest error of one sampled row of one head (b, h). */
    record RowError(int batch, int head, int row, double error, double ratio) {
    }

    @Override
    public Integer call() throws IOException {
        mask.check();
        if (rows < 2) {
            throw CliException.usage("--rows must be >= 2 (the first and last rows), got " + rows);
        }
        try (Arena arena = Arena.ofConfined()) {
            return run(arena);
        }
    }

    private Integer run(Arena arena) throws IOException {
        Inputs in = Inputs.open(q, k, v, arena);
        AttentionShape shape = NpyInputs.attentionShape(in.q().input(), in.k().input(), in.v().input());
        AttentionSpec attention = mask.spec(shape, q, k);
        long[] qShape = in.q().input().fileShape();
        Got gotO = Got.open(out, "--out", arena);
        if (!Arrays.equals(gotO.shape(), qShape)) {
            throw CliException.data(out + ": shape " + Arrays.toString(gotO.shape()) + " differs from " + q + " shape "
                    + Arrays.toString(qShape));
        }
        Got gotL = null;
        if (lse != null) {
            gotL = Got.open(lse, "--lse", arena);
            long[] lseShape = Arrays.copyOf(qShape, qShape.length - 1);
            if (!Arrays.equals(gotL.shape(), lseShape)) {
                throw CliException.data(lse + ": shape " + Arrays.toString(gotL.shape()) + " is not " + q
                        + "'s shape without its last dimension " + Arrays.toString(lseShape));
            }
        }

        int[] sample = RowSample.choose(shape, attention, rows, seed);
        double maxAbsV = in.checkFinite();
        SampledAttention.Rows exact;
        SampledAttention.Rows base;
        try (Progress progress = Progress.start(spec.commandLine().getErr(), "verify",
                2L * ((sample.length + ROWS_PER_STEP - 1) / ROWS_PER_STEP), quiet || json)) {
            exact = sampled(VanillaAttention.Precision.FLOAT64, shape, attention, in, sample, progress);
            base = sampled(VanillaAttention.Precision.FLOAT32, shape, attention, in, sample, progress);
        }
        int heads = shape.batch() * shape.qHeads();
        int d = shape.dim();
        double[] o = gotO.rows(shape, sample, d);
        List<Check> checks = new ArrayList<>();
        checks.add(check("O", exact.out(), o, base.out(), maxAbsV, shape, sample, d));
        if (gotL != null) {
            double[] l = gotL.rows(shape, sample, 1);
            checks.add(check("LSE", exact.lse(), l, base.lse(), ErrorStats.maxAbs(exact.lse()) + 1, shape, sample,
                    1));
        }
        boolean pass = checks.stream().allMatch(c -> c.verdict().pass());
        PrintWriter w = spec.commandLine().getOut();
        if (json) {
            w.println(toJson(shape, attention, sample, heads, checks, pass));
        } else {
            report(w, shape, attention, sample, heads, checks, pass);
        }
        w.flush();
        return pass ? 0 : CompareCommand.VERDICT_FAIL;
    }

    /**
     * q, k and v: memory-mapped when all three are float32 {@code .npy} files (the oracle then reads
     * them block by block through the mappings, and the heap holds none of them), else read onto
     * the heap as float64 (float16 or float64 files, safetensors tensors).
     */
    private record Inputs(Operand q, Operand k, Operand v) {

        static Inputs open(Path q, Path k, Path v, Arena arena) throws IOException {
            boolean mapped = true;
            for (Path p : new Path[] {q, k, v}) {
                mapped &= !TensorPath.of(p, null).isSafetensors() && MappedNpy.mappable(p);
            }
            return new Inputs(Operand.open(q, mapped, arena), Operand.open(k, mapped, arena),
                    Operand.open(v, mapped, arena));
        }

        /** Refuses NaN and infinities in q, k and v (bad data), and returns max |v|. */
        double checkFinite() throws IOException {
            q.checkFinite();
            k.checkFinite();
            return v.checkFinite();
        }

        boolean mapped() {
            return q.mapped() != null;
        }
    }

    /** One input: its checked shape, and its values as a mapped tensor or as doubles. */
    private record Operand(NpyInputs.Input input, Tensor mapped, double[] values) {

        static Operand open(Path file, boolean map, Arena arena) throws IOException {
            if (!map) {
                NpyInputs.Input in = NpyInputs.tensor(file);
                return new Operand(in, null, in.toDoubles());
            }
            MappedNpy m;
            try {
                m = MappedNpy.openReadOnly(file, arena);
            } catch (NpyFormatException e) {
                throw e;
            } catch (IOException e) {
                throw CliException.data(file + ": cannot map: " + e.getMessage());
            }
            NpyInputs.Input in = NpyInputs.header(file, m.shape());
            int[] dims = in.dims();
            return new Operand(in, m.view(dims[0], dims[1], dims[2], dims[3]), null);
        }

        /** Refuses NaN and infinities (the heap copy was checked when read); max |x|, in one pass over a mapping. */
        double checkFinite() {
            if (values != null) {
                return ErrorStats.maxAbs(values);
            }
            int d = mapped.dim();
            int step = Math.max(1, Math.min(mapped.rows(), (1 << 16) / Math.max(d, 1)));
            float[] block = new float[step * d];
            double max = 0;
            for (int b = 0; b < mapped.batch(); b++) {
                for (int h = 0; h < mapped.heads(); h++) {
                    for (int i0 = 0; i0 < mapped.rows(); i0 += step) {
                        int n = Math.min(step, mapped.rows() - i0);
                        mapped.rows(b, h, i0, n).copyTo(block, 0);
                        for (int x = 0; x < n * d; x++) {
                            float f = block[x];
                            if (!Float.isFinite(f)) {
                                throw CliException.data(input.file() + ": contains " + f + " at index "
                                        + input.index(mapped.rowOffset(b, h, i0) + x) + "; inputs must be finite");
                            }
                            max = Math.max(max, Math.abs(f));
                        }
                    }
                }
            }
            return max;
        }
    }

    /** A judged output (O or LSE): memory-mapped when it is a float32 {@code .npy} file, else read whole. */
    private record Got(long[] shape, MappedNpy mapped, double[] values) {

        static Got open(Path file, String option, Arena arena) throws IOException {
            if (!TensorPath.of(file, null).isSafetensors() && MappedNpy.mappable(file)) {
                MappedNpy m = MappedNpy.openReadOnly(file, arena);
                return new Got(m.shape(), m, null);
            }
            NpyArray a = floating(file, option);
            return new Got(a.shape(), null, a.toDoubleArray());
        }

        /** The sampled rows of every head of this [B, Hq, Nq, width] array, laid out [B·Hq, R, width]. */
        double[] rows(AttentionShape shape, int[] sample, int width) {
            int heads = shape.batch() * shape.qHeads();
            double[] x = new double[heads * sample.length * width];
            float[] row = new float[width];
            Tensor t = values != null ? null : mapped.view(shape.batch(), shape.qHeads(), shape.qLen(), width);
            for (int h = 0; h < heads; h++) {
                for (int r = 0; r < sample.length; r++) {
                    int at = (h * sample.length + r) * width;
                    if (values != null) {
                        System.arraycopy(values, (h * shape.qLen() + sample[r]) * width, x, at, width);
                    } else {
                        t.rows(h / shape.qHeads(), h % shape.qHeads(), sample[r], 1).copyTo(row, 0);
                        for (int c = 0; c < width; c++) {
                            x[at + c] = row[c];
                        }
                    }
                }
            }
            return x;
        }
    }

    /** The sampled rows in groups, one progress step per group; the groups' results laid out as one call's. */
    private static SampledAttention.Rows sampled(VanillaAttention.Precision precision, AttentionShape shape,
            AttentionSpec attention, Inputs in, int[] sample, Progress progress) {
        SampledAttention oracle = new SampledAttention(precision);
        int heads = shape.batch() * shape.qHeads();
        int d = shape.dim();
        int r = sample.length;
        double[] o = new double[heads * r * d];
        double[] l = new double[heads * r];
        for (int from = 0; from < r; from += ROWS_PER_STEP) {
            int n = Math.min(ROWS_PER_STEP, r - from);
            int[] part = Arrays.copyOfRange(sample, from, from + n);
            SampledAttention.Rows rows = in.mapped()
                    ? oracle.forward(shape, attention, in.q().mapped(), in.k().mapped(), in.v().mapped(), part)
                    : oracle.forward(shape, attention, in.q().values(), in.k().values(), in.v().values(), part);
            for (int h = 0; h < heads; h++) {
                System.arraycopy(rows.out(), h * n * d, o, (h * r + from) * d, n * d);
                System.arraycopy(rows.lse(), h * n, l, h * r + from, n);
            }
            progress.step(precision.name().toLowerCase() + " rows " + (from + n) + "/" + r);
        }
        return new SampledAttention.Rows(sample, o, l);
    }

    private static Check check(String name, double[] ref, double[] got, double[] base, double magnitude,
            AttentionShape shape, int[] sample, int width) {
        AccuracyRule.Verdict verdict = AccuracyRule.FORWARD.judge(ref, got, base, magnitude);
        List<RowError> failing = new ArrayList<>();
        RowError worst = null;
        for (int h = 0; h < shape.batch() * shape.qHeads(); h++) {
            for (int r = 0; r < sample.length; r++) {
                int at = (h * sample.length + r) * width;
                ErrorStats e = ErrorStats.of(Arrays.copyOfRange(ref, at, at + width),
                        Arrays.copyOfRange(got, at, at + width));
                double ratio = e.maxAbs() == 0 ? 0 : e.maxAbs() / verdict.bound();
                RowError row = new RowError(h / shape.qHeads(), h % shape.qHeads(), sample[r], e.maxAbs(), ratio);
                if (worst == null || !(ratio <= worst.ratio())) {
                    worst = row;
                }
                if (!(e.maxAbs() <= verdict.bound())) {
                    failing.add(row);
                }
            }
        }
        return new Check(name, verdict, magnitude, failing, worst);
    }

    private void report(PrintWriter w, AttentionShape shape, AttentionSpec attention, int[] sample, int heads,
            List<Check> checks, boolean pass) {
        w.printf("verify: %s, %s, %s against exact float64 rows%n", shape, attention, out);
        w.printf("  rows checked: %d of %d (seed %d): %s%n", sample.length, shape.qLen(), seed, rowList(sample));
        w.printf("  heads: %d (B = %d x Hq = %d), %d rows x heads in all%n", heads, shape.batch(), shape.qHeads(),
                (long) heads * sample.length);
        for (Check c : checks) {
            AccuracyRule.Verdict v = c.verdict();
            w.printf("  %-4s %s: error %s %s bound %s = %.0f x baseline %s + eps %s; worst ratio to the bound %s"
                    + " (row %d, batch %d, head %d)%n", c.name(), v.pass() ? "PASS" : "FAIL", sci(v.engine().maxAbs()),
                    v.pass() ? "<=" : ">",
                    sci(v.bound()), v.factor(), sci(v.baseline().maxAbs()), sci(v.epsilon()), ratio(c.worst().ratio()),
                    c.worst().row(), c.worst().batch(), c.worst().head());
            for (int i = 0; i < Math.min(LISTED_FAILURES, c.failing().size()); i++) {
                RowError r = c.failing().get(i);
                w.printf("       failing row %d (batch %d, head %d): error %s, %s x the bound%n", r.row(), r.batch(),
                        r.head(), sci(r.error()), ratio(r.ratio()));
            }
            if (c.failing().size() > LISTED_FAILURES) {
                w.printf("       ... %d failing rows in all%n", c.failing().size());
            }
        }
        w.printf("verdict: %s%n", pass ? "PASS (every sampled row within the bound)" : "FAIL ("
                + checks.stream().mapToInt(c -> c.failing().size()).sum() + " sampled row(s) beyond the bound)");
    }

    private String toJson(AttentionShape shape, AttentionSpec attention, int[] sample, int heads, List<Check> checks,
            boolean pass) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("out", out.toString());
        m.put("lse", lse == null ? null : lse.toString());
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("batch", shape.batch());
        s.put("q_heads", shape.qHeads());
        s.put("kv_heads", shape.kvHeads());
        s.put("q_len", shape.qLen());
        s.put("kv_len", shape.kvLen());
        s.put("dim", shape.dim());
        m.put("shape", s);
        m.put("mask", attention.toString());
        m.put("seed", seed);
        m.put("rows", Arrays.stream(sample).boxed().toList());
        m.put("heads", heads);
        m.put("rule", "max_abs_error <= factor * baseline_error + eps over the sampled elements, eps = 8 * 2^-24 * M");
        Map<String, Object> outputs = new LinkedHashMap<>();
        for (Check c : checks) {
            AccuracyRule.Verdict v = c.verdict();
            Map<String, Object> cm = new LinkedHashMap<>();
            cm.put("pass", v.pass());
            cm.put("max_abs_error", num(v.engine().maxAbs()));
            cm.put("baseline_error", num(v.baseline().maxAbs()));
            cm.put("factor", num(v.factor()));
            cm.put("magnitude", num(c.magnitude()));
            cm.put("eps", num(v.epsilon()));
            cm.put("bound", num(v.bound()));
            cm.put("worst_ratio", num(c.worst().ratio()));
            cm.put("worst", rowJson(c.worst()));
            cm.put("failing_rows", c.failing().stream().map(VerifyCommand::rowJson).toList());
            outputs.put(c.name().toLowerCase(), cm);
        }
        m.put("outputs", outputs);
        m.put("pass", pass);
        try {
            return new ObjectMapper().writeValueAsString(m);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Map<String, Object> rowJson(RowError r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("row", r.row());
        m.put("batch", r.batch());
        m.put("head", r.head());
        m.put("error", num(r.error()));
        m.put("ratio", num(r.ratio()));
        return m;
    }

    /** A JSON number, or "inf", "-inf", "nan" (JSON has none of them). */
    private static Object num(double x) {
        if (Double.isNaN(x)) {
            return "nan";
        }
        if (Double.isInfinite(x)) {
            return x > 0 ? "inf" : "-inf";
        }
        return x;
    }

    private static NpyArray floating(Path file, String option) throws IOException {
        NpyArray a = Npy.read(file);
        if (!a.dtype().isFloating()) {
            throw CliException.data(file + ": dtype " + a.dtype() + " is not floating point (" + option + " needs"
                    + " float16, float32 or float64)");
        }
        return a;
    }

    private static String rowList(int[] sample) {
        if (sample.length <= 16) {
            return Arrays.toString(sample);
        }
        return Arrays.toString(Arrays.copyOf(sample, 12)).replace("]", ", ... " + sample[sample.length - 1] + "]");
    }

    private static String sci(double x) {
        return GoldenCommand.sci(x);
    }

    private static String ratio(double r) {
        return Double.isFinite(r) ? String.format("%.3f", r) : "inf";
    }
}

package org.ringattention.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.AttentionSpec.CausalAlign;
import org.ringattention.attention.Gradients;
import org.ringattention.attention.LowPrecisionAttention;
import org.ringattention.attention.VanillaAttention;
import org.ringattention.check.AccuracyRule;
import org.ringattention.check.ErrorStats;
import org.ringattention.tensor.Npy;
import org.ringattention.tensor.NpyArray;
import org.ringattention.tensor.NpyFormatException;
import org.ringattention.tensor.Tensor;

/**
 * Judges what an implementation wrote into a case directory against the float64 oracle
 * ({@link VanillaAttention#oracle()}) by the accuracy rule ({@link AccuracyRule}): O and LSE within
 * 2x the error of the baseline plus ε, dQ, dK, dV within 3x (with the elementwise magnitudes of the
 * gradient sums), and the sinks' gradient, when a case with sinks asks for gradients and the
 * implementation wrote it (optional, like LSE), within 3x with ε of max|∂L/∂sink|. The baseline
 * is plain float32 vanilla attention on the same inputs for float32, and the emulated
 * low-precision path ({@link LowPrecisionAttention}) for bfloat16 and float16;
 * the oracle runs on the inputs as the case files hold them (rounded to the dtype).
 *
 * <p>When a case fails, the judge tests hypotheses about why: the output is compared, with the same
 * bound, with the oracle of nearby semantics (the other causal alignment, a window side one wider
 * or narrower, no scale, the default scale), and rows that see no key are inspected. What matches
 * is recorded as a hint ({@link Hint}) for the summary's diagnosis.
 */
final class ConformJudge {

    /** One output file's check. {@code status}: pass, FAIL, missing (allowed for LSE and dSinks only). */
    record Check(String output, String status, double error, double bound, String detail) {
        double ratio() {
            return bound > 0 ? error / bound : (error == 0 ? 0 : Double.POSITIVE_INFINITY);
        }

        boolean failed() {
            return status.equals("FAIL");
        }
    }

    /** A hypothesis a failure matched; {@code kind} groups them in the diagnosis. */
    record Hint(String kind, String text) {
    }

    /** Everything known about one case after the run. */
    record Result(ConformCase c, List<String> features, boolean pass, String reason, List<Check> checks,
            List<Hint> hints, double seconds) {
    }

    private final boolean gradients;
    private final LowPrecisionAttention.Format format; // null: float32

    private final TensorLayout layout;

    ConformJudge(boolean gradients, LowPrecisionAttention.Format format) {
        this(gradients, format, TensorLayout.BHND);
    }

    /** A judge of outputs written in {@code layout} (O, dQ, dK, dV as [B, N, H, d] for bnhd; LSE [B, H, N]). */
    ConformJudge(boolean gradients, LowPrecisionAttention.Format format, TensorLayout layout) {
        this.gradients = gradients;
        this.format = format;
        this.layout = layout;
    }

    /** The inputs as the case files hold them: rounded to the format (the oracle sees what the implementation sees). */
    static ConformCase.Inputs rounded(ConformCase.Inputs in, LowPrecisionAttention.Format format) {
        if (format == null) {
            return in;
        }
        return in.withTensors(round(in.q(), format), round(in.k(), format), round(in.v(), format),
                in.dO() == null ? null : round(in.dO(), format));
    }

    private static double[] round(double[] x, LowPrecisionAttention.Format format) {
        double[] r = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            r[i] = format.round((float) x[i]);
        }
        return r;
    }

    private static float[] floats(double[] x) {
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            f[i] = (float) x[i];
        }
        return f;
    }

    private static double[] doubles(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = x[i];
        }
        return d;
    }

    /** The baseline's O, LSE and (with dO) dQ, dK, dV: plain float32 vanilla, or the emulated low-precision path. */
    private double[][] baseline(ConformCase c, AttentionSpec spec, ConformCase.Inputs in, boolean grads) {
        AttentionShape shape = c.shape();
        if (format == null) {
            VanillaAttention f32 = new VanillaAttention(VanillaAttention.Precision.FLOAT32);
            VanillaAttention.Result r = f32.forward(shape, spec, in.q(), in.k(), in.v());
            if (!grads) {
                return new double[][] {r.out(), r.lse()};
            }
            VanillaAttention.Grads g = f32.backward(shape, spec, in.q(), in.k(), in.v(), in.dO());
            return new double[][] {r.out(), r.lse(), g.dq(), g.dk(), g.dv(),
                f32.sinkGradient(shape, spec, in.q(), in.k(), in.v(), in.dO())};
        }
        LowPrecisionAttention low = new LowPrecisionAttention(format);
        Tensor q = Tensor.wrap(floats(in.q()), c.batch(), c.qHeads(), c.qLen(), c.dim());
        Tensor k = Tensor.wrap(floats(in.k()), c.batch(), c.kvHeads(), c.kvLen(), c.dim());
        Tensor v = Tensor.wrap(floats(in.v()), c.batch(), c.kvHeads(), c.kvLen(), c.dim());
        AttentionOutput o = low.forward(q, k, v, spec);
        double[] out = doubles(o.out().toArray());
        double[] lse = doubles(o.lse());
        if (!grads) {
            return new double[][] {out, lse};
        }
        Tensor dO = Tensor.wrap(floats(in.dO()), c.batch(), c.qHeads(), c.qLen(), c.dim());
        Gradients g = low.backward(q, k, v, o, dO, spec);
        double[] dsinks = spec.sinks() == null ? null : doubles(spec.sinks().gradient(o, dO));
        return new double[][] {out, lse, doubles(g.dq().toArray()), doubles(g.dk().toArray()),
            doubles(g.dv().toArray()), dsinks};
    }

    /** A case whose run failed before any output could be judged. */
    static Result failed(ConformCase c, String reason, double seconds) {
        return new Result(c, c.features(), false, reason, List.of(), List.of(), seconds);
    }

    Result judge(ConformCase c, ConformCase.Inputs in, Path dir, double seconds) {
        AttentionShape shape = c.shape();
        AttentionSpec spec = c.spec(in);
        long[] lseShape = {c.batch(), c.qHeads(), c.qLen()};
        List<Check> checks = new ArrayList<>();
        List<Hint> sinkHints = List.of();
        double[] out;
        double[] lse;
        try {
            out = readTensor(dir, "out.npy", new int[] {c.batch(), c.qHeads(), c.qLen(), c.dim()});
            lse = read(dir, "lse.npy", lseShape, false, format != null);
        } catch (BadOutput e) {
            return failed(c, e.getMessage(), seconds);
        }
        VanillaAttention oracle = VanillaAttention.oracle();
        VanillaAttention.Result ref = oracle.forward(shape, spec, in.q(), in.k(), in.v());
        double[][] base = baseline(c, spec, in, gradients);
        AccuracyRule.Verdict vo = AccuracyRule.FORWARD.judge(ref.out(), out, base[0], ErrorStats.maxAbs(in.v()));
        checks.add(check("out", vo));
        AccuracyRule.Verdict vl = null;
        if (lse == null) {
            checks.add(new Check("lse", "missing", Double.NaN, Double.NaN, "lse.npy not written (allowed)"));
        } else {
            vl = AccuracyRule.FORWARD.judge(ref.lse(), lse, base[1], ErrorStats.maxAbs(ref.lse()) + 1);
            checks.add(check("lse", vl));
        }
        if (gradients) {
            double[][] got = new double[3][];
            String[] names = {"dq", "dk", "dv"};
            try {
                int[][] dims = {{c.batch(), c.qHeads(), c.qLen(), c.dim()}, {c.batch(), c.kvHeads(), c.kvLen(), c.dim()},
                    {c.batch(), c.kvHeads(), c.kvLen(), c.dim()}};
                for (int g = 0; g < 3; g++) {
                    got[g] = readTensor(dir, names[g] + ".npy", dims[g]);
                }
            } catch (BadOutput e) {
                return failed(c, e.getMessage(), seconds);
            }
            VanillaAttention.Grads rg = oracle.backward(shape, spec, in.q(), in.k(), in.v(), in.dO());
            VanillaAttention.Grads mg = oracle.gradientMagnitudes(shape, spec, in.q(), in.k(), in.v(), in.dO());
            double[][] r = {rg.dq(), rg.dk(), rg.dv()};
            double[][] m = {mg.dq(), mg.dk(), mg.dv()};
            double[][] b = {base[2], base[3], base[4]};
            for (int g = 0; g < 3; g++) {
                checks.add(check(names[g], AccuracyRule.GRADIENT.judge(r[g], got[g], b[g], ErrorStats.maxAbs(r[g]),
                        m[g])));
            }
            if (spec.sinks() != null) {
                double[] dsinks;
                try {
                    dsinks = read(dir, "dsinks.npy", new long[] {c.qHeads()}, false, format != null);
                } catch (BadOutput e) {
                    return failed(c, e.getMessage(), seconds);
                }
                if (dsinks == null) {
                    checks.add(new Check("dsinks", "missing", Double.NaN, Double.NaN,
                            "dsinks.npy not written (allowed)"));
                } else {
                    double[] rs = oracle.sinkGradient(shape, spec, in.q(), in.k(), in.v(), in.dO());
                    AccuracyRule.Verdict vs = AccuracyRule.GRADIENT.judge(rs, dsinks, base[5], ErrorStats.maxAbs(rs));
                    checks.add(check("dsinks", vs));
                    if (!vs.pass()) {
                        sinkHints = sinkGradientHints(c, spec, ref, in.dO(), dsinks, vs.bound());
                    }
                }
            }
        }
        boolean pass = checks.stream().noneMatch(Check::failed);
        List<Hint> hints = pass ? List.of() : hypotheses(c, in, ref, out, lse, vo, vl, checks);
        if (!sinkHints.isEmpty()) {
            hints = new ArrayList<>(hints);
            hints.addAll(sinkHints);
        }
        if (!pass && format == null && hints.isEmpty() && !vo.pass()) {
            // as accurate as a good kernel in a lower precision: judged at the wrong dtype?
            for (LowPrecisionAttention.Format f : List.of(LowPrecisionAttention.Format.FLOAT16,
                    LowPrecisionAttention.Format.BFLOAT16)) { // the more precise first
                double[][] low = new ConformJudge(false, f).baseline(c, spec, rounded(in, f), false);
                if (AccuracyRule.FORWARD.judge(ref.out(), out, low[0], ErrorStats.maxAbs(in.v())).pass()) {
                    hints = List.of(new Hint("precision", "errors at the level of " + f.dtype().numpyName()));
                    break;
                }
            }
        }
        String reason = pass ? "" : "failed: " + String.join(", ", checks.stream().filter(Check::failed)
                .map(Check::output).toList());
        return new Result(c, c.features(), pass, reason, checks, hints, seconds);
    }

    private static Check check(String name, AccuracyRule.Verdict v) {
        String detail = v.pass() ? "" : String.format("worst at index %d: ref %s, got %s", v.engine().worstIndex(),
                v.engine().refAtWorst(), v.engine().gotAtWorst());
        return new Check(name, v.pass() ? "pass" : "FAIL", v.engine().maxAbs(), v.bound(), detail);
    }

    /** What the failure of case {@code c} looks like; see the class comment. */
    private static List<Hint> hypotheses(ConformCase c, ConformCase.Inputs in, VanillaAttention.Result ref,
            double[] out, double[] lse, AccuracyRule.Verdict vo, AccuracyRule.Verdict vl, List<Check> checks) {
        List<Hint> hints = new ArrayList<>();
        int d = c.dim();
        // rows that see no key: O = 0, LSE = −∞
        boolean lseBad = false;
        for (int r = 0; r < ref.lse().length; r++) {
            if (ref.lse()[r] != Double.NEGATIVE_INFINITY) {
                continue;
            }
            if (lse != null && lse[r] != Double.NEGATIVE_INFINITY && !lseBad) {
                lseBad = true;
                String what = Double.isNaN(lse[r]) ? "NaN" : lse[r] == Double.POSITIVE_INFINITY ? "+inf"
                        : "finite (" + lse[r] + ")";
                hints.add(new Hint("lse-empty", "LSE is " + what + " where a row sees no key (want -inf)"));
            }
            for (int x = 0; x < d; x++) {
                double o = out[r * d + x];
                if (o != 0) {
                    hints.add(new Hint("out-empty", "O is " + (Double.isNaN(o) ? "NaN" : "non-zero (" + o + ")")
                            + " where a row sees no key (want 0)"));
                    r = ref.lse().length;
                    break;
                }
            }
        }
        boolean forwardFailed = checks.stream().anyMatch(k -> k.failed() && (k.output().equals("out")
                || k.output().equals("lse")));
        if (!forwardFailed) {
            checks.stream().filter(Check::failed).forEach(k -> hints.add(new Hint("grad-" + k.output(), k.output()
                    + " fails while O and LSE pass")));
            return hints;
        }
        double s = c.effectiveScale();
        CausalAlign other = c.align() == CausalAlign.TOP_LEFT ? CausalAlign.BOTTOM_RIGHT : CausalAlign.TOP_LEFT;
        int l = c.windowLeft();
        int rt = c.causal() ? 0 : c.windowRight();
        List<Object[]> alts = new ArrayList<>();
        if (c.aligned() && c.qLen() != c.kvLen()) {
            alts.add(new Object[] {"align", other.text() + " alignment",
                c.variant(other, c.causal(), l, c.windowRight(), c.scale())});
        }
        if (l >= 0) {
            alts.add(new Object[] {"window", "window left " + (l + 1) + " instead of " + l,
                c.variant(c.align(), c.causal(), l + 1, c.windowRight(), c.scale())});
            if (l > 0) {
                alts.add(new Object[] {"window", "window left " + (l - 1) + " instead of " + l,
                    c.variant(c.align(), c.causal(), l - 1, c.windowRight(), c.scale())});
            }
        }
        if (rt >= 0 && c.aligned()) {
            alts.add(new Object[] {"window", (c.causal() ? "causal diagonal: window right 1 instead of 0"
                    : "window right " + (rt + 1) + " instead of " + rt),
                c.variant(c.align(), false, l, rt + 1, c.scale())});
            if (rt > 0) {
                alts.add(new Object[] {"window", "window right " + (rt - 1) + " instead of " + rt,
                    c.variant(c.align(), false, l, rt - 1, c.scale())});
            }
        }
        if (s != 1) {
            alts.add(new Object[] {"scale", "no scale (scale 1 instead of " + s + ")",
                c.variant(c.align(), c.causal(), l, c.windowRight(), 1.0)});
        }
        if (!Double.isNaN(c.scale())) {
            alts.add(new Object[] {"scale-default", "default scale 1/sqrt(d) instead of the given " + s,
                c.variant(c.align(), c.causal(), l, c.windowRight(), Double.NaN)});
        }
        VanillaAttention oracle = VanillaAttention.oracle();
        boolean explained = false;
        for (Object[] a : alts) {
            ConformCase alt = (ConformCase) a[2];
            VanillaAttention.Result r = oracle.forward(alt.shape(), alt.spec(in), in.q(), in.k(), in.v());
            if (matches(r.out(), r.lse(), out, lse, vo, vl)) {
                hints.add(new Hint((String) a[0], "match " + a[1]));
                explained = true;
            }
        }
        ConformCase.Rules rules = c.rules();
        if (rules.softcap() > 0 && (rules.alibi() || rules.bias())) {
            double[][] r = capLast(c, in);
            if (matches(r[0], r[1], out, lse, vo, vl)) {
                hints.add(new Hint("softcap-order", "match the soft cap applied after ALiBi and the bias"));
                explained = true;
            }
        }
        if (explained) {
            // other semantics explain the whole output, empty rows included (a wider window fills them)
            hints.removeIf(h -> h.kind().endsWith("-empty"));
        }
        return hints;
    }

    /**
     * What a failing sinks' gradient matches, within {@code bound}: the opposite sign, the first
     * batch element's sum only, or one gradient per key/value head (the sum over its group of query
     * heads, given to each). Each is built from the oracle's O and LSE:
     * −Σ_{b,i} exp(sink_h − LSE_i)·rowsum(dO_i ∘ O_i) with one term left out or changed.
     */
    private static List<Hint> sinkGradientHints(ConformCase c, AttentionSpec spec, VanillaAttention.Result ref,
            double[] dO, double[] got, double bound) {
        int hq = c.qHeads();
        int nq = c.qLen();
        int d = c.dim();
        double[][] perBatch = new double[c.batch()][hq];
        for (int b = 0; b < c.batch(); b++) {
            for (int h = 0; h < hq; h++) {
                for (int i = 0; i < nq; i++) {
                    int row = (b * hq + h) * nq + i;
                    double delta = 0;
                    for (int x = row * d; x < (row + 1) * d; x++) {
                        delta += dO[x] * ref.out()[x];
                    }
                    perBatch[b][h] -= Math.exp(spec.sinks().logit(h) - ref.lse()[row]) * delta;
                }
            }
        }
        double[] total = new double[hq];
        for (double[] row : perBatch) {
            for (int h = 0; h < hq; h++) {
                total[h] += row[h];
            }
        }
        List<Object[]> forms = new ArrayList<>();
        double[] flipped = new double[hq];
        for (int h = 0; h < hq; h++) {
            flipped[h] = -total[h];
        }
        forms.add(new Object[] {"with the opposite sign", flipped});
        if (c.batch() > 1) {
            forms.add(new Object[] {"of the first batch element only", perBatch[0]});
        }
        int group = hq / c.kvHeads();
        if (group > 1) {
            double[] grouped = new double[hq];
            for (int h = 0; h < hq; h++) {
                for (int m = h / group * group; m < (h / group + 1) * group; m++) {
                    grouped[h] += total[m];
                }
            }
            forms.add(new Object[] {"summed over each key/value head's group of query heads", grouped});
        }
        List<Hint> hints = new ArrayList<>();
        for (Object[] f : forms) {
            if (ErrorStats.of((double[]) f[1], got).maxAbs() <= bound) {
                hints.add(new Hint("dsinks-form", "match the sinks' gradient " + f[0]));
            }
        }
        return hints;
    }

    /** Whether O (and LSE, when written) of another semantics lie within the case's bounds of the output. */
    private static boolean matches(double[] refOut, double[] refLse, double[] out, double[] lse,
            AccuracyRule.Verdict vo, AccuracyRule.Verdict vl) {
        return ErrorStats.of(refOut, out).maxAbs() <= vo.bound()
                && (lse == null || vl == null || ErrorStats.of(refLse, lse).maxAbs() <= vl.bound());
    }

    /**
     * O and LSE in float64 with the soft cap applied last, s = C·tanh((scale·q·k − slope·|p − j| + bias) / C):
     * the classic bug the engine's oracle cannot compute (its cap comes first). ALiBi and the bias
     * come from the mask rule without the cap, so they are the engine's own terms.
     */
    static double[][] capLast(ConformCase c, ConformCase.Inputs in) {
        AttentionSpec spec = c.spec(in);
        org.ringattention.attention.Mask terms = org.ringattention.attention.Mask.of(spec.withSoftcap(0), c.shape());
        int nq = c.qLen();
        int nk = c.kvLen();
        int d = c.dim();
        double cap = c.rules().softcap();
        double scale = c.effectiveScale();
        int group = c.qHeads() / c.kvHeads();
        double[] o = new double[in.q().length];
        double[] lse = new double[c.batch() * c.qHeads() * nq];
        double[] s = new double[nq * nk];
        for (int b = 0; b < c.batch(); b++) {
            for (int h = 0; h < c.qHeads(); h++) {
                int qBase = (b * c.qHeads() + h) * nq;
                int kBase = (b * c.kvHeads() + h / group) * nk;
                Arrays.fill(s, 0);
                terms.adjust(b, h, 0, nq, 0, nk, s, null, false); // ALiBi and bias only
                for (int i = 0; i < nq; i++) {
                    for (int j = 0; j < nk; j++) {
                        double dot = 0;
                        for (int x = 0; x < d; x++) {
                            dot += in.q()[(qBase + i) * d + x] * in.k()[(kBase + j) * d + x];
                        }
                        s[i * nk + j] = cap * Math.tanh((scale * dot + s[i * nk + j]) / cap);
                    }
                }
                terms.apply(b, h, 0, nq, 0, nk, s);
                double sink = terms.sink(h);
                for (int i = 0; i < nq; i++) {
                    double m = sink;
                    for (int j = 0; j < nk; j++) {
                        m = Math.max(m, s[i * nk + j]);
                    }
                    if (m == Double.NEGATIVE_INFINITY) {
                        lse[qBase + i] = m;
                        continue;
                    }
                    double l = Math.exp(sink - m);
                    for (int j = 0; j < nk; j++) {
                        l += Math.exp(s[i * nk + j] - m);
                    }
                    double rowLse = m + Math.log(l);
                    lse[qBase + i] = rowLse;
                    for (int j = 0; j < nk; j++) {
                        double p = Math.exp(s[i * nk + j] - rowLse);
                        for (int x = 0; x < d; x++) {
                            o[(qBase + i) * d + x] += p * in.v()[(kBase + j) * d + x];
                        }
                    }
                }
            }
        }
        return new double[][] {o, lse};
    }

    /** A missing, unreadable or misshapen output. */
    private static final class BadOutput extends Exception {
        BadOutput(String message) {
            super(message);
        }
    }

    /** An output of [B, H, N, d] sizes {@code dims} in the judge's layout, as [B, H, N, d] values. */
    private double[] readTensor(Path dir, String file, int[] dims) throws BadOutput {
        double[] x = read(dir, file, ConformCaseDir.fileShape(dims, layout), true, format != null);
        return layout == TensorLayout.BNHD ? TensorLayout.toHeadsFirst(x, dims) : x;
    }

    /** The file's values, or null when it is optional and missing. */
    private static double[] read(Path dir, String file, long[] shape, boolean required, boolean bf16Bits)
            throws BadOutput {
        Path p = dir.resolve(file);
        if (!Files.exists(p)) {
            if (required) {
                throw new BadOutput("no " + file + " written");
            }
            return null;
        }
        try {
            NpyArray a = Npy.read(p);
            if (bf16Bits && a.dtype() == org.ringattention.tensor.DType.UINT16) {
                a = a.asBFloat16Bits(); // bfloat16 written as its bit patterns
            }
            if (!Arrays.equals(a.shape(), shape)) {
                throw new BadOutput(file + " has shape " + Arrays.toString(a.shape()) + ", want "
                        + Arrays.toString(shape));
            }
            if (!a.dtype().isFloating()) {
                throw new BadOutput(file + " has dtype " + a.dtype() + ", want a floating-point type");
            }
            return a.toDoubleArray();
        } catch (NpyFormatException e) {
            throw new BadOutput(file + ": " + e.getMessage());
        } catch (IOException e) {
            throw new BadOutput(file + ": " + e);
        }
    }
}

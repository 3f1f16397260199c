package org.ringattention.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.ringattention.check.AccuracyRule;
import org.ringattention.golden.Json;
import org.ringattention.tensor.DType;
import org.ringattention.tensor.NpyArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code compare}: how far one array is from a reference, for people checking another attention
 * implementation against this engine's float64 outputs (or the golden set's).
 */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Compares an array with a reference: errors, ULP distances, NaN and infinity counts, and"
            + " with --baseline the verdict of the accuracy rule.",
            "Reports, element by element of GOT.npy against REF.npy: the largest absolute error and where it is,"
            + " the largest relative error, ULP distances (50th, 90th, 99th percentile, max), NaN and infinity"
            + " counts. With --baseline (the plain low-precision result on the same inputs, e.g. float32 vanilla"
            + " attention) it also gives the verdict of the accuracy rule:",
            "  PASS iff max|got - ref| <= factor x max|baseline - ref| + eps, eps = 8*2^-24*max|ref|",
            "(factor 2 by default, as for O and LSE; use --factor 3 for gradients).",
            "Arrays may be float16, bfloat16 (ml_dtypes' '<V2', or uint16 bit patterns with --bf16-bits), float32 or"
            + " float64, any shape, but REF, GOT and BASE must have the same shape;"
            + " each may also be a tensor of a safetensors file, FILE.safetensors:NAME."
            + " Equal infinities (LSE = -inf of a row that sees no key) count as exact; NaN in GOT, or an"
            + " infinity where REF differs, as an infinite error.",
            "ULP distance: the number of representable values between GOT and REF rounded to GOT's precision:"
            + " float64 ULPs when GOT is float64, else float32 ULPs (also for float16 and bfloat16).",
            "Relative error: |got - ref| / max(|ref|, floor), floor = 1e-3 x max|ref| unless --rel-floor is given,"
            + " so elements near zero are judged at the array's scale."},
        footer = {"", "Exit codes: 0 compared (and PASS when --baseline is given), 4 compared but the verdict is FAIL,"
            + " 1 bad input data (unreadable file, mismatched shapes, NaN in REF), 2 bad usage."})
final class CompareCommand implements Callable<Integer> {

    /** Exit code of a comparison that ran but whose verdict is FAIL. */
    static final int VERDICT_FAIL = 4;

    /** Default relative-error floor, as a fraction of max|ref|. */
    static final double REL_FLOOR_FRACTION = 1e-3;

    @Option(names = "--ref", required = true, paramLabel = "REF.npy", description = "The reference (e.g. float64"
            + " oracle output).")
    Path ref;

    @Option(names = "--got", required = true, paramLabel = "GOT.npy", description = "The result to check.")
    Path got;

    @Option(names = "--baseline", paramLabel = "BASE.npy", description = "Plain low-precision result on the same"
            + " inputs: enables the verdict.")
    Path baseline;

    @Option(names = "--factor", paramLabel = "F", defaultValue = "2", description = "Factor of the rule (default"
            + " ${DEFAULT-VALUE}; 3 for gradients).")
    double factor;

    @Option(names = "--rel-floor", paramLabel = "X", description = "Smallest denominator of the relative error"
            + " (default 1e-3 x max|ref|).")
    Double relFloor;

    @Option(names = "--json", description = "Print one JSON object (one line) instead of the text report;"
            + " infinite or NaN numbers appear as the strings \"inf\", \"-inf\", \"nan\".")
    boolean json;

    @picocli.CommandLine.Mixin
    Bf16BitsOption bf16;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** Everything the comparison found. */
    record Stats(long elements, double maxAbsError, long worstIndex, double refAtWorst, double gotAtWorst,
            double maxAbsRef, double maxRelError, double relFloor, String ulpUnit, long[] ulpPercentiles,
            long gotNaN, long gotPosInf, long gotNegInf, long matchingInfinities, long refInfinities) {
    }

    @Override
    public Integer call() throws IOException {
        if (!(factor >= 1) || Double.isInfinite(factor)) {
            throw CliException.usage("--factor must be a finite number >= 1, got " + factor);
        }
        if (relFloor != null && !(relFloor > 0 && Double.isFinite(relFloor))) {
            throw CliException.usage("--rel-floor must be a finite number > 0, got " + relFloor);
        }
        NpyArray refArray = floating(ref, "--ref");
        NpyArray gotArray = floating(got, "--got");
        NpyArray baseArray = baseline == null ? null : floating(baseline, "--baseline");
        sameShape(refArray, gotArray, got);
        if (baseArray != null) {
            sameShape(refArray, baseArray, baseline);
        }
        double[] r = refArray.toDoubleArray();
        for (int i = 0; i < r.length; i++) {
            if (Double.isNaN(r[i])) {
                throw CliException.data(ref + ": contains NaN at index " + index(refArray.shape(), i)
                        + "; a reference must not");
            }
        }
        double[] g = gotArray.toDoubleArray();
        Stats s = stats(r, g, gotArray.dtype() == DType.FLOAT64, relFloor);
        Verdict v = null;
        if (baseArray != null) {
            v = verdict(r, baseArray.toDoubleArray(), s, factor);
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.writeCompact(toJson(refArray, gotArray, s, v)));
        } else {
            report(out, refArray, gotArray, s, v);
        }
        out.flush();
        return v == null || v.pass() ? 0 : VERDICT_FAIL;
    }

    record Verdict(double factor, double baselineError, double eps, double bound, double error, boolean pass) {
    }

    static Verdict verdict(double[] ref, double[] base, Stats s, double factor) {
        double baseErr = maxAbsError(ref, base);
        double eps = AccuracyRule.FORWARD.epsilonUnits() * AccuracyRule.U32 * s.maxAbsRef();
        double bound = factor * baseErr + eps;
        return new Verdict(factor, baseErr, eps, bound, s.maxAbsError(), s.maxAbsError() <= bound);
    }

    /** Elementwise error with the conventions of the class comment. */
    static double error(double r, double g) {
        if (r == g) {
            return 0;
        }
        if (Double.isNaN(r) || Double.isNaN(g) || Double.isInfinite(r) || Double.isInfinite(g)) {
            return Double.POSITIVE_INFINITY;
        }
        return Math.abs(g - r);
    }

    private static double maxAbsError(double[] ref, double[] got) {
        double m = 0;
        for (int i = 0; i < ref.length; i++) {
            m = Math.max(m, error(ref[i], got[i]));
        }
        return m;
    }

    static Stats stats(double[] ref, double[] got, boolean float64Ulps, Double relFloorGiven) {
        double maxRef = 0;
        long refInf = 0;
        for (double r : ref) {
            if (Double.isFinite(r)) {
                maxRef = Math.max(maxRef, Math.abs(r));
            } else {
                refInf++;
            }
        }
        double floor = relFloorGiven != null ? relFloorGiven
                : maxRef > 0 ? REL_FLOOR_FRACTION * maxRef : Double.MIN_NORMAL;
        double worst = 0;
        long at = ref.length == 0 ? -1 : 0;
        double maxRel = 0;
        long nan = 0;
        long posInf = 0;
        long negInf = 0;
        long matchingInf = 0;
        long[] ulps = new long[ref.length];
        for (int i = 0; i < ref.length; i++) {
            double r = ref[i];
            double g = got[i];
            if (Double.isNaN(g)) {
                nan++;
            } else if (g == Double.POSITIVE_INFINITY) {
                posInf++;
            } else if (g == Double.NEGATIVE_INFINITY) {
                negInf++;
            }
            if (Double.isInfinite(g) && g == r) {
                matchingInf++;
            }
            double e = error(r, g);
            if (e > worst) {
                worst = e;
                at = i;
            }
            if (e > 0) {
                maxRel = Math.max(maxRel, e / Math.max(Math.abs(r), floor));
            }
            ulps[i] = float64Ulps ? ulps64(r, g) : ulps32(r, g);
        }
        Arrays.sort(ulps);
        long[] pct = ref.length == 0 ? new long[4]
                : new long[] {percentile(ulps, 50), percentile(ulps, 90), percentile(ulps, 99), ulps[ulps.length - 1]};
        return new Stats(ref.length, worst, at, at >= 0 ? ref[(int) at] : 0, at >= 0 ? got[(int) at] : 0, maxRef,
                maxRel, floor, float64Ulps ? "float64" : "float32", pct, nan, posInf, negInf, matchingInf, refInf);
    }

    /** Nearest-rank percentile of sorted values. */
    private static long percentile(long[] sorted, int p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, rank - 1)];
    }

    /** Float32 values between g and r (rounded to float32); Long.MAX_VALUE when one is NaN or infinite and they differ. */
    static long ulps32(double r, double g) {
        if (r == g) {
            return 0;
        }
        if (!Double.isFinite(r) || !Double.isFinite(g)) {
            return Long.MAX_VALUE;
        }
        return Math.abs(ordinal((float) g) - ordinal((float) r));
    }

    /** Float64 values between g and r; Long.MAX_VALUE when one is NaN or infinite and they differ. */
    static long ulps64(double r, double g) {
        if (r == g) {
            return 0;
        }
        if (!Double.isFinite(r) || !Double.isFinite(g)) {
            return Long.MAX_VALUE;
        }
        long a = ordinal(g);
        long b = ordinal(r);
        if ((a >= 0) == (b >= 0)) {
            return Math.abs(a - b);
        }
        long d = Math.abs(a) + Math.abs(b); // opposite signs: both below 2^63 / 2 + ..., may overflow
        return d < 0 ? Long.MAX_VALUE : d;
    }

    /** Position of f on the number line of floats, +0 and -0 both at 0. */
    private static long ordinal(float f) {
        int bits = Float.floatToRawIntBits(f);
        long mag = bits & 0x7fffffff;
        return bits < 0 ? -mag : mag;
    }

    private static long ordinal(double d) {
        long bits = Double.doubleToRawLongBits(d);
        long mag = bits & 0x7fffffffffffffffL;
        return bits < 0 ? -mag : mag;
    }

    private void report(PrintWriter out, NpyArray r, NpyArray g, Stats s, Verdict v) {
        String f = "%-28s %s%n";
        out.printf("compare: ref %s (%s %s), got %s (%s)%n", ref, r.dtype(), Arrays.toString(r.shape()), got,
                g.dtype());
        out.printf(f, "elements", s.elements());
        out.printf(f, "max abs error", sci(s.maxAbsError()) + (s.elements() > 0 ? " at " + index(r.shape(),
                s.worstIndex()) + " (ref " + s.refAtWorst() + ", got " + s.gotAtWorst() + ")" : ""));
        out.printf(f, "max |ref|", sci(s.maxAbsRef()) + " (finite elements)");
        out.printf(f, "max abs error / max |ref|", sci(s.maxAbsRef() > 0 ? s.maxAbsError() / s.maxAbsRef() : 0));
        out.printf(f, "max rel error", sci(s.maxRelError()) + " (|got - ref| / max(|ref|, " + sci(s.relFloor())
                + ")" + (relFloor == null ? ", floor = 1e-3 x max|ref|" : "") + ")");
        long[] p = s.ulpPercentiles();
        out.printf(f, "ULP distance (" + s.ulpUnit() + ")", "p50 " + ulp(p[0]) + ", p90 " + ulp(p[1]) + ", p99 "
                + ulp(p[2]) + ", max " + ulp(p[3]));
        out.printf(f, "got NaN / +inf / -inf", s.gotNaN() + " / " + s.gotPosInf() + " / " + s.gotNegInf()
                + " (infinities equal to ref's, counted exact: " + s.matchingInfinities() + " of "
                + s.refInfinities() + " in ref)");
        if (v == null) {
            out.printf(f, "verdict", "none (give --baseline for the accuracy rule)");
            return;
        }
        out.printf(f, "baseline max abs error", sci(v.baselineError()) + " (" + baseline + ")");
        out.printf(f, "bound", String.format("%s = %s x %s + eps %s (eps = 8 * 2^-24 * max|ref|)", sci(v.bound()),
                fmt(v.factor()), sci(v.baselineError()), sci(v.eps())));
        out.printf(f, "verdict", (v.pass() ? "PASS" : "FAIL") + String.format(": error %s %s bound %s (ratio %s)",
                sci(v.error()), v.pass() ? "<=" : ">", sci(v.bound()), ratio(v.error(), v.bound())));
    }

    private Map<String, Object> toJson(NpyArray r, NpyArray g, Stats s, Verdict v) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("ref", ref.toString());
        m.put("got", got.toString());
        m.put("baseline", baseline == null ? null : baseline.toString());
        m.put("shape", Arrays.stream(r.shape()).boxed().toList());
        m.put("ref_dtype", r.dtype().numpyName());
        m.put("got_dtype", g.dtype().numpyName());
        m.put("elements", s.elements());
        m.put("max_abs_error", num(s.maxAbsError()));
        m.put("worst_index", s.elements() == 0 ? null : multiIndex(r.shape(), s.worstIndex()));
        m.put("ref_at_worst", num(s.refAtWorst()));
        m.put("got_at_worst", num(s.gotAtWorst()));
        m.put("max_abs_ref", num(s.maxAbsRef()));
        m.put("normalized_error", num(s.maxAbsRef() > 0 ? s.maxAbsError() / s.maxAbsRef() : 0));
        m.put("max_rel_error", num(s.maxRelError()));
        m.put("rel_floor", num(s.relFloor()));
        Map<String, Object> u = new LinkedHashMap<>();
        u.put("unit", s.ulpUnit());
        String[] names = {"p50", "p90", "p99", "max"};
        for (int i = 0; i < names.length; i++) {
            long x = s.ulpPercentiles()[i];
            u.put(names[i], x == Long.MAX_VALUE ? "inf" : (Object) x);
        }
        m.put("ulp", u);
        m.put("got_nan", s.gotNaN());
        m.put("got_pos_inf", s.gotPosInf());
        m.put("got_neg_inf", s.gotNegInf());
        m.put("matching_infinities", s.matchingInfinities());
        m.put("ref_infinities", s.refInfinities());
        if (v == null) {
            m.put("verdict", null);
        } else {
            Map<String, Object> vm = new LinkedHashMap<>();
            vm.put("rule", "max_abs_error <= factor * baseline_error + eps, eps = 8 * 2^-24 * max_abs_ref");
            vm.put("factor", num(v.factor()));
            vm.put("baseline_error", num(v.baselineError()));
            vm.put("eps", num(v.eps()));
            vm.put("bound", num(v.bound()));
            vm.put("pass", v.pass());
            m.put("verdict", vm);
        }
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

    private NpyArray floating(Path file, String option) throws IOException {
        NpyArray a = NpyInputs.read(file, bf16.bf16Bits);
        if (!a.dtype().isFloating()) {
            throw NpyInputs.notFloating(file, a.dtype(), option + " needs float16, bfloat16, float32 or float64");
        }
        return a;
    }

    private void sameShape(NpyArray r, NpyArray other, Path otherFile) {
        if (!Arrays.equals(r.shape(), other.shape())) {
            throw CliException.data(otherFile + ": shape " + Arrays.toString(other.shape()) + " differs from " + ref
                    + " shape " + Arrays.toString(r.shape()));
        }
    }

    private static List<Long> multiIndex(long[] shape, long flat) {
        long[] at = new long[shape.length];
        for (int x = shape.length - 1; x >= 0; x--) {
            at[x] = flat % shape[x];
            flat /= shape[x];
        }
        return Arrays.stream(at).boxed().toList();
    }

    static String index(long[] shape, long flat) {
        return multiIndex(shape, flat).toString();
    }

    private static String ulp(long x) {
        return x == Long.MAX_VALUE ? "inf" : Long.toString(x);
    }

    private static String sci(double x) {
        return GoldenCommand.sci(x);
    }

    private static String fmt(double x) {
        return x == Math.rint(x) ? Long.toString((long) x) : Double.toString(x);
    }

    private static String ratio(double e, double b) {
        if (e == 0) {
            return "0";
        }
        return b == 0 ? "inf" : String.format("%.3f", e / b);
    }
}

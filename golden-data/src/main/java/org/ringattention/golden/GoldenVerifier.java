package org.ringattention.golden;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ringattention.check.AccuracyRule;
import org.ringattention.check.ErrorStats;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;

/**
 * Checks every engine path against a golden set: every output the case stores ({@link
 * GoldenCase#outputs}), in that order, for each path. Per case:
 * <ul>
 *   <li>{@code vanilla float64}: the float64 oracle recomputed on the stored inputs must match the
 *       stored reference to {@link GoldenGenerator#FLOAT64_RELATIVE} of max|ref|;
 *   <li>{@code vanilla float32}: the baseline itself, against the rule (passes by construction:
 *       a sanity check of the rule and the data);
 *   <li>{@code blockwise <kernels> <Bq>x<Bkv> t<threads>}: the blockwise float32 engine with the
 *       preferred and the scalar kernels (once if they are the same), every block size and thread
 *       count of the case, against the accuracy rule with the baseline recomputed on the stored inputs.
 *   <li>{@code ring P=<devices> <layout> <Bq>x<Bkv> t2}: ring attention with the preferred kernels,
 *       for every ring size above 1 and every layout of the case, with the case's first block
 *       sizes and two threads, against the same rule.
 * </ul>
 */
public final class GoldenVerifier {

    /** One output of one path of one case. */
    public record Check(String caseName, String path, Output output, double error, double bound, boolean pass,
            long worstIndex, double refAtWorst, double gotAtWorst) {

        /** error / bound; 0 when both are 0, infinite when only the bound is. */
        public double ratio() {
            if (error == 0) {
                return 0;
            }
            return bound == 0 ? Double.POSITIVE_INFINITY : error / bound;
        }
    }

    /** Told after each path of each case. */
    @FunctionalInterface
    public interface Listener {
        void pathDone(String caseName, String path);
    }

    private static final int RING_THREADS = 2;

    private final List<Kernels> kernels;

    /** Checks the blockwise engine with each of {@code kernels} (duplicates by name dropped). */
    public GoldenVerifier(List<Kernels> kernels) {
        Map<String, Kernels> unique = new LinkedHashMap<>();
        for (Kernels k : kernels) {
            unique.putIfAbsent(k.name(), k);
        }
        this.kernels = List.copyOf(unique.values());
    }

    /** The preferred kernels and the scalar twin. */
    public static GoldenVerifier standard() {
        return new GoldenVerifier(List.of(Kernels.preferred(), Kernels.scalar()));
    }

    /** Number of paths {@link #verify} runs for {@code e}. */
    public int pathCount(GoldenSet.Entry e) {
        GoldenCase c = e.definition();
        return 2 + kernels.size() * c.blocks().size() * c.threads().size() + ringSizes(c) * c.ring().layouts().size();
    }

    /** Checks one case; reads its files first. */
    public List<Check> verify(GoldenSet set, GoldenSet.Entry e, Listener listener) throws IOException {
        GoldenSet.CaseData data = set.read(e);
        GoldenCase c = e.definition();
        CaseInputs in = data.inputs();
        Outputs ref = data.reference();
        List<Check> checks = new ArrayList<>();

        String path = "vanilla float64";
        Outputs f64 = EnginePaths.reference(c, in);
        for (Output o : c.outputs()) {
            ErrorStats err = ErrorStats.of(ref.get(o), f64.get(o));
            double bound = GoldenGenerator.FLOAT64_RELATIVE * ErrorStats.maxAbs(ref.get(o));
            checks.add(check(c, path, o, err, bound));
        }
        listener.pathDone(c.name(), path);

        Outputs base = EnginePaths.baseline(c, in);
        Map<Output, Tolerance> tol = new LinkedHashMap<>();
        for (Output o : c.outputs()) {
            tol.put(o, Tolerance.of(o, in, ref, base));
        }
        path = "vanilla float32";
        add(checks, c, path, ref, base, tol);
        listener.pathDone(c.name(), path);

        for (Kernels k : kernels) {
            for (GoldenCase.Block b : c.blocks()) {
                for (int t : c.threads()) {
                    path = "blockwise " + k.name() + " " + b + " t" + t;
                    add(checks, c, path, ref, EnginePaths.blockwise(c, in, k, b, t), tol);
                    listener.pathDone(c.name(), path);
                }
            }
        }
        GoldenCase.Block first = c.blocks().get(0);
        for (int devices : c.ring().devices()) {
            if (devices == 1) {
                continue; // the blockwise paths above
            }
            for (String layout : c.ring().layouts()) {
                path = "ring P=" + devices + " " + layout + " " + first + " t" + RING_THREADS;
                add(checks, c, path, ref, EnginePaths.ring(c, in, Kernels.preferred(), first, RING_THREADS, devices,
                        Layout.parse(layout)), tol);
                listener.pathDone(c.name(), path);
            }
        }
        return checks;
    }

    private static int ringSizes(GoldenCase c) {
        return (int) c.ring().devices().stream().filter(p -> p > 1).count();
    }

    private static void add(List<Check> checks, GoldenCase c, String path, Outputs ref, Outputs got,
            Map<Output, Tolerance> tol) {
        for (Output o : c.outputs()) {
            checks.add(check(c, path, o, ErrorStats.of(ref.get(o), got.get(o)), tol.get(o).bound()));
        }
    }

    private static Check check(GoldenCase c, String path, Output o, ErrorStats err, double bound) {
        return new Check(c.name(), path, o, err.maxAbs(), bound, err.maxAbs() <= bound, err.worstIndex(),
                err.refAtWorst(), err.gotAtWorst());
    }

    /** The rule's text for reports. */
    public static String ruleText() {
        return "error <= factor x baseline error + 8*2^-24*M (factor " + (int) AccuracyRule.FORWARD.factor()
                + " for O and LSE, " + (int) AccuracyRule.GRADIENT.factor() + " for dQ, dK, dV and dSinks); vanilla float64: "
                + "error <= " + GoldenGenerator.FLOAT64_RELATIVE + " x max|ref|";
    }
}

package org.ringattention.golden;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ringattention.check.AccuracyRule;
import org.ringattention.check.ErrorStats;

/**
 * The bound one output of one case is held to, as recorded in the manifest:
 * {@code bound = factor · baselineError + eps}, {@code eps = 8 · 2⁻²⁴ · magnitude}.
 *
 * @param magnitude     M of {@link AccuracyRule}: max|v| for O, max|LSE| + 1 for LSE, max|ref| for gradients
 * @param baselineError largest absolute error of plain float32 vanilla attention against the reference
 */
public record Tolerance(double factor, double magnitude, double eps, double baselineError, double bound) {

    /** M for {@code which}: what the accuracy rule scales ε by. */
    public static double magnitude(Output which, CaseInputs in, Outputs ref) {
        return switch (which) {
            case O -> ErrorStats.maxAbs(in.v());
            case LSE -> ErrorStats.maxAbs(ref.lse()) + 1;
            default -> ErrorStats.maxAbs(ref.get(which));
        };
    }

    /** The tolerance of {@code which} given the reference and the baseline outputs. */
    public static Tolerance of(Output which, CaseInputs in, Outputs ref, Outputs baseline) {
        AccuracyRule rule = which.rule();
        double m = magnitude(which, in, ref);
        double eps = rule.epsilonUnits() * AccuracyRule.U32 * m;
        double base = ErrorStats.of(ref.get(which), baseline.get(which)).maxAbs();
        return new Tolerance(rule.factor(), m, eps, base, rule.factor() * base + eps);
    }

    Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("factor", factor);
        m.put("magnitude", magnitude);
        m.put("eps", eps);
        m.put("baseline_error", baselineError);
        m.put("bound", bound);
        return m;
    }

    static Tolerance fromJson(JsonFields f) {
        return new Tolerance(f.number("factor"), f.number("magnitude"), f.number("eps"), f.number("baseline_error"),
                f.number("bound"));
    }
}

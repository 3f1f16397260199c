package org.ringattention.check;

/**
 * How far {@code got} is from {@code ref}, element by element: the largest absolute difference
 * and where it is. Equal infinities (LSE = −∞ of a row that sees no key) count as no error; NaN in
 * {@code got}, or an infinity where the reference has a different value, count as an infinite error.
 */
public record ErrorStats(double maxAbs, long worstIndex, double refAtWorst, double gotAtWorst, long nanCount,
        long infCount) {

    /** Compares two arrays of equal length. */
    public static ErrorStats of(double[] ref, double[] got) {
        if (ref.length != got.length) {
            throw new IllegalArgumentException("lengths differ: ref " + ref.length + ", got " + got.length);
        }
        double worst = 0;
        long at = -1;
        long nans = 0;
        long infs = 0;
        for (int i = 0; i < ref.length; i++) {
            double r = ref[i];
            double g = got[i];
            if (Double.isNaN(g)) {
                nans++;
            } else if (Double.isInfinite(g)) {
                infs++;
            }
            double e;
            if (r == g) {
                e = 0; // includes equal infinities
            } else if (Double.isNaN(r) || Double.isNaN(g) || Double.isInfinite(r) || Double.isInfinite(g)) {
                e = Double.POSITIVE_INFINITY;
            } else {
                e = Math.abs(r - g);
            }
            if (e > worst || at < 0) {
                worst = Math.max(worst, e);
                at = i;
            }
        }
        return new ErrorStats(worst, at, at >= 0 ? ref[(int) at] : 0, at >= 0 ? got[(int) at] : 0, nans, infs);
    }

    /** Largest finite |x|, 0 for an empty or all-infinite array. */
    public static double maxAbs(double[] x) {
        double m = 0;
        for (double v : x) {
            if (Double.isFinite(v)) {
                m = Math.max(m, Math.abs(v));
            }
        }
        return m;
    }
}

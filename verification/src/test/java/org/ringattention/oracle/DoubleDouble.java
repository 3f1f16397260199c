package org.ringattention.oracle;

/**
 * A double-double number: the unevaluated sum hi + lo of two doubles with |lo| ≤ ulp(hi)/2, about
 * 106 bits of significand (unit roundoff 2⁻¹⁰⁶ ≈ 1.2·10⁻³²). The error-free transformations
 * (Knuth's two-sum, a product's error by fused multiply-add) and the algorithms follow Hida, Li and
 * Bailey's QD library, written anew here:
 * <pre>
 *   a + b:   two-sum of the high parts and of the low parts, renormalized twice  (≤ 2u²-ish)
 *   a · b:   p = a.hi·b.hi exactly as (p, fma(a.hi, b.hi, −p)), plus the cross terms
 *   a / b:   three quotient digits, each by one double division and a DD remainder
 *   exp(a):  a = k·ln2 + r, |r| ≤ ln2/2; s = r/2¹⁰; expm1(s) by Taylor (15 terms, |s| ≤ 3.4·10⁻⁴);
 *            ten squarings in the form (1 + p)² − 1 = 2p + p², which keep p's relative accuracy;
 *            then 1 + p scaled by 2^k
 *   log(a):  a = m·2^e, m in [1, 2): e·ln2 + log m, log m by Newton's iteration
 *            y ← y + m·exp(−y) − 1 from log(m.hi), three times (quadratic: 10⁻¹⁶ → 10⁻³² after one)
 * </pre>
 * Only finite values. exp(x) is accurate to about max(1, |x|)·2⁻¹⁰⁶ relative (its condition number
 * is |x|) down to x ≈ −660; below, the low part is subnormal and bits are lost, and below −745 the
 * result is 0: such terms are negligible in attention, where exp(0) = 1 is always among them.
 * For tests: values are immutable objects.
 */
final class DoubleDouble implements Comparable<DoubleDouble> {

    static final DoubleDouble ZERO = new DoubleDouble(0, 0);
    static final DoubleDouble ONE = new DoubleDouble(1, 0);
    /** ln 2 to 106 bits: 0.693147180559945309417232121458176568... */
    static final DoubleDouble LN2 = new DoubleDouble(0x1.62e42fefa39efp-1, 0x1.abc9e3b39803fp-56);

    final double hi;
    final double lo;

    private DoubleDouble(double hi, double lo) {
        this.hi = hi;
        this.lo = lo;
    }

    static DoubleDouble of(double x) {
        return new DoubleDouble(x, 0);
    }

    /** The exact product of two doubles. */
    static DoubleDouble product(double a, double b) {
        double p = a * b;
        return new DoubleDouble(p, Math.fma(a, b, -p));
    }

    private static DoubleDouble quickTwoSum(double a, double b) {
        double s = a + b;
        return new DoubleDouble(s, b - (s - a));
    }

    DoubleDouble add(DoubleDouble y) {
        double s = hi + y.hi;
        double bb = s - hi;
        double e = (hi - (s - bb)) + (y.hi - bb);
        double t = lo + y.lo;
        double bt = t - lo;
        double f = (lo - (t - bt)) + (y.lo - bt);
        e += t;
        double s2 = s + e;
        e = e - (s2 - s);
        e += f;
        double s3 = s2 + e;
        return new DoubleDouble(s3, e - (s3 - s2));
    }

    DoubleDouble add(double y) {
        double s = hi + y;
        double bb = s - hi;
        double e = (hi - (s - bb)) + (y - bb);
        e += lo;
        return quickTwoSum(s, e);
    }

    DoubleDouble negate() {
        return new DoubleDouble(-hi, -lo);
    }

    DoubleDouble subtract(DoubleDouble y) {
        return add(y.negate());
    }

    DoubleDouble multiply(DoubleDouble y) {
        double p = hi * y.hi;
        double e = Math.fma(hi, y.hi, -p);
        e += hi * y.lo + lo * y.hi;
        return quickTwoSum(p, e);
    }

    DoubleDouble multiply(double y) {
        double p = hi * y;
        double e = Math.fma(hi, y, -p);
        e += lo * y;
        return quickTwoSum(p, e);
    }

    /** Exact scaling by 2^k (no overflow or underflow in the uses here). */
    DoubleDouble scalb(int k) {
        return new DoubleDouble(Math.scalb(hi, k), Math.scalb(lo, k));
    }

    DoubleDouble divide(DoubleDouble y) {
        double q1 = hi / y.hi;
        DoubleDouble r = subtract(y.multiply(q1));
        double q2 = r.hi / y.hi;
        r = r.subtract(y.multiply(q2));
        double q3 = r.hi / y.hi;
        return quickTwoSum(q1, q2).add(q3);
    }

    DoubleDouble divide(double y) {
        return divide(of(y));
    }

    DoubleDouble abs() {
        return hi < 0 || (hi == 0 && lo < 0) ? negate() : this;
    }

    /** e^this. */
    DoubleDouble exp() {
        if (hi < -745) {
            return ZERO;
        }
        if (hi > 709) {
            throw new ArithmeticException("exp overflows: " + this);
        }
        double k = Math.rint(hi / LN2.hi);
        DoubleDouble s = subtract(LN2.multiply(k)).scalb(-10);
        DoubleDouble term = s;
        DoubleDouble p = s;
        for (int i = 2; i <= 15; i++) {
            term = term.multiply(s).divide(i);
            p = p.add(term);
        }
        for (int i = 0; i < 10; i++) {
            p = p.multiply(2).add(p.multiply(p));
        }
        return ONE.add(p).scalb((int) k);
    }

    /**
     * tanh(this) = (1 − e) / (1 + e) with e = e^(−2|x|), odd in x: no overflow, and for small |x| the
     * cancellation in 1 − e costs about log2(1 / |x|) of the 106 bits, still far beyond float64's.
     */
    DoubleDouble tanh() {
        DoubleDouble e = abs().multiply(-2).exp();
        DoubleDouble t = ONE.subtract(e).divide(ONE.add(e));
        return hi < 0 ? t.negate() : t;
    }

    /** The natural logarithm of a positive value. */
    DoubleDouble log() {
        if (!(hi > 0)) {
            throw new ArithmeticException("log of a non-positive value: " + this);
        }
        // log(m·2^e) = e·ln2 + log m with m in [1, 2): exp(−y) then stays far from the subnormals
        int e = Math.getExponent(hi);
        DoubleDouble m = scalb(-e);
        DoubleDouble y = of(Math.log(m.hi));
        for (int i = 0; i < 3; i++) {
            y = y.add(m.multiply(y.negate().exp())).subtract(ONE);
        }
        return y.add(LN2.multiply(e));
    }

    double doubleValue() {
        return hi + lo;
    }

    @Override
    public int compareTo(DoubleDouble o) {
        int c = Double.compare(hi, o.hi);
        return c != 0 ? c : Double.compare(lo, o.lo);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DoubleDouble d && d.hi == hi && d.lo == lo;
    }

    @Override
    public int hashCode() {
        return Double.hashCode(hi) * 31 + Double.hashCode(lo);
    }

    @Override
    public String toString() {
        return new java.math.BigDecimal(hi).add(new java.math.BigDecimal(lo))
                .round(new java.math.MathContext(34)).toString();
    }
}

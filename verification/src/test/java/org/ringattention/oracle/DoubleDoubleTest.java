package org.ringattention.oracle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Double-double arithmetic against exact BigDecimal arithmetic: the basic operations on random
 * operands, exp and log at known values (50 digits, from an arbitrary-precision library) and on
 * random arguments against a BigDecimal exp written independently here (Taylor series after
 * halving the argument) and its logarithm by Newton's iteration.
 */
class DoubleDoubleTest {

    private static final MathContext MC = new MathContext(60);
    /** 2⁻¹⁰⁰: within 64 units of the double-double roundoff 2⁻¹⁰⁶. */
    private static final double REL = 0x1p-100;

    private static BigDecimal big(DoubleDouble x) {
        return new BigDecimal(x.hi).add(new BigDecimal(x.lo));
    }

    private static double relative(DoubleDouble got, BigDecimal want) {
        if (want.signum() == 0) {
            return big(got).abs().doubleValue();
        }
        return big(got).subtract(want).abs().divide(want.abs(), MC).doubleValue();
    }

    /** e^x to 60 digits: x/2^k below 2⁻¹⁰ in magnitude, 40 Taylor terms, k squarings. */
    static BigDecimal expBig(BigDecimal x) {
        int k = Math.max(0, (int) Math.ceil(Math.log(Math.abs(x.doubleValue()) + 1e-300) / Math.log(2)) + 10);
        BigDecimal y = x.divide(BigDecimal.valueOf(2).pow(k), MC);
        BigDecimal sum = BigDecimal.ONE;
        BigDecimal term = BigDecimal.ONE;
        for (int i = 1; i <= 40; i++) {
            term = term.multiply(y, MC).divide(BigDecimal.valueOf(i), MC);
            sum = sum.add(term, MC);
        }
        for (int i = 0; i < k; i++) {
            sum = sum.multiply(sum, MC);
        }
        return sum;
    }

    static BigDecimal logBig(BigDecimal x) {
        BigDecimal y = new BigDecimal(Math.log(x.doubleValue()));
        for (int i = 0; i < 5; i++) {
            y = y.add(x.multiply(expBig(y.negate()), MC), MC).subtract(BigDecimal.ONE, MC);
        }
        return y;
    }

    private static DoubleDouble random(SplittableRandom rnd) {
        double hi = (rnd.nextDouble() - 0.5) * Math.pow(2, rnd.nextInt(-40, 40));
        return DoubleDouble.of(hi).add(hi * 0x1p-60 * rnd.nextDouble());
    }

    @Test
    void lnTwoIsRightTo106Bits() {
        // ln 2 = 2·atanh(1/3) = 2·Σ 3^−(2k+1)/(2k+1)
        BigDecimal sum = BigDecimal.ZERO;
        BigDecimal third = BigDecimal.ONE.divide(BigDecimal.valueOf(3), MC);
        BigDecimal pow = third;
        for (int k = 0; k < 70; k++) {
            sum = sum.add(pow.divide(BigDecimal.valueOf(2 * k + 1), MC), MC);
            pow = pow.multiply(third, MC).multiply(third, MC);
        }
        assertThat(relative(DoubleDouble.LN2, sum.multiply(BigDecimal.valueOf(2)))).isLessThan(0x1p-106);
        assertThat(relative(DoubleDouble.LN2, logBig(BigDecimal.valueOf(2)))).isLessThan(0x1p-106);
    }

    @Test
    void basicOperationsAreAccurateTo2ToTheMinus100() {
        SplittableRandom rnd = new SplittableRandom(106);
        for (int t = 0; t < 20_000; t++) {
            DoubleDouble a = random(rnd);
            DoubleDouble b = random(rnd);
            BigDecimal x = big(a);
            BigDecimal y = big(b);
            BigDecimal sum = x.add(y);
            // a sum is accurate relative to its operands (cancellation is exact, not amplified)
            double sumErr = big(a.add(b)).subtract(sum).abs().doubleValue() / (x.abs().add(y.abs()).doubleValue());
            assertThat(sumErr).as("%s + %s", a, b).isLessThan(REL);
            assertThat(relative(a.multiply(b), x.multiply(y))).as("%s * %s", a, b).isLessThan(REL);
            assertThat(relative(a.divide(b), x.divide(y, MC))).as("%s / %s", a, b).isLessThan(REL);
            assertThat(relative(a.multiply(b.hi), x.multiply(new BigDecimal(b.hi)))).isLessThan(REL);
            assertThat(relative(DoubleDouble.product(a.hi, b.hi), new BigDecimal(a.hi).multiply(new BigDecimal(b.hi))))
                    .as("a product of doubles is exact").isZero();
            assertThat(big(a.scalb(-7))).isEqualByComparingTo(x.divide(BigDecimal.valueOf(128)));
        }
    }

    @ParameterizedTest
    @CsvSource({
        "1,           2.7182818284590452353602874713526624977572470937000",
        "-1,          0.36787944117144232159552377016146086744581113103177",
        "0.5,         1.6487212707001281468486507878141635716537761007101",
        "-10,         0.000045399929762484851535591515560550610237918088866565",
        "-600,        2.6503965530043108163386794472695827015290925499432E-261",
        "600,         3.7730203009299398234014311934831350971827786362612E+260",
        "1e-20,       1.0000000000000000000100000000000000000000500000000",
        "0,           1",
    })
    void expAtKnownValues(double x, String want) {
        // exp's condition number is |x|: the 2⁻¹⁰⁶ rounding of x − k·ln2 costs |x|·2⁻¹⁰⁶ relative
        assertThat(relative(DoubleDouble.of(x).exp(), new BigDecimal(want))).isLessThan(REL * Math.max(1, Math.abs(x)));
    }

    /** At doubles, so exactly at these values: 0.1 is the double nearest 1/10, log(0.1) that double's. */
    @ParameterizedTest
    @CsvSource({
        "10,          2.3025850929940456840179914546843642076011014886288",
        "3,           1.0986122886681096913952452369225257046474905578227",
        "0x1p-10,     -6.9314718055994530941723212145817656807550013436026",
        "0x1.8p997,   691.47320412637363787095843820926638750784562438064",
        "0.1,         -2.3025850929940456285068402234265387271634735938764",
        "2,           0.69314718055994530941723212145817656807550013436026",
    })
    void logAtKnownValues(double x, String want) {
        assertThat(relative(DoubleDouble.of(x).log(), new BigDecimal(want))).isLessThan(REL);
    }

    @Test
    void logNearOneIsAccurateInAbsoluteTerms() {
        // log(1.0000001) = 9.99999950000003333333083333353333331666666809523801e−8; Newton's
        // a·e^−y − 1 cancels, so the error is absolute (2⁻¹⁰⁰), which is what log l ≥ 0 needs
        DoubleDouble y = DoubleDouble.of(1.0000001).log();
        BigDecimal want = logBig(new BigDecimal(1.0000001));
        assertThat(big(y).subtract(want).abs().doubleValue()).isLessThan(REL);
        assertThat(DoubleDouble.ONE.log().doubleValue()).isZero();
    }

    @Test
    void tanhAgreesWithTheExponentialDefinition() {
        SplittableRandom rnd = new SplittableRandom(11);
        for (int n = 0; n < 200; n++) {
            // |x| from 1e-6 to 30, both signs: tanh(x) = (e^{2x} − 1) / (e^{2x} + 1) in 60 digits
            double x = Math.copySign(Math.pow(10, -6 + 7.5 * rnd.nextDouble()), rnd.nextBoolean() ? 1 : -1);
            BigDecimal e2x = expBig(new BigDecimal(2 * x));
            BigDecimal want = e2x.subtract(BigDecimal.ONE).divide(e2x.add(BigDecimal.ONE), MC);
            // the cancellation in 1 − e^{−2|x|} costs log2(1/|x|) bits at small |x|
            assertThat(relative(DoubleDouble.of(x).tanh(), want)).as("tanh(%s)", x)
                    .isLessThan(REL * Math.max(1, 1 / Math.abs(x)));
        }
        assertThat(DoubleDouble.ZERO.tanh().doubleValue()).isZero();
    }

    @Test
    void expAndLogOnRandomArguments() {
        SplittableRandom rnd = new SplittableRandom(2);
        for (int t = 0; t < 400; t++) {
            // down to −660: below about 2⁻⁹⁶⁹ the low part of the result is subnormal and loses bits
            double x = rnd.nextDouble(-660, 700) * (rnd.nextBoolean() ? 1 : rnd.nextDouble() * 1e-3);
            DoubleDouble a = DoubleDouble.of(x).add(x * 0x1p-58 * rnd.nextDouble());
            assertThat(relative(a.exp(), expBig(big(a)))).as("exp(%s)", a)
                    .isLessThan(REL * Math.max(1, Math.abs(x)));
            DoubleDouble pos = a.abs().add(1e-300);
            BigDecimal lw = logBig(big(pos));
            assertThat(big(pos.log()).subtract(lw).abs().doubleValue())
                    .as("log(%s)", pos).isLessThan(REL * Math.max(1, Math.abs(lw.doubleValue())));
        }
    }

    @Test
    void edges() {
        assertThat(DoubleDouble.of(-746).exp()).isEqualTo(DoubleDouble.ZERO);
        assertThatThrownBy(() -> DoubleDouble.of(710).exp()).isInstanceOf(ArithmeticException.class);
        assertThatThrownBy(() -> DoubleDouble.ZERO.log()).isInstanceOf(ArithmeticException.class);
        assertThat(DoubleDouble.of(-2).abs()).isEqualTo(DoubleDouble.of(2));
        assertThat(DoubleDouble.of(1).compareTo(DoubleDouble.of(1).add(1e-30))).isNegative();
        assertThat(DoubleDouble.LN2.toString()).startsWith("0.69314718055994530941723212145817");
    }
}

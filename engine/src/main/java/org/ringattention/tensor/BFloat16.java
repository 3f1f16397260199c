package org.ringattention.tensor;

/**
 * Conversions between float32 and bfloat16, held as its 16-bit pattern in a {@code short}.
 *
 * <p>bfloat16 is the upper half of a float32: sign, the same 8 exponent bits, 7 fraction bits.
 * Widening is therefore exact (shift left by 16). Narrowing rounds to nearest, ties to even, like
 * PyTorch's and ml_dtypes' conversions: add {@code 0x7FFF} plus the lowest kept bit, then
 * truncate; a carry out of the fraction correctly bumps the exponent, up to infinity for values
 * beyond the largest bfloat16 (about 3.39e38). NaN stays NaN (quiet, sign kept) rather than
 * rounding into an infinity. Subnormals are kept, not flushed.
 *
 * <p>float16 needs no helper: {@link Float#floatToFloat16} and {@link Float#float16ToFloat} round
 * to nearest-even and widen exactly.
 */
public final class BFloat16 {

    /** The unit roundoff of bfloat16, 2^-8: half the gap between 1 and the next bfloat16. */
    public static final double UNIT_ROUNDOFF = 0x1p-8;

    private BFloat16() {
    }

    /** The float32 whose upper half is {@code bits}; exact. */
    public static float toFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** {@code f} rounded to the nearest bfloat16 (ties to even), as its bit pattern. */
    public static short fromFloat(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int rounded = bits + 0x7fff + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    /** {@code f} rounded to the nearest bfloat16, as a float32. */
    public static float round(float f) {
        return toFloat(fromFloat(f));
    }
}

package org.ringattention.attention;

/**
 * Thrown by a task of {@link ShardAttention} that found NaN or ±∞ in a block of an input it had
 * just copied or packed: the check rides on those copies instead of a separate pass over the
 * inputs. Which task finds a bad element first depends on timing, so the caller does not report
 * this exception: it runs {@link FiniteInputs#require}, whose error names the first non-finite
 * element in a fixed order.
 */
final class NonFiniteInput extends RuntimeException {

    private static final long serialVersionUID = 1L;

    NonFiniteInput(String input) {
        super(input + " holds NaN or an infinity", null, false, false);
    }
}

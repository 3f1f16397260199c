package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.ringattention.tensor.Tensor;

/**
 * {@link FiniteInputs#require} names the first non-finite element of the first tensor that holds
 * one, as the serial check does, whichever piece of the split scan found it: at the very first
 * element (a piece that reports index 0), in a tensor whose every piece holds one, and in a later
 * tensor after clean ones, on one to three threads. The passes reach it only after a block check
 * found a bad element, so they pin the message, not these cases.
 */
class FiniteInputsTest {

    @Test
    void theFirstBadElementOfTheFirstBadTensorIsNamed() {
        for (int threads = 1; threads <= 3; threads++) {
            Tensor clean = filled(1f);
            Tensor first = filled(1f);
            first.set(0, 0, 0, 0, Float.NaN);
            first.set(1, 1, 2, 1, Float.NaN);
            Tensor everywhere = filled(Float.POSITIVE_INFINITY);
            Tensor last = filled(1f);
            last.set(1, 1, 2, 1, Float.NEGATIVE_INFINITY);
            String t = threads + " threads";

            assertEquals("k contains NaN at [0, 0, 0, 0] (inputs must be finite)",
                    message(threads, new Tensor[] {clean, first, last}, t), t);
            assertEquals("q contains Infinity at [0, 0, 0, 0] (inputs must be finite)",
                    message(threads, new Tensor[] {everywhere, clean, clean}, t), t);
            assertEquals("v contains -Infinity at [1, 1, 2, 1] (inputs must be finite)",
                    message(threads, new Tensor[] {clean, clean, last}, t), t);
            FiniteInputs.require(threads, new Tensor[] {clean, clean, clean}, "q", "k", "v");
        }
        Tensor one = Tensor.zeros(1, 1, 1, 1);
        one.set(0, 0, 0, 0, Float.NaN);
        assertEquals("q contains NaN at [0, 0, 0, 0] (inputs must be finite)", message(2, new Tensor[] {one},
                "a tensor smaller than the pieces"));
    }

    private static String message(int threads, Tensor[] tensors, String what) {
        String[] names = {"q", "k", "v"};
        return assertThrows(IllegalArgumentException.class,
                () -> FiniteInputs.require(threads, tensors, java.util.Arrays.copyOf(names, tensors.length)), what)
                .getMessage();
    }

    private static Tensor filled(float value) {
        Tensor t = Tensor.zeros(2, 2, 3, 2);
        float[] a = t.heapArray();
        java.util.Arrays.fill(a, value);
        return t;
    }
}

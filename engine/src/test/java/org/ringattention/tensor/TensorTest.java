package org.ringattention.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * {@link Tensor} and {@link RowBlock} on both storages (heap array and MemorySegment): the
 * row-major index of the class comment, views that write through, and the shapes accepted and
 * refused.
 */
class TensorTest {

    /** A [2, 3, 4, 5] tensor whose element at flat index t is t, on the heap and off it. */
    private static List<Tensor> bothStorages(Arena arena) {
        float[] x = new float[2 * 3 * 4 * 5];
        for (int t = 0; t < x.length; t++) {
            x[t] = t;
        }
        MemorySegment seg = arena.allocate((long) x.length * Float.BYTES);
        MemorySegment.copy(x, 0, seg, Tensor.LE_FLOAT, 0, x.length);
        return List.of(Tensor.wrap(x.clone(), 2, 3, 4, 5), Tensor.of(seg, 2, 3, 4, 5));
    }

    @Test
    void theHeapLimitItselfFits() {
        // the limit every heap tensor, .npy and safetensors load compares with; its boundary would
        // otherwise need an array of 2^31 − 9 floats (8 GiB) to test
        assertEquals(Integer.MAX_VALUE - 8, Npy.MAX_HEAP_ELEMENTS, "the usual largest Java array");
        assertTrue(Npy.fitsHeap(Npy.MAX_HEAP_ELEMENTS));
        assertFalse(Npy.fitsHeap(Npy.MAX_HEAP_ELEMENTS + 1));
        assertTrue(Npy.fitsHeap(0));
    }

    @Test
    void elementsAreRowMajorOverBatchHeadRowAndDim() {
        try (Arena arena = Arena.ofConfined()) {
            for (Tensor t : bothStorages(arena)) {
                for (int b = 0; b < 2; b++) {
                    for (int h = 0; h < 3; h++) {
                        for (int i = 0; i < 4; i++) {
                            long row = ((b * 3L + h) * 4 + i) * 5;
                            assertEquals(row, t.rowOffset(b, h, i), t.shape() + " row " + b + h + i);
                            for (int k = 0; k < 5; k++) {
                                assertEquals(row + k, t.get(b, h, i, k));
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void rowBlocksReadAndWriteTheirRowsOnly() {
        try (Arena arena = Arena.ofConfined()) {
            for (Tensor t : bothStorages(arena)) {
                RowBlock block = t.rows(1, 2, 1, 2); // rows 1 and 2 of head (1, 2)
                long base = t.rowOffset(1, 2, 1);
                float[] got = new float[2 + 10];
                block.copyTo(got, 2);
                for (int e = 0; e < 10; e++) {
                    assertEquals(base + e, got[2 + e]);
                }
                float[] src = new float[3 + 10];
                for (int e = 0; e < 10; e++) {
                    src[3 + e] = -1 - e;
                }
                block.copyFrom(src, 3);
                float[] all = t.toArray();
                for (int e = 0; e < all.length; e++) {
                    float want = e >= base && e < base + 10 ? -1 - (e - base) : e;
                    assertEquals(want, all[e], t.isHeap() + " element " + e);
                }
                block.set(1, 4, 7.5f);
                assertEquals(7.5f, t.get(1, 2, 2, 4));
                assertEquals(7.5f, block.get(1, 4));
            }
        }
    }

    @Test
    void aZeroInAnyDimensionIsAnEmptyTensor() {
        List<Function<int[], Tensor>> makers = List.of(s -> Tensor.zeros(s[0], s[1], s[2], s[3]),
                s -> Tensor.wrap(new float[0], s[0], s[1], s[2], s[3]),
                s -> Tensor.of(MemorySegment.ofArray(new float[0]), s[0], s[1], s[2], s[3]));
        for (int zeroAt = 0; zeroAt < 4; zeroAt++) {
            int[] shape = {2, 3, 4, 5};
            shape[zeroAt] = 0;
            for (Function<int[], Tensor> make : makers) {
                Tensor t = make.apply(shape);
                assertEquals(0, t.size());
                assertEquals(0, t.toArray().length);
                assertEquals(-1, t.firstNonFinite());
            }
            // two negative dimensions, so that the element count still matches the array
            int[] negative = {2, 3, 4, 5};
            negative[zeroAt] = -negative[zeroAt];
            negative[(zeroAt + 1) % 4] = -negative[(zeroAt + 1) % 4];
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Tensor.wrap(new float[120], negative[0], negative[1], negative[2], negative[3]));
            assertEquals("negative dimension in " + Arrays.toString(negative), e.getMessage());
            int[] one = {2, 3, 4, 5};
            one[zeroAt] = -1; // zeros allocates: a negative element count must not reach the array
            IllegalArgumentException z = assertThrows(IllegalArgumentException.class,
                    () -> Tensor.zeros(one[0], one[1], one[2], one[3]));
            assertEquals("negative dimension in " + Arrays.toString(one), z.getMessage());
        }
    }

    @Test
    void theFirstNonFiniteElementIsFoundOnBothStorages() {
        try (Arena arena = Arena.ofConfined()) {
            for (Tensor t : bothStorages(arena)) {
                assertEquals(-1, t.firstNonFinite());
                t.set(1, 0, 2, 3, Float.NaN);
                t.set(1, 2, 0, 0, Float.POSITIVE_INFINITY);
                long nan = t.rowOffset(1, 0, 2) + 3;
                assertEquals(nan, t.firstNonFinite());
                assertEquals(t.rowOffset(1, 2, 0), t.firstNonFinite(nan + 1, t.size()));
                assertEquals(-1, t.firstNonFinite(0, nan));
                assertEquals("[1, 0, 2, 3]", t.indexString(nan));
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.requireFinite("q"));
                assertEquals("q contains NaN at [1, 0, 2, 3] (inputs must be finite)", e.getMessage());
                assertArrayEquals(new float[] {Float.NaN}, new float[] {t.get(1, 0, 2, 3)});
            }
        }
    }
}

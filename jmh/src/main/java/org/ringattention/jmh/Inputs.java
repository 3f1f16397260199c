package org.ringattention.jmh;

import java.util.SplittableRandom;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;

/** Shared set-up of the benchmarks: kernels by name, random inputs from a fixed seed. */
final class Inputs {

    /** Every fork and every run measures the same inputs. */
    static final long SEED = 0x5EED_2025L;

    private Inputs() {
    }

    /** {@code preferred} or {@code scalar}. */
    static Kernels kernels(String name) {
        return switch (name) {
            case "preferred" -> Kernels.preferred();
            case "scalar" -> Kernels.scalar();
            default -> throw new IllegalArgumentException("kernels must be preferred or scalar, got " + name);
        };
    }

    /** Standard normal float32 values in a [1, heads, rows, dim] tensor. */
    static Tensor gaussian(SplittableRandom random, int heads, int rows, int dim) {
        float[] data = new float[Math.multiplyExact(Math.multiplyExact(heads, rows), dim)];
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) random.nextGaussian();
        }
        return Tensor.wrap(data, 1, heads, rows, dim);
    }

    /** Standard normal values rounded to float32, held in doubles. */
    static double[] gaussianDoubles(SplittableRandom random, int n) {
        double[] data = new double[n];
        for (int i = 0; i < n; i++) {
            data[i] = (float) random.nextGaussian();
        }
        return data;
    }
}

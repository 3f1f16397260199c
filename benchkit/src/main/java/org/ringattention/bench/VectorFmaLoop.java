package org.ringattention.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector FMA loop of {@link FmaPeak}, in a class of its own so that {@link FmaPeak} loads and
 * reports a reason when the {@code jdk.incubator.vector} module is missing.
 */
final class VectorFmaLoop {

    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;

    private VectorFmaLoop() {
    }

    static int lanes() {
        return SPECIES.length();
    }

    /**
     * {@code iterations} rounds of {@link FmaPeak#CHAINS} independent vector FMAs
     * {@code acc = acc * a + b}, all accumulators in locals (registers); returns a value that depends
     * on every one of them. With a = 1 − 2⁻¹⁴ and b = 2⁻¹⁴ every chain converges to 1: no overflow,
     * no subnormals, whatever the length.
     */
    static float run(long iterations, float start) {
        FloatVector a = FloatVector.broadcast(SPECIES, 1f - 0x1p-14f);
        FloatVector b = FloatVector.broadcast(SPECIES, 0x1p-14f);
        FloatVector s = FloatVector.broadcast(SPECIES, start);
        FloatVector c0 = s;
        FloatVector c1 = s.add(0.0625f);
        FloatVector c2 = s.add(0.125f);
        FloatVector c3 = s.add(0.1875f);
        FloatVector c4 = s.add(0.25f);
        FloatVector c5 = s.add(0.3125f);
        FloatVector c6 = s.add(0.375f);
        FloatVector c7 = s.add(0.4375f);
        FloatVector c8 = s.add(0.5f);
        FloatVector c9 = s.add(0.5625f);
        FloatVector c10 = s.add(0.625f);
        FloatVector c11 = s.add(0.6875f);
        FloatVector c12 = s.add(0.75f);
        FloatVector c13 = s.add(0.8125f);
        FloatVector c14 = s.add(0.875f);
        FloatVector c15 = s.add(0.9375f);
        for (long i = 0; i < iterations; i++) {
            c0 = c0.fma(a, b);
            c1 = c1.fma(a, b);
            c2 = c2.fma(a, b);
            c3 = c3.fma(a, b);
            c4 = c4.fma(a, b);
            c5 = c5.fma(a, b);
            c6 = c6.fma(a, b);
            c7 = c7.fma(a, b);
            c8 = c8.fma(a, b);
            c9 = c9.fma(a, b);
            c10 = c10.fma(a, b);
            c11 = c11.fma(a, b);
            c12 = c12.fma(a, b);
            c13 = c13.fma(a, b);
            c14 = c14.fma(a, b);
            c15 = c15.fma(a, b);
        }
        FloatVector sum = c0.add(c1).add(c2.add(c3)).add(c4.add(c5).add(c6.add(c7)))
                .add(c8.add(c9).add(c10.add(c11)).add(c12.add(c13).add(c14.add(c15))));
        return sum.reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }
}

package org.ringattention.model;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** Tensors held in memory, by name: what tests and {@code model init} build before writing a checkpoint. */
public final class InMemoryWeights implements WeightSource {

    /** One tensor: its shape and row-major elements. */
    public record Entry(long[] shape, float[] data) {
        public Entry {
            long n = 1;
            for (long s : shape) {
                n *= s;
            }
            if (n != data.length) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " does not hold " + data.length
                        + " elements");
            }
        }
    }

    private final Map<String, Entry> tensors = new LinkedHashMap<>();

    /** Adds (or replaces) tensor {@code name}; returns this. */
    public InMemoryWeights put(String name, float[] data, long... shape) {
        tensors.put(name, new Entry(shape.clone(), data));
        return this;
    }

    /** Removes tensor {@code name}; returns this. */
    public InMemoryWeights remove(String name) {
        tensors.remove(name);
        return this;
    }

    /** The tensors in the order they were added. */
    public Map<String, Entry> entries() {
        return java.util.Collections.unmodifiableMap(tensors);
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    @Override
    public long[] shape(String name) {
        Entry e = tensors.get(name);
        return e == null ? null : e.shape().clone();
    }

    @Override
    public float[] floats(String name) {
        Entry e = tensors.get(name);
        if (e == null) {
            throw new IllegalArgumentException("no tensor " + name);
        }
        return e.data();
    }

    @Override
    public String describe() {
        return "memory";
    }
}

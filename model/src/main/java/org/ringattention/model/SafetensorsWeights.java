package org.ringattention.model;

import java.util.LinkedHashSet;
import java.util.Set;
import org.ringattention.tensor.SafetensorsFile;
import org.ringattention.tensor.SafetensorsFormatException;

/** The tensors of one memory-mapped {@code .safetensors} file (the engine's reader), widened to float32. */
final class SafetensorsWeights implements WeightSource {

    private final SafetensorsFile file;

    SafetensorsWeights(SafetensorsFile file) {
        this.file = file;
    }

    @Override
    public Set<String> names() {
        return new LinkedHashSet<>(file.names());
    }

    @Override
    public long[] shape(String name) {
        if (!file.contains(name)) {
            return null;
        }
        try {
            return file.shape(name);
        } catch (SafetensorsFormatException e) {
            throw new IllegalStateException(e); // contains(name) was checked
        }
    }

    @Override
    public float[] floats(String name) throws SafetensorsFormatException {
        return file.floats(name);
    }

    @Override
    public String describe() {
        return file.path().toString();
    }
}

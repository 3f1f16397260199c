package org.ringattention.model;

import java.io.IOException;
import java.util.Set;

/** Named tensors of a checkpoint, row-major, widened to float32 when read. */
public interface WeightSource {

    /** The names held. */
    Set<String> names();

    /** The shape of tensor {@code name}, or null when it is absent. */
    long[] shape(String name);

    /** The elements of tensor {@code name} as float32, row-major. */
    float[] floats(String name) throws IOException;

    /** Where the tensors come from, for error messages (a folder, a file, "memory"). */
    String describe();
}

package org.ringattention.tensor;

import java.util.Optional;

/**
 * The element types that {@code .npy} files may hold for this engine, with their NumPy type
 * code: a kind character ({@code 'f'} floating point, {@code 'i'} signed integer) and a size in
 * bytes, as in the descr {@code '<f4'}.
 *
 * <p>The set is deliberately small: attention inputs are floating point (float16 and float64
 * are accepted so that NumPy files need no conversion first) and the integer types cover masks,
 * positions and lengths. Anything else is refused with a message naming the descr.
 */
public enum DType {
    FLOAT16('f', 2, "float16"),
    FLOAT32('f', 4, "float32"),
    FLOAT64('f', 8, "float64"),
    INT32('i', 4, "int32"),
    INT64('i', 8, "int64"),
    /** NumPy's bool: one byte, 0 or 1 (keep masks). */
    BOOL('b', 1, "bool");

    /** Listed in error messages: "(supported: float16, float32, ...)". */
    static final String SUPPORTED = "float16, float32, float64, int32, int64, bool";

    private final char kind;
    private final int bytes;
    private final String numpyName;

    DType(char kind, int bytes, String numpyName) {
        this.kind = kind;
        this.bytes = bytes;
        this.numpyName = numpyName;
    }

    /** Size of one element in bytes. */
    public int bytes() {
        return bytes;
    }

    /** Whether this is a floating-point type. */
    public boolean isFloating() {
        return kind == 'f';
    }

    /** NumPy kind character: {@code 'f'} or {@code 'i'}. */
    public char kind() {
        return kind;
    }

    /** NumPy's name for the type, for example {@code "float32"}. */
    public String numpyName() {
        return numpyName;
    }

    /** The little-endian NumPy descr, for example {@code "<f4"} ({@code "|b1"} for bool); what {@link Npy} writes. */
    public String littleEndianDescr() {
        return (bytes == 1 ? "|" : "<") + kind + bytes;
    }

    /** The type with NumPy kind character {@code kind} and size {@code bytes}, if supported. */
    public static Optional<DType> of(char kind, int bytes) {
        for (DType t : values()) {
            if (t.kind == kind && t.bytes == bytes) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    @Override
    public String toString() {
        return numpyName;
    }
}

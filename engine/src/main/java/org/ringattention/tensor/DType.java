package org.ringattention.tensor;

import java.util.Optional;

/**
 * The element types that tensor files may hold for this engine, with their NumPy type code (a
 * kind character and a size in bytes, as in the descr {@code '<f4'}) and their safetensors name
 * ({@code "F32"}).
 *
 * <p>The set is deliberately small: attention inputs are floating point (float16, bfloat16 and
 * float64 are accepted so that files need no conversion first) and the integer types cover masks,
 * positions and lengths. Anything else is refused with a message naming the type.
 *
 * <p>NumPy has no bfloat16. {@code ml_dtypes.bfloat16} arrays saved with {@code numpy.save} get
 * the opaque descr {@code '<V2'} (kind {@code 'V'}, two bytes; ml_dtypes declares the kind
 * {@code 'V'} and native byte order), so that is bfloat16's NumPy code here, and {@link Npy}
 * reads a two-byte void ({@code '<V2'}, {@code '|V2'}) as bfloat16. {@link #of} does not return
 * it: that lookup is for NumPy's own types.
 */
public enum DType {
    FLOAT16('f', 2, "float16", "F16", true),
    BFLOAT16('V', 2, "bfloat16", "BF16", true),
    FLOAT32('f', 4, "float32", "F32", true),
    FLOAT64('f', 8, "float64", "F64", true),
    INT32('i', 4, "int32", "I32", false),
    INT64('i', 8, "int64", "I64", false),
    /** Integers; also how bfloat16 bit patterns travel in NumPy files without ml_dtypes. */
    UINT16('u', 2, "uint16", "U16", false),
    /** NumPy's bool: one byte, 0 or 1 (keep masks). */
    BOOL('b', 1, "bool", "BOOL", false);

    /** Listed in .npy error messages: "(supported: float16, float32, ...)". */
    static final String SUPPORTED = "float16, bfloat16 as '<V2', float32, float64, int32, int64, uint16, bool";

    private final char kind;
    private final int bytes;
    private final String numpyName;
    private final String safetensorsName;
    private final boolean floating;

    DType(char kind, int bytes, String numpyName, String safetensorsName, boolean floating) {
        this.kind = kind;
        this.bytes = bytes;
        this.numpyName = numpyName;
        this.safetensorsName = safetensorsName;
        this.floating = floating;
    }

    /** Size of one element in bytes. */
    public int bytes() {
        return bytes;
    }

    /** Whether this is a floating-point type. */
    public boolean isFloating() {
        return floating;
    }

    /** NumPy kind character: {@code 'f'}, {@code 'i'}, {@code 'u'}, or {@code 'V'} for bfloat16. */
    public char kind() {
        return kind;
    }

    /** NumPy's name for the type, for example {@code "float32"} ({@code "bfloat16"} as ml_dtypes names it). */
    public String numpyName() {
        return numpyName;
    }

    /** The safetensors name of the type, for example {@code "F32"} or {@code "BF16"}. */
    public String safetensorsName() {
        return safetensorsName;
    }

    /** The little-endian NumPy descr, for example {@code "<f4"} ({@code "|b1"} for bool); what {@link Npy} writes. */
    public String littleEndianDescr() {
        return (bytes == 1 ? "|" : "<") + kind + bytes;
    }

    /**
     * The NumPy type with kind character {@code kind} and size {@code bytes}, if supported;
     * never {@link #BFLOAT16}.
     */
    public static Optional<DType> of(char kind, int bytes) {
        for (DType t : values()) {
            if (t != BFLOAT16 && t.kind == kind && t.bytes == bytes) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /**
     * The type with safetensors name {@code name} (case-sensitive, as the format is), if supported;
     * never {@link #BOOL} (keep masks come from .npy files).
     */
    public static Optional<DType> ofSafetensorsName(String name) {
        for (DType t : values()) {
            if (t != BOOL && t.safetensorsName.equals(name)) {
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

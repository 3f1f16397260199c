package org.ringattention.tensor;

import java.nio.file.Path;

/**
 * A {@code .npy} file that cannot be used: unreadable, malformed, truncated, or holding an
 * unsupported dtype or layout.
 *
 * <p>The message is always one line of the form {@code "<file>: <reason>"}, for example
 * {@code "q.npy: unsupported dtype '<c8' (supported: float16, float32, float64, int32, int64)"},
 * so that a command-line tool can print it as is.
 */
public final class NpyFormatException extends TensorFileException {

    private static final long serialVersionUID = 1L;

    /** A problem with {@code file}, described by {@code reason}. */
    public NpyFormatException(Path file, String reason) {
        this(file, reason, null);
    }

    /** A problem with {@code file}, described by {@code reason}, caused by {@code cause}. */
    public NpyFormatException(Path file, String reason, Throwable cause) {
        super(file, reason, cause);
    }
}

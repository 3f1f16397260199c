package org.ringattention.tensor;

import java.nio.file.Path;

/**
 * A {@code .safetensors} file that cannot be used: unreadable, malformed, truncated, holding an
 * unsupported dtype, or lacking a tensor that was asked for. The sibling of
 * {@link NpyFormatException}, with the same one-line message {@code "<file>: <reason>"}; a reason
 * about one tensor starts with {@code "tensor '<name>': "}, for example
 * {@code "w.safetensors: tensor 'q': data_offsets [0, 12] hold 12 bytes, but F32 [2, 3] needs 24"}.
 */
public final class SafetensorsFormatException extends TensorFileException {

    private static final long serialVersionUID = 1L;

    /** A problem with {@code file}, described by {@code reason}. */
    public SafetensorsFormatException(Path file, String reason) {
        this(file, reason, null);
    }

    /** A problem with {@code file}, described by {@code reason}, caused by {@code cause}. */
    public SafetensorsFormatException(Path file, String reason, Throwable cause) {
        super(file, reason, cause);
    }
}

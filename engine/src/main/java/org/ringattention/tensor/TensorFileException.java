package org.ringattention.tensor;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A tensor file that cannot be used ({@link NpyFormatException}, {@link SafetensorsFormatException}).
 *
 * <p>The message is always one line of the form {@code "<file>: <reason>"}, so that a command-line
 * tool can print it as is.
 */
public abstract class TensorFileException extends IOException {

    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final String reason;

    /** A problem with {@code file}, described by {@code reason}, caused by {@code cause} (or null). */
    protected TensorFileException(Path file, String reason, Throwable cause) {
        super(file + ": " + oneLine(reason), cause);
        this.file = file;
        this.reason = oneLine(reason);
    }

    /** The file the problem is in. */
    public Path file() {
        return file;
    }

    /** The problem, without the file name. */
    public String reason() {
        return reason;
    }

    // Reasons may quote header text from the file; keep the message on one line regardless.
    private static String oneLine(String s) {
        return s == null ? "unknown problem" : s.replaceAll("[\\r\\n]+", " ");
    }
}

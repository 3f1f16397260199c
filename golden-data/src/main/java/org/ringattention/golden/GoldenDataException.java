package org.ringattention.golden;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The golden set cannot be used: a missing or malformed manifest, a missing, corrupt or
 * mismatched case file. The message is one line and starts with the file it concerns.
 */
public final class GoldenDataException extends IOException {

    private static final long serialVersionUID = 1L;

    public GoldenDataException(Path file, String problem) {
        super(file + ": " + problem);
    }

    public GoldenDataException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
    }
}

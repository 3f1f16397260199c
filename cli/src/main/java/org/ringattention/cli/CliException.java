package org.ringattention.cli;

/**
 * A failure the user can fix, with the exit code it maps to: {@link #BAD_DATA} (1) for input
 * files that cannot be used, {@link #BAD_USAGE} (2) for options that make no sense. The message is
 * one line that names the file or option and the problem.
 */
final class CliException extends RuntimeException {

    static final int BAD_DATA = 1;
    static final int BAD_USAGE = 2;

    private final int exitCode;

    CliException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    CliException(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    static CliException data(String message) {
        return new CliException(BAD_DATA, message);
    }

    static CliException usage(String message) {
        return new CliException(BAD_USAGE, message);
    }

    int exitCode() {
        return exitCode;
    }
}

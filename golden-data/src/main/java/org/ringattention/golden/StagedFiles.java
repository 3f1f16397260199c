package org.ringattention.golden;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Files written to temporary files beside their targets and renamed over them only when all are
 * written ({@link #commit}); {@link #close} deletes the temporary files of a failed run, so
 * existing files stay as they were.
 */
final class StagedFiles implements AutoCloseable {

    /** Writes one file to the given (temporary) path. */
    @FunctionalInterface
    interface Writer {
        void write(Path temp) throws IOException;
    }

    private record Staged(Path target, Path temp) {
    }

    private final List<Staged> staged = new ArrayList<>();

    /** Writes {@code target}'s content to a new temporary file in its folder. */
    void stage(Path target, Writer writer) throws IOException {
        Path abs = target.toAbsolutePath();
        Path temp = Files.createTempFile(abs.getParent(), "." + abs.getFileName() + ".", ".tmp");
        staged.add(new Staged(abs, temp));
        writer.write(temp);
        readableByAll(temp);
    }

    /**
     * Temporary files are created owner-only (0600); the set is data to share, so its files get
     * rw-r--r-- like files a program writes under the usual umask. No-op off POSIX file systems.
     */
    static void readableByAll(Path file) throws IOException {
        if (Files.getFileStore(file).supportsFileAttributeView(java.nio.file.attribute.PosixFileAttributeView.class)) {
            Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        }
    }

    /** Total size of the staged files. */
    long bytes() throws IOException {
        long n = 0;
        for (Staged s : staged) {
            n += Files.size(s.temp());
        }
        return n;
    }

    int count() {
        return staged.size();
    }

    void commit() throws IOException {
        for (Staged s : staged) {
            try {
                Files.move(s.temp(), s.target(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(s.temp(), s.target(), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        staged.clear();
    }

    @Override
    public void close() {
        for (Staged s : staged) {
            try {
                Files.deleteIfExists(s.temp());
            } catch (IOException ignored) {
                // best effort; a leftover is named after its target
            }
        }
        staged.clear();
    }
}

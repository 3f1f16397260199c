package org.ringattention.tensor;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Files written to temporary files beside their targets and renamed over them only when all are
 * written ({@link #commit}); {@link #close} deletes the temporary files of a failed run, so
 * existing files stay as they were. Not thread-safe.
 */
public final class StagedFiles implements AutoCloseable {

    /** Writes one file to the given (temporary) path. */
    @FunctionalInterface
    public interface Writer {
        void write(Path temp) throws IOException;
    }

    private record Staged(Path target, Path temp) {
    }

    private final List<Staged> staged = new ArrayList<>();

    /** Writes {@code target}'s content to a new temporary file in its folder. */
    public void stage(Path target, Writer writer) throws IOException {
        Path abs = target.toAbsolutePath();
        Path temp = Files.createTempFile(abs.getParent(), "." + abs.getFileName() + ".", ".tmp");
        staged.add(new Staged(abs, temp));
        writer.write(temp);
        permissionsFor(abs, temp);
    }

    /** Total size of the staged files. */
    public long bytes() throws IOException {
        long n = 0;
        for (Staged s : staged) {
            n += Files.size(s.temp());
        }
        return n;
    }

    /** Number of staged files. */
    public int count() {
        return staged.size();
    }

    /** Renames every staged file over its target. */
    public void commit() throws IOException {
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
                // best effort: a leftover temporary file is named after its target
            }
        }
        staged.clear();
    }

    /**
     * Temporary files are created owner-only (0600): give the new file the permissions of the
     * file it replaces, or rw-r--r-- (what the usual umask gives) for a new file. No-op off POSIX.
     */
    private static void permissionsFor(Path target, Path temp) throws IOException {
        if (!Files.getFileStore(temp).supportsFileAttributeView(PosixFileAttributeView.class)) {
            return;
        }
        Set<PosixFilePermission> perms = PosixFilePermissions.fromString("rw-r--r--");
        if (Files.isRegularFile(target)) {
            try {
                perms = Files.getPosixFilePermissions(target);
            } catch (IOException ignored) {
                // keep the default
            }
        }
        Files.setPosixFilePermissions(temp, perms);
    }
}

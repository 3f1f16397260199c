package org.ringattention.cli;

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
import org.ringattention.tensor.Npy;

/**
 * Writes several output files so that a failed run leaves every existing file as it was: each
 * output goes to a temporary file beside its target first, and only when all are written are they
 * renamed over their targets. Temporary files left by a failure are deleted on {@link #close}.
 */
final class AtomicOutputs implements AutoCloseable {

    private record Staged(Path target, Path temp) {
    }

    private final List<Staged> staged = new ArrayList<>();

    /** Refuses a target whose folder does not exist or is not writable, before any work is done. */
    static void checkWritable(Path target, String option) {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        if (Files.isDirectory(abs)) {
            throw CliException.usage(option + " " + target + ": is a directory");
        }
        if (dir == null || !Files.isDirectory(dir)) {
            throw CliException.usage(option + " " + target + ": folder " + dir + " does not exist");
        }
        if (!Files.isWritable(dir)) {
            throw CliException.usage(option + " " + target + ": folder " + dir + " is not writable");
        }
    }

    void stage(Path target, long[] shape, float[] data) throws IOException {
        Path temp = tempFor(target);
        Npy.write(temp, shape, data);
    }

    void stage(Path target, long[] shape, double[] data) throws IOException {
        Path temp = tempFor(target);
        Npy.write(temp, shape, data);
    }

    /** Renames every staged file over its target. */
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
                // best effort: a leftover temporary file is named after its target
            }
        }
        staged.clear();
    }

    private Path tempFor(Path target) throws IOException {
        Path abs = target.toAbsolutePath();
        Path temp = Files.createTempFile(abs.getParent(), "." + abs.getFileName() + ".", ".tmp");
        staged.add(new Staged(target, temp));
        permissionsFor(abs, temp);
        return temp;
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

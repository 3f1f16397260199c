package org.ringattention.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.ringattention.tensor.Npy;
import org.ringattention.tensor.StagedFiles;

/**
 * Writes several output files so that a failed run leaves every existing file as it was: each
 * output goes to a temporary file beside its target first, and only when all are written are they
 * renamed over their targets. Temporary files left by a failure are deleted on {@link #close}.
 */
final class AtomicOutputs implements AutoCloseable {

    private final StagedFiles staged = new StagedFiles();

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
        staged.stage(target, temp -> Npy.write(temp, shape, data));
    }

    void stage(Path target, long[] shape, double[] data) throws IOException {
        staged.stage(target, temp -> Npy.write(temp, shape, data));
    }

    /** Renames every staged file over its target. */
    void commit() throws IOException {
        staged.commit();
    }

    @Override
    public void close() {
        staged.close();
    }
}

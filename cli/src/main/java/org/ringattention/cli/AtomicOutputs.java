package org.ringattention.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedMap;
import org.ringattention.tensor.DType;
import org.ringattention.tensor.Npy;
import org.ringattention.tensor.Safetensors;
import org.ringattention.tensor.StagedFiles;

/**
 * Writes several output files so that a failed run leaves every existing file as it was: each
 * output goes to a temporary file beside its target first, and only when all are written are they
 * renamed over their targets. Temporary files left by a failure are deleted on {@link #close}.
 *
 * <p>An output named {@code FILE.safetensors:NAME} becomes tensor NAME of FILE; the outputs of one
 * run that name the same file are gathered and written together, in the order they were staged,
 * when the run commits. The file is replaced, not merged: it holds exactly this run's tensors.
 */
final class AtomicOutputs implements AutoCloseable {

    private final StagedFiles staged = new StagedFiles();
    private final Map<Path, SequencedMap<String, Safetensors.TensorData>> safetensors = new LinkedHashMap<>();

    /** Refuses a target whose folder does not exist or is not writable, before any work is done. */
    static void checkWritable(Path target, String option) {
        Path abs = TensorPath.of(target, option).file().toAbsolutePath();
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
        TensorPath t = TensorPath.of(target, null);
        if (t.isSafetensors()) {
            add(t, Safetensors.TensorData.ofFloats(DType.FLOAT32, shape, data));
        } else {
            staged.stage(target, temp -> Npy.write(temp, shape, data));
        }
    }

    void stage(Path target, long[] shape, double[] data) throws IOException {
        TensorPath t = TensorPath.of(target, null);
        if (t.isSafetensors()) {
            add(t, Safetensors.TensorData.ofDoubles(DType.FLOAT64, shape, data));
        } else {
            staged.stage(target, temp -> Npy.write(temp, shape, data));
        }
    }

    /**
     * Stages float32 values that are exact in {@code dtype} (float16 or bfloat16) as that type:
     * bfloat16 .npy files as ml_dtypes' {@code '<V2'}, or as uint16 bit patterns with {@code bf16Bits}.
     */
    void stage(Path target, long[] shape, float[] data, DType dtype, boolean bf16Bits) throws IOException {
        if (dtype == DType.FLOAT32) {
            stage(target, shape, data);
            return;
        }
        if (dtype != DType.FLOAT16 && dtype != DType.BFLOAT16) {
            throw new IllegalArgumentException("not a low-precision float type: " + dtype);
        }
        TensorPath t = TensorPath.of(target, null);
        if (t.isSafetensors()) {
            add(t, Safetensors.TensorData.ofFloats(dtype, shape, data));
        } else if (dtype == DType.FLOAT16) {
            staged.stage(target, temp -> Npy.writeFloat16(temp, shape, data));
        } else {
            staged.stage(target, temp -> Npy.writeBFloat16(temp, shape, data, bf16Bits));
        }
    }

    /** Renames every staged file over its target. */
    void commit() throws IOException {
        for (Map.Entry<Path, SequencedMap<String, Safetensors.TensorData>> e : safetensors.entrySet()) {
            staged.stage(e.getKey(), temp -> Safetensors.write(temp, e.getValue()));
        }
        safetensors.clear();
        staged.commit();
    }

    @Override
    public void close() {
        staged.close();
    }

    private void add(TensorPath t, Safetensors.TensorData data) {
        SequencedMap<String, Safetensors.TensorData> file =
                safetensors.computeIfAbsent(t.file().toAbsolutePath().normalize(), f -> new LinkedHashMap<>());
        if (file.putIfAbsent(t.tensor(), data) != null) {
            throw new IllegalStateException("tensor " + t + " staged twice");
        }
    }
}

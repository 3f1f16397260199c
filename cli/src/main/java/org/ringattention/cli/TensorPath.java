package org.ringattention.cli;

import java.io.IOException;
import java.nio.file.Path;
import org.ringattention.tensor.Npy;
import org.ringattention.tensor.NpyArray;
import org.ringattention.tensor.SafetensorsFile;

/**
 * A tensor argument: a {@code .npy} file, or one tensor of a {@code .safetensors} file written
 * {@code FILE.safetensors:NAME}. Options keep their {@link Path} type, so the argument is split
 * here: at the first {@code ".safetensors:"}, so a tensor name may itself contain colons.
 * {@link #toString} gives the argument back as written, which is how messages name the tensor.
 */
record TensorPath(Path file, String tensor, String argument) {

    static final String SUFFIX = ".safetensors";

    /**
     * Splits {@code arg}; a bare {@code .safetensors} path (no tensor name) is a usage error naming
     * {@code option} (or only the argument, when {@code option} is null).
     */
    static TensorPath of(Path arg, String option) {
        String s = arg.toString();
        int at = s.indexOf(SUFFIX + ":");
        if (at < 0) {
            if (s.endsWith(SUFFIX)) {
                throw CliException.usage(prefix(option) + s + ": name the tensor as FILE" + SUFFIX + ":NAME");
            }
            return new TensorPath(arg, null, s);
        }
        String name = s.substring(at + SUFFIX.length() + 1);
        if (name.isEmpty()) {
            throw CliException.usage(prefix(option) + s + ": empty tensor name (use FILE" + SUFFIX + ":NAME)");
        }
        return new TensorPath(Path.of(s.substring(0, at + SUFFIX.length())), name, s);
    }

    /** The file an argument names, whatever its tensor: for telling whether an output would replace an input. */
    static Path fileOf(Path arg) {
        String s = arg.toString();
        int at = s.indexOf(SUFFIX + ":");
        return (at < 0 ? arg : Path.of(s.substring(0, at + SUFFIX.length()))).toAbsolutePath().normalize();
    }

    boolean isSafetensors() {
        return tensor != null;
    }

    /** Reads the array; unreadable or malformed files and missing tensors are one-line format errors. */
    NpyArray read() throws IOException {
        return isSafetensors() ? SafetensorsFile.open(file).array(tensor) : Npy.read(file);
    }

    private static String prefix(String option) {
        return option == null ? "" : option + " ";
    }

    @Override
    public String toString() {
        return argument;
    }
}

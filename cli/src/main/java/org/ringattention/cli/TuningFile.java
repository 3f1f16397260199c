package org.ringattention.cli;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;
import org.ringattention.bench.MachineInfo;

/**
 * The per-user file where {@code tune --save} keeps the block sizes it measured best, and where
 * {@code attend}, {@code bench} (also with {@code --devices}, the ring) read them when no block
 * size is given. Only speed depends on it: the bits of a result are those of the block sizes used,
 * which every command prints, and giving the same sizes explicitly reproduces them.
 *
 * <p><b>Where.</b> {@code <dir>/tuning.json} with {@code <dir>} the first of: the system property
 * {@value #DIR_PROPERTY}, the environment variable {@value #DIR_ENV},
 * {@code $XDG_CONFIG_HOME/ring-attention}, {@code ~/.config/ring-attention}.
 *
 * <p><b>Format.</b> One JSON object, {@code {"format": 1, "entries": [...]}}; each entry holds the
 * key, CPU model ({@code cpu}, the "model name" of /proc/cpuinfo), {@code cpu_family} and
 * {@code shape_class} (head dimension, mask and pass, e.g. {@code d128-causal-forward}), and the
 * choice, {@code block_q} and {@code block_kv}, with what tune measured for it. Saving replaces the
 * entry of the same key and keeps the others; the file is written to a temporary file and renamed
 * into place. A file that cannot be read or parsed is ignored with a one-line warning: the commands
 * then use the default block sizes, and the next {@code --save} replaces it.
 */
final class TuningFile {

    /** System property naming the folder of the file (tests use it; it wins over everything). */
    static final String DIR_PROPERTY = "ringattention.config.dir";

    /** Environment variable naming the folder of the file. */
    static final String DIR_ENV = "RING_ATTENTION_CONFIG_DIR";

    static final String FILE_NAME = "tuning.json";

    static final int FORMAT = 1;

    /**
     * One saved choice.
     *
     * @param cpu            CPU model the measurement ran on
     * @param cpuFamily      its family number, or null where the system does not say
     * @param shapeClass     {@link #shapeClass}
     * @param blockQ         query block size
     * @param blockKv        key/value block size
     * @param gflops         what tune measured with them
     * @param fractionOfPeak that over the in-run FMA peak (null if unmeasured)
     * @param seq            sequence length tune measured at
     * @param heads          heads tune measured with
     * @param threads        threads tune measured with
     * @param saved          when, ISO-8601
     */
    @JsonInclude(JsonInclude.Include.ALWAYS)
    record Entry(String cpu, Integer cpuFamily, String shapeClass, int blockQ, int blockKv, double gflops,
            Double fractionOfPeak, int seq, int heads, int threads, String saved) {

        boolean sameKey(Entry o) {
            return cpu.equals(o.cpu) && Objects.equals(cpuFamily, o.cpuFamily) && shapeClass.equals(o.shapeClass);
        }
    }

    /** The file's content. */
    record Content(int format, List<Entry> entries) {
    }

    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .build();

    private TuningFile() {
    }

    /** The class of shapes one choice serves: head dimension, mask, pass. */
    static String shapeClass(int headDim, boolean causal, boolean backward) {
        return "d" + headDim + (causal ? "-causal" : "-full") + (backward ? "-backward" : "-forward");
    }

    /** The file, by the rule in the class comment. */
    static Path path() {
        String dir = System.getProperty(DIR_PROPERTY);
        if (dir == null || dir.isBlank()) {
            dir = System.getenv(DIR_ENV);
        }
        if (dir == null || dir.isBlank()) {
            String xdg = System.getenv("XDG_CONFIG_HOME");
            dir = xdg != null && !xdg.isBlank() ? Path.of(xdg, "ring-attention").toString()
                    : Path.of(System.getProperty("user.home"), ".config", "ring-attention").toString();
        }
        return Path.of(dir, FILE_NAME);
    }

    /**
     * The entries of {@code file}: none when it does not exist.
     *
     * @throws IOException when it exists but cannot be read, is not such a file, or holds a bad entry
     */
    static List<Entry> read(Path file) throws IOException {
        Content c;
        try {
            c = MAPPER.readValue(file.toFile(), Content.class);
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            if (!Files.exists(file)) {
                return List.of();
            }
            throw e;
        } catch (JacksonException e) {
            throw new IOException("not a tuning file (" + e.getOriginalMessage() + ")");
        }
        if (c == null || c.format() != FORMAT || c.entries() == null) {
            throw new IOException("not a tuning file of format " + FORMAT);
        }
        for (Entry e : c.entries()) {
            if (e == null || e.cpu() == null || e.shapeClass() == null || e.blockQ() < 1 || e.blockKv() < 1) {
                throw new IOException("an entry lacks its cpu or shape_class, or has a block size < 1: " + e);
            }
        }
        return c.entries();
    }

    /**
     * The saved choice for this CPU and shape class, if any; a file that cannot be read is reported
     * to {@code warn} in one line and counts as empty.
     */
    static Optional<Entry> lookup(int headDim, boolean causal, boolean backward, Consumer<String> warn) {
        return lookup(path(), MachineInfo.cpuModel(), MachineInfo.cpuFamily(), shapeClass(headDim, causal, backward),
                warn);
    }

    static Optional<Entry> lookup(Path file, String cpu, Integer family, String shapeClass, Consumer<String> warn) {
        try {
            return read(file).stream().filter(e -> e.cpu().equals(cpu) && Objects.equals(e.cpuFamily(), family)
                    && e.shapeClass().equals(shapeClass)).findFirst();
        } catch (IOException | RuntimeException e) {
            warn.accept("warning: ignoring the tuning file " + file + ": " + e.getMessage()
                    + " (default block sizes used; `ring-attention tune --save` rewrites it)");
            return Optional.empty();
        }
    }

    /** The entries saved for this CPU, for {@code info}; empty (with a warning) when unreadable. */
    static List<Entry> forThisCpu(Consumer<String> warn) {
        Path file = path();
        try {
            String cpu = MachineInfo.cpuModel();
            Integer family = MachineInfo.cpuFamily();
            return read(file).stream().filter(e -> e.cpu().equals(cpu) && Objects.equals(e.cpuFamily(), family))
                    .toList();
        } catch (IOException | RuntimeException e) {
            warn.accept("warning: ignoring the tuning file " + file + ": " + e.getMessage());
            return List.of();
        }
    }

    /**
     * Saves {@code entry} into {@code file}, replacing the entry of the same key; an unreadable
     * file is replaced (reported to {@code warn}). Written to a temporary file, then renamed.
     */
    static void save(Path file, Entry entry, Consumer<String> warn) throws IOException {
        List<Entry> entries = new ArrayList<>();
        try {
            entries.addAll(read(file));
        } catch (IOException e) {
            warn.accept("warning: replacing the unreadable tuning file " + file + ": " + e.getMessage());
        }
        entries.removeIf(entry::sameKey);
        entries.add(entry);
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path temp = Files.createTempFile(dir, FILE_NAME, ".tmp");
        try {
            MAPPER.writeValue(temp.toFile(), new Content(FORMAT, entries));
            Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(temp);
        }
    }
}

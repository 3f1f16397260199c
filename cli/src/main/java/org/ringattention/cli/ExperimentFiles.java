package org.ringattention.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import org.ringattention.tensor.StagedFiles;

/**
 * Where an experiment writes its CSV and PNG: a folder given by {@code --out}, or
 * {@code results/<name>-<timestamp>}; both files are written beside their targets first and renamed
 * into place together, so a failed run leaves earlier results as they were.
 */
final class ExperimentFiles {

    private ExperimentFiles() {
    }

    /** {@code given}, or results/NAME-yyyy-MM-dd-HHmmss. */
    static Path folder(Path given, String name) {
        return given != null ? given : Path.of("results", name + "-"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyy-MM-dd-HHmmss", Locale.ROOT)));
    }

    /** Refuses a folder that exists as a file, or whose nearest existing ancestor cannot be written. */
    static void checkFolder(Path folder) {
        Path abs = folder.toAbsolutePath().normalize();
        if (Files.exists(abs) && !Files.isDirectory(abs)) {
            throw CliException.usage("--out " + folder + ": is not a folder");
        }
        Path existing = abs;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null || !Files.isDirectory(existing)) {
            throw CliException.usage("--out " + folder + ": " + existing + " is not a folder");
        }
        if (!Files.isWritable(existing)) {
            throw CliException.usage("--out " + folder + ": folder " + existing + " is not writable");
        }
    }

    /** Writes {@code csvName} and {@code pngName} into {@code folder} (created if missing), both or neither. */
    static void write(Path folder, String csvName, String csv, String pngName, Chart chart) throws IOException {
        Files.createDirectories(folder);
        try (StagedFiles staged = new StagedFiles()) {
            staged.stage(folder.resolve(csvName), temp -> Files.writeString(temp, csv, StandardCharsets.UTF_8));
            staged.stage(folder.resolve(pngName), chart::writePng);
            staged.commit();
        }
    }
}

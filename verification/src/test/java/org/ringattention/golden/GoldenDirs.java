package org.ringattention.golden;

import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the committed golden set from a module's working directory. */
final class GoldenDirs {

    private GoldenDirs() {
    }

    /** The repository's golden-data folder: the nearest ancestor folder holding golden-data/manifest.json. */
    static Path committed() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolve("golden-data");
            if (Files.isRegularFile(candidate.resolve(GoldenGenerator.MANIFEST))) {
                return candidate;
            }
        }
        throw new IllegalStateException("no golden-data/manifest.json above " + Path.of("").toAbsolutePath());
    }
}

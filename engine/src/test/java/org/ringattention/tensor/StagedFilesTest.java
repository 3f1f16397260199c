package org.ringattention.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link StagedFiles}: nothing reaches a target before commit, a commit or close leaves nothing
 * staged behind, and a committed file has the permissions of the file it replaced (or rw-r--r--
 * for a new one), not the owner-only mode of a temporary file.
 */
class StagedFilesTest {

    @TempDir
    Path dir;

    @Test
    void commitRenamesAllAndCloseDeletesTheRest() throws IOException {
        Path a = dir.resolve("a.npy");
        Path b = dir.resolve("b.npy");
        Files.writeString(b, "old");
        try (StagedFiles staged = new StagedFiles()) {
            staged.stage(a, t -> Files.writeString(t, "new a"));
            staged.stage(b, t -> Files.writeString(t, "new b!"));
            assertEquals(2, staged.count());
            assertEquals(11, staged.bytes());
            assertFalse(Files.exists(a), "nothing reaches a target before commit");
            assertEquals("old", Files.readString(b));
            staged.commit();
            assertEquals(0, staged.count(), "a commit leaves nothing staged");
            assertEquals(0, staged.bytes());
        }
        assertEquals("new a", Files.readString(a));
        assertEquals("new b!", Files.readString(b));

        Path c = dir.resolve("c.npy");
        StagedFiles failed = new StagedFiles();
        failed.stage(c, t -> Files.writeString(t, "never"));
        failed.close();
        assertEquals(0, failed.count(), "a close leaves nothing staged");
        assertFalse(Files.exists(c));
        try (Stream<Path> left = Files.list(dir)) {
            assertEquals(2, left.count(), "no temporary file left: " + dir);
        }
    }

    @Test
    void committedFilesKeepThePermissionsOfWhatTheyReplace() throws IOException {
        assumeTrue(Files.getFileStore(dir).supportsFileAttributeView(PosixFileAttributeView.class));
        Path fresh = dir.resolve("fresh.npy");
        Path kept = dir.resolve("kept.npy");
        Files.writeString(kept, "old");
        Files.setPosixFilePermissions(kept, PosixFilePermissions.fromString("rw-r-----"));
        try (StagedFiles staged = new StagedFiles()) {
            staged.stage(fresh, t -> Files.writeString(t, "x"));
            staged.stage(kept, t -> Files.writeString(t, "y"));
            staged.commit();
        }
        assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(fresh)));
        assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(kept)));
    }
}

package org.ringattention.golden;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.NpyFormatException;

/**
 * The committed golden set: it is exactly what the case list generates (byte for byte), every
 * engine path passes against it, and a damaged set is refused with a message naming the file.
 */
class GoldenSetTest {

    private static final Path SET = GoldenDirs.committed();

    @TempDir
    Path tmp;

    @Test
    void generatingAgainGivesTheCommittedFilesByteForByte() throws IOException {
        GoldenGenerator.Result r = GoldenGenerator.generate(tmp, GoldenCases.all(), name -> { });
        List<Path> generated = files(tmp);
        assertThat(generated).hasSize(r.files());
        for (Path rel : generated) {
            assertThat(SET.resolve(rel)).as("committed " + rel).exists();
            assertThat(Files.mismatch(tmp.resolve(rel), SET.resolve(rel))).as(rel + " differs from the committed file;"
                    + " run 'ring-attention golden generate' and commit").isEqualTo(-1L);
        }
        List<Path> committed = new ArrayList<>(files(SET.resolve("cases")).stream()
                .map(p -> Path.of("cases").resolve(p)).toList());
        committed.add(Path.of(GoldenGenerator.MANIFEST));
        assertThat(committed).as("committed files that the case list does not generate")
                .containsExactlyInAnyOrderElementsOf(generated);
    }

    @Test
    void everyEnginePathPassesOnEveryCase() throws IOException {
        GoldenSet set = GoldenSet.load(SET);
        assertThat(set.cases()).hasSameSizeAs(GoldenCases.all());
        GoldenVerifier verifier = GoldenVerifier.standard();
        int paths = 0;
        for (GoldenSet.Entry e : set.cases()) {
            List<String> seen = new ArrayList<>();
            List<GoldenVerifier.Check> checks = verifier.verify(set, e, (c, p) -> seen.add(p));
            assertThat(seen).hasSize(verifier.pathCount(e));
            assertThat(checks).hasSize(seen.size() * e.definition().outputs().size());
            for (GoldenVerifier.Check c : checks) {
                assertThat(c.pass()).as("%s %s %s: error %s > bound %s", c.caseName(), c.path(), c.output(), c.error(),
                        c.bound()).isTrue();
            }
            paths += seen.size();
        }
        assertThat(paths).isGreaterThan(100);
    }

    @Test
    void manifestRecordsWhatTheDataSays() throws IOException {
        GoldenSet set = GoldenSet.load(SET);
        GoldenSet.Entry empty = set.cases().stream().filter(e -> e.name().equals("causal_empty_rows")).findFirst()
                .orElseThrow();
        GoldenSet.CaseData data = set.read(empty);
        long inf = java.util.Arrays.stream(data.reference().lse()).filter(x -> x == Double.NEGATIVE_INFINITY).count();
        assertThat(inf).isEqualTo(2 * 83);
        for (GoldenSet.Entry e : set.cases()) {
            for (Output o : e.definition().outputs()) {
                Tolerance t = e.tolerance().get(o);
                assertThat(t.bound()).isEqualTo(t.factor() * t.baselineError() + t.eps());
                assertThat(t.factor()).isEqualTo(o.rule().factor());
            }
        }
        // the manifest definition round-trips to the case list
        assertThat(set.cases().stream().map(GoldenSet.Entry::definition).toList()).isEqualTo(GoldenCases.all());
    }

    @Test
    void theSinkGradientIsStoredAndCheckedOnEveryPath() throws IOException {
        write("manifest.json", Files.readString(SET.resolve(GoldenGenerator.MANIFEST)));
        copyCase("sinks_grad_gqa_batch");
        GoldenSet set = GoldenSet.load(tmp);
        GoldenSet.Entry e = set.cases().stream().filter(c -> c.name().equals("sinks_grad_gqa_batch")).findFirst()
                .orElseThrow();
        assertThat(e.definition().outputs()).endsWith(Output.DSINKS);
        GoldenVerifier verifier = new GoldenVerifier(List.of(Kernels.scalar()));
        List<String> paths = new ArrayList<>();
        List<GoldenVerifier.Check> checks = verifier.verify(set, e, (c, p) -> paths.add(p));
        assertThat(checks).filteredOn(c -> c.output() == Output.DSINKS).extracting(GoldenVerifier.Check::path)
                .containsExactlyElementsOf(paths).anyMatch(p -> p.startsWith("ring P=5 zigzag"));
        assertThat(checks).allMatch(GoldenVerifier.Check::pass);
        // the older sink cases do not store it
        assertThat(set.cases().stream().filter(c -> c.name().equals("sinks_causal_empty_rows")).findFirst()
                .orElseThrow().definition().outputs()).isEqualTo(Output.EVERY_CASE);

        // a reference that gives one head the gradient of another fails (the float64 path guards the
        // reference; the float32 bounds are relative to a baseline measured against it)
        Path file = tmp.resolve("cases/sinks_grad_gqa_batch/dsinks.npy");
        double[] g = org.ringattention.tensor.Npy.read(file).toDoubleArray();
        g[1] = g[0];
        org.ringattention.tensor.Npy.write(file, new long[] {4}, g);
        List<GoldenVerifier.Check> wrong = verifier.verify(set, e, (c, p) -> { });
        assertThat(wrong).filteredOn(c -> !c.pass()).singleElement()
                .matches(c -> c.path().equals("vanilla float64") && c.output() == Output.DSINKS && c.worstIndex() == 1);
    }

    @Test
    void damagedSetsAreRefusedNamingTheFile() throws IOException {
        assertThatThrownBy(() -> GoldenSet.load(tmp.resolve("nope"))).isInstanceOf(GoldenDataException.class)
                .hasMessageContaining("nope").hasMessageContaining("no such folder");
        assertThatThrownBy(() -> GoldenSet.load(tmp)).isInstanceOf(GoldenDataException.class)
                .hasMessageContaining("manifest.json: no such file");

        String manifest = Files.readString(SET.resolve(GoldenGenerator.MANIFEST));
        write("manifest.json", manifest.substring(0, manifest.length() / 2));
        assertThatThrownBy(() -> GoldenSet.load(tmp)).isInstanceOf(GoldenDataException.class)
                .hasMessageContaining("manifest.json: not valid JSON: line");

        write("manifest.json", manifest.replaceFirst("\"cases/tiny_n1_d1/q.npy\"", "\"../../etc/passwd\""));
        assertThatThrownBy(() -> GoldenSet.load(tmp)).isInstanceOf(GoldenDataException.class)
                .hasMessageContaining("not a relative path inside the golden folder");

        write("manifest.json", manifest.replaceFirst("\"q_len\": 1,", "\"q_len\": 1000000000,"));
        assertThatThrownBy(() -> GoldenSet.load(tmp)).isInstanceOf(GoldenDataException.class)
                .hasMessageContaining("too large");

        write("manifest.json", manifest.replaceFirst("\"version\": 1", "\"version\": 99"));
        assertThatThrownBy(() -> GoldenSet.load(tmp)).isInstanceOf(GoldenDataException.class)
                .hasMessageContaining("unsupported 'version' 99");

        // a case whose file is truncated, or whose shape differs from the manifest
        write("manifest.json", manifest);
        copyCase("window1");
        GoldenSet set = GoldenSet.load(tmp);
        GoldenSet.Entry window1 = set.cases().stream().filter(e -> e.name().equals("window1")).findFirst().orElseThrow();
        assertThat(set.read(window1).reference().o()).isNotEmpty();
        Path o = tmp.resolve("cases/window1/o.npy");
        byte[] bytes = Files.readAllBytes(o);
        Files.write(o, java.util.Arrays.copyOf(bytes, bytes.length - 8));
        assertThatThrownBy(() -> set.read(window1)).isInstanceOf(NpyFormatException.class)
                .hasMessageContaining("o.npy").hasMessageContaining("truncated");
        Files.copy(SET.resolve("cases/window1/lse.npy"), o, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertThatThrownBy(() -> set.read(window1)).isInstanceOf(GoldenDataException.class)
                .hasMessageContaining("o.npy: shape [1, 2, 50] differs from the manifest's [1, 2, 50, 8]");
        GoldenSet.Entry tiny = set.cases().get(0);
        assertThatThrownBy(() -> set.read(tiny)).isInstanceOf(NpyFormatException.class)
                .hasMessageContaining("q.npy").hasMessageContaining("no such file");
    }

    @Test
    void aWrongReferenceFailsVerification() throws IOException {
        write("manifest.json", Files.readString(SET.resolve(GoldenGenerator.MANIFEST)));
        copyCase("window1");
        Path o = tmp.resolve("cases/window1/o.npy");
        double[] x = org.ringattention.tensor.Npy.read(o).toDoubleArray();
        x[17] += 1e-4;
        org.ringattention.tensor.Npy.write(o, new long[] {1, 2, 50, 8}, x);
        GoldenSet set = GoldenSet.load(tmp);
        GoldenSet.Entry e = set.cases().stream().filter(c -> c.name().equals("window1")).findFirst().orElseThrow();
        List<GoldenVerifier.Check> checks = new GoldenVerifier(List.of(Kernels.scalar())).verify(set, e, (c, p) -> { });
        // The float64 path guards the reference itself: the float32 rules are relative to a baseline
        // recomputed against the same (here wrong) reference, so they move with it.
        assertThat(checks).filteredOn(c -> c.path().equals("vanilla float64") && c.output() == Output.O)
                .singleElement().matches(c -> !c.pass() && c.worstIndex() == 17);
        assertThat(checks).filteredOn(c -> c.output() == Output.DV).allMatch(GoldenVerifier.Check::pass);
    }

    private void write(String name, String text) throws IOException {
        Files.writeString(tmp.resolve(name), text, StandardCharsets.UTF_8);
    }

    private void copyCase(String name) throws IOException {
        Path to = Files.createDirectories(tmp.resolve("cases").resolve(name));
        try (Stream<Path> s = Files.list(SET.resolve("cases").resolve(name))) {
            for (Path p : s.toList()) {
                Files.copy(p, to.resolve(p.getFileName()));
            }
        }
    }

    /** Regular files under {@code root}, relative to it. */
    private static List<Path> files(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).map(root::relativize).sorted().toList();
        }
    }
}

package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code conform} against examples/numpy_attention.py: the correct implementation passes the quick
 * grid; each deliberately buggy variant fails with exit 4 and the diagnosis that names its bug.
 * Runs a Python with NumPy (skipped when there is none); small --only selections keep it short.
 */
class ConformCommandTest {

    private static String python;
    private static Path script;

    @BeforeAll
    static void findPython() {
        python = CliRun.pythonWithNumpy();
        script = CliRun.goldenDir().getParent().resolve("examples/numpy_attention.py");
    }

    /**
     * {@code conform} with a case timeout of 600 s unless the test sets one: a hang guard that a JVM
     * stopped for a minute or two cannot reach (the default, 60 s, could time out a healthy case).
     */
    private static CliRun conform(String... args) {
        String[] all = CliRun.concat(new String[] {"conform"}, args);
        return CliRun.of(List.of(args).contains("--timeout") ? all : CliRun.concat(all, "--timeout", "600"));
    }

    private static String impl(String extra) {
        assumeTrue(python != null, "no Python with NumPy found");
        return ConformRunner.shellQuote(python) + " " + ConformRunner.shellQuote(script.toString()) + " {case}"
                + extra;
    }

    @Test
    void correctImplementationPassesTheQuickGridWithGradients(@TempDir Path dir) throws IOException {
        Path junit = dir.resolve("conform.xml");
        CliRun r = conform("--impl", impl(""), "--gradients", "--junit", junit.toString());
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("PASS: 68 of 68 cases pass").doesNotContain("FAIL").doesNotContain("diagnosis");
        for (String f : ConformCase.FEATURES) {
            assertThat(r.out()).as("feature %s in the summary", f).containsPattern("(?m)^" + java.util.regex.Pattern
                    .quote(f) + " +\\d+ +\\d+ +0$");
        }
        String xml = Files.readString(junit);
        assertThat(xml).contains("<testsuite name=\"conform\" tests=\"68\" failures=\"0\"")
                .doesNotContain("<failure");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {
        "top-left;causal+nq<nk;;top-left alignment where bottom-right is asked?",
        "window-off-by-one;window+gqa+batch;;window off by one?",
        "softcap-after-bias;softcap;;softcap cases fail only with ALiBi or a bias",
        "lse-empty;empty-rows+batch;;LSE is +inf where a row sees no key",
        "missing-scale;odd-d+full;;every case off by a constant factor in the logits",
        "gqa-dk;full+batch,full+n=1;--gradients;dK/dV fail only with GQA/MQA",
        "sink-grad-kv-head;sinks;--gradients;one sink per key/value head instead of per query head?"})
    void eachBuggyVariantFailsWithItsBugNamed(String bug, String only, String gradients, String diagnosis) {
        String[] args = {"--impl", impl(" --bug " + bug), "--only", only};
        CliRun r = conform(gradients == null ? args : CliRun.concat(args, gradients));
        assertThat(r.code()).as(r.out() + r.err()).isEqualTo(4);
        List<String> diagnoses = r.out().lines().filter(l -> l.startsWith("diagnosis: ")).toList();
        assertThat(diagnoses).as(r.out()).hasSize(1);
        assertThat(diagnoses.get(0)).contains(diagnosis);
        assertThat(r.out()).contains("FAIL: ");
    }

    @Test
    void theSameSelectionPassesWithoutTheBug() {
        // the buggy runs above fail because of the bug, not because of the selection
        CliRun r = conform("--impl", impl(""), "--only",
                "causal+nq<nk,window+gqa+batch,softcap,empty-rows+batch,odd-d+full,full+n=1,sinks", "--gradients");
        assertThat(r.code()).as(r.out() + r.err()).isZero();
    }

    @Test
    void caseDirectoriesHoldTheFilesCaseJsonNames(@TempDir Path dir) throws IOException {
        CliRun r = conform("--impl", impl(""), "--only", "varlen+sinks,alibi+top-left", "--keep",
                dir.toString());
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        int seen = 0;
        try (var s = Files.list(dir)) {
            for (Path c : s.filter(Files::isDirectory).toList()) {
                var json = new ObjectMapper().readTree(c.resolve("case.json").toFile());
                for (String key : List.of("alibi", "sinks", "mask", "bias", "cu_seqlens_q", "cu_seqlens_k")) {
                    if (!json.get(key).isNull()) {
                        assertThat(c.resolve(json.get(key).asText())).as("%s of %s", key, c).exists();
                        seen++;
                    }
                }
                if (c.getFileName().toString().contains("varlen")) {
                    assertThat(json.get("cu_seqlens_q").asText()).isEqualTo("cu_seqlens_q.npy");
                    assertThat(json.get("softcap").asDouble()).isEqualTo(c.getFileName().toString()
                            .contains("softcap") ? 2.0 : 0.0);
                    long[] cu = org.ringattention.tensor.Npy.read(c.resolve("cu_seqlens_k.npy")).toLongArray();
                    assertThat(cu[0]).isZero();
                    assertThat(cu[cu.length - 1]).isEqualTo(json.get("name").asText().contains("k13") ? 13 : 31);
                }
            }
        }
        // varlen+sinks: sinks, mask, bias, cu_seqlens_q/k; alibi+top-left: alibi, and alibi, cu_seqlens_q/k
        assertThat(seen).isEqualTo(5 + 1 + 3);
    }

    @Test
    void tokensFirstLayoutIsWrittenAndJudgedTransposed(@TempDir Path dir) throws IOException {
        CliRun r = conform("--impl", impl(""), "--tensor-layout", "bnhd", "--gradients", "--only",
                "batch+gqa+causal,varlen+gqa", "--keep", dir.toString());
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        try (var s = Files.list(dir)) {
            Path c = s.filter(p -> p.getFileName().toString().contains("b2h4g2_q29k13")).findFirst().orElseThrow();
            assertThat(org.ringattention.tensor.Npy.read(c.resolve("q.npy")).shape()).containsExactly(2, 29, 4, 59);
            assertThat(org.ringattention.tensor.Npy.read(c.resolve("dk.npy")).shape()).containsExactly(2, 13, 2, 59);
            assertThat(new ObjectMapper().readTree(c.resolve("case.json").toFile()).get("tensor_layout").asText())
                    .isEqualTo("bnhd");
        }
        // O in [B, H, N, d] order under the [B, N, H, d] shape fails: the judge reads the file's order
        CliRun wrong = conform("--impl", impl("") + " && mv {case}/out.npy {case}/o.npy && "
                + ConformRunner.shellQuote(python) + " -c 'import numpy as n,sys; a=n.load(sys.argv[1]);"
                + " n.save(sys.argv[2], n.ascontiguousarray(a.transpose(0, 2, 1, 3)).reshape(a.shape))'"
                + " {case}/o.npy {case}/out.npy", "--tensor-layout", "bnhd", "--only", "batch+gqa+causal");
        assertThat(wrong.code()).as(wrong.out() + wrong.err()).isEqualTo(4);
        conform("--impl", impl(""), "--tensor-layout", "nhbd").assertOneLineError(2, "--tensor-layout");
    }

    @ParameterizedTest
    @CsvSource({"bfloat16", "float16"})
    void lowPrecisionInputsAreJudgedAgainstTheEmulatedBaseline(String dtype, @TempDir Path dir) throws IOException {
        CliRun r = conform("--impl", impl(""), "--dtype", dtype, "--gradients", "--only",
                "n=1+causal,batch+window", "--keep", dir.toString());
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        try (var s = Files.list(dir)) {
            Path c = s.filter(Files::isDirectory).findFirst().orElseThrow();
            String descr = new String(Files.readAllBytes(c.resolve("q.npy")), StandardCharsets.ISO_8859_1);
            assertThat(descr).contains(dtype.equals("bfloat16") ? "V2" : "<f2");
            assertThat(new ObjectMapper().readTree(c.resolve("case.json").toFile()).get("dtype").asText())
                    .isEqualTo(dtype);
        }
    }

    @ParameterizedTest
    @CsvSource({"bfloat16", "float16"})
    void lowPrecisionImplementationPassesAtItsDtypeAndFailsAtFloat32(String dtype) {
        String emulated = impl(" --emulate " + dtype);
        // forward and backward by the documented rounding points, judged against the engine's emulated path
        CliRun own = conform("--impl", emulated, "--dtype", dtype, "--only", "n=1,batch+causal,varlen",
                "--gradients");
        assertThat(own.code()).as(own.out() + own.err()).isZero();
        CliRun f32 = conform("--impl", emulated, "--only", "n=1+full");
        assertThat(f32.code()).as(f32.out()).isEqualTo(4);
        assertThat(f32.out()).contains("errors at the level of " + dtype).contains("try --dtype " + dtype);
    }

    @Test
    void jsonReportIsOneObject() throws IOException {
        CliRun r = conform("--impl", impl(" --bug lse-empty"), "--only", "empty-rows+n=1", "--json");
        assertThat(r.code()).as(r.err()).isEqualTo(4);
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertThat(j.get("pass").asBoolean()).isFalse();
        assertThat(j.get("cases").size()).isPositive();
        JsonNode first = j.get("cases").get(0);
        assertThat(first.get("outputs").get(1).get("output").asText()).isEqualTo("lse");
        assertThat(first.get("outputs").get(1).get("error").asText()).isEqualTo("inf");
        assertThat(j.get("diagnoses").get(0).asText()).contains("LSE is +inf");
    }

    @Test
    void missingLseIsAllowedAndReported(@TempDir Path dir) throws IOException {
        CliRun r = conform("--impl", impl(" && rm {case}/lse.npy"), "--only", "n=1+causal", "--keep",
                dir.toString());
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("missing (allowed)").contains("lse.npy missing in");
        try (var s = Files.list(dir)) {
            Path c = s.filter(Files::isDirectory).findFirst().orElseThrow();
            assertThat(c.resolve("case.json")).exists();
            assertThat(c.resolve("q.npy")).exists();
            assertThat(c.resolve("out.npy")).exists();
            assertThat(c.resolve("lse.npy")).doesNotExist();
            JsonNode j = new ObjectMapper().readTree(c.resolve("case.json").toFile());
            for (String key : List.of("causal", "causal_align", "window", "scale", "softcap", "segments", "alibi",
                    "sinks", "mask", "bias", "cu_seqlens_q", "cu_seqlens_k", "dtype", "gradients")) {
                assertThat(j.has(key)).as(key).isTrue();
            }
        }
    }

    @Test
    void sinkGradientIsJudgedWhenWrittenAndReportedWhenMissing(@TempDir Path dir) throws IOException {
        CliRun r = conform("--impl", impl(""), "--only", "sinks+batch", "--gradients", "--keep",
                dir.toString());
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).containsPattern("(?m)^ +dsinks +\\S+ +\\S+ +\\S+ +pass$");
        try (var s = Files.list(dir)) {
            Path c = s.filter(Files::isDirectory).findFirst().orElseThrow();
            JsonNode outputs = new ObjectMapper().readTree(c.resolve("case.json").toFile()).get("outputs");
            assertThat(outputs.toString()).contains("\"dsinks.npy\"");
            assertThat(org.ringattention.tensor.Npy.read(c.resolve("dsinks.npy")).shape()).containsExactly(4);
        }
        CliRun missing = conform("--impl", impl(" && rm {case}/dsinks.npy"), "--only", "sinks+batch",
                "--gradients");
        assertThat(missing.code()).as(missing.out() + missing.err()).isZero();
        assertThat(missing.out()).contains("note: dsinks.npy missing in 1 case(s)");
        // the sign flipped: named
        CliRun flipped = conform("--impl", impl(" && " + ConformRunner.shellQuote(python)
                + " -c 'import numpy as n,sys; n.save(sys.argv[1], -n.load(sys.argv[1]))' {case}/dsinks.npy"),
                "--only", "sinks+batch", "--gradients");
        assertThat(flipped.code()).as(flipped.out() + flipped.err()).isEqualTo(4);
        assertThat(flipped.out()).contains("diagnosis: dsinks fails where O and LSE pass").contains("flipped?");
    }

    @Test
    void crashMissingOutputWrongShapeAndTimeoutFailTheirCases(@TempDir Path dir) throws Exception {
        CliRun crash = conform("--impl", "echo boom >&2; exit 3 # {case}", "--only", "n=1+causal");
        assertThat(crash.code()).isEqualTo(4);
        assertThat(crash.out()).contains("exit code 3: boom").contains("exited with an error");

        CliRun none = conform("--impl", "true {case}", "--only", "n=1+causal");
        assertThat(none.code()).isEqualTo(4);
        assertThat(none.out()).contains("no out.npy written");

        assumeTrue(python != null, "no Python with NumPy found");
        CliRun shape = conform("--impl", ConformRunner.shellQuote(python)
                + " -c 'import numpy, sys; numpy.save(sys.argv[1] + \"/out.npy\", numpy.zeros(3))' {case}", "--only",
                "n=1+causal");
        assertThat(shape.code()).isEqualTo(4);
        assertThat(shape.out()).contains("out.npy has shape [3], want [");

        // the case writes its pid and sleeps for an hour: conform must kill it at the timeout and go on (one
        // that waited for it would hang until JUnit's guard), and the process must be gone afterwards
        Path pidFile = dir.resolve("pid");
        CliRun slow;
        try {
            slow = assertTimeoutPreemptively(Duration.ofMinutes(5), () -> conform("--impl", "echo $$ > "
                    + ConformRunner.shellQuote(pidFile.toString()) + " && exec sleep 3600 # {case}", "--only",
                    "n=1+causal+nq>nk", "--timeout", "0.5"));
        } finally {
            pidOf(pidFile).flatMap(ProcessHandle::of).ifPresent(ProcessHandle::destroyForcibly);
        }
        assertThat(slow.code()).isEqualTo(4);
        assertThat(slow.out()).contains("timed out after 0.5 s").contains("timed out: raise --timeout");
        assertThat(pidOf(pidFile)).as("the case started").isPresent();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60); // a hang guard: it was killed
        while (ProcessHandle.of(pidOf(pidFile).orElseThrow()).map(ProcessHandle::isAlive).orElse(false)
                && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(ProcessHandle.of(pidOf(pidFile).orElseThrow()).map(ProcessHandle::isAlive).orElse(false))
                .as("the timed-out case's process is gone").isFalse();
    }

    /** The pid a case wrote to {@code file}, if it did. */
    private static java.util.Optional<Long> pidOf(Path file) throws IOException {
        String s = Files.exists(file) ? Files.readString(file).trim() : "";
        return s.isEmpty() ? java.util.Optional.empty() : java.util.Optional.of(Long.parseLong(s));
    }

    @Test
    void badUsageIsExitTwoWithOneLine() {
        CliRun.of("conform", "--impl", "true").assertOneLineError(2, "--impl must contain {case}");
        CliRun.of("conform", "--impl", "true {case}", "--dtype", "int8").assertOneLineError(2, "--dtype");
        CliRun.of("conform", "--impl", "true {case}", "--grid", "huge").assertOneLineError(2, "--grid");
        CliRun.of("conform", "--impl", "true {case}", "--only", "rope").assertOneLineError(2, "--only",
                "rope");
        CliRun.of("conform", "--impl", "true {case}", "--only", "segments+nq<nk").assertOneLineError(2,
                "selects no case");
        CliRun.of("conform", "--impl", "true {case}", "--timeout", "0").assertOneLineError(2, "--timeout");
        CliRun.of("conform").assertOneLineError(2, "--impl");
    }
}

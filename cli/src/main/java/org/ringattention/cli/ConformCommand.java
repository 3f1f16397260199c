package org.ringattention.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.ringattention.attention.LowPrecisionAttention;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code conform}: certifies another attention implementation. It writes each case of a grid into
 * a directory (the contract: docs/conformance.md), runs the implementation's command on it, and
 * judges what it wrote against the float64 oracle by the accuracy rule; then it prints a table, a
 * summary per feature and a diagnosis of what the failures point to.
 */
@Command(name = "conform", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Runs another attention implementation on a grid of cases and judges its outputs against the"
            + " float64 oracle by the accuracy rule: O and LSE within 2x the error of plain float32 vanilla"
            + " attention on the same inputs, gradients within 3x, plus eps.",
            "Each case is a directory with q.npy, k.npy, v.npy [B, H, N, d] (do.npy with --gradients,"
            + " segments.npy when needed) and case.json (causal, causal_align, window, scale, softcap, segments,"
            + " alibi, sinks, mask, bias, cu_seqlens_q, cu_seqlens_k, dtype, gradients). The command writes out.npy"
            + " and lse.npy (and dq.npy, dk.npy, dv.npy with --gradients, and dsinks.npy [Hq] when the case has"
            + " sinks) into it. A missing lse.npy or dsinks.npy is allowed and reported; a missing out.npy, a crash,"
            + " a wrong shape or a time-out fails the case.",
            "See docs/conformance.md and examples/numpy_attention.py."},
        footer = {"", "Example:", "  ring-attention conform --impl 'python3 examples/numpy_attention.py {case}'", "",
            "Exit codes: 0 every case passes, 4 some case fails, 1 bad data (case directories cannot be written),"
            + " 2 bad usage."})
final class ConformCommand implements Callable<Integer> {

    @Option(names = "--impl", required = true, paramLabel = "'COMMAND {case}'", description = "Shell command run"
            + " once per case (sh -c, in the current directory); {case} is replaced by the case directory.")
    String impl;

    @Option(names = "--dtype", paramLabel = "TYPE", defaultValue = "float32", description = "Precision the"
            + " implementation is judged at: float32 (default; baseline plain float32 vanilla attention),"
            + " bfloat16 or float16 (inputs in that type; baseline the emulated low-precision path of"
            + " attend --emulate).")
    String dtype;

    @Option(names = "--grid", paramLabel = "SIZE", defaultValue = "quick", description = "quick (default, small"
            + " shapes), standard (adds prime lengths and head dims up to 256) or full (adds lengths up to 1025).")
    String grid;

    @Option(names = "--only", split = ",", paramLabel = "FEATURE", description = "Run only cases with one of these"
            + " features: full, causal, top-left, window, segments, scale, gqa, mqa, batch, nq<nk, nq>nk, n=1,"
            + " odd-d, empty-rows, peaky; join features with '+' for cases that have all of them"
            + " (--only causal+gqa).")
    List<String> only = new ArrayList<>();

    @Option(names = "--gradients", description = "Also ask for and judge dq.npy, dk.npy, dv.npy (gradients of"
            + " sum(dO * O)).")
    boolean gradients;

    @Option(names = "--timeout", paramLabel = "S", defaultValue = "60", description = "Seconds a case may take"
            + " (default ${DEFAULT-VALUE}); a slower run is killed and fails.")
    double timeout;

    @Option(names = "--json", description = "Print one JSON object instead of the table.")
    boolean json;

    @Option(names = "--junit", paramLabel = "FILE", description = "Also write a JUnit XML report.")
    Path junit;

    @Option(names = "--keep", paramLabel = "DIR", description = "Write the case directories under DIR and keep"
            + " them (default: a temporary folder, deleted at the end).")
    Path keep;

    @Option(names = "--tensor-layout", paramLabel = "L", defaultValue = "bhnd", description = "How q, k, v, do"
            + " and out, dq, dk, dv lie in the case files: bhnd [B, H, N, d] (the default) or bnhd [B, N, H, d]"
            + " (FlashAttention's); case.json says which. lse stays [B, H, N].")
    String tensorLayout;

    @Option(names = "--quiet", description = "No progress bar.")
    boolean quiet;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (!impl.contains(ConformRunner.PLACEHOLDER)) {
            throw CliException.usage("--impl must contain {case}, the place the case directory goes: '" + impl
                    + "'");
        }
        String type = dtype.toLowerCase(Locale.ROOT);
        LowPrecisionAttention.Format format = switch (type) {
            case "float32" -> null;
            case "bfloat16" -> LowPrecisionAttention.Format.BFLOAT16;
            case "float16" -> LowPrecisionAttention.Format.FLOAT16;
            default -> throw CliException.usage("--dtype must be float32, bfloat16 or float16, got '" + dtype + "'");
        };
        ConformGrid.Size size;
        try {
            size = ConformGrid.Size.valueOf(grid.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw CliException.usage("--grid must be quick, standard or full, got '" + grid + "'");
        }
        List<Set<String>> features = new ArrayList<>();
        for (String item : only) {
            Set<String> all = new LinkedHashSet<>();
            for (String f : item.split("\\+", -1)) {
                String t = f.strip().toLowerCase(Locale.ROOT);
                if (!ConformCase.FEATURES.contains(t)) {
                    throw CliException.usage("--only: unknown feature '" + f + "'; known: "
                            + String.join(", ", ConformCase.FEATURES));
                }
                all.add(t);
            }
            features.add(all);
        }
        if (!(timeout > 0) || Double.isInfinite(timeout)) {
            throw CliException.usage("--timeout must be a positive number of seconds, got " + timeout);
        }
        if (junit != null) {
            AtomicOutputs.checkWritable(junit, "--junit");
        }
        TensorLayout layout = TensorLayout.parse(tensorLayout);
        List<ConformCase> cases = ConformGrid.cases(size, features);
        if (cases.isEmpty()) {
            throw CliException.usage("--only " + String.join(",", only) + " selects no case of the " + grid
                    + " grid");
        }
        Path root;
        if (keep != null) {
            if (Files.exists(keep) && !Files.isDirectory(keep)) {
                throw CliException.usage("--keep " + keep + ": not a directory");
            }
            try {
                Files.createDirectories(keep);
            } catch (IOException e) {
                throw CliException.data("--keep " + keep + ": cannot create the folder: " + e.getMessage());
            }
            root = keep;
        } else {
            root = Files.createTempDirectory("ring-attention-conform");
        }
        ConformRunner runner = new ConformRunner(impl, timeout);
        ConformJudge judge = new ConformJudge(gradients, format, layout);
        List<ConformJudge.Result> results = new ArrayList<>();
        try (Progress progress = Progress.start(err, "conform", cases.size(), quiet || json)) {
            for (ConformCase c : cases) {
                results.add(runCase(c, root.resolve(c.name()), runner, judge, type, format, layout));
                progress.step(c.name());
            }
        } finally {
            if (keep == null) {
                deleteTree(root);
            }
        }
        ConformSummary summary = ConformSummary.of(results);
        if (json) {
            out.println(ConformCaseDir.JSON.writer().without(com.fasterxml.jackson.databind.SerializationFeature
                    .INDENT_OUTPUT).writeValueAsString(ConformReport.json(impl, type, grid.toLowerCase(Locale.ROOT),
                    gradients, results, summary)));
        } else {
            ConformReport.printText(out, results, summary);
            if (keep != null) {
                out.println("case directories kept in " + keep);
            }
        }
        out.flush();
        if (junit != null) {
            ConformReport.writeJunit(junit, results, summary);
        }
        return summary.failed() == 0 ? 0 : CompareCommand.VERDICT_FAIL;
    }

    private ConformJudge.Result runCase(ConformCase c, Path dir, ConformRunner runner, ConformJudge judge,
            String type, LowPrecisionAttention.Format format, TensorLayout layout) throws IOException {
        ConformCase.Inputs in = ConformJudge.rounded(c.inputs(gradients), format);
        if (Files.exists(dir)) {
            deleteTree(dir); // a kept folder from an earlier run: no stale outputs
        }
        try {
            ConformCaseDir.write(dir, c, in, type, gradients, layout);
        } catch (IOException e) {
            throw CliException.data("cannot write case directory " + dir + ": " + e.getMessage());
        }
        ConformRunner.Outcome o = runner.run(dir);
        if (o.timedOut()) {
            return ConformJudge.failed(c, String.format("timed out after %.1f s", timeout), o.seconds());
        }
        if (o.exitCode() != 0) {
            return ConformJudge.failed(c, "exit code " + o.exitCode() + lastLine(dir.resolve("stderr.txt")),
                    o.seconds());
        }
        return judge.judge(c, in, dir, o.seconds());
    }

    /** ": LINE" with the last non-blank line of the file, or "". */
    private static String lastLine(Path file) {
        try {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8).stream()
                    .filter(l -> !l.isBlank()).toList();
            if (lines.isEmpty()) {
                return "";
            }
            String l = lines.get(lines.size() - 1).strip();
            return ": " + (l.length() > 160 ? l.substring(0, 160) + "..." : l);
        } catch (IOException | UncheckedIOException e) {
            return "";
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}

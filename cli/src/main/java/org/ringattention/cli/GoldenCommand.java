package org.ringattention.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import org.ringattention.golden.GoldenCase;
import org.ringattention.golden.GoldenCases;
import org.ringattention.golden.GoldenDataException;
import org.ringattention.golden.GoldenGenerator;
import org.ringattention.golden.GoldenSet;
import org.ringattention.golden.GoldenVerifier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code golden verify} and {@code golden generate}: the golden reference set. */
@Command(name = "golden", mixinStandardHelpOptions = true,
        description = {"The golden reference set (golden-data/): float64 reference outputs of fixed cases, every"
            + " engine path checked against them."},
        subcommands = {GoldenCommand.Verify.class, GoldenCommand.Generate.class})
final class GoldenCommand implements Runnable {

    /** The launcher passes the repository root, so the default folder is found from anywhere. */
    static final String HOME_PROPERTY = "ring-attention.home";

    static final String DEFAULT_DIR = "golden-data";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /**
     * The folder to use: {@code given}, else ./golden-data if it holds a manifest, else the
     * golden-data folder of the installation (the launcher's repository root), else ./golden-data.
     */
    static Path folder(Path given) {
        if (given != null) {
            return given;
        }
        Path local = Path.of(DEFAULT_DIR);
        if (Files.isRegularFile(local.resolve(GoldenGenerator.MANIFEST))) {
            return local;
        }
        String home = System.getProperty(HOME_PROPERTY);
        if (home != null && !home.isBlank()) {
            Path installed = Path.of(home, DEFAULT_DIR);
            if (Files.isDirectory(installed)) {
                return installed;
            }
        }
        return local;
    }

    @Command(name = "verify", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Checks every engine path against the golden set and prints a table.",
                "The float64 oracle"
                + " must reproduce the stored references (to 1e-12 of max|ref|); plain float32 vanilla attention"
                + " (the baseline) and the blockwise engine (preferred and scalar kernels, every block size and"
                + " thread count of the manifest) must keep the accuracy rule:",
                "  error <= 2 x baseline error + 8*2^-24*M for O and LSE, 3 x for dQ, dK, dV,",
                "with the baseline recomputed on the stored inputs. Error is the largest absolute difference from"
                + " the stored float64 reference. Ring layouts are checked once the ring engine exists."},
            footer = {"", "Exit codes: 0 every check passed, 1 a check failed or the set is missing or corrupt,"
                + " 2 bad usage."})
    static final class Verify implements Callable<Integer> {

        @Option(names = "--dir", paramLabel = "DIR", description = "The golden set's folder (default ./golden-data,"
                + " else the one beside the launcher).")
        Path dir;

        @Option(names = "--case", paramLabel = "NAME", description = "Check only this case (repeatable).")
        List<String> cases = new ArrayList<>();

        @Option(names = "--detail", description = "One row per output (O, LSE, dQ, dK, dV) instead of the worst"
                + " output of each path.")
        boolean detail;

        @Option(names = "--quiet", description = "No progress bar; print only failing rows and the summary.")
        boolean quiet;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            Path folder = folder(dir);
            GoldenSet set = load(folder);
            List<GoldenSet.Entry> entries = select(set, cases);
            GoldenVerifier verifier = GoldenVerifier.standard();
            PrintWriter out = spec.commandLine().getOut();
            int paths = 0;
            for (GoldenSet.Entry e : entries) {
                paths += verifier.pathCount(e);
            }
            String preferred = org.ringattention.kernel.Kernels.preferred().name();
            String scalar = org.ringattention.kernel.Kernels.scalar().name();
            out.printf("golden verify: %d of %d cases in %s, kernels %s%n", entries.size(), set.cases().size(), folder,
                    preferred.equals(scalar) ? scalar + " (the preferred ones are the scalar twin)"
                            : preferred + " (preferred) and " + scalar);
            out.printf("rule: %s%n%n", GoldenVerifier.ruleText());
            String format = "%-26s %-34s %-6s %10s %10s %8s  %s%n";
            out.printf(format, "case", "path", "output", "error", "bound", "ratio", "verdict");
            out.flush();

            long passed = 0;
            long failed = 0;
            int failedPaths = 0;
            try (Progress progress = Progress.start(spec.commandLine().getErr(), "golden verify", paths, quiet)) {
                for (GoldenSet.Entry e : entries) {
                    List<GoldenVerifier.Check> checks;
                    try {
                        checks = verifier.verify(set, e, (c, p) -> progress.step(c));
                    } catch (GoldenDataException ex) {
                        throw CliException.data(ex.getMessage());
                    }
                    // rows: every check with --detail, else the worst output of each path
                    List<GoldenVerifier.Check> rows = new ArrayList<>();
                    int perPath = e.definition().outputs().size();
                    for (int i = 0; i < checks.size(); i += perPath) {
                        List<GoldenVerifier.Check> ofPath = checks.subList(i, i + perPath);
                        boolean pathOk = true;
                        GoldenVerifier.Check worst = ofPath.get(0);
                        for (GoldenVerifier.Check c : ofPath) {
                            if (c.pass()) {
                                passed++;
                            } else {
                                failed++;
                                pathOk = false;
                            }
                            if (!c.pass() && worst.pass() || c.pass() == worst.pass() && c.ratio() > worst.ratio()) {
                                worst = c;
                            }
                        }
                        if (!pathOk) {
                            failedPaths++;
                        }
                        if (detail) {
                            rows.addAll(ofPath);
                        } else {
                            rows.add(worst);
                        }
                    }
                    for (GoldenVerifier.Check c : rows) {
                        if (!quiet || !c.pass()) {
                            out.printf(format, c.caseName(), c.path(), c.output().label(), sci(c.error()),
                                    sci(c.bound()), ratio(c.ratio()), c.pass() ? "pass" : "FAIL (worst at flat index "
                                    + c.worstIndex() + ": ref " + c.refAtWorst() + ", got " + c.gotAtWorst() + ")");
                        }
                    }
                    out.flush();
                }
            }
            out.println();
            out.printf("golden verify: %d cases, %d paths (%d failed), %d checks: %d passed, %d failed%n",
                    entries.size(), paths, failedPaths, passed + failed, passed, failed);
            out.flush();
            return failed == 0 ? 0 : 1;
        }

        private static String ratio(double r) {
            return Double.isInfinite(r) ? "inf" : String.format("%.3f", r);
        }
    }

    @Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Rebuilds the golden set, byte-identical.",
                "Writes, from the case list: inputs, float64 references (the oracle) and"
                + " the bounds of the accuracy rule, as cases/<name>/*.npy and manifest.json. Deterministic: the"
                + " files are byte-identical each time. Files are replaced only when all are written."},
            footer = {"", "Exit codes: 0 success, 1 the folder cannot be written, 2 bad usage."})
    static final class Generate implements Callable<Integer> {

        @Option(names = "--dir", paramLabel = "DIR", description = "The folder to write (default ./golden-data if it"
                + " exists, else the one beside the launcher).")
        Path dir;

        @Option(names = "--quiet", description = "No progress bar and no summary.")
        boolean quiet;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            Path folder = dir != null ? dir : Files.isDirectory(Path.of(DEFAULT_DIR)) ? Path.of(DEFAULT_DIR)
                    : folder(null);
            if (Files.exists(folder) && !Files.isDirectory(folder)) {
                throw CliException.usage("--dir " + folder + ": is not a folder");
            }
            Path parent = folder.toAbsolutePath().getParent();
            if (!Files.exists(folder) && (parent == null || !Files.isDirectory(parent))) {
                throw CliException.usage("--dir " + folder + ": folder " + parent + " does not exist");
            }
            List<GoldenCase> all = GoldenCases.all();
            GoldenGenerator.Result r;
            try (Progress progress = Progress.start(spec.commandLine().getErr(), "golden generate", all.size(),
                    quiet)) {
                r = GoldenGenerator.generate(folder, all, progress::step);
            } catch (java.nio.file.FileSystemException e) {
                throw CliException.data(folder + ": cannot write: " + e.getMessage());
            }
            if (!quiet) {
                spec.commandLine().getOut().printf("golden generate: %d cases, %d files, %.2f MB -> %s%n", r.cases(),
                        r.files(), r.bytes() / 1e6, folder);
            }
            return 0;
        }
    }

    private static GoldenSet load(Path folder) throws IOException {
        try {
            return GoldenSet.load(folder);
        } catch (GoldenDataException e) {
            throw CliException.data(e.getMessage());
        }
    }

    private static List<GoldenSet.Entry> select(GoldenSet set, List<String> names) {
        if (names.isEmpty()) {
            return set.cases();
        }
        Set<String> wanted = new LinkedHashSet<>(names);
        List<GoldenSet.Entry> chosen = new ArrayList<>();
        for (GoldenSet.Entry e : set.cases()) {
            if (wanted.remove(e.name())) {
                chosen.add(e);
            }
        }
        if (!wanted.isEmpty()) {
            List<String> known = set.cases().stream().map(GoldenSet.Entry::name).toList();
            throw CliException.usage("--case " + String.join(", ", wanted) + ": no such case; the set has "
                    + String.join(", ", known));
        }
        return chosen;
    }

    static String sci(double x) {
        return Double.isInfinite(x) || Double.isNaN(x) ? String.valueOf(x) : String.format("%.3e", x);
    }
}

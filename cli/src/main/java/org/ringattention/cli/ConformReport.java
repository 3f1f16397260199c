package org.ringattention.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The three forms of a conformance run's outcome: the text table and summary, one JSON object
 * (Jackson; infinite or NaN numbers as the strings "inf", "-inf", "nan"), and JUnit XML (one
 * testcase per case, classname {@code conform.<first feature>}) for CI dashboards.
 */
final class ConformReport {

    private ConformReport() {
    }

    static void printText(PrintWriter out, List<ConformJudge.Result> results, ConformSummary s) {
        int w = Math.max(4, results.stream().mapToInt(r -> r.c().name().length()).max().orElse(4));
        int fw = Math.max(8, results.stream().mapToInt(r -> String.join(",", r.features()).length()).max().orElse(8));
        String fmt = "%-" + w + "s  %-" + fw + "s  %-6s  %10s  %10s  %8s  %s%n";
        out.printf(fmt, "case", "features", "output", "error", "bound", "ratio", "verdict");
        for (ConformJudge.Result r : results) {
            String features = String.join(",", r.features());
            if (r.checks().isEmpty()) {
                out.printf(fmt, r.c().name(), features, "-", "-", "-", "-", "FAIL: " + r.reason());
                continue;
            }
            boolean first = true;
            for (ConformJudge.Check c : r.checks()) {
                String verdict = c.status().equals("missing") ? "missing (allowed)" : c.status();
                if (c.failed() && !c.detail().isEmpty()) {
                    verdict += " (" + c.detail() + ")";
                }
                out.printf(fmt, first ? r.c().name() : "", first ? features : "", c.output(), num(c.error()),
                        num(c.bound()), Double.isNaN(c.error()) ? "-" : String.format("%.2f", c.ratio()), verdict);
                first = false;
            }
        }
        out.println();
        out.printf("%-12s %6s %6s %6s%n", "feature", "cases", "pass", "fail");
        for (Map.Entry<String, int[]> e : s.perFeature().entrySet()) {
            int[] n = e.getValue();
            out.printf("%-12s %6d %6d %6d%n", e.getKey(), n[0] + n[1], n[0], n[1]);
        }
        out.println();
        for (String optional : List.of("lse", "dsinks")) {
            long missing = results.stream().filter(r -> r.checks().stream()
                    .anyMatch(c -> c.output().equals(optional) && c.status().equals("missing"))).count();
            if (missing > 0) {
                out.println("note: " + optional + ".npy missing in " + missing + " case(s): allowed, "
                        + (optional.equals("lse") ? "LSE" : "the sinks' gradient") + " not checked there");
            }
        }
        for (String d : s.diagnoses()) {
            out.println("diagnosis: " + d);
        }
        out.printf("%s: %d of %d cases pass%n", s.failed() == 0 ? "PASS" : "FAIL", s.passed(), results.size());
    }

    private static String num(double x) {
        return Double.isNaN(x) ? "-" : String.format("%.3e", x);
    }

    private static Object jsonNum(double x) {
        if (Double.isNaN(x)) {
            return "nan";
        }
        if (Double.isInfinite(x)) {
            return x > 0 ? "inf" : "-inf";
        }
        return x;
    }

    static Map<String, Object> json(String impl, String dtype, String grid, boolean gradients,
            List<ConformJudge.Result> results, ConformSummary s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("impl", impl);
        m.put("dtype", dtype);
        m.put("grid", grid);
        m.put("gradients", gradients);
        m.put("pass", s.failed() == 0);
        m.put("cases_passed", s.passed());
        m.put("cases_failed", s.failed());
        List<Object> cases = new ArrayList<>();
        for (ConformJudge.Result r : results) {
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("name", r.c().name());
            c.put("shape", r.c().shapeText());
            c.put("semantics", r.c().semantics());
            c.put("features", r.features());
            c.put("pass", r.pass());
            c.put("reason", r.reason());
            c.put("seconds", r.seconds());
            List<Object> checks = new ArrayList<>();
            for (ConformJudge.Check k : r.checks()) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("output", k.output());
                o.put("status", k.status());
                o.put("error", jsonNum(k.error()));
                o.put("bound", jsonNum(k.bound()));
                o.put("ratio", jsonNum(Double.isNaN(k.error()) ? Double.NaN : k.ratio()));
                o.put("detail", k.detail());
                checks.add(o);
            }
            c.put("outputs", checks);
            c.put("hints", r.hints().stream().map(ConformJudge.Hint::text).toList());
            cases.add(c);
        }
        m.put("cases", cases);
        Map<String, Object> per = new LinkedHashMap<>();
        s.perFeature().forEach((f, n) -> per.put(f, Map.of("cases", n[0] + n[1], "pass", n[0], "fail", n[1])));
        m.put("features", per);
        m.put("diagnoses", s.diagnoses());
        return m;
    }

    /** Writes JUnit XML to {@code file} through a temporary file renamed into place. */
    static void writeJunit(Path file, List<ConformJudge.Result> results, ConformSummary s) throws IOException {
        double total = results.stream().mapToDouble(ConformJudge.Result::seconds).sum();
        StringBuilder x = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        x.append(String.format("<testsuite name=\"conform\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"0\""
                + " time=\"%.3f\">%n", results.size(), s.failed(), total));
        for (ConformJudge.Result r : results) {
            String cls = "conform." + (r.features().isEmpty() ? "case" : r.features().get(0));
            x.append(String.format("  <testcase classname=\"%s\" name=\"%s\" time=\"%.3f\"", xml(cls),
                    xml(r.c().name()), r.seconds()));
            if (r.pass()) {
                x.append("/>\n");
                continue;
            }
            StringBuilder body = new StringBuilder();
            for (ConformJudge.Check c : r.checks()) {
                body.append(c.output()).append(": ").append(c.status()).append(" error ").append(num(c.error()))
                        .append(" bound ").append(num(c.bound())).append(' ').append(c.detail()).append('\n');
            }
            for (ConformJudge.Hint h : r.hints()) {
                body.append("hint: ").append(h.text()).append('\n');
            }
            x.append(">\n    <failure message=\"").append(xml(r.reason())).append("\" type=\"conformance\">")
                    .append(xml(r.c().semantics() + " " + r.c().shapeText() + "\n" + body)).append("</failure>\n")
                    .append("  </testcase>\n");
        }
        x.append("</testsuite>\n");
        Path abs = file.toAbsolutePath();
        Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
        try {
            Files.writeString(tmp, x, StandardCharsets.UTF_8);
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static String xml(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                default -> {
                    if (ch < 0x20 && ch != '\n' && ch != '\t') {
                        b.append(' ');
                    } else {
                        b.append(ch);
                    }
                }
            }
        }
        return b.toString();
    }
}

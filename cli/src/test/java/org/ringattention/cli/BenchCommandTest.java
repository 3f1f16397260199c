package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** bench on tiny sizes: the JSON last line, its keys and values, and usage errors. */
class BenchCommandTest {

    private String stdout;
    private String stderr;

    @Test
    void jsonLastLineHasTheResults() {
        int code = run("--seq", "64", "--head-dim", "8", "--heads", "2", "--kv-heads", "1", "--threads", "1",
                "--block-q", "16", "--block-kv", "32", "--warmup", "1", "--warmup-ms", "200", "--reps", "3",
                "--peak-ms", "50", "--json");
        assertThat(code).as(stderr).isZero();
        Map<String, String> r = lastLineJson();
        assertThat(r).containsKeys("seq", "head_dim", "heads", "kv_heads", "causal", "backward", "threads", "block_q",
                "block_kv", "kernels", "seconds_median", "seconds_min", "seconds_max", "gflops", "peak_fma_gflops",
                "fraction_of_peak", "cpu", "java", "memory_estimate_bytes");
        assertThat(r).containsEntry("seq", "64").containsEntry("head_dim", "8").containsEntry("heads", "2")
                .containsEntry("kv_heads", "1").containsEntry("causal", "false").containsEntry("backward", "false")
                .containsEntry("threads", "1").containsEntry("block_q", "16").containsEntry("block_kv", "32");
        assertThat(Double.parseDouble(r.get("gflops"))).isPositive();
        assertThat(Double.parseDouble(r.get("seconds_min")))
                .isLessThanOrEqualTo(Double.parseDouble(r.get("seconds_median")));
        // surefire loads jdk.incubator.vector, so the peak is measured
        assertThat(Double.parseDouble(r.get("peak_fma_gflops"))).isPositive();
        assertThat(Double.parseDouble(r.get("fraction_of_peak"))).isPositive();
        assertThat(Integer.parseInt(r.get("warmup_runs"))).isGreaterThanOrEqualTo(1);
    }

    @Test
    void causalBackwardWithScalarKernels() {
        int code = run("--seq", "40", "--head-dim", "4", "--heads", "1", "--causal", "--backward", "--kernels",
                "scalar", "--warmup", "0", "--warmup-ms", "0", "--reps", "2", "--peak-ms", "0", "--json");
        assertThat(code).as(stderr).isZero();
        Map<String, String> r = lastLineJson();
        assertThat(r).containsEntry("causal", "true").containsEntry("backward", "true")
                .containsEntry("peak_fma_gflops", "null");
        assertThat(r.get("kernels")).isNotEmpty();
        // 4 N^2 d H, halved for causal, times 2.5 for the backward pass
        assertThat(Double.parseDouble(r.get("flops"))).isEqualTo(4.0 * 40 * 40 * 4 * 0.5 * 2.5);
        assertThat(Double.parseDouble(r.get("gflops"))).isPositive();
    }

    @Test
    void ringReportsDevicesLayoutOverlapAndImbalance() {
        int code = run("--seq", "96", "--head-dim", "8", "--heads", "2", "--causal", "--devices", "4", "--threads", "2",
                "--block-q", "8", "--block-kv", "8", "--warmup", "1", "--warmup-ms", "0", "--reps", "1", "--peak-ms",
                "0", "--json");
        assertThat(code).as(stderr).isZero();
        Map<String, String> r = lastLineJson();
        assertThat(r).containsEntry("devices", "4").containsEntry("layout", "zigzag");
        // zigzag chunks of 12 tokens with 8-token tiles: work nearly even, and the overlap a fraction
        assertThat(Double.parseDouble(r.get("imbalance"))).isBetween(1.0, 1.2);
        assertThat(Double.parseDouble(r.get("overlap"))).isBetween(0.0, 1.0);
        assertThat(stdout).contains("ring: 4 devices, zigzag layout, link unthrottled");
    }

    @Test
    void badOptionsAreUsageErrorsOnOneLine() {
        assertThat(run("--seq", "0", "--head-dim", "8", "--heads", "1")).isEqualTo(2);
        assertOneLine("--seq must be >= 1");
        assertThat(run("--seq", "8", "--head-dim", "8", "--heads", "3", "--kv-heads", "2")).isEqualTo(2);
        assertOneLine("must be a multiple of --kv-heads");
        assertThat(run("--seq", "8", "--head-dim", "8", "--heads", "1", "--kernels", "fast")).isEqualTo(2);
        assertOneLine("--kernels must be preferred or scalar");
        assertThat(run("--seq", "8", "--head-dim", "8", "--heads", "1", "--reps", "0")).isEqualTo(2);
        assertOneLine("--reps must be >= 1");
        assertThat(run("--seq", "8", "--head-dim", "8", "--heads", "1", "--threads", "0")).isEqualTo(2);
        assertOneLine("--threads must be >= 1");
        assertThat(run("--seq", "8", "--head-dim", "8", "--heads", "1", "--warmup-ms", "-1")).isEqualTo(2);
        assertOneLine("--warmup-ms must be >= 0");
        assertThat(run("--seq", "8", "--heads", "1")).isEqualTo(2);
        assertThat(stderr).contains("--head-dim");
    }

    private void assertOneLine(String fragment) {
        List<String> lines = stderr.lines().filter(l -> !l.startsWith("Try '")).toList();
        assertThat(lines).as(stderr).hasSize(1);
        assertThat(lines.get(0)).contains(fragment).doesNotContain("Exception");
    }

    /** The last line of stdout as a flat JSON object: key to raw value text (strings unquoted). */
    private Map<String, String> lastLineJson() {
        List<String> lines = stdout.lines().toList();
        String last = lines.get(lines.size() - 1).strip();
        assertThat(last).startsWith("{").endsWith("}");
        Map<String, String> map = new LinkedHashMap<>();
        Matcher m = Pattern.compile("\"([a-z_]+)\": ?(\"(?:[^\"\\\\]|\\\\.)*\"|\\[[^\\]]*\\]|[^,}]+)").matcher(last);
        while (m.find()) {
            String v = m.group(2);
            map.put(m.group(1), v.startsWith("\"") ? v.substring(1, v.length() - 1) : v);
        }
        return map;
    }

    private int run(String... args) {
        List<String> all = new ArrayList<>(List.of("bench"));
        all.addAll(List.of(args));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(all.toArray(String[]::new), new PrintWriter(out), new PrintWriter(err));
        stdout = out.toString();
        stderr = err.toString();
        return code;
    }
}

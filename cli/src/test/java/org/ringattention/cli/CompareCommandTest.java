package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ringattention.golden.Json;
import org.ringattention.tensor.Npy;

/** compare: statistics, verdict and exit codes, JSON output, bad inputs. */
class CompareCommandTest {

    @TempDir
    Path dir;

    @Test
    void identicalArraysHaveNoError() throws IOException {
        double[] ref = {1, -2, 0.5, Double.NEGATIVE_INFINITY};
        Npy.write(dir.resolve("ref.npy"), new long[] {2, 2}, ref);
        Npy.write(dir.resolve("got.npy"), new long[] {2, 2}, new float[] {1, -2, 0.5f, Float.NEGATIVE_INFINITY});
        CliRun r = CliRun.of("compare", "--ref", p("ref.npy"), "--got", p("got.npy"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).containsPattern("max abs error +0\\.000e\\+00")
                .containsPattern("ULP distance \\(float32\\) +p50 0, p90 0, p99 0, max 0")
                .contains("counted exact: 1 of 1 in ref").contains("verdict").contains("none (give --baseline");
    }

    @Test
    void reportsErrorsUlpsAndTheWorstIndex() throws IOException {
        double[] ref = new double[24];
        float[] got = new float[24];
        for (int i = 0; i < ref.length; i++) {
            ref[i] = 1 + i / 8.0;
            got[i] = (float) ref[i];
        }
        got[13] = Math.nextUp(Math.nextUp(got[13])); // 2 ulps off
        got[5] = Math.nextUp(got[5]);
        Npy.write(dir.resolve("ref.npy"), new long[] {2, 3, 4}, ref);
        Npy.write(dir.resolve("got.npy"), new long[] {2, 3, 4}, got);
        CliRun r = CliRun.of("compare", "--ref", p("ref.npy"), "--got", p("got.npy"), "--json");
        assertThat(r.code()).isZero();
        List<String> lines = r.out().lines().toList();
        assertThat(lines).hasSize(1);
        Map<?, ?> m = (Map<?, ?>) parse(lines.get(0));
        assertThat(m.get("worst_index")).isEqualTo(List.of(1L, 0L, 1L));
        assertThat((Double) m.get("max_abs_error")).isEqualTo(2 * Math.ulp((float) ref[13]), org.assertj.core.data
                .Offset.offset(1e-12));
        Map<?, ?> ulp = (Map<?, ?>) m.get("ulp");
        assertThat(ulp.get("unit")).isEqualTo("float32");
        assertThat(ulp.get("max")).isEqualTo(2L);
        assertThat(ulp.get("p50")).isEqualTo(0L);
        assertThat(m.get("verdict")).isNull();
        assertThat(m.get("shape")).isEqualTo(List.of(2L, 3L, 4L));
    }

    @Test
    void verdictAgainstABaseline() throws IOException {
        double[] ref = new double[100];
        double[] base = new double[100];
        double[] good = new double[100];
        double[] bad = new double[100];
        for (int i = 0; i < ref.length; i++) {
            ref[i] = Math.sin(i);
            base[i] = ref[i] + 1e-7 * Math.cos(3 * i);
            good[i] = ref[i] - 1.5e-7 * Math.cos(5 * i);
            bad[i] = ref[i] + (i == 42 ? 1e-5 : 0);
        }
        long[] shape = {10, 10};
        Npy.write(dir.resolve("ref.npy"), shape, ref);
        Npy.write(dir.resolve("base.npy"), shape, base);
        Npy.write(dir.resolve("good.npy"), shape, good);
        Npy.write(dir.resolve("bad.npy"), shape, bad);
        CliRun pass = CliRun.of("compare", "--ref", p("ref.npy"), "--got", p("good.npy"), "--baseline", p("base.npy"));
        assertThat(pass.code()).as(pass.out()).isZero();
        assertThat(pass.out()).contains("verdict").contains("PASS").contains("eps = 8 * 2^-24 * max|ref|")
                .contains("ULP distance (float64)");
        CliRun fail = CliRun.of("compare", "--ref", p("ref.npy"), "--got", p("bad.npy"), "--baseline", p("base.npy"),
                "--json");
        assertThat(fail.code()).isEqualTo(CompareCommand.VERDICT_FAIL);
        Map<?, ?> m = (Map<?, ?>) parse(fail.out().lines().reduce((a, b) -> b).orElseThrow());
        Map<?, ?> v = (Map<?, ?>) m.get("verdict");
        assertThat(v.get("pass")).isEqualTo(false);
        assertThat(m.get("worst_index")).isEqualTo(List.of(4L, 2L));
        // a looser factor lets it pass
        CliRun loose = CliRun.of("compare", "--ref", p("ref.npy"), "--got", p("bad.npy"), "--baseline", p("base.npy"),
                "--factor", "200");
        assertThat(loose.code()).isZero();
    }

    @Test
    void nanAndInfinitiesInGot() throws IOException {
        Npy.write(dir.resolve("ref.npy"), new long[] {4}, new double[] {1, Double.NEGATIVE_INFINITY, 3, 4});
        Npy.write(dir.resolve("got.npy"), new long[] {4},
                new float[] {1, Float.NEGATIVE_INFINITY, Float.NaN, Float.POSITIVE_INFINITY});
        Npy.write(dir.resolve("base.npy"), new long[] {4}, new float[] {1, Float.NEGATIVE_INFINITY, 3, 4});
        CliRun r = CliRun.of("compare", "--ref", p("ref.npy"), "--got", p("got.npy"), "--baseline", p("base.npy"),
                "--json");
        assertThat(r.code()).isEqualTo(CompareCommand.VERDICT_FAIL);
        Map<?, ?> m = (Map<?, ?>) parse(r.out().strip());
        assertThat(m.get("got_nan")).isEqualTo(1L);
        assertThat(m.get("got_pos_inf")).isEqualTo(1L);
        assertThat(m.get("got_neg_inf")).isEqualTo(1L);
        assertThat(m.get("matching_infinities")).isEqualTo(1L);
        assertThat(m.get("max_abs_error")).isEqualTo("inf");
        assertThat(((Map<?, ?>) m.get("ulp")).get("max")).isEqualTo("inf");
        assertThat(m.get("worst_index")).isEqualTo(List.of(2L));
    }

    @Test
    void badInputsAreBadData() throws IOException {
        Npy.write(dir.resolve("ref.npy"), new long[] {2, 3}, new double[6]);
        Npy.write(dir.resolve("got23.npy"), new long[] {3, 2}, new float[6]);
        CliRun.of("compare", "--ref", p("ref.npy"), "--got", p("got23.npy"))
                .assertOneLineError(1, "got23.npy: shape [3, 2] differs from", "ref.npy shape [2, 3]");
        CliRun.of("compare", "--ref", p("ref.npy"), "--got", p("ref.npy"), "--baseline", p("got23.npy"))
                .assertOneLineError(1, "got23.npy: shape [3, 2]");
        Npy.write(dir.resolve("nanref.npy"), new long[] {2, 3}, new double[] {0, 0, 0, 0, Double.NaN, 0});
        CliRun.of("compare", "--ref", p("nanref.npy"), "--got", p("ref.npy"))
                .assertOneLineError(1, "nanref.npy: contains NaN at index [1, 1]");
        Npy.writeInt64(dir.resolve("ints.npy"), new long[] {2, 3}, new long[6]);
        CliRun.of("compare", "--ref", p("ref.npy"), "--got", p("ints.npy"))
                .assertOneLineError(1, "ints.npy: dtype int64 is not floating point");
        HostileFiles.truncated(dir.resolve("trunc.npy"), dir.resolve("ref.npy"));
        CliRun.of("compare", "--ref", p("trunc.npy"), "--got", p("ref.npy")).assertOneLineError(1, "trunc.npy");
        CliRun.of("compare", "--ref", p("ref.npy"), "--got", p("absent.npy"))
                .assertOneLineError(1, "absent.npy", "no such file");
    }

    @Test
    void ulpDistances() {
        assertThat(CompareCommand.ulps32(1.0, Math.nextUp(1.0f))).isEqualTo(1);
        assertThat(CompareCommand.ulps32(-0.0, 0.0)).isZero();
        assertThat(CompareCommand.ulps32(Float.MIN_VALUE, -Float.MIN_VALUE)).isEqualTo(2);
        assertThat(CompareCommand.ulps32(1.0, 1.0 + 1e-12)).isZero(); // the same float
        assertThat(CompareCommand.ulps64(1.0, Math.nextDown(1.0))).isEqualTo(1);
        assertThat(CompareCommand.ulps64(-Double.MAX_VALUE, Double.MAX_VALUE)).isEqualTo(Long.MAX_VALUE);
        assertThat(CompareCommand.ulps64(Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY)).isZero();
        assertThat(CompareCommand.ulps32(Double.NEGATIVE_INFINITY, 0)).isEqualTo(Long.MAX_VALUE);
    }

    private static Object parse(String json) {
        try {
            return Json.parse(json);
        } catch (Json.ParseException e) {
            throw new AssertionError(json, e);
        }
    }

    private String p(String name) {
        return dir.resolve(name).toString();
    }
}

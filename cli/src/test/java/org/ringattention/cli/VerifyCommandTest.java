package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.VanillaAttention;
import org.ringattention.check.ErrorStats;
import org.ringattention.tensor.Npy;

/** verify: agrees with the full oracle, catches a perturbed row, passes one within the rule, refuses bad input. */
class VerifyCommandTest {

    private static final long[] Q_SHAPE = {1, 2, 300, 7};
    private static final long[] KV_SHAPE = {1, 1, 300, 7};
    private static final AttentionShape SHAPE = new AttentionShape(1, 2, 1, 300, 300, 7);

    @TempDir
    Path dir;

    private final float[] q = CliRun.random(2 * 300 * 7, 1);
    private final float[] k = CliRun.random(300 * 7, 2);
    private final float[] v = CliRun.random(300 * 7, 3);

    @BeforeEach
    void writeInputs() throws IOException {
        for (int i = 0; i < q.length; i++) {
            q[i] *= 3; // peaked softmax rows: larger errors than uniform ones
        }
        Npy.write(dir.resolve("q.npy"), Q_SHAPE, q);
        Npy.write(dir.resolve("k.npy"), KV_SHAPE, k);
        Npy.write(dir.resolve("v.npy"), KV_SHAPE, v);
    }

    @Test
    void engineOutputPassesAndEveryRowAgreesWithTheFullOracle() throws IOException {
        CliRun a = CliRun.of("attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o.npy"),
                "--lse", p("lse.npy"), "--causal", "--block-q", "16", "--block-kv", "32", "--quiet");
        assertThat(a.code()).as(a.err()).isZero();
        CliRun r = verify("--causal", "--rows", "12");
        assertThat(r.code()).as(r.err() + r.out()).isZero();
        assertThat(r.out()).contains("rows checked: 12 of 300 (seed 1): [0, ").contains(", 299]")
                .contains("heads: 2 (B = 1 x Hq = 2)").containsPattern("O    PASS: error .* worst ratio to the bound")
                .contains("LSE  PASS").contains("verdict: PASS");

        // every row: the sampled verdict is the full one, number for number
        JsonNode all = json(verify("--causal", "--rows", "300", "--json"));
        AttentionSpec causal = AttentionSpec.DEFAULT.withCausal(true);
        VanillaAttention.Result exact = VanillaAttention.oracle().forward(SHAPE, causal, wide(q), wide(k), wide(v));
        VanillaAttention.Result base = new VanillaAttention(VanillaAttention.Precision.FLOAT32).forward(SHAPE, causal,
                wide(q), wide(k), wide(v));
        double[] o = Npy.read(dir.resolve("o.npy")).toDoubleArray();
        assertThat(all.get("rows")).hasSize(300);
        JsonNode jo = all.get("outputs").get("o");
        assertThat(jo.get("max_abs_error").asDouble()).isEqualTo(ErrorStats.of(exact.out(), o).maxAbs());
        assertThat(jo.get("baseline_error").asDouble()).isEqualTo(ErrorStats.of(exact.out(), base.out()).maxAbs());
        assertThat(jo.get("magnitude").asDouble()).isEqualTo(ErrorStats.maxAbs(wide(v)));
        assertThat(jo.get("pass").asBoolean()).isTrue();
        assertThat(all.get("pass").asBoolean()).isTrue();

        // the full oracle's own output has no error at all
        CliRun f = CliRun.of("attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o64.npy"),
                "--lse", p("lse64.npy"), "--causal", "--precision", "float64", "--quiet");
        assertThat(f.code()).as(f.err()).isZero();
        JsonNode exactRun = json(CliRun.of("verify", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out",
                p("o64.npy"), "--lse", p("lse64.npy"), "--causal", "--json"));
        assertThat(exactRun.get("outputs").get("o").get("max_abs_error").asDouble()).isZero();
        assertThat(exactRun.get("outputs").get("lse").get("max_abs_error").asDouble()).isZero();
    }

    @Test
    void oneRowPerturbedBeyondTheRuleFailsAndWithinItPasses() throws IOException {
        AttentionSpec causal = AttentionSpec.DEFAULT.withCausal(true);
        double[] exact = VanillaAttention.oracle().forward(SHAPE, causal, wide(q), wide(k), wide(v)).out();
        Npy.write(dir.resolve("exact.npy"), Q_SHAPE, exact);
        double bound = json(verify(p("exact.npy"), "--causal", "--rows", "300", "--json")).get("outputs").get("o").get("bound").asDouble();
        assertThat(bound).isPositive();

        // row 137 of head 1: a random row, so checked only when every row is
        int at = ((300 + 137) * 7) + 4;
        double[] within = exact.clone();
        within[at] += 0.9 * bound;
        Npy.write(dir.resolve("within.npy"), Q_SHAPE, within);
        assertThat(verify(p("within.npy"), "--causal", "--rows", "300").code()).isZero();

        double[] beyond = exact.clone();
        beyond[at] += 1.5 * bound;
        Npy.write(dir.resolve("beyond.npy"), Q_SHAPE, beyond);
        CliRun r = verify(p("beyond.npy"), "--causal", "--rows", "300");
        assertThat(r.code()).as(r.out()).isEqualTo(CompareCommand.VERDICT_FAIL);
        assertThat(r.out()).contains("O    FAIL").contains("failing row 137 (batch 0, head 1): error")
                .contains("1.500 x the bound").contains("verdict: FAIL (1 sampled row(s) beyond the bound)");
        JsonNode j = json(verify(p("beyond.npy"), "--causal", "--rows", "300", "--json"));
        assertThat(j.get("pass").asBoolean()).isFalse();
        assertThat(j.get("outputs").get("o").get("failing_rows")).hasSize(1);
        assertThat(j.get("outputs").get("o").get("failing_rows").get(0).get("row").asInt()).isEqualTo(137);

        assertThat(verify(p("within.npy"), "--causal").code()).isZero();
        // the last row is always sampled, however few rows are asked for
        double[] last = exact.clone();
        last[(300 + 299) * 7] -= 2 * bound;
        Npy.write(dir.resolve("last.npy"), Q_SHAPE, last);
        assertThat(verify(p("last.npy"), "--causal", "--rows", "2").code()).isEqualTo(CompareCommand.VERDICT_FAIL);
        // and the mask matters: without --causal the exact causal output is far off
        assertThat(verify(p("exact.npy")).code()).isEqualTo(CompareCommand.VERDICT_FAIL);
    }

    @Test
    void rowsThatSeeNoKeyMustGiveZeroAndMinusInfinity() throws IOException {
        // Nq = 300 > Nk = 100, causal: rows below 200 see no key
        float[] kk = CliRun.random(100 * 7, 5);
        float[] vv = CliRun.random(100 * 7, 6);
        Npy.write(dir.resolve("k.npy"), new long[] {1, 1, 100, 7}, kk);
        Npy.write(dir.resolve("v.npy"), new long[] {1, 1, 100, 7}, vv);
        CliRun a = CliRun.of("attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o.npy"),
                "--lse", p("lse.npy"), "--causal", "--quiet");
        assertThat(a.code()).as(a.err()).isZero();
        JsonNode ok = json(verify("--causal", "--rows", "4", "--json"));
        assertThat(ok.get("rows").toString()).contains("199").contains("200");
        assertThat(ok.get("pass").asBoolean()).isTrue();

        float[] lse = Npy.read(dir.resolve("lse.npy")).toFloatArray();
        lse[199] = 0; // a row that sees nothing has LSE = -inf
        Npy.write(dir.resolve("lse.npy"), new long[] {1, 2, 300}, lse);
        CliRun r = verify("--causal", "--rows", "4");
        assertThat(r.code()).isEqualTo(CompareCommand.VERDICT_FAIL);
        assertThat(r.out()).contains("O    PASS").contains("LSE  FAIL").contains("failing row 199 (batch 0, head 0)");
    }

    @Test
    void acceptsFloat16AndFloat64Outputs() throws IOException {
        AttentionSpec full = AttentionSpec.DEFAULT;
        double[] exact = VanillaAttention.oracle().forward(SHAPE, full, wide(q), wide(k), wide(v)).out();
        Npy.write(dir.resolve("o.npy"), Q_SHAPE, exact);
        assertThat(verify().code()).isZero();
        // float16 rounds far beyond float32's error: a failed verdict, not bad data
        short[] half = new short[exact.length];
        for (int i = 0; i < half.length; i++) {
            half[i] = Float.floatToFloat16((float) exact[i]);
        }
        HostileFiles.npy(dir.resolve("o.npy"), "{'descr': '<f2', 'fortran_order': False, 'shape': (1, 2, 300, 7), }",
                toBytes(half));
        CliRun r = verify();
        assertThat(r.code()).as(r.err()).isEqualTo(CompareCommand.VERDICT_FAIL);
    }

    @Test
    void refusesBadInputsAndUsage() throws IOException {
        Npy.write(dir.resolve("o.npy"), Q_SHAPE, q);
        verify("--rows", "1").assertOneLineError(CliException.BAD_USAGE, "--rows must be >= 2");
        verify("--window", "0").assertOneLineError(CliException.BAD_USAGE, "--window must be >= 1");
        verify("--scale", "nan").assertOneLineError(CliException.BAD_USAGE, "--scale");
        CliRun.of("verify", "--q", p("q.npy")).assertOneLineError(CliException.BAD_USAGE, "--k");

        Npy.write(dir.resolve("bad-shape.npy"), new long[] {1, 2, 299, 7}, new float[2 * 299 * 7]);
        verify(p("bad-shape.npy")).assertOneLineError(CliException.BAD_DATA, "bad-shape.npy", "differs from");
        Npy.writeInt32(dir.resolve("ints.npy"), Q_SHAPE, new int[q.length]);
        verify(p("ints.npy")).assertOneLineError(CliException.BAD_DATA, "ints.npy", "not floating point");
        verify(p("missing.npy")).assertOneLineError(CliException.BAD_DATA, "missing.npy");
        HostileFiles.absurdShape(dir.resolve("absurd.npy"));
        verify(p("absurd.npy")).assertOneLineError(CliException.BAD_DATA, "absurd.npy");
        HostileFiles.truncated(dir.resolve("cut.npy"), dir.resolve("o.npy"));
        verify(p("cut.npy")).assertOneLineError(CliException.BAD_DATA, "cut.npy");
        CliRun.of("verify", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o.npy"), "--lse",
                p("o.npy")).assertOneLineError(CliException.BAD_DATA, "o.npy", "without its last dimension");
        Npy.write(dir.resolve("seg.npy"), new long[] {1, 299}, new float[299]);
        verify("--segments", p("seg.npy")).assertOneLineError(CliException.BAD_DATA, "seg.npy");

        float[] nanQ = q.clone();
        nanQ[17] = Float.NaN;
        Npy.write(dir.resolve("q.npy"), Q_SHAPE, nanQ);
        verify().assertOneLineError(CliException.BAD_DATA, "q.npy", "NaN", "must be finite");

        // NaN in the output judged is a failed verdict, not bad data
        Npy.write(dir.resolve("q.npy"), Q_SHAPE, q);
        float[] nanO = q.clone();
        nanO[0] = Float.NaN;
        Npy.write(dir.resolve("o.npy"), Q_SHAPE, nanO);
        assertThat(verify().code()).isEqualTo(CompareCommand.VERDICT_FAIL);
    }

    @Test
    void segmentsAndWindowEdgesAreSampled() throws IOException {
        long[] ids = new long[300];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i < 90 ? 4 : i < 91 ? 7 : 9;
        }
        Npy.writeInt64(dir.resolve("seg.npy"), new long[] {1, 300}, ids);
        CliRun a = CliRun.of("attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o.npy"),
                "--window", "40", "--segments", p("seg.npy"), "--quiet");
        assertThat(a.code()).as(a.err()).isZero();
        JsonNode j = json(verify("--window", "40", "--segments", p("seg.npy"), "--rows", "16", "--json", "--seed",
                "3"));
        assertThat(j.get("pass").asBoolean()).isTrue();
        assertThat(j.get("mask").asText()).isEqualTo("window=40+segments");
        List<Integer> rows = new ArrayList<>();
        j.get("rows").forEach(n -> rows.add(n.asInt()));
        assertThat(rows).hasSize(16).contains(0, 299, 39, 40, 89, 90, 91);
        assertThat(json(verify("--window", "40", "--segments", p("seg.npy"), "--rows", "16", "--json", "--seed", "3"))
                .get("rows")).isEqualTo(j.get("rows"));
    }

    @Test
    void packedSequencesAreVerifiedWithTheirOwnEdges() throws IOException {
        // sequences of 120 and 180 queries against 100 and 200 keys, bottom-right causal each:
        // rows 0..19 see none of their sequence's keys
        Npy.writeInt64(dir.resolve("cq.npy"), new long[] {3}, new long[] {0, 120, 300});
        Npy.writeInt64(dir.resolve("ck.npy"), new long[] {3}, new long[] {0, 100, 300});
        CliRun a = CliRun.of("attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o.npy"),
                "--lse", p("lse.npy"), "--causal", "--cu-seqlens-q", p("cq.npy"), "--cu-seqlens-k", p("ck.npy"),
                "--quiet");
        assertThat(a.code()).as(a.err()).isZero();
        JsonNode j = json(verify("--causal", "--cu-seqlens-q", p("cq.npy"), "--cu-seqlens-k", p("ck.npy"), "--rows",
                "16", "--json"));
        assertThat(j.get("pass").asBoolean()).as(j.toString()).isTrue();
        List<Integer> rows = new ArrayList<>();
        j.get("rows").forEach(n -> rows.add(n.asInt()));
        assertThat(rows).contains(0, 119, 120, 299, 19, 20);
        // without the sequences the same output is wrong (rows 0..19 would see keys)
        assertThat(verify("--causal", "--rows", "16").code()).isEqualTo(CompareCommand.VERDICT_FAIL);
        verify("--causal", "--cu-seqlens-q", p("cq.npy")).assertOneLineError(2, "--cu-seqlens-q needs --cu-seqlens-k");
    }

    @Test
    void float64InputsOnTheHeapGiveTheVerdictOfMappedFloat32Ones() throws IOException {
        CliRun a = CliRun.of("attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o.npy"),
                "--lse", p("lse.npy"), "--window", "50", "--quiet");
        assertThat(a.code()).as(a.err()).isZero();
        Npy.write(dir.resolve("q64.npy"), Q_SHAPE, wide(q));
        Npy.write(dir.resolve("k64.npy"), KV_SHAPE, wide(k));
        Npy.write(dir.resolve("v64.npy"), KV_SHAPE, wide(v));
        JsonNode mapped = json(verify("--window", "50", "--rows", "20", "--json"));
        JsonNode heap = json(CliRun.of("verify", "--q", p("q64.npy"), "--k", p("k64.npy"), "--v", p("v64.npy"),
                "--out", p("o.npy"), "--lse", p("lse.npy"), "--window", "50", "--rows", "20", "--json"));
        assertThat(heap.get("outputs")).isEqualTo(mapped.get("outputs"));
        assertThat(heap.get("rows")).isEqualTo(mapped.get("rows"));
    }

    private CliRun verify(String... more) {
        String[] base = {"verify", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--lse", p("lse.npy"),
            "--out"};
        if (more.length > 0 && more[0].endsWith(".npy")) {
            // the output given: no LSE
            return CliRun.of(CliRun.concat(new String[] {"verify", "--q", p("q.npy"), "--k", p("k.npy"), "--v",
                p("v.npy"), "--out"}, more));
        }
        if (!dir.resolve("lse.npy").toFile().exists()) {
            return CliRun.of(CliRun.concat(new String[] {"verify", "--q", p("q.npy"), "--k", p("k.npy"), "--v",
                p("v.npy"), "--out", p("o.npy")}, more));
        }
        return CliRun.of(CliRun.concat(CliRun.concat(base, p("o.npy")), more));
    }

    private static JsonNode json(CliRun r) throws IOException {
        assertThat(r.out().lines().count()).as(r.err()).isEqualTo(1);
        return new ObjectMapper().readTree(r.out());
    }

    private static double[] wide(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = x[i];
        }
        return d;
    }

    private static byte[] toBytes(short[] x) {
        byte[] b = new byte[x.length * 2];
        for (int i = 0; i < x.length; i++) {
            b[2 * i] = (byte) x[i];
            b[2 * i + 1] = (byte) (x[i] >> 8);
        }
        return b;
    }

    private String p(String name) {
        return dir.resolve(name).toString();
    }
}

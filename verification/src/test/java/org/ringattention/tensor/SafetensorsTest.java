package org.ringattention.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link SafetensorsFile} and {@link Safetensors}. No Python package for the format is installed,
 * so files are built byte by byte here from the format's definition (8-byte little-endian header
 * length, JSON header, data buffer) and the writer's output is compared with such bytes.
 */
class SafetensorsTest {

    private static final String SUPPORTED = "(supported: F32, F16, BF16, F64, I32, I64, U16)";

    @TempDir
    Path dir;

    // ---------------------------------------------------------------- hand-made files

    @Nested
    class Reading {

        @Test
        void everyDtypeFromKnownBytes() throws IOException {
            // 1.0, -2.5 in each type: F32 3f800000 c0200000; F16 3c00 c100; BF16 3f80 c020;
            // F64 3ff0000000000000 c004000000000000; I32/I64 7, -3.
            byte[] f32 = hex("0000803f", "000020c0");
            byte[] f16 = hex("003c", "00c1");
            byte[] bf16 = hex("803f", "20c0");
            byte[] f64 = hex("000000000000f03f", "00000000000004c0");
            byte[] i32 = hex("07000000", "fdffffff");
            byte[] i64 = hex("0700000000000000", "fdffffffffffffff");
            String json = "{\"f32\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    + "\"f16\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[8,12]},"
                    + "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[12,16]},"
                    + "\"f64\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[16,32]},"
                    + "\"i32\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[32,40]},"
                    + "\"i64\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[40,56]}}";
            Path f = write("all.safetensors", file(json, f32, f16, bf16, f64, i32, i64));

            SafetensorsFile s = SafetensorsFile.open(f);
            assertThat(s.path()).isEqualTo(f);
            assertThat(s.names()).containsExactly("f32", "f16", "bf16", "f64", "i32", "i64");
            assertThat(s.metadata()).isEmpty();
            for (String name : List.of("f32", "f16", "bf16", "f64")) {
                assertThat(s.floats(name)).as(name).containsExactly(1.0f, -2.5f);
                assertThat(s.doubles(name)).as(name).containsExactly(1.0, -2.5);
                assertThat(s.shape(name)).containsExactly(2);
                assertThat(s.size(name)).isEqualTo(2);
            }
            assertThat(s.dtype("f32")).isEqualTo(DType.FLOAT32);
            assertThat(s.dtype("f16")).isEqualTo(DType.FLOAT16);
            assertThat(s.dtype("bf16")).isEqualTo(DType.BFLOAT16);
            assertThat(s.dtype("f64")).isEqualTo(DType.FLOAT64);
            assertThat(s.dtype("i32")).isEqualTo(DType.INT32);
            assertThat(s.dtype("i64")).isEqualTo(DType.INT64);
            assertThat(s.longs("i32")).containsExactly(7, -3);
            assertThat(s.longs("i64")).containsExactly(7, -3);
            assertThat(s.bytes("bf16").toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).containsExactly(bf16);
        }

        @Test
        void namesKeepHeaderOrderAndTensorsAnyRange() throws IOException {
            // Header order differs from data order; whitespace, escapes and a metadata block
            // anywhere are allowed; the header may be padded with trailing spaces.
            String json = " {\n \"z\" : {\"shape\": [1], \"data_offsets\": [4, 8], \"dtype\": \"F32\"},\r\n"
                    + "\t\"__metadata__\": {\"format\": \"pt\", \"note\": \"caf\\u00e9 \\\"x\\\"\"},"
                    + " \"a\\/b\\u00e9\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [0, 4]},"
                    + " \"empty\": {\"dtype\": \"I64\", \"shape\": [0, 3], \"data_offsets\": [8, 8]} }   ";
            Path f = write("order.safetensors", file(json.strip() + "   ", hex("0000a040", "0000c040")));
            SafetensorsFile s = SafetensorsFile.open(f);
            assertThat(s.names()).containsExactly("z", "a/bé", "empty");
            assertThat(s.metadata()).containsExactly(Map.entry("format", "pt"), Map.entry("note", "café \"x\""));
            assertThat(s.floats("z")).containsExactly(6.0f);
            assertThat(s.floats("a/bé")).containsExactly(5.0f);
            assertThat(s.shape("a/bé")).isEmpty();
            assertThat(s.size("a/bé")).isEqualTo(1);
            assertThat(s.longs("empty")).isEmpty();
            assertThat(s.shape("empty")).containsExactly(0, 3);
            assertThat(s.contains("z")).isTrue();
            assertThat(s.contains("__metadata__")).isFalse();
        }

        @Test
        void emptyFileHoldsNoTensors() throws IOException {
            SafetensorsFile s = SafetensorsFile.open(write("none.safetensors", file("{}")));
            assertThat(s.names()).isEmpty();
            assertThatThrownBy(() -> s.floats("q")).isInstanceOf(SafetensorsFormatException.class)
                    .hasMessageEndingWith("no tensor named 'q' (the file holds no tensors)");
        }

        @Test
        void tensorPadsLowRanksWithLeadingOnes() throws IOException {
            float[] data = {1, 2, 3, 4, 5, 6};
            Path f = dir.resolve("ranks.safetensors");
            SequencedMap<String, Safetensors.TensorData> m = new LinkedHashMap<>();
            m.put("r2", Safetensors.TensorData.ofFloats(DType.FLOAT32, new long[] {3, 2}, data));
            m.put("r3", Safetensors.TensorData.ofFloats(DType.BFLOAT16, new long[] {1, 2, 3}, data));
            m.put("r4", Safetensors.TensorData.ofFloats(DType.FLOAT16, new long[] {1, 2, 1, 3}, data));
            m.put("r5", Safetensors.TensorData.ofFloats(DType.FLOAT32, new long[] {1, 1, 1, 2, 3}, data));
            Safetensors.write(f, m);
            SafetensorsFile s = SafetensorsFile.open(f);
            Tensor r2 = s.tensor("r2");
            assertThat(r2.shape()).isEqualTo("[1, 1, 3, 2]");
            assertThat(r2.toArray()).containsExactly(data);
            assertThat(s.tensor("r3").shape()).isEqualTo("[1, 1, 2, 3]");
            assertThat(s.tensor("r3").toArray()).containsExactly(data);
            assertThat(s.tensor("r4").shape()).isEqualTo("[1, 2, 1, 3]");
            assertThat(s.tensor("r4").get(0, 1, 0, 2)).isEqualTo(6f);
            assertFails(() -> s.tensor("r5"), f, "tensor 'r5': shape [1, 1, 1, 2, 3] has rank 5");
            assertThat(s.floats("r5")).containsExactly(data);
        }

        @Test
        void mappedViewsF32InPlaceAndIsReadOnly() throws IOException {
            Path f = dir.resolve("mapped.safetensors");
            SequencedMap<String, Safetensors.TensorData> m = new LinkedHashMap<>();
            m.put("h", Safetensors.TensorData.ofFloats(DType.FLOAT16, new long[] {1}, new float[] {1}));
            m.put("w", Safetensors.TensorData.ofFloats(DType.FLOAT32, new long[] {2, 2}, new float[] {1, 2, 3, 4}));
            Safetensors.write(f, m);
            SafetensorsFile s = SafetensorsFile.open(f);
            Tensor w = s.mapped("w"); // starts at an odd offset (after 2 bytes of F16)
            assertThat(w.isHeap()).isFalse();
            assertThat(w.toArray()).containsExactly(1, 2, 3, 4);
            assertThatThrownBy(() -> w.set(0, 0, 0, 0, 9f)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("read-only");
            assertFails(() -> s.mapped("h"), f, "tensor 'h': only F32 tensors can be viewed in place, this one is F16");
        }

        @Test
        void wrongKindOfTensorIsRefused() throws IOException {
            Path f = dir.resolve("kinds.safetensors");
            SequencedMap<String, Safetensors.TensorData> m = new LinkedHashMap<>();
            m.put("ids", Safetensors.TensorData.ofInts(new long[] {2}, new int[] {1, 2}));
            m.put("x", Safetensors.TensorData.ofFloats(DType.FLOAT32, new long[] {1}, new float[] {1}));
            Safetensors.write(f, m);
            SafetensorsFile s = SafetensorsFile.open(f);
            assertFails(() -> s.floats("ids"), f, "tensor 'ids': expected a floating-point tensor, got I32");
            assertFails(() -> s.tensor("ids"), f, "tensor 'ids': expected a floating-point tensor, got I32");
            assertFails(() -> s.longs("x"), f, "tensor 'x': expected an integer tensor, got F32");
            assertFails(() -> s.dtype("nope"), f, "no tensor named 'nope' (it has 'ids', 'x')");
        }
    }

    // ---------------------------------------------------------------- writing

    @Nested
    class Writing {

        @Test
        void bytesAreTheFormatsByHand() throws IOException {
            Path f = dir.resolve("w.safetensors");
            SequencedMap<String, Safetensors.TensorData> m = new LinkedHashMap<>();
            m.put("b", Safetensors.TensorData.ofFloats(DType.BFLOAT16, new long[] {2}, new float[] {1, -2.5f}));
            m.put("a", Safetensors.TensorData.ofLongs(new long[] {1, 1}, new long[] {-3}));
            Safetensors.write(f, m, Map.of("k", "v\"\n"));
            String json = "{\"__metadata__\":{\"k\":\"v\\\"\\n\"},"
                    + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                    + "\"a\":{\"dtype\":\"I64\",\"shape\":[1,1],\"data_offsets\":[4,12]}}";
            int padded = (json.length() + 7) / 8 * 8;
            byte[] expected = file(json + " ".repeat(padded - json.length()), hex("803f", "20c0"),
                    hex("fdffffffffffffff"));
            assertThat(Files.readAllBytes(f)).containsExactly(expected);
            assertThat((8 + padded) % 8).isZero();
        }

        @Test
        void roundTripsEveryDtype() throws IOException {
            float[] values = {0f, -0f, 1f, -1.5f, 65504f, 6.1035156e-05f, 3.0e38f, Float.MIN_VALUE,
                Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, 0.1f};
            Path f = dir.resolve("rt.safetensors");
            SequencedMap<String, Safetensors.TensorData> m = new LinkedHashMap<>();
            for (DType t : List.of(DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16, DType.FLOAT64)) {
                m.put(t.safetensorsName(), Safetensors.TensorData.ofFloats(t, new long[] {3, 4}, values));
            }
            double[] precise = {Math.PI, -1e300, 1e-310};
            m.put("d", Safetensors.TensorData.ofDoubles(DType.FLOAT64, new long[] {3}, precise));
            m.put("i", Safetensors.TensorData.ofInts(new long[] {3}, new int[] {Integer.MIN_VALUE, 0, Integer.MAX_VALUE}));
            m.put("l", Safetensors.TensorData.ofLongs(new long[] {2}, new long[] {Long.MIN_VALUE, Long.MAX_VALUE}));
            Safetensors.write(f, m);

            SafetensorsFile s = SafetensorsFile.open(f);
            assertThat(s.names()).containsExactly("F32", "F16", "BF16", "F64", "d", "i", "l");
            assertThat(s.floats("F32")).containsExactly(values);
            assertThat(s.floats("F64")).containsExactly(values);
            float[] half = new float[values.length];
            float[] brain = new float[values.length];
            for (int i = 0; i < values.length; i++) {
                half[i] = Float.float16ToFloat(Float.floatToFloat16(values[i]));
                brain[i] = BFloat16.round(values[i]);
            }
            assertThat(s.floats("F16")).containsExactly(half);
            assertThat(s.floats("BF16")).containsExactly(brain);
            assertThat(brain[11]).isEqualTo(0.10009765625f); // 0.1 → 0x3dcd
            assertThat(half[6]).isEqualTo(Float.POSITIVE_INFINITY); // 3e38 overflows float16
            assertThat(brain[6]).isEqualTo(0x1.c4p127f); // ... but not bfloat16: 1.7632 rounds to 226/128
            assertThat(s.doubles("d")).containsExactly(precise);
            assertThat(s.longs("i")).containsExactly(Integer.MIN_VALUE, 0, Integer.MAX_VALUE);
            assertThat(s.longs("l")).containsExactly(Long.MIN_VALUE, Long.MAX_VALUE);
        }

        @Test
        void failedWriteLeavesTheExistingFile() throws IOException {
            Path f = write("keep.safetensors", "old".getBytes(StandardCharsets.UTF_8));
            SequencedMap<String, Safetensors.TensorData> failing = new LinkedHashMap<>() {
                @Override
                public Collection<Safetensors.TensorData> values() {
                    throw new IllegalStateException("disk on fire");
                }
            };
            failing.put("x", Safetensors.TensorData.ofFloats(DType.FLOAT32, new long[] {1}, new float[] {1}));
            assertThatThrownBy(() -> Safetensors.write(f, failing)).hasMessage("disk on fire");
            assertThat(Files.readString(f)).isEqualTo("old");
            try (var files = Files.list(dir)) {
                assertThat(files.map(p -> p.getFileName().toString())).containsExactly("keep.safetensors");
            }
        }

        @Test
        void refusesBadArguments() {
            assertThatThrownBy(() -> Safetensors.TensorData.ofFloats(DType.FLOAT32, new long[] {2, 2}, new float[3]))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("F32 [2, 2] needs 16 bytes, data has 12");
            assertThatThrownBy(() -> Safetensors.TensorData.ofFloats(DType.INT32, new long[] {1}, new float[1]))
                    .isInstanceOf(IllegalArgumentException.class);
            SequencedMap<String, Safetensors.TensorData> m = new LinkedHashMap<>();
            m.put("__metadata__", Safetensors.TensorData.ofInts(new long[] {1}, new int[] {1}));
            assertThatThrownBy(() -> Safetensors.write(dir.resolve("m.safetensors"), m))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("reserved");
        }
    }

    // ---------------------------------------------------------------- hostile files

    @Nested
    class Malformed {

        private static final String ONE = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

        @Test
        void tooShortForTheLength() throws IOException {
            assertOpenFails(write("e.safetensors", new byte[0]), "too short to be a .safetensors file (0 bytes");
            assertOpenFails(write("s.safetensors", new byte[] {2, 0, 0}), "too short to be a .safetensors file (3 bytes");
        }

        @Test
        void absurdHeaderLengths() throws IOException {
            byte[] npy = NpyTest.npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", new byte[4]);
            assertOpenFails(write("npy.safetensors", npy), "header length 379676406402707 exceeds the limit of"
                    + " 100000000 bytes (not a .safetensors file?)");
            byte[] negative = file(ONE, new byte[8]);
            ByteBuffer.wrap(negative).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -1L);
            assertOpenFails(write("neg.safetensors", negative), "header length 18446744073709551615 exceeds the limit");
            byte[] beyond = file(ONE, new byte[8]);
            ByteBuffer.wrap(beyond).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 99_999_999L);
            assertOpenFails(write("beyond.safetensors", beyond), "truncated header: header length field says 99999999"
                    + " bytes, file has " + (beyond.length - 8) + " after it");
        }

        @Test
        void headerMustBeJsonObjectInUtf8() throws IOException {
            assertOpenFails(write("zero.safetensors", file("")), "header does not start with '{'");
            assertOpenFails(write("lead.safetensors", file(" " + ONE, new byte[8])), "header does not start with '{'");
            assertOpenFails(write("arr.safetensors", file("[]")), "header does not start with '{'");
            byte[] latin1 = file("{\"caf\u00e9\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}");
            byte[] bad = Arrays.copyOf(latin1, latin1.length);
            int at = new String(bad, StandardCharsets.ISO_8859_1).indexOf("caf") + 3;
            bad[at] = (byte) 0xe9; // café in latin-1: not UTF-8
            bad[at + 1] = '"';
            bad[at + 2] = ' ';
            assertOpenFails(write("latin1.safetensors", bad), "header is not valid UTF-8");
        }

        @ParameterizedTest
        @ValueSource(strings = {
            "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}",
            "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},}",
            "{\"x\":{\"dtype\":\"F32\",\"shape\":[2,],\"data_offsets\":[0,8]}}",
            "{'x':{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
            "{\"x\":{\"dtype\":\"F32\",\"shape\":[02],\"data_offsets\":[0,8]}}",
            "{\"x\":{\"dtype\":\"F32\",\"shape\":[+2],\"data_offsets\":[0,8]}}",
            "{\"x\":{\"dtype\":\"F\\q32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
            "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} x",
            "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}{}",
            "{\"x\\ud800\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
            "{\"x\":{\"dtype\":\"F32\" \"shape\":[2],\"data_offsets\":[0,8]}}",
            "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}\u0000",
            "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}, \"x\": 1}",
        })
        void malformedJson(String json) throws IOException {
            assertOpenFails(write("bad.safetensors", file(json, new byte[8])), "malformed header JSON at character ");
        }

        @Test
        void rawControlCharacterInAName() throws IOException {
            assertOpenFails(write("ctl.safetensors", file("{\"a\nb\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}")),
                    "raw control character in a string");
        }

        @Test
        void duplicates() throws IOException {
            assertOpenFails(write("dupname.safetensors", file("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                    + "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8])), "duplicate key \"x\"");
            assertOpenFails(write("dupkey.safetensors", file("{\"x\":{\"dtype\":\"F32\",\"dtype\":\"F64\",\"shape\":[1],"
                    + "\"data_offsets\":[0,4]}}", new byte[4])), "duplicate key \"dtype\"");
        }

        @Test
        void deepNestingIsRefusedWithoutRecursingForever() throws IOException {
            String deep = "{\"x\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}";
            assertOpenFails(write("deep.safetensors", file(deep)), "header nests deeper than 16 levels");
        }

        @Test
        void dtypes() throws IOException {
            assertOpenFails(write("u8.safetensors", file("{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
                    new byte[1])), "tensor 'x': unsupported dtype 'U8' " + SUPPORTED);
            assertOpenFails(write("q7.safetensors", file("{\"x\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                    new byte[4])), "tensor 'x': unknown dtype 'f32' " + SUPPORTED);
            assertOpenFails(write("num.safetensors", file("{\"x\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}",
                    new byte[4])), "tensor 'x': dtype must be a string, got 4");
        }

        @Test
        void keys() throws IOException {
            assertOpenFails(write("noshape.safetensors", file("{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}",
                    new byte[4])), "tensor 'x': missing key 'shape'");
            assertOpenFails(write("nooff.safetensors", file("{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}",
                    new byte[4])), "tensor 'x': missing key 'data_offsets'");
            assertOpenFails(write("nodtype.safetensors", file("{\"x\":{\"shape\":[1],\"data_offsets\":[0,4]}}",
                    new byte[4])), "tensor 'x': missing key 'dtype'");
            assertOpenFails(write("extra.safetensors", file("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],"
                    + "\"order\":\"C\"}}", new byte[4])), "tensor 'x': unexpected key 'order'");
            assertOpenFails(write("notobj.safetensors", file("{\"x\":[1,2]}")),
                    "tensor 'x': expected an object with dtype, shape and data_offsets, got [1, 2]");
            assertOpenFails(write("meta.safetensors", file("{\"__metadata__\":{\"a\":1}}")),
                    "'__metadata__' value of 'a' must be a string, got 1");
            assertOpenFails(write("meta2.safetensors", file("{\"__metadata__\":[\"a\"]}")),
                    "'__metadata__' must be an object of strings");
        }

        @Test
        void shapesAndOffsetsMustBeNonNegativeIntegers() throws IOException {
            String[][] cases = {
                {"\"shape\":[-1],\"data_offsets\":[0,4]", "shape must be an array of non-negative integers, got [-1]"},
                {"\"shape\":[1.0],\"data_offsets\":[0,4]", "shape must be an array of non-negative integers, got [1.0]"},
                {"\"shape\":1,\"data_offsets\":[0,4]", "shape must be an array of non-negative integers, got 1"},
                {"\"shape\":[[1]],\"data_offsets\":[0,4]", "shape must be an array of non-negative integers, got [[1]]"},
                {"\"shape\":[99999999999999999999],\"data_offsets\":[0,4]", "shape value 99999999999999999999 is too large"},
                {"\"shape\":[1],\"data_offsets\":[0]", "data_offsets must be an array of 2 non-negative integers, got [0]"},
                {"\"shape\":[1],\"data_offsets\":[0,4,8]", "data_offsets must be an array of 2 non-negative integers"},
                {"\"shape\":[1],\"data_offsets\":[-4,0]", "data_offsets must be an array of 2 non-negative integers"},
                {"\"shape\":[1],\"data_offsets\":[4,0]", "data_offsets [4, 0] end before they begin"},
                {"\"shape\":[1],\"data_offsets\":[0,8]", "data_offsets [0, 8] lie outside the data buffer (4 bytes after"
                        + " the header)"},
                {"\"shape\":[2],\"data_offsets\":[0,4]", "data_offsets [0, 4] hold 4 bytes, but F32 [2] needs 8"},
                {"\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]", "shape [4611686018427387904, 4] overflows:"
                        + " more than 2^63-1 bytes of F32"},
            };
            for (String[] c : cases) {
                Path f = write("s.safetensors", file("{\"x\":{\"dtype\":\"F32\"," + c[0] + "}}", new byte[4]));
                assertOpenFails(f, "tensor 'x': " + c[1]);
            }
        }

        @Test
        void rangesMustTileTheBufferExactly() throws IOException {
            assertOpenFails(write("overlap.safetensors", file(
                    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                            + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8])),
                    "tensors 'a' and 'b' overlap: data_offsets [0, 8] and [4, 8]");
            assertOpenFails(write("same.safetensors", file(
                    "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                            + "\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4])),
                    "overlap: data_offsets [0, 4] and [0, 4]");
            assertOpenFails(write("gap.safetensors", file(
                    "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                            + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", new byte[12])),
                    "gap in the data buffer: bytes [4, 8) belong to no tensor (before tensor 'b')");
            assertOpenFails(write("start.safetensors", file(
                    "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8])),
                    "gap in the data buffer: bytes [0, 4) belong to no tensor");
            assertOpenFails(write("trail.safetensors", file(ONE, new byte[11])),
                    "trailing data: 3 bytes after the last tensor's data (the data buffer is 11 bytes, the tensors cover 8)");
            assertOpenFails(write("trail0.safetensors", file("{}", new byte[1])), "trailing data: 1 bytes");
        }

        @Test
        void unreadable() throws IOException {
            assertOpenFails(dir.resolve("missing.safetensors"), "cannot read: no such file");
            assertOpenFails(Files.createDirectory(dir.resolve("d.safetensors")), "cannot read: is a directory");
        }

        @Test
        void namesInMessagesStayOnOneLine() throws IOException {
            Path f = write("nl.safetensors", file("{\"a\\nb\":{\"dtype\":\"X\",\"shape\":[0],\"data_offsets\":[0,0]}}"));
            assertOpenFails(f, "tensor 'a\\x0ab': unknown dtype 'X'");
        }

        private void assertOpenFails(Path file, String reason) {
            assertFails(() -> SafetensorsFile.open(file), file, reason);
        }
    }

    // ---------------------------------------------------------------- properties

    @Property(tries = 50)
    void floatRoundTripInEveryFloatingDtype(@ForAll("floats") float[] data) throws IOException {
        Path f = Files.createTempFile("st-prop", ".safetensors");
        try {
            SequencedMap<String, Safetensors.TensorData> m = new LinkedHashMap<>();
            for (DType t : List.of(DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16, DType.FLOAT64)) {
                m.put(t.name(), Safetensors.TensorData.ofFloats(t, new long[] {data.length}, data));
            }
            Safetensors.write(f, m);
            SafetensorsFile s = SafetensorsFile.open(f);
            assertThat(s.floats("FLOAT32")).containsExactly(data);
            assertThat(s.floats("FLOAT64")).containsExactly(data);
            float[] half = new float[data.length];
            float[] brain = new float[data.length];
            for (int i = 0; i < data.length; i++) {
                half[i] = Float.float16ToFloat(Float.floatToFloat16(data[i]));
                brain[i] = BFloat16.round(data[i]);
            }
            assertThat(s.floats("FLOAT16")).containsExactly(half);
            assertThat(s.floats("BFLOAT16")).containsExactly(brain);
        } finally {
            Files.deleteIfExists(f);
        }
    }

    @Provide
    Arbitrary<float[]> floats() {
        return Arbitraries.oneOf(Arbitraries.floats(), Arbitraries.of(Float.NaN, -0f, Float.MIN_VALUE, Float.MAX_VALUE))
                .array(float[].class).ofMaxSize(40);
    }

    // ---------------------------------------------------------------- helpers

    @FunctionalInterface
    interface Call {
        void run() throws Exception;
    }

    static void assertFails(Call call, Path file, String reason) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(SafetensorsFormatException.class, e -> {
            assertThat(e.getMessage()).startsWith(file + ": ").doesNotContain("\n").doesNotContain("\r");
            assertThat(e.file()).isEqualTo(file);
            assertThat(e.reason()).contains(reason);
        });
    }

    private Path write(String name, byte[] bytes) throws IOException {
        return Files.write(dir.resolve(name), bytes);
    }

    /** A safetensors file: the UTF-8 header's length as 8 little-endian bytes, the header, then the data. */
    static byte[] file(String header, byte[]... data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        int n = h.length;
        for (byte[] d : data) {
            n += d.length;
        }
        ByteBuffer b = ByteBuffer.allocate(8 + n).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).put(h);
        for (byte[] d : data) {
            b.put(d);
        }
        return b.array();
    }

    /** Bytes written as hex strings in file order. */
    static byte[] hex(String... parts) {
        return java.util.HexFormat.of().parseHex(String.join("", parts));
    }
}

package org.ringattention.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link Npy} reading and writing. Hand-made files are built byte by byte here (the expected
 * bytes were checked against {@code numpy.save}/{@code numpy.load} when the tests were written),
 * so the tests need no Python.
 */
class NpyTest {

    /** A hang guard for refusals that must not read the data they describe; a minute's stop fits in it. */
    private static final Duration HANG = Duration.ofMinutes(5);

    private static final String SUPPORTED = "(supported: float16, bfloat16 as '<V2', float32, float64, int32, int64,"
            + " uint16, bool)";

    @TempDir
    Path dir;

    // ---------------------------------------------------------------- round trips

    @Nested
    class RoundTrip {

        @Test
        void float32OfEveryRank() throws IOException {
            for (long[] shape : List.of(new long[0], new long[] {5}, new long[] {2, 3},
                    new long[] {2, 3, 4, 5}, new long[] {0}, new long[] {2, 0, 3}, new long[] {1, 1, 1, 1})) {
                float[] data = new float[(int) product(shape)];
                for (int i = 0; i < data.length; i++) {
                    data[i] = i * 0.5f - 3f;
                }
                Path f = dir.resolve("f32-" + shape.length + "-" + data.length + ".npy");
                Npy.write(f, shape, data);

                NpyArray a = Npy.read(f);
                assertThat(a.source()).isEqualTo(f);
                assertThat(a.shape()).containsExactly(shape);
                assertThat(a.rank()).isEqualTo(shape.length);
                assertThat(a.size()).isEqualTo(data.length);
                assertThat(a.dtype()).isEqualTo(DType.FLOAT32);
                assertThat(a.fortranOrder()).isFalse();
                assertThat(a.byteOrder()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
                assertThat(a.toFloatArray()).containsExactly(data);
                double[] widened = new double[data.length];
                for (int i = 0; i < data.length; i++) {
                    widened[i] = data[i];
                }
                assertThat(a.toDoubleArray()).containsExactly(widened);
            }
        }

        @Test
        void rankZeroHoldsOneElement() throws IOException {
            Path f = dir.resolve("scalar.npy");
            Npy.write(f, new long[0], new double[] {Math.PI});
            NpyArray a = Npy.read(f);
            assertThat(a.rank()).isZero();
            assertThat(a.size()).isEqualTo(1);
            assertThat(a.toDoubleArray()).containsExactly(Math.PI);
            assertThat(a.toFloatArray()).containsExactly((float) Math.PI);
        }

        @Test
        void float64() throws IOException {
            double[] data = {1e-300, -0.0, Double.NaN, Double.POSITIVE_INFINITY, 1.0 / 3, -7, 2.5e300, 42};
            Path f = dir.resolve("f64.npy");
            Npy.write(f, new long[] {2, 1, 2, 2}, data);
            NpyArray a = Npy.read(f);
            assertThat(a.dtype()).isEqualTo(DType.FLOAT64);
            assertThat(a.shape()).containsExactly(2, 1, 2, 2);
            assertThat(a.toDoubleArray()).containsExactly(data);
            float[] rounded = new float[data.length];
            for (int i = 0; i < data.length; i++) {
                rounded[i] = (float) data[i];
            }
            assertThat(a.toFloatArray()).containsExactly(rounded);
        }

        @Test
        void int32() throws IOException {
            int[] data = {Integer.MIN_VALUE, -1, 0, 1, Integer.MAX_VALUE, 7};
            Path f = dir.resolve("i32.npy");
            Npy.writeInt32(f, new long[] {3, 2}, data);
            NpyArray a = Npy.read(f);
            assertThat(a.dtype()).isEqualTo(DType.INT32);
            assertThat(a.toLongArray()).containsExactly(Integer.MIN_VALUE, -1, 0, 1, Integer.MAX_VALUE, 7);
        }

        @Test
        void int64() throws IOException {
            long[] data = {Long.MIN_VALUE, -1, 0, 1L << 40, Long.MAX_VALUE};
            Path f = dir.resolve("i64.npy");
            Npy.writeInt64(f, new long[] {5}, data);
            NpyArray a = Npy.read(f);
            assertThat(a.dtype()).isEqualTo(DType.INT64);
            assertThat(a.toLongArray()).containsExactly(data);

            Path empty = dir.resolve("i64-empty.npy");
            Npy.writeInt64(empty, new long[] {0, 4}, new long[0]);
            assertThat(Npy.read(empty).toLongArray()).isEmpty();
        }

        @Test
        void largerThanOneIoChunk() throws IOException {
            float[] data = new float[700_000]; // 2.8 MB: several 1 MiB chunks each way
            for (int i = 0; i < data.length; i++) {
                data[i] = i;
            }
            Path f = dir.resolve("big.npy");
            Npy.write(f, new long[] {7, 100_000}, data);
            assertThat(Arrays.equals(Npy.read(f).toFloatArray(), data)).isTrue(); // containsExactly is slow here
        }

        @Test
        void headerIsExactlyWhatNumpyWrites() throws IOException {
            Path f = dir.resolve("numpy-like.npy");
            Npy.write(f, new long[] {2, 3}, new float[] {0, 1, 2, 3, 4, 5});
            byte[] bytes = Files.readAllBytes(f);
            // numpy.save(np.arange(6, dtype='<f4').reshape(2, 3)): 128-byte header, length field 0x76
            String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
            String expected = "\u0093NUMPY\u0001\u0000\u0076\u0000" + dict + " ".repeat(128 - 10 - dict.length() - 1) + "\n";
            assertThat(new String(bytes, 0, 128, StandardCharsets.ISO_8859_1)).isEqualTo(expected);
            assertThat(bytes).hasSize(128 + 24);
            assertThat(ByteBuffer.wrap(bytes, 128 + 4, 4).order(ByteOrder.LITTLE_ENDIAN).getFloat()).isEqualTo(1f);
        }

        @Test
        void dataStartsAtMultipleOf64() throws IOException {
            long[][] shapes = {{}, {7}, {123456789, 0}, {1, 2, 1, 3, 1, 2, 1, 1, 2, 1, 1, 3}};
            for (long[] shape : shapes) {
                Path f = dir.resolve("align.npy");
                int n = (int) product(shape);
                Npy.writeInt32(f, shape, new int[n]);
                long headerBytes = Files.size(f) - 4L * n;
                assertThat(headerBytes % 64).as(Arrays.toString(shape)).isZero();
                assertThat(Files.readAllBytes(f)[(int) headerBytes - 1]).isEqualTo((byte) '\n');
                assertThat(Npy.read(f).shape()).containsExactly(shape);
            }
        }

        @Test
        void writeRefusesMismatchedData() {
            Path f = dir.resolve("bad.npy");
            assertThatThrownBy(() -> Npy.write(f, new long[] {2, 3}, new float[5]))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("(2, 3)").hasMessageContaining("6").hasMessageContaining("5");
            assertThatThrownBy(() -> Npy.write(f, new long[] {-1}, new double[0]))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative");
            assertThatThrownBy(() -> Npy.writeInt64(f, new long[] {1L << 40, 1L << 40}, new long[1]))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThat(f).doesNotExist();
        }

        @Test
        void conversionsRefuseTheWrongKind() throws IOException {
            Path ints = dir.resolve("ints.npy");
            Npy.writeInt32(ints, new long[] {2}, new int[] {1, 2});
            NpyArray i = Npy.read(ints);
            assertThatThrownBy(i::toFloatArray).isInstanceOf(NpyFormatException.class)
                    .hasMessageContaining("ints.npy").hasMessageContaining("expected a floating-point array, got int32");
            assertThatThrownBy(i::toDoubleArray).isInstanceOf(NpyFormatException.class)
                    .hasMessageContaining("got int32");

            Path floats = dir.resolve("floats.npy");
            Npy.write(floats, new long[] {1}, new float[] {1});
            assertThatThrownBy(() -> Npy.read(floats).toLongArray()).isInstanceOf(NpyFormatException.class)
                    .hasMessageContaining("floats.npy").hasMessageContaining("expected an integer array, got float32");
        }

        @Test
        void resultIsImmutable() throws IOException {
            Path f = dir.resolve("imm.npy");
            Npy.write(f, new long[] {2}, new float[] {1, 2});
            NpyArray a = Npy.read(f);
            a.shape()[0] = 99;
            a.toFloatArray()[0] = 99;
            assertThat(a.shape()).containsExactly(2);
            assertThat(a.toFloatArray()).containsExactly(1, 2);
        }
    }

    // ---------------------------------------------------------------- hand-made files

    @Nested
    class HandMade {

        /** numpy.save of an ml_dtypes.bfloat16 array writes descr '<V2' (kind 'V', native order). */
        @ParameterizedTest
        @ValueSource(strings = {"<V2", "|V2", "V2"})
        void twoByteVoidIsBFloat16(String descr) throws IOException {
            // 1.0 = 0x3f80, -2.5 = 0xc020, 0.10009765625 = 0x3dcd, little-endian
            byte[] data = HexFormat.of().parseHex("803f20c0cd3d");
            Path f = write("bf16.npy", npy(1, "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (3,), }", data));
            NpyArray a = Npy.read(f);
            assertThat(a.dtype()).isEqualTo(DType.BFLOAT16);
            assertThat(a.toFloatArray()).containsExactly(1f, -2.5f, 0.10009765625f);
            assertThat(a.toDoubleArray()).containsExactly(1, -2.5, 0.10009765625);
        }

        @Test
        void bigEndianBFloat16() throws IOException {
            Path f = write("bf16be.npy", npy(1, "{'descr': '>V2', 'fortran_order': False, 'shape': (2,), }",
                    HexFormat.of().parseHex("3f80c020")));
            assertThat(Npy.read(f).toFloatArray()).containsExactly(1f, -2.5f);
        }

        @Test
        void uint16IsIntegersOrBFloat16BitsOnRequest() throws IOException {
            Path f = write("u2.npy", npy(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }",
                    HexFormat.of().parseHex("803fffff")));
            NpyArray a = Npy.read(f);
            assertThat(a.dtype()).isEqualTo(DType.UINT16);
            assertThat(a.toLongArray()).containsExactly(0x3f80, 0xffff);
            assertThatThrownBy(a::toFloatArray).isInstanceOf(NpyFormatException.class)
                    .hasMessageEndingWith("expected a floating-point array, got uint16");
            NpyArray bits = a.asBFloat16Bits();
            assertThat(bits.dtype()).isEqualTo(DType.BFLOAT16);
            assertThat(bits.toFloatArray()[0]).isEqualTo(1f);
            assertThat(Float.isNaN(bits.toFloatArray()[1])).isTrue();
            assertThatThrownBy(() -> Npy.read(write("f4.npy", npy(1,
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", le4(1)))).asBFloat16Bits())
                    .hasMessageEndingWith("bfloat16 bit patterns must be uint16, got float32");
        }

        @Test
        void lowPrecisionWritersRoundToNearestEven() throws IOException {
            float[] data = {1f, 1f + 0x1p-8f, 1f + 3 * 0x1p-8f, -2.5f, 70000f};
            long[] shape = {5};
            Path v2 = dir.resolve("w-bf16.npy");
            Npy.writeBFloat16(v2, shape, data, false);
            byte[] bytes = Files.readAllBytes(v2);
            assertThat(new String(bytes, 10, 50, StandardCharsets.ISO_8859_1)).startsWith("{'descr': '<V2', ");
            assertThat(Arrays.copyOfRange(bytes, bytes.length - 10, bytes.length)).containsExactly(
                    HexFormat.of().parseHex("803f" + "803f" + "823f" + "20c0" + "8947"));
            assertThat(Npy.read(v2).toFloatArray()).containsExactly(1f, 1f, 1f + 0x1p-6f, -2.5f, 70144f);
            Path u2 = dir.resolve("w-bits.npy");
            Npy.writeBFloat16(u2, shape, data, true);
            NpyArray bits = Npy.read(u2);
            assertThat(bits.dtype()).isEqualTo(DType.UINT16);
            assertThat(bits.asBFloat16Bits().toFloatArray()).containsExactly(1f, 1f, 1f + 0x1p-6f, -2.5f, 70144f);
            Path f2 = dir.resolve("w-f16.npy");
            Npy.writeFloat16(f2, shape, data);
            NpyArray half = Npy.read(f2);
            assertThat(half.dtype()).isEqualTo(DType.FLOAT16);
            assertThat(half.toFloatArray()).containsExactly(1f, 1f + 0x1p-8f, 1f + 3 * 0x1p-8f, -2.5f,
                    Float.POSITIVE_INFINITY);
        }

        @Test
        void version2Header() throws IOException {
            Path f = write("v2.npy", npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", le4(1, 2, 3)));
            assertThat(Npy.read(f).toFloatArray()).containsExactly(1, 2, 3);
        }

        @Test
        void version3Header() throws IOException {
            Path f = write("v3.npy", npy(3, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", le8(0.25, -8)));
            assertThat(Npy.read(f).toDoubleArray()).containsExactly(0.25, -8);
        }

        @Test
        void version3HeaderMustBeUtf8() throws IOException {
            byte[] bytes = npy(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }   ", le4(1));
            bytes[bytes.length - 4 - 2] = (byte) 0xff; // a padding space becomes an invalid UTF-8 byte
            Path f = write("v3bad.npy", bytes);
            assertThatThrownBy(() -> Npy.read(f)).isInstanceOf(NpyFormatException.class)
                    .hasMessageContaining("v3bad.npy").hasMessageContaining("not valid UTF-8");
        }

        @Test
        void bigEndianFloat32() throws IOException {
            ByteBuffer b = ByteBuffer.allocate(12).order(ByteOrder.BIG_ENDIAN).putFloat(1.5f).putFloat(-2f).putFloat(1e-40f);
            Path f = write("be4.npy", npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", b.array()));
            NpyArray a = Npy.read(f);
            assertThat(a.byteOrder()).isEqualTo(ByteOrder.BIG_ENDIAN);
            assertThat(a.toFloatArray()).containsExactly(1.5f, -2f, 1e-40f);
            assertThat(a.toDoubleArray()).containsExactly(1.5, -2, (double) 1e-40f);
        }

        @Test
        void bigEndianFloat64() throws IOException {
            ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.BIG_ENDIAN).putDouble(Math.E).putDouble(-1e300);
            Path f = write("be8.npy", npy(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (1, 2), }", b.array()));
            assertThat(Npy.read(f).toDoubleArray()).containsExactly(Math.E, -1e300);
        }

        @Test
        void bigEndianIntegers() throws IOException {
            ByteBuffer i4 = ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN).putInt(-2).putInt(70000);
            Path f4 = write("bei4.npy", npy(1, "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", i4.array()));
            assertThat(Npy.read(f4).toLongArray()).containsExactly(-2, 70000);
            ByteBuffer i8 = ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN).putLong(-5_000_000_000L);
            Path f8 = write("bei8.npy", npy(1, "{'descr': '>i8', 'fortran_order': False, 'shape': (), }", i8.array()));
            assertThat(Npy.read(f8).toLongArray()).containsExactly(-5_000_000_000L);
        }

        @Test
        void fortranOrderRank2() throws IOException {
            // C order [[1, 2, 3], [4, 5, 6]] is stored column by column: 1 4 2 5 3 6
            Path f = write("f2.npy", npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
                    le4(1, 4, 2, 5, 3, 6)));
            NpyArray a = Npy.read(f);
            assertThat(a.fortranOrder()).isTrue();
            assertThat(a.toFloatArray()).containsExactly(1, 2, 3, 4, 5, 6);
            assertThat(a.toDoubleArray()).containsExactly(1, 2, 3, 4, 5, 6);
        }

        @Test
        void fortranOrderRank3EveryType() throws IOException {
            int d0 = 2;
            int d1 = 3;
            int d2 = 4;
            double[] cOrder = new double[d0 * d1 * d2];
            double[] fOrder = new double[cOrder.length];
            for (int i = 0; i < d0; i++) {
                for (int j = 0; j < d1; j++) {
                    for (int k = 0; k < d2; k++) {
                        double v = 100 * i + 10 * j + k;
                        cOrder[(i * d1 + j) * d2 + k] = v;
                        fOrder[i + d0 * (j + d1 * k)] = v; // column-major: first axis fastest
                    }
                }
            }
            String dict = "{'descr': '%s', 'fortran_order': True, 'shape': (2, 3, 4), }";
            long[] cLongs = Arrays.stream(cOrder).mapToLong(v -> (long) v).toArray();

            assertThat(Npy.read(write("f3-f8.npy", npy(1, dict.formatted("<f8"), le8(fOrder)))).toDoubleArray())
                    .containsExactly(cOrder);
            float[] cFloats = new float[cOrder.length];
            for (int i = 0; i < cFloats.length; i++) {
                cFloats[i] = (float) cOrder[i];
            }
            assertThat(Npy.read(write("f3-f4.npy", npy(1, dict.formatted(">f4"), be4(fOrder)))).toFloatArray())
                    .containsExactly(cFloats);
            assertThat(Npy.read(write("f3-f2.npy", npy(1, dict.formatted("<f2"), le2(fOrder)))).toFloatArray())
                    .containsExactly(cFloats);
            assertThat(Npy.read(write("f3-i8.npy", npy(1, dict.formatted("<i8"), le8i(fOrder)))).toLongArray())
                    .containsExactly(cLongs);
            assertThat(Npy.read(write("f3-i4.npy", npy(1, dict.formatted("<i4"), le4i(fOrder)))).toLongArray())
                    .containsExactly(cLongs);
        }

        @Test
        void fortranOrderRank4AndDegenerateShapes() throws IOException {
            // shape (2, 1, 3, 2): C index ((i*1 + j)*3 + k)*2 + l, F index i + 2*(j + 1*(k + 3*l))
            double[] c = new double[12];
            double[] fo = new double[12];
            for (int i = 0; i < 2; i++) {
                for (int k = 0; k < 3; k++) {
                    for (int l = 0; l < 2; l++) {
                        double v = 1000 * i + 10 * k + l;
                        c[(i * 3 + k) * 2 + l] = v;
                        fo[i + 2 * (k + 3 * l)] = v;
                    }
                }
            }
            Path f = write("f4d.npy", npy(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 1, 3, 2), }", le8(fo)));
            assertThat(Npy.read(f).toDoubleArray()).containsExactly(c);

            Path scalar = write("f0.npy", npy(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (), }", le8(9)));
            assertThat(Npy.read(scalar).toDoubleArray()).containsExactly(9);
            Path empty = write("fe.npy", npy(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 0), }", new byte[0]));
            assertThat(Npy.read(empty).toDoubleArray()).isEmpty();
            Path column = write("fc.npy", npy(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (1, 3), }", le8(1, 2, 3)));
            assertThat(Npy.read(column).toDoubleArray()).containsExactly(1, 2, 3);
        }

        @Test
        void float16IncludingSpecialValues() throws IOException {
            short[] bits = {
                0x3c00, // 1.0
                (short) 0xc000, // -2.0
                0x0001, // smallest subnormal, 2^-24
                0x03ff, // largest subnormal, 1023 * 2^-24
                0x0400, // smallest normal, 2^-14
                0x7bff, // largest finite, 65504
                0x7c00, // +inf
                (short) 0xfc00, // -inf
                (short) 0x8000, // -0.0
                0x7e00, // NaN
                0x3555, // 0.333251953125
            };
            float[] expected = {1f, -2f, 0x1p-24f, 1023 * 0x1p-24f, 0x1p-14f, 65504f,
                Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0.0f, Float.NaN, 0.333251953125f};
            ByteBuffer b = ByteBuffer.allocate(bits.length * 2).order(ByteOrder.LITTLE_ENDIAN);
            for (short s : bits) {
                b.putShort(s);
            }
            NpyArray a = Npy.read(write("f2.npy",
                    npy(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (11,), }", b.array())));
            assertThat(a.dtype()).isEqualTo(DType.FLOAT16);
            assertThat(a.toFloatArray()).containsExactly(expected);
            double[] widened = new double[expected.length];
            for (int i = 0; i < expected.length; i++) {
                widened[i] = expected[i];
            }
            assertThat(a.toDoubleArray()).containsExactly(widened);

            ByteBuffer be = ByteBuffer.allocate(4).order(ByteOrder.BIG_ENDIAN).putShort((short) 0x3c00).putShort((short) 0x0001);
            assertThat(Npy.read(write("f2be.npy", npy(1, "{'descr': '>f2', 'fortran_order': False, 'shape': (2,), }",
                    be.array()))).toFloatArray()).containsExactly(1f, 0x1p-24f);
        }

        @Test
        void int32AndInt64() throws IOException {
            ByteBuffer i4 = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(-1).putInt(0).putInt(123456);
            NpyArray a = Npy.read(write("i4.npy", npy(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", i4.array())));
            assertThat(a.dtype()).isEqualTo(DType.INT32);
            assertThat(a.toLongArray()).containsExactly(-1, 0, 123456);
            ByteBuffer i8 = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(Long.MIN_VALUE).putLong(3);
            NpyArray b = Npy.read(write("i8.npy", npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", i8.array())));
            assertThat(b.dtype()).isEqualTo(DType.INT64);
            assertThat(b.toLongArray()).containsExactly(Long.MIN_VALUE, 3);
        }

        @Test
        void nativeAndNotApplicableByteOrderMeanLittleEndian() throws IOException {
            assertThat(Npy.read(write("eq.npy", npy(1, "{'descr': '=f4', 'fortran_order': False, 'shape': (2,), }",
                    le4(1, -1)))).toFloatArray()).containsExactly(1, -1);
            assertThat(Npy.read(write("bar.npy", npy(1, "{'descr': '|f8', 'fortran_order': False, 'shape': (1,), }",
                    le8(0.5)))).toDoubleArray()).containsExactly(0.5);
            assertThat(Npy.read(write("eqi.npy", npy(1, "{'descr': '=i8', 'fortran_order': False, 'shape': (1,), }",
                    le8i(new double[] {-3})))).toLongArray()).containsExactly(-3);
        }

        @Test
        void tolerantHeaderSyntax() throws IOException {
            String[] dicts = {
                "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<f4\"}",
                "{'fortran_order':False,'shape':(2L,),'descr':'<f4',}",
                "  { 'descr' : '<f4' ,\n 'fortran_order' : False , 'shape' : ( 2 , ) }  ",
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
            };
            for (int i = 0; i < dicts.length; i++) {
                Path f = write("tolerant" + i + ".npy", npy(1, dicts[i], le4(7, 8)));
                assertThat(Npy.read(f).toFloatArray()).as(dicts[i]).containsExactly(7, 8);
            }
            Path oldLong = write("oldlong.npy", npy(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (1L, 2L), }",
                    le4i(new double[] {5, 6})));
            assertThat(Npy.read(oldLong).shape()).containsExactly(1, 2);
        }

        @Test
        void realNumpyFileBytes() throws IOException {
            // numpy.save(np.array([[1.5, -2, 0.25], [3, 4, 5]], dtype='>f4', order='F')), numpy 2.4, byte for byte
            String dict = "{'descr': '>f4', 'fortran_order': True, 'shape': (2, 3), }";
            byte[] header = (dict + " ".repeat(59) + "\n").getBytes(StandardCharsets.ISO_8859_1);
            ByteBuffer b = ByteBuffer.allocate(152);
            b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0x76, 0}).put(header);
            b.put(HexFormat.of().parseHex("3fc0000040400000c0000000408000003e80000040a00000"));
            assertThat(header).hasSize(118);
            assertThat(Npy.read(write("real.npy", b.array())).toFloatArray()).containsExactly(1.5f, -2f, 0.25f, 3f, 4f, 5f);
        }
    }

    // ---------------------------------------------------------------- errors

    @Nested
    class Errors {

        @Test
        void badMagic() throws IOException {
            Path f = write("zip.npy", "PK\u0003\u0004 this is a zip file".getBytes(StandardCharsets.ISO_8859_1));
            assertFails(f, "not a .npy file: bad magic bytes 50 4b 03 04");
        }

        @Test
        void unknownVersion() throws IOException {
            byte[] bytes = npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", le4(1));
            bytes[6] = 4;
            assertFails(write("v4.npy", bytes), "unsupported .npy format version 4.0 (supported: 1.0, 2.0, 3.0)");
            bytes[6] = 1;
            bytes[7] = 1;
            assertFails(write("v11.npy", bytes), "unsupported .npy format version 1.1");
        }

        @Test
        void truncatedData() throws IOException {
            Path f = write("short.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                    le4(1, 2, 3, 4, 5)));
            assertFails(f, "truncated: header claims 24 bytes of data", "file has 20");
        }

        @Test
        void trailingData() throws IOException {
            Path f = write("long.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", le4(1, 2)));
            assertFails(f, "trailing data: file has 8 bytes of data, header claims 4");
        }

        @Test
        void absurdShapeFailsFast() throws IOException {
            Path overflow = write("absurd.npy", npy(1,
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000, 1000), }", le4(1)));
            Path huge = write("huge.npy", npy(1,
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000, 100), }", le4(1)));
            Path bytesOverflow = write("bytes.npy", npy(1,
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }", le4(1)));
            // a hang guard (an attempt to read 8 TB would not end), not a speed limit: the messages show the
            // header was refused before any data was read
            assertTimeoutPreemptively(HANG, () -> {
                assertFails(overflow, "shape (1000000000, 1000000000, 1000) overflows");
                assertFails(huge, "truncated: header claims 8000000000000 bytes of data", "file has 4");
                assertFails(bytesOverflow, "overflows: more than 2^63-1 bytes");
            });
        }

        @Test
        void tooLargeForTheHeap() throws IOException {
            // A sparse file with all the bytes the header claims: consistent, but over the heap limit.
            byte[] header = npy(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2147483640,), }", new byte[0]);
            Path f = write("sparse.npy", header);
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(header.length + 2L * 2147483640L);
            }
            assertTimeoutPreemptively(HANG,
                    () -> assertFails(f, "too large to load on the heap (2147483640 elements"));
            Files.delete(f);
        }

        @Test
        void negativeDimension() throws IOException {
            Path f = write("neg.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3), }", new byte[0]));
            assertFails(f, "negative dimension -1 in shape (-1, 3)");
        }

        @ParameterizedTest
        @ValueSource(strings = {"<c8", "|b2", "<U3", "<i2", "<u4", ">f16", "f", "<f4x", "|O"})
        void unsupportedDtypes(String descr) throws IOException {
            Path f = write("dt.npy", npy(1, "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (1,), }", le4(1)));
            assertFails(f, "unsupported dtype '" + descr + "' " + SUPPORTED);
        }

        @Test
        void structuredDtype() throws IOException {
            Path f = write("rec.npy", npy(1,
                    "{'descr': [('x', '<f4'), ('y', '<i4')], 'fortran_order': False, 'shape': (1,), }", le4(1, 2)));
            assertFails(f, "unsupported dtype [('x', '<f4'), ('y', '<i4')]", "structured dtypes are not supported");
        }

        @Test
        void missingKeys() throws IOException {
            assertFails(write("noshape.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, }", le4(1))),
                    "header has no 'shape' key");
            assertFails(write("nodescr.npy", npy(1, "{'fortran_order': False, 'shape': (1,)}", le4(1))),
                    "header has no 'descr' key");
            assertFails(write("noorder.npy", npy(1, "{'descr': '<f4', 'shape': (1,)}", le4(1))),
                    "header has no 'fortran_order' key");
        }

        @Test
        void badValues() throws IOException {
            assertFails(write("order.npy", npy(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", le4(1))),
                    "'fortran_order' must be True or False, got 0");
            assertFails(write("listshape.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", le4(1))),
                    "'shape' must be a tuple of integers, got [1]");
            assertFails(write("intshape.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1)}", le4(1))),
                    "'shape' must be a tuple of integers, got 1");
            assertFails(write("extra.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", le4(1))),
                    "unexpected key 'x'");
            assertFails(write("dup.npy", npy(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
                    le4(1))), "duplicate key 'descr'");
        }

        @ParameterizedTest
        @ValueSource(strings = {
            "{'descr' '<f4', 'fortran_order': False, 'shape': (1,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)",
            "{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}",
            "{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1.5,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
            "hello",
            "",
        })
        void malformedHeaderText(String dict) throws IOException {
            assertFails(write("malformed.npy", npy(1, dict, le4(1))), "malformed header: ");
        }

        @Test
        void headerLengthBeyondTheFileOrTheLimit() throws IOException {
            byte[] bytes = npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", le4(1));
            bytes[8] = (byte) 0xff;
            bytes[9] = (byte) 0x7f;
            assertFails(write("hdr.npy", bytes), "truncated header: header length field says 32767 bytes");

            byte[] v2 = npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", le4(1));
            ByteBuffer.wrap(v2).order(ByteOrder.LITTLE_ENDIAN).putInt(8, 0x7fffffff);
            assertFails(write("hdr2.npy", v2), "header length 2147483647 exceeds the limit of 1048576 bytes");
        }

        @Test
        void emptyFile() throws IOException {
            assertFails(write("empty.npy", new byte[0]), "empty file");
        }

        @Test
        void shorterThanTheMagic() throws IOException {
            assertFails(write("tiny.npy", new byte[] {(byte) 0x93, 'N', 'U'}), "too short to be a .npy file (3 bytes");
        }

        @Test
        void preambleCutShort() throws IOException {
            assertFails(write("pre.npy", new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0x10}),
                    "truncated preamble");
        }

        @Test
        void preambleAndHeaderBoundaries() throws IOException {
            byte[] magic = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
            assertFails(write("magic.npy", magic), "truncated preamble: file ends after 6 bytes");
            byte[] v1 = Arrays.copyOf(magic, 10);
            v1[6] = 1;
            v1[8] = 5; // header length 5, none of it present
            assertFails(write("nohdr.npy", v1),
                    "truncated header: header length field says 5 bytes, file has 0 after the preamble");
            byte[] v1Short = Arrays.copyOf(v1, 13);
            assertFails(write("shorthdr.npy", v1Short),
                    "truncated header: header length field says 5 bytes, file has 3 after the preamble");
            assertFails(write("zip6.npy", "PK\u0003\u0004 this is a zip file".getBytes(StandardCharsets.ISO_8859_1)),
                    "bad magic bytes 50 4b 03 04 20 74 (expected");
        }

        @Test
        void writingChecksTheShapeAgainstTheData() {
            Path f = dir.resolve("w.npy");
            assertThatThrownBy(() -> Npy.write(f, new long[] {0}, new float[1]))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("shape (0,) has 0 elements but data has 1");
            assertThatThrownBy(() -> Npy.write(f, new long[] {2, 3}, new float[5]))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("shape (2, 3) has 6 elements but data has 5");
            assertThatThrownBy(() -> Npy.write(f, new long[] {1L << 62, 8}, new float[1]))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("shape (4611686018427387904, 8) has more than 2^63-1 elements but data has 1");
            assertThat(Files.exists(f)).isFalse();
        }

        @Test
        void nonexistentFile() {
            assertFails(dir.resolve("missing.npy"), "cannot read: no such file");
        }

        @Test
        void directory() throws IOException {
            Path d = Files.createDirectory(dir.resolve("adir.npy"));
            assertFails(d, "cannot read: is a directory");
        }

        @Test
        void messageIsOneLineNamingTheFile() throws IOException {
            Path f = write("multi.npy", npy(1, "{'descr': '<f4',\n\n 'fortran_order': False,\r\n 'shape': (1,) oops}", le4(1)));
            assertThatThrownBy(() -> Npy.read(f)).isInstanceOfSatisfying(NpyFormatException.class, e -> {
                assertThat(e.getMessage()).doesNotContain("\n").doesNotContain("\r")
                        .startsWith(f + ": ").endsWith(e.reason());
                assertThat(e.file()).isEqualTo(f);
                assertThat(e.reason()).startsWith("malformed header: expected ',' or '}'");
            });
        }

        private void assertFails(Path file, String... reasons) {
            assertThatThrownBy(() -> Npy.read(file)).isInstanceOfSatisfying(NpyFormatException.class, e -> {
                assertThat(e.getMessage()).startsWith(file + ": ").doesNotContain("\n");
                assertThat(e.getMessage()).contains(file.getFileName().toString());
                assertThat(e.file()).isEqualTo(file);
                for (String r : reasons) {
                    assertThat(e.reason()).contains(r);
                }
            });
        }
    }

    // ---------------------------------------------------------------- properties

    @Property
    void float32RoundTrip(@ForAll("shapedFloats") Shaped s) throws IOException {
        Path f = Files.createTempFile("npy-prop", ".npy");
        try {
            Npy.write(f, s.shape(), s.data());
            NpyArray a = Npy.read(f);
            assertThat(a.shape()).containsExactly(s.shape());
            assertThat(a.toFloatArray()).containsExactly(s.data());
        } finally {
            Files.deleteIfExists(f);
        }
    }

    @Property
    void float64RoundTrip(@ForAll("shapedFloats") Shaped s) throws IOException {
        double[] data = new double[s.data().length];
        for (int i = 0; i < data.length; i++) {
            data[i] = s.data()[i] * 1.000000001; // not representable as float: checks no narrowing
        }
        Path f = Files.createTempFile("npy-prop", ".npy");
        try {
            Npy.write(f, s.shape(), data);
            assertThat(Npy.read(f).toDoubleArray()).containsExactly(data);
        } finally {
            Files.deleteIfExists(f);
        }
    }

    record Shaped(long[] shape, float[] data) {
        @Override
        public String toString() {
            return Arrays.toString(shape) + " " + Arrays.toString(data);
        }
    }

    @Provide
    Arbitrary<Shaped> shapedFloats() {
        Arbitrary<Float> values = Arbitraries.oneOf(
                Arbitraries.floats(),
                Arbitraries.of(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0.0f, 0.0f,
                        Float.MIN_VALUE, Float.MAX_VALUE, -Float.MIN_NORMAL));
        return Arbitraries.longs().between(0, 4).array(long[].class).ofMinSize(0).ofMaxSize(4)
                .flatMap(shape -> Combinators.combine(
                                Arbitraries.just(shape),
                                values.array(float[].class).ofSize((int) product(shape)))
                        .as(Shaped::new));
    }

    // ---------------------------------------------------------------- helpers

    private static long product(long[] shape) {
        long p = 1;
        for (long d : shape) {
            p *= d;
        }
        return p;
    }

    private Path write(String name, byte[] bytes) throws IOException {
        return Files.write(dir.resolve(name), bytes);
    }

    /** A .npy file: magic, version major.0, header length (2 bytes for 1.0, else 4), dict + '\n', data. */
    static byte[] npy(int major, String dict, byte[] data) {
        byte[] header = (dict + "\n").getBytes(major >= 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        int lengthBytes = major == 1 ? 2 : 4;
        ByteBuffer b = ByteBuffer.allocate(8 + lengthBytes + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
        if (major == 1) {
            b.putShort((short) header.length);
        } else {
            b.putInt(header.length);
        }
        return b.put(header).put(data).array();
    }

    private static byte[] le4(double... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (double x : v) {
            b.putFloat((float) x);
        }
        return b.array();
    }

    private static byte[] be4(double... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.BIG_ENDIAN);
        for (double x : v) {
            b.putFloat((float) x);
        }
        return b.array();
    }

    private static byte[] le8(double... v) {
        ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (double x : v) {
            b.putDouble(x);
        }
        return b.array();
    }

    private static byte[] le2(double... v) {
        ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (double x : v) {
            b.putShort(Float.floatToFloat16((float) x));
        }
        return b.array();
    }

    private static byte[] le4i(double[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (double x : v) {
            b.putInt((int) x);
        }
        return b.array();
    }

    private static byte[] le8i(double[] v) {
        ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (double x : v) {
            b.putLong((long) x);
        }
        return b.array();
    }
}

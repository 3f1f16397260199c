package org.ringattention.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.ringattention.tensor.Npy;

/** Malformed and hostile .npy files, written byte by byte. */
final class HostileFiles {

    private HostileFiles() {
    }

    /** A version 1.0 .npy file with the given header dict and data bytes. */
    static Path npy(Path file, String dict, byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
        int len = dict.length() + 1;
        int pad = (64 - (10 + len) % 64) % 64;
        len += pad;
        out.write(len & 0xff);
        out.write(len >> 8);
        out.write(dict.getBytes(StandardCharsets.ISO_8859_1));
        out.write(" ".repeat(pad).getBytes(StandardCharsets.ISO_8859_1));
        out.write('\n');
        out.write(data);
        Files.write(file, out.toByteArray());
        return file;
    }

    /** A header that claims an absurd shape (about 2^60 elements) over 16 bytes of data. */
    static Path absurdShape(Path file) throws IOException {
        return npy(file, "{'descr': '<f4', 'fortran_order': False, 'shape': (1073741824, 1073741824, 1), }",
                new byte[16]);
    }

    /** A valid file cut short in its data. */
    static Path truncated(Path file, Path valid) throws IOException {
        byte[] b = Files.readAllBytes(valid);
        Files.write(file, Arrays.copyOf(b, b.length - 5));
        return file;
    }

    /** A valid file with its magic string overwritten. */
    static Path badMagic(Path file, Path valid) throws IOException {
        byte[] b = Files.readAllBytes(valid);
        b[1] = 'X';
        Files.write(file, b);
        return file;
    }

    /** Text that is not a .npy file at all. */
    static Path notNpy(Path file) throws IOException {
        Files.writeString(file, "q,k,v\n1,2,3\n");
        return file;
    }

    /** float64 values, one of them beyond float32's range. */
    static Path float64Overflow(Path file, long[] shape, int at) throws IOException {
        double[] x = new double[(int) Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
        Arrays.fill(x, 0.5);
        x[at] = 1e39;
        Npy.write(file, shape, x);
        return file;
    }
}

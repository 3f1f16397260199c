package org.ringattention.cli;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;

/**
 * The record of a streaming {@code attend} run's progress, beside its output O as
 * {@code O.npy.checkpoint} (JSON): the query chunks finished so far (chunks 0..done−1, whose rows
 * of {@code O.npy.partial} and {@code LSE.npy.partial} are on disk), and what must not change for
 * {@code --resume} to give the bits of an uninterrupted run: the inputs (size, modification time
 * and a CRC-32 of three 64 KiB samples of each file) and the options (shape, mask, block and chunk
 * sizes, whether LSE is written). Written to a temporary file and renamed, so it is always whole.
 *
 * @param format  {@link #FORMAT}
 * @param inputs  q, k, v, then the side inputs given (segments, ALiBi, sinks, mask, bias)
 * @param options the options the bits depend on
 * @param chunks  query chunks in all
 * @param done    query chunks finished
 */
record Checkpoint(String format, List<Input> inputs, Options options, int chunks, int done) {

    static final String FORMAT = "ring-attention attend checkpoint 1";

    private static final int SAMPLE = 64 * 1024;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** One input file as it was when the run started. */
    record Input(String path, long size, long modified, long crc) {

        static Input of(Path p) throws IOException {
            return new Input(p.toAbsolutePath().normalize().toString(), Files.size(p),
                    Files.getLastModifiedTime(p).toMillis(), sampleCrc(p));
        }
    }

    /** The options whose change would change the bits or the meaning of the finished chunks. */
    record Options(String shape, String mask, int blockQ, int blockKv, int chunk, boolean lse) {
    }

    static Checkpoint of(List<Path> inputs, Options options, int chunks) throws IOException {
        List<Input> in = new ArrayList<>();
        for (Path p : inputs) {
            in.add(Input.of(p));
        }
        return new Checkpoint(FORMAT, List.copyOf(in), options, chunks, 0);
    }

    Checkpoint withDone(int n) {
        return new Checkpoint(format, inputs, options, chunks, n);
    }

    /** The checkpoint of output {@code out}: {@code OUT.checkpoint} beside it. */
    static Path pathFor(Path out) {
        Path abs = out.toAbsolutePath();
        return abs.resolveSibling(abs.getFileName() + ".checkpoint");
    }

    /** Reads a checkpoint, or null when there is none; a file that is not one is a one-line data error. */
    static Checkpoint read(Path file) throws IOException {
        if (!Files.exists(file)) {
            return null;
        }
        Checkpoint c;
        try {
            c = JSON.readValue(file.toFile(), Checkpoint.class);
        } catch (JacksonException e) {
            throw CliException.data(file + ": not a checkpoint of attend (" + e.getOriginalMessage() + ")");
        }
        if (!FORMAT.equals(c.format()) || c.inputs() == null || c.options() == null || c.done() < 0
                || c.done() > c.chunks()) {
            throw CliException.data(file + ": not a checkpoint of this version of attend (format " + c.format() + ")");
        }
        return c;
    }

    /** Writes this checkpoint to {@code file}, whole or not at all. */
    void write(Path file) throws IOException {
        Path temp = file.resolveSibling(file.getFileName() + ".tmp");
        JSON.writeValue(temp.toFile(), this);
        try {
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** What differs between this (saved) checkpoint and a run about to start ({@code now}), or null. */
    String mismatch(Checkpoint now) {
        if (inputs.size() != now.inputs.size()) {
            return "it was made with " + inputs.size() + " input files, this run has " + now.inputs.size();
        }
        for (int i = 0; i < inputs.size(); i++) {
            Input a = inputs.get(i);
            Input b = now.inputs.get(i);
            if (a.size() != b.size() || a.modified() != b.modified() || a.crc() != b.crc()) {
                return "input " + b.path() + " changed since the checkpoint was made (was " + a.path() + ", "
                        + a.size() + " bytes)";
            }
        }
        Options a = options;
        Options b = now.options;
        if (!a.shape().equals(b.shape())) {
            return "shape " + b.shape() + ", the checkpoint's is " + a.shape();
        }
        if (!a.mask().equals(b.mask())) {
            return "mask " + b.mask() + ", the checkpoint's is " + a.mask();
        }
        if (a.blockQ() != b.blockQ() || a.blockKv() != b.blockKv()) {
            return "blocks " + b.blockQ() + "x" + b.blockKv() + ", the checkpoint's are " + a.blockQ() + "x"
                    + a.blockKv();
        }
        if (a.chunk() != b.chunk()) {
            return "chunks of " + b.chunk() + " rows, the checkpoint's are " + a.chunk();
        }
        if (a.lse() != b.lse()) {
            return b.lse() ? "--lse is asked for, the checkpoint's run had none" : "no --lse, the checkpoint's run had one";
        }
        if (chunks != now.chunks) {
            return now.chunks + " query chunks, the checkpoint has " + chunks;
        }
        return null;
    }

    /** CRC-32 of the first, middle and last {@value #SAMPLE} bytes of a file (all of a small one). */
    private static long sampleCrc(Path p) throws IOException {
        CRC32 crc = new CRC32();
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            long size = ch.size();
            long[] starts = size <= 3L * SAMPLE ? new long[] {0} : new long[] {0, size / 2 - SAMPLE / 2, size - SAMPLE};
            ByteBuffer buf = ByteBuffer.allocate((int) Math.min(size <= 3L * SAMPLE ? size : SAMPLE, 3 * SAMPLE));
            for (long s : starts) {
                buf.clear();
                while (buf.hasRemaining() && ch.read(buf, s + buf.position()) > 0) {
                    // read the sample
                }
                buf.flip();
                crc.update(buf);
            }
        }
        return crc.getValue();
    }
}

package org.ringattention.golden;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.ringattention.tensor.DType;
import org.ringattention.tensor.Npy;
import org.ringattention.tensor.NpyArray;

/**
 * A golden set read from its folder: the manifest's cases, and on request each case's data,
 * checked against what the manifest says (shapes, dtypes, finite inputs, references with −∞ only
 * in LSE). Every problem is a {@link GoldenDataException} (or an {@code NpyFormatException} for a
 * malformed {@code .npy} file) whose message names the file.
 */
public final class GoldenSet {

    /** Manifests larger than this are refused unread. */
    static final long MAX_MANIFEST_BYTES = 16 << 20;

    /** One case of the manifest: its definition, its files and its recorded bounds. */
    public record Entry(GoldenCase definition, Map<String, Path> files, Map<Output, Tolerance> tolerance) {

        public String name() {
            return definition.name();
        }
    }

    /** A case's data: the stored inputs and the float64 references. */
    public record CaseData(Entry entry, CaseInputs inputs, Outputs reference) {
    }

    private final Path dir;
    private final List<Entry> entries;

    private GoldenSet(Path dir, List<Entry> entries) {
        this.dir = dir;
        this.entries = List.copyOf(entries);
    }

    /** The folder the set was read from. */
    public Path dir() {
        return dir;
    }

    /** The cases, in manifest order. */
    public List<Entry> cases() {
        return entries;
    }

    /** Reads and checks {@code dir/manifest.json} (not yet the case files). */
    public static GoldenSet load(Path dir) throws IOException {
        Path file = dir.resolve(GoldenGenerator.MANIFEST);
        if (!Files.isDirectory(dir)) {
            throw new GoldenDataException(dir, "no such folder (the golden set's folder holds "
                    + GoldenGenerator.MANIFEST + " and cases/)");
        }
        String text;
        try {
            if (Files.size(file) > MAX_MANIFEST_BYTES) {
                throw new GoldenDataException(file, "larger than " + (MAX_MANIFEST_BYTES >> 20) + " MiB: not a"
                        + " golden manifest");
            }
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(file))).toString();
        } catch (NoSuchFileException e) {
            throw new GoldenDataException(file, "no such file (run 'ring-attention golden generate' to build the"
                    + " set)");
        } catch (CharacterCodingException e) {
            throw new GoldenDataException(file, "not UTF-8 text");
        } catch (GoldenDataException e) {
            throw e;
        } catch (IOException e) {
            throw new GoldenDataException(file, "cannot read: " + e.getMessage(), e);
        }
        Object json;
        try {
            json = Json.parse(text);
        } catch (Json.ParseException e) {
            throw new GoldenDataException(file, "not valid JSON: " + e.getMessage());
        }
        try {
            return new GoldenSet(dir, parse(dir, json));
        } catch (IllegalArgumentException e) {
            throw new GoldenDataException(file, e.getMessage());
        }
    }

    private static List<Entry> parse(Path dir, Object json) {
        JsonFields top = JsonFields.of(json, "the manifest");
        if (!GoldenGenerator.FORMAT.equals(top.get("format"))) {
            throw new IllegalArgumentException("'format' must be \"" + GoldenGenerator.FORMAT + "\"");
        }
        if (!(top.get("version") instanceof Long v) || v != GoldenGenerator.VERSION) {
            throw new IllegalArgumentException("unsupported 'version' " + top.get("version") + " (this tool reads "
                    + GoldenGenerator.VERSION + ")");
        }
        List<Entry> entries = new ArrayList<>();
        Set<String> names = new HashSet<>();
        int i = 0;
        for (Object o : top.list("cases")) {
            JsonFields f = JsonFields.of(o, "case #" + (i++));
            GoldenCase c = GoldenCase.fromJson(f.map());
            if (!names.add(c.name())) {
                throw new IllegalArgumentException("case '" + c.name() + "' appears twice");
            }
            String where = "case '" + c.name() + "'";
            JsonFields files = JsonFields.of(f.get("files"), where + " 'files'");
            Map<String, Path> paths = new LinkedHashMap<>();
            List<String> needed = new ArrayList<>(GoldenGenerator.INPUTS);
            if (c.hasSegments()) {
                needed.add("segments");
            }
            if (c.alibi() != GoldenCase.Alibi.NONE) {
                needed.add("alibi");
            }
            if (c.hasSinks()) {
                needed.add("sinks");
            }
            if (c.maskKind() > 0) {
                needed.add("mask");
            }
            if (c.biasKind() > 0) {
                needed.add("bias");
            }
            for (Output out : c.outputs()) {
                needed.add(out.key());
            }
            for (String key : needed) {
                paths.put(key, resolveInside(dir, files.string(key), where));
            }
            JsonFields tol = JsonFields.of(f.get("tolerance"), where + " 'tolerance'");
            Map<Output, Tolerance> tolerance = new EnumMap<>(Output.class);
            for (Output out : c.outputs()) {
                tolerance.put(out, Tolerance.fromJson(tol.object(out.key())));
            }
            entries.add(new Entry(c, paths, tolerance));
        }
        if (entries.isEmpty()) {
            throw new IllegalArgumentException("'cases' is empty");
        }
        return entries;
    }

    /** A manifest path, which must be relative and stay inside the set's folder. */
    private static Path resolveInside(Path dir, String relative, String where) {
        Path p;
        try {
            p = Path.of(relative);
        } catch (java.nio.file.InvalidPathException e) {
            throw new IllegalArgumentException(where + ": bad file name '" + relative + "'");
        }
        Path resolved = dir.resolve(p).normalize();
        if (p.isAbsolute() || !resolved.startsWith(dir.normalize()) || relative.isEmpty()) {
            throw new IllegalArgumentException(where + ": file '" + relative + "' is not a relative path inside the"
                    + " golden folder");
        }
        return dir.resolve(p);
    }

    /** Reads a case's files and checks them against the manifest. */
    public CaseData read(Entry e) throws IOException {
        GoldenCase c = e.definition();
        double[] q = input(e, "q", c.qShape());
        double[] k = input(e, "k", c.kvShape());
        double[] v = input(e, "v", c.kvShape());
        double[] dOut = input(e, "do", c.qShape());
        long[] seg = null;
        if (c.hasSegments()) {
            Path file = e.files().get("segments");
            NpyArray a = Npy.read(file);
            expect(file, a, c.segmentShape(), c.segmentDtype());
            seg = a.toLongArray();
        }
        if (c.alibi() != GoldenCase.Alibi.NONE) { // the slopes come from the definition; the file must hold them
            Path file = e.files().get("alibi");
            NpyArray a = Npy.read(file);
            expect(file, a, c.alibiShape(), DType.FLOAT64);
            if (!Arrays.equals(a.toDoubleArray(), c.alibiSlopes())) {
                throw new GoldenDataException(file, "ALiBi slopes differ from the case definition's");
            }
        }
        if (c.hasSinks()) {
            Path file = e.files().get("sinks");
            NpyArray a = Npy.read(file);
            expect(file, a, new long[] {c.qHeads()}, DType.FLOAT64);
            if (!Arrays.equals(a.toDoubleArray(), c.sinkLogits())) {
                throw new GoldenDataException(file, "sink logits differ from the case definition's");
            }
        }
        double[][] refs = new double[Output.values().length][];
        for (Output o : c.outputs()) {
            long[] shape = c.outputShape(o);
            Path file = e.files().get(o.key());
            NpyArray a = Npy.read(file);
            expect(file, a, shape, DType.FLOAT64);
            double[] x = a.toDoubleArray();
            for (int i = 0; i < x.length; i++) {
                boolean ok = Double.isFinite(x[i]) || (o == Output.LSE && x[i] == Double.NEGATIVE_INFINITY);
                if (!ok) {
                    throw new GoldenDataException(file, "reference holds " + x[i] + " at flat index " + i
                            + (o == Output.LSE ? " (only finite values and -inf are allowed)" : " (must be finite)"));
                }
            }
            refs[o.ordinal()] = x;
        }
        boolean[] keep = null;
        if (c.maskKind() > 0) {
            Path file = e.files().get("mask");
            NpyArray a = Npy.read(file);
            expect(file, a, c.pairShape(c.maskKind()), DType.BOOL);
            keep = a.toBooleanArray();
        }
        double[] bias = null;
        if (c.biasKind() > 0) {
            bias = input(e, "bias", c.pairShape(c.biasKind()), DType.FLOAT64);
        }
        return new CaseData(e, new CaseInputs(q, k, v, dOut, seg, keep, bias),
                new Outputs(refs[0], refs[1], refs[2], refs[3], refs[4], refs[Output.DSINKS.ordinal()]));
    }

    private static double[] input(Entry e, String key, long[] shape) throws IOException {
        return input(e, key, shape, e.definition().dtype());
    }

    private static double[] input(Entry e, String key, long[] shape, DType dtype) throws IOException {
        Path file = e.files().get(key);
        NpyArray a = Npy.read(file);
        expect(file, a, shape, dtype);
        double[] x = a.toDoubleArray();
        for (int i = 0; i < x.length; i++) {
            if (!Double.isFinite(x[i])) {
                throw new GoldenDataException(file, "input holds " + x[i] + " at flat index " + i
                        + " (inputs must be finite)");
            }
        }
        return x;
    }

    private static void expect(Path file, NpyArray a, long[] shape, DType dtype) throws GoldenDataException {
        if (!Arrays.equals(a.shape(), shape)) {
            throw new GoldenDataException(file, "shape " + Arrays.toString(a.shape()) + " differs from the manifest's "
                    + Arrays.toString(shape));
        }
        if (a.dtype() != dtype) {
            throw new GoldenDataException(file, "dtype " + a.dtype() + " differs from the manifest's " + dtype);
        }
    }
}

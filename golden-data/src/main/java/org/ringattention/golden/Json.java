package org.ringattention.golden;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.PrettyPrinter;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.core.io.SerializedString;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON writing and reading for the golden manifest and the commands' {@code --json} output,
 * through Jackson's streaming API, with the exact text format the golden set was generated with.
 *
 * <p>Values are {@link Map} (keys in insertion order; {@link LinkedHashMap} when read),
 * {@link List}, {@link String}, {@link Long} or {@link Integer} (integers), {@link Double}
 * (numbers with a fraction or exponent), {@link Boolean} and {@code null}.
 *
 * <p>Writing is deterministic: objects one member per line with two-space indentation, arrays
 * that hold no object on one line, doubles as {@link Double#toString} (the shortest decimal that
 * reads back as the same double; NaN and infinities are refused, JSON has none), strings with
 * {@code \"}, {@code \\}, {@code \n}, {@code \r}, {@code \t} and other control characters as
 * lowercase {@code \}{@code u00xx} escaped, so {@code golden generate} stays byte-identical to the
 * files written before Jackson did it. Reading accepts any valid JSON (RFC 8259) and refuses
 * duplicate keys, nesting deeper than {@link #MAX_DEPTH}, integers beyond a long and numbers
 * beyond a double, with the line and column of the problem.
 */
public final class Json {

    /** Largest nesting depth read; deeper documents are refused rather than overflowing the stack. */
    static final int MAX_DEPTH = 64;

    private static final JsonMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    static {
        MAPPER.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build());
        MAPPER.getFactory().setCharacterEscapes(new Escapes());
    }

    private Json() {
    }

    /** Thrown for text that is not valid JSON; the message gives line and column. */
    public static final class ParseException extends Exception {
        private static final long serialVersionUID = 1L;

        ParseException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    // ---------------------------------------------------------------- writing

    /** Pretty JSON as described in the class comment, ending with a newline. */
    public static String write(Object value) {
        return write(value, true) + "\n";
    }

    /** The same value on one line, no newline at the end. */
    public static String writeCompact(Object value) {
        return write(value, false);
    }

    private static String write(Object value, boolean pretty) {
        StringWriter out = new StringWriter();
        Deque<Boolean> inline = new ArrayDeque<>();
        try (JsonGenerator g = MAPPER.getFactory().createGenerator(out)) {
            if (pretty) {
                g.setPrettyPrinter(new Layout(inline));
            }
            write(g, value, inline);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a StringWriter does not fail
        }
        return out.toString();
    }

    private static void write(JsonGenerator g, Object value, Deque<Boolean> inline) throws IOException {
        switch (value) {
            case null -> g.writeNull();
            case String s -> g.writeString(s);
            case Boolean b -> g.writeBoolean(b);
            case Integer i -> g.writeNumber(i);
            case Long l -> g.writeNumber(l);
            case Double d -> g.writeNumber(number(d));
            case Float f -> g.writeNumber(number(f.doubleValue()));
            case Map<?, ?> m -> {
                g.writeStartObject();
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!(e.getKey() instanceof String key)) {
                        throw new IllegalArgumentException("JSON object keys must be strings, got " + e.getKey());
                    }
                    g.writeFieldName(key);
                    write(g, e.getValue(), inline);
                }
                g.writeEndObject();
            }
            case List<?> l -> {
                g.writeStartArray(); // writes the separator after the previous element, by the enclosing array's layout
                inline.push(l.stream().noneMatch(x -> x instanceof Map<?, ?>));
                for (Object x : l) {
                    write(g, x, inline);
                }
                g.writeEndArray();
                inline.pop();
            }
            default -> throw new IllegalArgumentException("cannot write " + value.getClass().getName() + " as JSON");
        }
    }

    /** A finite double as JSON; refuses NaN and infinities. */
    static String number(double d) {
        if (!Double.isFinite(d)) {
            throw new IllegalArgumentException("JSON has no " + d);
        }
        return Double.toString(d);
    }

    /**
     * The pretty layout: a member or an element of a multi-line array per line, indented two
     * spaces per level; an array that holds no object on one line, its elements separated by
     * {@code ", "}. Whether an array is inline is pushed by the writer, which sees its elements.
     */
    private static final class Layout implements PrettyPrinter {
        private final Deque<Boolean> inline;
        private int level;

        Layout(Deque<Boolean> inline) {
            this.inline = inline;
        }

        private void newline(JsonGenerator g, int indent) throws IOException {
            g.writeRaw('\n');
            g.writeRaw("  ".repeat(indent));
        }

        @Override
        public void writeRootValueSeparator(JsonGenerator g) {
            // one value per document
        }

        @Override
        public void writeStartObject(JsonGenerator g) throws IOException {
            g.writeRaw('{');
            level++;
        }

        @Override
        public void beforeObjectEntries(JsonGenerator g) throws IOException {
            newline(g, level);
        }

        @Override
        public void writeObjectFieldValueSeparator(JsonGenerator g) throws IOException {
            g.writeRaw(": ");
        }

        @Override
        public void writeObjectEntrySeparator(JsonGenerator g) throws IOException {
            g.writeRaw(',');
            newline(g, level);
        }

        @Override
        public void writeEndObject(JsonGenerator g, int entries) throws IOException {
            level--;
            if (entries > 0) {
                newline(g, level);
            }
            g.writeRaw('}');
        }

        @Override
        public void writeStartArray(JsonGenerator g) throws IOException {
            g.writeRaw('[');
            level++;
        }

        @Override
        public void beforeArrayValues(JsonGenerator g) throws IOException {
            if (!inline.peek()) {
                newline(g, level);
            }
        }

        @Override
        public void writeArrayValueSeparator(JsonGenerator g) throws IOException {
            if (inline.peek()) {
                g.writeRaw(", ");
            } else {
                g.writeRaw(',');
                newline(g, level);
            }
        }

        @Override
        public void writeEndArray(JsonGenerator g, int values) throws IOException {
            level--;
            if (!inline.peek() && values > 0) {
                newline(g, level);
            }
            g.writeRaw(']');
        }
    }

    /** Control characters other than \n, \r, \t as lowercase backslash-u escapes, as the golden files have them. */
    private static final class Escapes extends CharacterEscapes {
        private static final long serialVersionUID = 1L;
        private final int[] table = standardAsciiEscapesForJSON();

        Escapes() {
            for (int c = 0; c < 0x20; c++) {
                if (c != '\n' && c != '\r' && c != '\t') {
                    table[c] = ESCAPE_CUSTOM;
                }
            }
        }

        @Override
        public int[] getEscapeCodesForAscii() {
            return table;
        }

        @Override
        public SerializableString getEscapeSequence(int ch) {
            return new SerializedString(String.format("\\u%04x", ch));
        }
    }

    // ---------------------------------------------------------------- reading

    /** Parses one JSON value that makes up the whole of {@code text} (whitespace aside). */
    public static Object parse(String text) throws ParseException {
        try (JsonParser p = MAPPER.createParser(text)) {
            JsonToken first = p.nextToken();
            if (first == null) {
                throw error(p.currentLocation(), "unexpected end of text, expected a value", null);
            }
            Object v = value(p);
            if (p.nextToken() != null) {
                throw error(p.currentTokenLocation(), "unexpected text after the JSON value", null);
            }
            return v;
        } catch (JsonProcessingException e) {
            throw error(e.getLocation(), e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // reading a String does not fail
        }
    }

    // The current token starts the value.
    private static Object value(JsonParser p) throws IOException, ParseException {
        JsonToken t = p.currentToken();
        switch (t) {
            case START_OBJECT -> {
                Map<String, Object> m = new LinkedHashMap<>();
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String key = p.currentName();
                    p.nextToken();
                    m.put(key, value(p));
                }
                return m;
            }
            case START_ARRAY -> {
                List<Object> l = new ArrayList<>();
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    l.add(value(p));
                }
                return l;
            }
            case VALUE_STRING -> {
                return p.getText();
            }
            case VALUE_NUMBER_INT -> {
                if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                    throw error(p.currentTokenLocation(), "integer " + p.getText() + " is out of range", null);
                }
                return p.getLongValue();
            }
            case VALUE_NUMBER_FLOAT -> {
                double d = p.getDoubleValue();
                if (!Double.isFinite(d)) {
                    throw error(p.currentTokenLocation(), "number " + p.getText() + " is out of range", null);
                }
                return d;
            }
            case VALUE_TRUE -> {
                return Boolean.TRUE;
            }
            case VALUE_FALSE -> {
                return Boolean.FALSE;
            }
            case VALUE_NULL -> {
                return null;
            }
            default -> throw error(p.currentTokenLocation(), "unexpected " + t + ", expected a value", null);
        }
    }

    private static ParseException error(JsonLocation at, String what, Throwable cause) {
        String where = at == null || at.getLineNr() < 0 ? "" : "line " + at.getLineNr() + ", column "
                + at.getColumnNr() + ": ";
        return new ParseException(where + (what == null ? "malformed JSON" : what.replaceAll("[\\r\\n]+", " ")), cause);
    }
}

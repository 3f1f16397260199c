package org.ringattention.tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses the Python dict literal of a {@code .npy} header, for example
 * {@code {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }}, into Java values.
 *
 * <p>NumPy writes this text with {@code repr} and reads it with {@code ast.literal_eval}, so a
 * file written by another tool may use double quotes, other key orders, extra whitespace, no
 * trailing comma, or Python 2 long suffixes ({@code 3L}). This parser accepts that subset of
 * Python literals: strings, integers, {@code True}/{@code False}/{@code None}, tuples and lists
 * (lists only matter for structured dtypes, which are parsed so they can be named in the error).
 *
 * <p>Values: {@link String}, {@link Long}, {@link Boolean}, {@link #NONE}, {@link Tuple} and
 * {@link List}. Like Python, {@code (5)} is the integer 5, not a tuple.
 */
final class NpyHeaderParser {

    /** Python's {@code None}. */
    static final Object NONE = new Object() {
        @Override
        public String toString() {
            return "None";
        }
    };

    /** A Python tuple; kept apart from lists because the shape must be a tuple. */
    record Tuple(List<Object> items) {
        Tuple {
            items = List.copyOf(items);
        }
    }

    private final Path file;
    private final String text;
    private int pos;

    private NpyHeaderParser(Path file, String text) {
        this.file = file;
        this.text = text;
    }

    /** The dict in {@code text}, keys in file order; anything else is a format error. */
    static Map<String, Object> parseDict(Path file, String text) throws NpyFormatException {
        NpyHeaderParser p = new NpyHeaderParser(file, text);
        Map<String, Object> dict = p.dict();
        p.skipWhitespace();
        if (p.pos < text.length()) {
            throw p.error("unexpected text after the closing '}'");
        }
        return dict;
    }

    /** Python-style rendering of a parsed value, for error messages. */
    static String repr(Object value) {
        if (value instanceof String s) {
            return "'" + escape(s) + "'";
        }
        if (value instanceof Boolean b) {
            return b ? "True" : "False";
        }
        if (value instanceof Tuple t) {
            StringBuilder sb = new StringBuilder("(");
            for (int i = 0; i < t.items().size(); i++) {
                sb.append(i == 0 ? "" : ", ").append(repr(t.items().get(i)));
            }
            return sb.append(t.items().size() == 1 ? ",)" : ")").toString();
        }
        if (value instanceof List<?> l) {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < l.size(); i++) {
                sb.append(i == 0 ? "" : ", ").append(repr(l.get(i)));
            }
            return sb.append(']').toString();
        }
        return String.valueOf(value);
    }

    /** {@code s} with control and non-ASCII characters escaped, so messages stay one printable line. */
    static String escape(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20 || (c >= 0x7f && c < 0xa0)) {
                        sb.append(String.format("\\x%02x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.toString();
    }

    private Map<String, Object> dict() throws NpyFormatException {
        skipWhitespace();
        expect('{');
        Map<String, Object> dict = new LinkedHashMap<>();
        skipWhitespace();
        if (peek() == '}') {
            pos++;
            return dict;
        }
        while (true) {
            skipWhitespace();
            int keyStart = pos;
            Object key = value();
            if (!(key instanceof String k)) {
                pos = keyStart;
                throw error("dict key must be a string");
            }
            skipWhitespace();
            expect(':');
            Object v = value();
            if (dict.putIfAbsent(k, v) != null) {
                pos = keyStart;
                throw error("duplicate key " + repr(k));
            }
            skipWhitespace();
            char c = peek();
            if (c == ',') {
                pos++;
                skipWhitespace();
                if (peek() == '}') {
                    pos++;
                    return dict;
                }
            } else if (c == '}') {
                pos++;
                return dict;
            } else {
                throw error("expected ',' or '}'");
            }
        }
    }

    private Object value() throws NpyFormatException {
        skipWhitespace();
        char c = peek();
        if (c == '\'' || c == '"') {
            return string(c);
        }
        if (c == '(') {
            pos++;
            return sequence(')', true);
        }
        if (c == '[') {
            pos++;
            return sequence(']', false);
        }
        if (c == '-' || c == '+' || (c >= '0' && c <= '9')) {
            return integer();
        }
        if (Character.isLetter(c)) {
            return word();
        }
        throw error(pos >= text.length() ? "unexpected end of header" : "expected a value");
    }

    private Object sequence(char close, boolean tuple) throws NpyFormatException {
        List<Object> items = new ArrayList<>();
        boolean sawComma = false;
        skipWhitespace();
        if (peek() == close) {
            pos++;
            return tuple ? new Tuple(items) : items;
        }
        while (true) {
            items.add(value());
            skipWhitespace();
            char c = peek();
            if (c == ',') {
                pos++;
                sawComma = true;
                skipWhitespace();
                if (peek() == close) {
                    pos++;
                    break;
                }
            } else if (c == close) {
                pos++;
                break;
            } else {
                throw error("expected ',' or '" + close + "'");
            }
        }
        if (tuple && items.size() == 1 && !sawComma) {
            return items.get(0); // Python: parentheses around one value do not make a tuple
        }
        return tuple ? new Tuple(items) : items;
    }

    private String string(char quote) throws NpyFormatException {
        int start = pos++;
        StringBuilder sb = new StringBuilder();
        while (pos < text.length()) {
            char c = text.charAt(pos++);
            if (c == quote) {
                return sb.toString();
            }
            if (c == '\n') {
                break;
            }
            if (c == '\\' && pos < text.length()) {
                char e = text.charAt(pos++);
                switch (e) {
                    case 'n' -> sb.append('\n');
                    case 't' -> sb.append('\t');
                    case 'r' -> sb.append('\r');
                    case '\\', '\'', '"' -> sb.append(e);
                    default -> sb.append('\\').append(e); // Python keeps unknown escapes as written
                }
            } else {
                sb.append(c);
            }
        }
        pos = start;
        throw error("unterminated string");
    }

    private Long integer() throws NpyFormatException {
        int start = pos;
        boolean negative = false;
        if (peek() == '-' || peek() == '+') {
            negative = text.charAt(pos++) == '-';
        }
        int digitsStart = pos;
        while (pos < text.length() && text.charAt(pos) >= '0' && text.charAt(pos) <= '9') {
            pos++;
        }
        if (pos == digitsStart) {
            pos = start;
            throw error("expected digits");
        }
        String digits = text.substring(digitsStart, pos);
        if (peek() == 'L' || peek() == 'l') {
            pos++; // Python 2 long suffix, written by old NumPy versions
        }
        if (Character.isLetterOrDigit(peek()) || peek() == '.') {
            pos = start;
            throw error("expected an integer");
        }
        try {
            return Long.parseLong(negative ? "-" + digits : digits);
        } catch (NumberFormatException e) {
            pos = start;
            throw error("integer out of range");
        }
    }

    private Object word() throws NpyFormatException {
        int start = pos;
        while (pos < text.length() && (Character.isLetterOrDigit(text.charAt(pos)) || text.charAt(pos) == '_')) {
            pos++;
        }
        String w = text.substring(start, pos);
        return switch (w) {
            case "True" -> Boolean.TRUE;
            case "False" -> Boolean.FALSE;
            case "None" -> NONE;
            default -> {
                pos = start;
                throw error("unknown name '" + w + "'");
            }
        };
    }

    private void expect(char c) throws NpyFormatException {
        if (peek() != c) {
            throw error("expected '" + c + "'");
        }
        pos++;
    }

    private char peek() {
        return pos < text.length() ? text.charAt(pos) : '\0';
    }

    private void skipWhitespace() {
        while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
            pos++;
        }
    }

    private NpyFormatException error(String what) {
        String shown = text.strip();
        if (shown.length() > 200) {
            shown = shown.substring(0, 200) + "...";
        }
        return new NpyFormatException(file,
                "malformed header: " + what + " at character " + pos + " of " + escape(shown));
    }
}

package org.ringattention.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.ringattention.tensor.NpyHeaderParser.Tuple;

/**
 * The .npy header dict parser on its own: every form of the Python literal subset it accepts
 * (with the values it yields) and every form it refuses (with the reason and the character the
 * message points at).
 */
class NpyHeaderParserTest {

    private static final Path FILE = Path.of("x.npy");

    private static Map<String, Object> parse(String text) throws NpyFormatException {
        return NpyHeaderParser.parseDict(FILE, text);
    }

    private static Map<String, Object> dict(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    private static Tuple tuple(Object... items) {
        return new Tuple(List.of(items));
    }

    @Test
    void whatNumpyWrites() throws NpyFormatException {
        Map<String, Object> d = parse("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }          \n");
        assertEquals(dict("descr", "<f4", "fortran_order", false, "shape", tuple(2L, 3L)), d);
        assertEquals(List.of("descr", "fortran_order", "shape"), List.copyOf(d.keySet()), "file order kept");
    }

    @Test
    void everyAcceptedForm() throws NpyFormatException {
        assertEquals(dict(), parse("{}"));
        assertEquals(dict(), parse("  {  }  "));
        assertEquals(dict("a", 1L), parse("{\"a\": 1}"), "double quotes, no trailing comma");
        assertEquals(dict("a", 1L), parse("{'a':1,}"), "no spaces, trailing comma");
        assertEquals(dict("a", 1L), parse("{\n\t'a'\r\n :\t 1 ,\n }\n"), "any whitespace");
        assertEquals(dict("shape", tuple(3L, 4L)), parse("{'shape': (3L, 4l)}"), "Python 2 long suffix");
        assertEquals(dict("shape", tuple()), parse("{'shape': ()}"), "rank 0");
        assertEquals(dict("shape", tuple(5L)), parse("{'shape': (5,)}"), "rank 1");
        assertEquals(dict("shape", 5L), parse("{'shape': (5)}"), "(5) is the integer 5");
        assertEquals(dict("shape", tuple(5L)), parse("{'shape': ( 5 , )}"));
        assertEquals(dict("shape", tuple(1L, 2L)), parse("{'shape': (1, 2,)}"));
        assertEquals(dict("n", -7L, "p", 7L, "z", 0L), parse("{'n': -7, 'p': +7, 'z': 000}"));
        assertEquals(dict("big", Long.MAX_VALUE, "small", Long.MIN_VALUE),
                parse("{'big': 9223372036854775807, 'small': -9223372036854775808}"));
        assertEquals(dict("t", true, "f", false, "n", NpyHeaderParser.NONE), parse("{'t': True, 'f': False, 'n': None}"));
        assertEquals(dict("l", List.of(), "m", List.of(1L, "x")), parse("{'l': [], 'm': [1, 'x',]}"));
        assertEquals(dict("descr", List.of(tuple("a", "<f4"), tuple("b", "<i8", tuple(2L)))),
                parse("{'descr': [('a', '<f4'), ('b', '<i8', (2,))]}"), "a structured dtype, parsed to be named");
        assertEquals(dict("s", "it's \"q\"\n\t\r\\"), parse("{'s': 'it\\'s \\\"q\\\"\\n\\t\\r\\\\'}"), "escapes");
        assertEquals(dict("s", "a\\qb"), parse("{'s': 'a\\qb'}"), "unknown escapes kept as written");
        assertEquals(dict("s", "say 'hi'"), parse("{'s': \"say 'hi'\"}"), "the other quote inside");
        assertEquals(dict("s", ""), parse("{'s': ''}"));
        assertEquals(dict("é", "ü"), parse("{'é': 'ü'}"), "non-ASCII (version 3 headers)");
    }

    /** Each refused form, the reason, and the character the message points at. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "''                         | expected '{'                    | 0",
        "'   '                      | expected '{'                    | 3",
        "'[1]'                      | expected '{'                    | 0",
        "'{'                        | unexpected end of header        | 1",
        "'{''a'': 1'                | expected ',' or '}'             | 7",
        "'{''a'' 1}'                | expected ':'                    | 5",
        "'{''a'': 1 ''b'': 2}'      | expected ',' or '}'             | 8",
        "'{''a'': }'                | expected a value                | 6",
        "'{''a'': @}'               | expected a value                | 6",
        "'{1: 2}'                   | dict key must be a string       | 1",
        "'{(''a'',): 2}'            | dict key must be a string       | 1",
        "'{''a'': 1, ''a'': 2}'     | duplicate key 'a'               | 9",
        "'{''a'': 1} x'             | unexpected text after the closing '}' | 9",
        "'{''a'': 1}}'              | unexpected text after the closing '}' | 8",
        "'{''a'': ''x}'             | unterminated string             | 6",
        "'{''a'': \"x''}'           | unterminated string             | 6",
        "'{''a'': (1, 2}'           | expected ',' or ')'             | 11",
        "'{''a'': [1, 2)}'          | expected ',' or ']'             | 11",
        "'{''a'': (1,, 2)}'         | expected a value                | 9",
        "'{''a'': (,)}'             | expected a value                | 7",
        "'{''a'': -}'               | expected digits                 | 6",
        "'{''a'': +x}'              | expected digits                 | 6",
        "'{''a'': 3.0}'             | expected an integer             | 6",
        "'{''a'': 3x}'              | expected an integer             | 6",
        "'{''a'': 3LL}'             | expected an integer             | 6",
        "'{''a'': 1e3}'             | expected an integer             | 6",
        "'{''a'': 9223372036854775808}' | integer out of range        | 6",
        "'{''a'': true}'            | unknown name 'true'             | 6",
        "'{''a'': nan}'             | unknown name 'nan'              | 6",
        "'{''a'': False_}'          | unknown name 'False_'           | 6",
    })
    void everyRefusedForm(String text, String reason, int at) {
        NpyFormatException e = assertThrows(NpyFormatException.class, () -> parse(text), text);
        assertTrue(e.reason().startsWith("malformed header: " + reason + " at character " + at + " of "),
                text + " -> " + e.reason());
        assertEquals(FILE, e.file());
        assertTrue(e.getMessage().startsWith("x.npy: malformed header: "));
    }

    @Test
    void aNewlineEndsAString() {
        NpyFormatException e = assertThrows(NpyFormatException.class, () -> parse("{'a': 'x\ny'}"));
        assertTrue(e.reason().contains("unterminated string at character 6"), e.reason());
        assertTrue(e.reason().endsWith("{'a': 'x\\ny'}"), "the text is quoted escaped, on one line: " + e.reason());
    }

    @ParameterizedTest
    @ValueSource(strings = {"\u0001", "\u007f", "\u0085", "\t", "\r"})
    void controlCharactersAreEscapedInMessages(String c) {
        NpyFormatException e = assertThrows(NpyFormatException.class, () -> parse("{'a" + c + "': 1 2}"));
        assertFalse(e.getMessage().contains(c), "raw control character in: " + e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void longHeadersAreCutInMessages() {
        String text = "{'a': '" + "x".repeat(500) + "' 1}";
        NpyFormatException e = assertThrows(NpyFormatException.class, () -> parse(text));
        assertTrue(e.reason().endsWith("x".repeat(193) + "..."), e.reason());
        assertTrue(e.reason().contains("at character 509 of {'a': 'xxx"), e.reason());
    }

    @Test
    void emptySequencesMayHoldWhitespace() throws NpyFormatException {
        assertEquals(dict("shape", tuple()), parse("{'shape': ( )}"));
        assertEquals(dict("a", List.of()), parse("{'a': [\n\t]}"));
    }

    @Test
    void theHeaderMayEndInsideAnyToken() {
        // a backslash, a name or a number as the last character: refused with a reason, never an
        // index out of bounds
        for (String[] c : new String[][] {{"{'a': 'x\\", "unterminated string at character 6"},
            {"{'a': True", "expected ',' or '}' at character 10"}, {"{'a': 12", "expected ',' or '}' at character 8"},
            {"{'a': (1,", "unexpected end of header at character 9"}}) {
            NpyFormatException e = assertThrows(NpyFormatException.class, () -> parse(c[0]), c[0]);
            assertTrue(e.reason().startsWith("malformed header: " + c[1] + " of "), c[0] + " -> " + e.reason());
        }
    }

    @Test
    void headersOfUpTo200CharactersAreShownWhole() {
        String text = "{'a': '" + "x".repeat(189) + "' 1}"; // 200 characters
        NpyFormatException e = assertThrows(NpyFormatException.class, () -> parse(text));
        assertTrue(e.reason().endsWith(" of " + text), e.reason());
        NpyFormatException longer = assertThrows(NpyFormatException.class, () -> parse(text + " "));
        assertTrue(longer.reason().endsWith(" of " + text), "trailing whitespace is stripped: " + longer.reason());
        NpyFormatException cut = assertThrows(NpyFormatException.class, () -> parse("{'a': '" + "x".repeat(190) + "' 1}"));
        assertTrue(cut.reason().endsWith("x".repeat(190) + "' 1..."), cut.reason());
    }

    @Test
    void reprIsPythonStyle() {
        assertEquals("'a\\nb'", NpyHeaderParser.repr("a\nb"));
        assertEquals("True", NpyHeaderParser.repr(true));
        assertEquals("False", NpyHeaderParser.repr(false));
        assertEquals("None", NpyHeaderParser.repr(NpyHeaderParser.NONE));
        assertEquals("12", NpyHeaderParser.repr(12L));
        assertEquals("()", NpyHeaderParser.repr(tuple()));
        assertEquals("(5,)", NpyHeaderParser.repr(tuple(5L)));
        assertEquals("(2, 'x')", NpyHeaderParser.repr(tuple(2L, "x")));
        assertEquals("[]", NpyHeaderParser.repr(List.of()));
        assertEquals("[(1,), [True]]", NpyHeaderParser.repr(List.of(tuple(1L), List.of(true))));
        assertEquals("a\\tb\\rc\\x01\\x7f\\x9f\u00a0é", NpyHeaderParser.escape("a\tb\rc\u0001\u007f\u009f\u00a0é"));
    }

    @Test
    void tuplesAreImmutableCopies() {
        List<Object> items = new java.util.ArrayList<>(List.of(1L));
        Tuple t = new Tuple(items);
        items.add(2L);
        assertEquals(1, t.items().size());
        assertThrows(UnsupportedOperationException.class, () -> t.items().add(3L));
    }
}

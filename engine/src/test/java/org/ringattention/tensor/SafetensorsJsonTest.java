package org.ringattention.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The safetensors header's JSON parser on its own: whitespace wherever RFC 8259 allows it, the
 * nesting limit counted per level (not per value), integers at the long boundary, escapes and
 * surrogate pairs, and for every refusal the reason and the character the message points at —
 * never an index out of bounds when the text ends inside a token.
 */
class SafetensorsJsonTest {

    private static final Path FILE = Path.of("x.safetensors");

    private static Object parse(String text) throws SafetensorsFormatException {
        return SafetensorsJson.parse(FILE, text);
    }

    private static void refused(String text, String reason) {
        SafetensorsFormatException e = assertThrows(SafetensorsFormatException.class, () -> parse(text), text);
        assertTrue(e.getMessage().contains("malformed header JSON at character " + reason), text + " -> " + e.getMessage());
    }

    @Test
    void whitespaceWhereverJsonAllowsIt() throws SafetensorsFormatException {
        Map<String, Object> want = new LinkedHashMap<>();
        want.put("a", List.of(1L, 2L));
        want.put("b", Map.of());
        want.put("c", List.of());
        assertEquals(want, parse(" \t\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } , \"c\" : [\r\n] } \n"));
        assertEquals(want, parse("{\"a\":[1,2],\"b\":{},\"c\":[]}"));
    }

    @Test
    void theNestingLimitCountsLevelsNotValues() throws SafetensorsFormatException {
        // many siblings at one level: depth returns after each
        StringBuilder objects = new StringBuilder("{");
        for (int i = 0; i < 20; i++) {
            objects.append(i == 0 ? "" : ",").append("\"k").append(i).append(i % 2 == 0 ? "\":{}" : "\":{\"x\":1}");
        }
        assertEquals(20, ((Map<?, ?>) parse(objects.append('}').toString())).size());
        String arrays = "[" + "[],[1],".repeat(20) + "[]]";
        assertEquals(41, ((List<?>) parse(arrays)).size());
        int max = SafetensorsJson.MAX_DEPTH;
        assertEquals(List.of(), unwrap(parse("[".repeat(max) + "]".repeat(max)), max - 1));
        refused("[".repeat(max + 1) + "]".repeat(max + 1), max + ": header nests deeper than " + max + " levels");
        parse("{\"a\":".repeat(max - 1) + "{}" + "}".repeat(max - 1));
        refused("{\"a\":".repeat(max) + "{}" + "}".repeat(max), (5 * max) + ": header nests deeper than");
    }

    private static Object unwrap(Object v, int levels) {
        for (int i = 0; i < levels; i++) {
            v = ((List<?>) v).get(0);
        }
        return v;
    }

    @Test
    void integersFitALongUpToItsLargestValue() throws SafetensorsFormatException {
        assertEquals(Long.MAX_VALUE, parse("9223372036854775807"));
        assertEquals(Long.MIN_VALUE, parse("-9223372036854775808"));
        assertEquals(new BigInteger("9223372036854775808"), parse("9223372036854775808"));
        assertEquals(0L, parse("0"));
        assertEquals(-0.5, parse("-5e-1"));
        assertEquals(12.5, parse("1.25E+1"));
    }

    @Test
    void escapesAndSurrogatePairs() throws SafetensorsFormatException {
        assertEquals("\"\\/\b\f\n\r\tA\u00e9", parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00E9\""));
        assertEquals("\ud83d\ude00", parse("\"\\ud83d\\ude00\""), "a surrogate pair is one code point");
        assertEquals("\" \"", SafetensorsJson.quote(" "), "a space is printable");
        assertEquals("\"\\u001f\\n\\\"\"", SafetensorsJson.quote("\u001f\n\""));
    }

    @Test
    void messagesShowControlCharactersAsEscapes() {
        // C0 and C1 controls and DEL escaped; space, '~' and no-break space (0xa0) kept
        assertEquals("\\x1f ~\\x7f\\x9f\u00a0\\x00", SafetensorsHeader.printable("\u001f ~\u007f\u009f\u00a0\u0000"));
        assertEquals("'a\\x0ab'", SafetensorsHeader.name("a\nb"));
    }

    @Test
    void textEndingInsideATokenIsRefusedWithAReason() {
        refused("{\"a\":", "5: unexpected end of header");
        refused("[1,", "3: unexpected end of header");
        refused("\"abc", "0: unterminated string");
        refused("\"ab\\", "4: unterminated string");
        refused("\"\\u0041", "0: unterminated string");
        refused("\"\\u00", "3: truncated \\u escape");
        refused("\"\\ud83d\"", "7: lone surrogate \\ud83d");
        refused("\"\\ude00\"", "7: lone surrogate \\ude00");
    }

    @Test
    void errorsPointAtTheOffendingCharacter() {
        refused("{\"a\":1 x}", "7: expected ',' or '}'");
        refused("[1 x]", "3: expected ',' or ']'");
        refused("\"ab\u0001\"", "3: raw control character in a string");
        refused("\"a\\qb\"", "3: invalid escape \\q");
        refused("{\"a\":1,\"a\":2}", "7: duplicate key \"a\"");
        refused("{} x", "3: unexpected text after the header's closing '}'");
    }
}

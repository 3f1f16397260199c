package org.ringattention.golden;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The JSON writer and reader of the golden manifest (Jackson underneath, the golden files' layout on top). */
class JsonTest {

    @Test
    void roundTripsWhatTheManifestUses() throws Exception {
        Map<String, Object> inner = new LinkedHashMap<>();
        inner.put("pi", Math.PI);
        inner.put("tiny", 5.960464477539063E-8);
        inner.put("neg", -0.25);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", "quote \" backslash \\ newline \n tab \t bell \u0007 é");
        m.put("n", 1025L);
        m.put("big", Long.MIN_VALUE);
        m.put("yes", true);
        m.put("none", null);
        m.put("list", List.of(1L, 2.5, "x", List.of()));
        m.put("objects", List.of(inner, Map.of()));
        String text = Json.write(m);
        assertThat(text).endsWith("}\n").contains("\"list\": [1, 2.5, \"x\", []]").contains("\\u0007");
        assertThat(Json.parse(text)).isEqualTo(m);
        assertThat(Json.parse(Json.writeCompact(m))).isEqualTo(m);
        assertThat(Json.writeCompact(m)).doesNotContain("\n");
        assertThat(Json.write(m)).isEqualTo(text); // deterministic
        assertThat(Json.parse("\"\\u00e9\\/\"")).isEqualTo("é/");
        assertThat(Json.parse(" [ 1e3 , -0 , 0.5E-1 ] ")).isEqualTo(List.of(1000.0, 0L, 0.05));
    }

    @Test
    void refusesWhatJsonCannotHold() {
        assertThatThrownBy(() -> Json.write(Double.NaN)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Json.write(Double.NEGATIVE_INFINITY)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Json.write(new Object())).isInstanceOf(IllegalArgumentException.class);
    }

    /** Jackson finds the errors; the messages keep its wording behind our line and column. */
    @Test
    void malformedTextGivesLineAndColumn() {
        assertError("{\n  \"a\": 1,\n  \"b\": tru\n}", "line 3, column 8: Unrecognized token 'tru'");
        assertError("{\"a\": 1, \"a\": 2}", "line 1, column 13: Duplicate field 'a'");
        assertError("[1, 2", "line 1, column 6: Unexpected end-of-input");
        assertError("[1] x", "line 1, column 5: Unrecognized token 'x'");
        assertError("01", "Leading zeroes not allowed");
        assertError("1.", "Decimal point not followed by a digit");
        assertError("99999999999999999999", "line 1, column 1: integer 99999999999999999999 is out of range");
        assertError("1e999", "line 1, column 1: number 1e999 is out of range");
        assertError("\"abc", "was expecting closing quote");
        assertError("\"a\u0001\"", "CTRL-CHAR, code 1");
        assertError("\"\\x\"", "Unrecognized character escape 'x'");
        assertError("", "unexpected end of text");
        assertError("[".repeat(100) + "]".repeat(100), "exceeds the maximum allowed (64");
        assertError("{1: 2}", "was expecting double-quote to start field name");
    }

    @Test
    void writesTheGoldenLayout() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("a", List.of(1L, List.of(Map.of("x", 0.5)), List.of()));
        m.put("e", Map.of());
        m.put("f", 1.0f);
        m.put("c", "\b\u001f");
        assertThat(Json.write(m)).isEqualTo("""
                {
                  "a": [1, [
                      {
                        "x": 0.5
                      }
                    ], []],
                  "e": {},
                  "f": 1.0,
                  "c": "\\u0008\\u001f"
                }
                """);
        assertThat(Json.writeCompact(m)).isEqualTo("{\"a\":[1,[{\"x\":0.5}],[]],\"e\":{},\"f\":1.0,\"c\":\"\\u0008\\u001f\"}");
    }

    private static void assertError(String text, String fragment) {
        assertThatThrownBy(() -> Json.parse(text)).isInstanceOf(Json.ParseException.class).hasMessageContaining(fragment);
    }
}

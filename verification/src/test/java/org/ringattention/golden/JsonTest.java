package org.ringattention.golden;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The small JSON writer and reader of the golden manifest. */
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

    @Test
    void malformedTextGivesLineAndColumn() {
        assertError("{\n  \"a\": 1,\n  \"b\": tru\n}", "line 3, column 8");
        assertError("{\"a\": 1, \"a\": 2}", "duplicate key \"a\"");
        assertError("[1, 2", "expected ',' or ']'");
        assertError("[1] x", "unexpected text after the JSON value");
        assertError("01", "unexpected text after");
        assertError("1.", "digits must follow '.'");
        assertError("99999999999999999999", "out of range");
        assertError("1e999", "out of range");
        assertError("\"abc", "unterminated string");
        assertError("\"a\u0001\"", "control character");
        assertError("\"\\x\"", "bad escape");
        assertError("", "unexpected end of text");
        assertError("[".repeat(100) + "]".repeat(100), "nested deeper than 64");
        assertError("{1: 2}", "expected a string key");
    }

    private static void assertError(String text, String fragment) {
        assertThatThrownBy(() -> Json.parse(text)).isInstanceOf(Json.ParseException.class).hasMessageContaining(fragment);
    }
}

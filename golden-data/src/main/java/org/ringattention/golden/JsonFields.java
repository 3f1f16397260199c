package org.ringattention.golden;

import java.util.List;
import java.util.Map;

/** Typed access to the members of a JSON object, with errors that say where and what. */
final class JsonFields {

    private final Map<String, Object> map;
    private final String where;

    JsonFields(Map<String, Object> map, String where) {
        this.map = map;
        this.where = where;
    }

    /** Wraps {@code value}, which must be an object. */
    @SuppressWarnings("unchecked")
    static JsonFields of(Object value, String where) {
        if (!(value instanceof Map<?, ?> m)) {
            throw new IllegalArgumentException(where + " must be a JSON object");
        }
        return new JsonFields((Map<String, Object>) m, where);
    }

    String where() {
        return where;
    }

    Map<String, Object> map() {
        return map;
    }

    boolean has(String key) {
        return map.containsKey(key) && map.get(key) != null;
    }

    Object get(String key) {
        if (!map.containsKey(key)) {
            throw new IllegalArgumentException(where + ": missing '" + key + "'");
        }
        return map.get(key);
    }

    String string(String key) {
        if (!(get(key) instanceof String s)) {
            throw new IllegalArgumentException(where + ": '" + key + "' must be a string");
        }
        return s;
    }

    boolean bool(String key) {
        if (!(get(key) instanceof Boolean b)) {
            throw new IllegalArgumentException(where + ": '" + key + "' must be true or false");
        }
        return b;
    }

    long longValue(String key) {
        if (!(get(key) instanceof Long l)) {
            throw new IllegalArgumentException(where + ": '" + key + "' must be an integer");
        }
        return l;
    }

    int integer(String key) {
        return toInt(longValue(key), where + ": '" + key + "'");
    }

    double number(String key) {
        Object v = get(key);
        if (v instanceof Long l) {
            return l;
        }
        if (!(v instanceof Double d)) {
            throw new IllegalArgumentException(where + ": '" + key + "' must be a number");
        }
        return d;
    }

    List<?> list(String key) {
        if (!(get(key) instanceof List<?> l)) {
            throw new IllegalArgumentException(where + ": '" + key + "' must be a list");
        }
        return l;
    }

    JsonFields object(String key) {
        return of(get(key), where + " '" + key + "'");
    }

    static int toInt(long v, String what) {
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(what + ": " + v + " is out of range");
        }
        return (int) v;
    }
}

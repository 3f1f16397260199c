package org.ringattention.cli;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;
import org.ringattention.ring.LinkModel;
import org.ringattention.ring.RingAttention;
import picocli.CommandLine.Option;

/** The options of ring attention over --devices simulated devices, for attend and bench. */
final class RingOptions {

    private static final Pattern QUANTITY = Pattern.compile("([0-9.]+(?:[eE][-+]?[0-9]+)?)\\s*([a-zA-Z/]*)");

    @Option(names = "--devices", paramLabel = "P", defaultValue = "1", description = "Ring attention over P"
            + " simulated devices (thread groups): each holds 1/P of the sequence and key/value shards travel round"
            + " the ring (default ${DEFAULT-VALUE}: blockwise attention on one device).")
    int devices;

    @Option(names = "--layout", paramLabel = "L", description = "Which tokens each device holds: contiguous, zigzag"
            + " (chunks i and 2P-1-i of 2P, balances causal work) or striped (token t on device t mod P). Default:"
            + " zigzag with a causal mask, else contiguous.")
    String layout;

    @Option(names = "--link-bandwidth", paramLabel = "B", description = "Simulated bandwidth of each ring link in"
            + " bytes/s, e.g. 2e9, 500M or 10G (decimal prefixes; default: unthrottled, a hop costs its copy).")
    String linkBandwidth;

    @Option(names = "--link-latency", paramLabel = "T", description = "Simulated latency of each hop, e.g. 0.001,"
            + " 1ms or 50us (default 0).")
    String linkLatency;

    /** Refuses values the ring cannot use, naming the option. */
    void check() {
        if (devices < 1 || devices > 4096) {
            throw CliException.usage("--devices must be between 1 and 4096, got " + devices);
        }
        if (layout != null) {
            try {
                Layout.parse(layout);
            } catch (IllegalArgumentException e) {
                throw CliException.usage("--layout: " + e.getMessage());
            }
        }
        link();
    }

    /** Refuses more devices than tokens: a device would hold nothing. */
    void checkLength(int shortest) {
        if (devices > shortest) {
            throw CliException.usage("--devices (" + devices + ") must be at most the sequence length (" + shortest
                    + ")");
        }
    }

    /** True when the run goes round a ring: several devices, or a simulated link asked for. */
    boolean active() {
        return devices > 1 || linkBandwidth != null || linkLatency != null || layout != null;
    }

    RingAttention engine(Kernels kernels, EngineOptions e) {
        return new RingAttention(kernels, e.blockQ, e.blockKv, e.threads(), devices,
                layout == null ? null : Layout.parse(layout), link());
    }

    LinkModel link() {
        double bandwidth = linkBandwidth == null ? Double.POSITIVE_INFINITY
                : quantity("--link-bandwidth", linkBandwidth, "bytes/s");
        double latency = linkLatency == null ? 0 : quantity("--link-latency", linkLatency, "s");
        if (!(bandwidth > 0)) {
            throw CliException.usage("--link-bandwidth must be > 0 bytes/s, got " + linkBandwidth);
        }
        return new LinkModel(bandwidth, latency);
    }

    /**
     * A number with an optional unit: for bytes/s the decimal prefixes k, M, G, T (with or without
     * "B/s"); for seconds s, ms, us or ns.
     */
    static double quantity(String option, String text, String unit) {
        Matcher m = QUANTITY.matcher(text.trim());
        if (!m.matches()) {
            throw CliException.usage(option + " must be a number" + (unit.equals("s") ? " of seconds (s, ms, us)"
                    : " of bytes/s (k, M, G)") + ", got '" + text + "'");
        }
        double x;
        try {
            x = Double.parseDouble(m.group(1));
        } catch (NumberFormatException e) {
            throw CliException.usage(option + " must be a number, got '" + text + "'");
        }
        String suffix = m.group(2).toLowerCase(Locale.ROOT);
        double factor = unit.equals("s") ? switch (suffix) {
            case "", "s" -> 1;
            case "ms" -> 1e-3;
            case "us" -> 1e-6;
            case "ns" -> 1e-9;
            default -> Double.NaN;
        } : switch (suffix.replace("b/s", "").replace("/s", "")) {
            case "" -> 1;
            case "k" -> 1e3;
            case "m" -> 1e6;
            case "g" -> 1e9;
            case "t" -> 1e12;
            default -> Double.NaN;
        };
        if (Double.isNaN(factor) || !Double.isFinite(x * factor)) {
            throw CliException.usage(option + ": unknown unit in '" + text + "'");
        }
        return x * factor;
    }
}

package org.ringattention.cli;

import org.ringattention.attention.LowPrecisionAttention;
import picocli.CommandLine.Option;

/**
 * {@code --emulate bfloat16|float16}: run the reference low-precision path
 * ({@link LowPrecisionAttention}) instead of the engine, the baseline an implementation in that
 * format is judged by.
 */
final class EmulateOption {

    @Option(names = "--emulate", paramLabel = "FORMAT", description = "Run the reference low-precision path"
            + " instead of the engine: inputs rounded to FORMAT (bfloat16 or float16), scores (with every score"
            + " rule) and softmax in float32, P rounded before P*V, float32 accumulation; O and the gradients are"
            + " written in FORMAT, LSE and --dsinks in float32. Its outputs serve as compare --baseline for implementations in FORMAT"
            + " (see docs/low-precision.md).")
    String emulate;

    /** The format asked for, or null; refuses unknown names and combinations that make no sense. */
    LowPrecisionAttention.Format format(boolean float64, boolean ring) {
        if (emulate == null) {
            return null;
        }
        LowPrecisionAttention.Format f = switch (emulate) {
            case "bfloat16" -> LowPrecisionAttention.Format.BFLOAT16;
            case "float16" -> LowPrecisionAttention.Format.FLOAT16;
            default -> throw CliException.usage("--emulate must be bfloat16 or float16, got '" + emulate + "'");
        };
        if (float64) {
            throw CliException.usage("--emulate " + emulate + " and --precision float64 exclude each other");
        }
        if (ring) {
            throw CliException.usage("--emulate runs the single-device reference path; it does not take --devices");
        }
        return f;
    }
}

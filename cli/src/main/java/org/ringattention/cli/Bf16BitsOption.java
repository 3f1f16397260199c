package org.ringattention.cli;

import picocli.CommandLine.Option;

/**
 * {@code --bf16-bits}: NumPy has no bfloat16, so besides ml_dtypes' {@code '<V2'} arrays (always
 * read as bfloat16) bfloat16 travels as its bit patterns in uint16 arrays ({@code x.view(np.uint16)});
 * this flag says that uint16 inputs are such patterns, and that bfloat16 outputs are written that
 * way too instead of as {@code '<V2'}.
 */
final class Bf16BitsOption {

    @Option(names = "--bf16-bits", description = "uint16 .npy inputs hold bfloat16 bit patterns (x.view(np.uint16));"
            + " bfloat16 .npy outputs are written so too, instead of as ml_dtypes' '<V2'.")
    boolean bf16Bits;
}

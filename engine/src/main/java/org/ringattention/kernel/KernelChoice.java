package org.ringattention.kernel;

/**
 * Chooses the kernels once, at first use (a holder class: the JVM runs this initialization once,
 * thread-safely). The Vector API lives in an incubator module that must be added on the command
 * line; without it, loading {@link VectorKernels} fails and the scalar twin takes over.
 */
final class KernelChoice {

    /** System property that selects the kernels: "auto" (default), "scalar" or "vector". */
    static final String PROPERTY = "ringattention.kernels";

    static final Kernels PREFERRED = choose();

    private KernelChoice() {
    }

    static Kernels vector() {
        try {
            return VectorKernels.INSTANCE;
        } catch (LinkageError | UnsupportedOperationException e) {
            throw new UnsupportedOperationException("Vector API kernels unavailable: " + e
                    + " (run java with --add-modules jdk.incubator.vector)", e);
        }
    }

    private static Kernels choose() {
        String wanted = System.getProperty(PROPERTY, "auto");
        if (wanted.equals("scalar")) {
            return ScalarKernels.INSTANCE;
        }
        try {
            return vector();
        } catch (UnsupportedOperationException e) {
            if (wanted.equals("vector")) {
                throw e;
            }
            System.getLogger(KernelChoice.class.getName()).log(System.Logger.Level.WARNING,
                    "ring-attention: using the scalar kernels, about 10x slower: " + e.getMessage());
            return ScalarKernels.INSTANCE;
        }
    }
}

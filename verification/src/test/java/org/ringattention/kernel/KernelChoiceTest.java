package org.ringattention.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/** Each surefire execution runs the kernels it claims to run. */
class KernelChoiceTest {

    @Test
    void theExecutionUsesTheKernelsItNames() {
        String forced = System.getProperty(KernelChoice.PROPERTY, "auto");
        boolean narrow = ManagementFactory.getRuntimeMXBean().getInputArguments().contains("-XX:MaxVectorSize=32");
        if (forced.equals("scalar")) {
            assertThat(Kernels.preferred().name()).isEqualTo("scalar");
        } else if (narrow) {
            assertThat(Kernels.preferred().name()).isEqualTo("vector-256");
        } else {
            assertThat(Kernels.preferred().name()).startsWith("vector-");
        }
    }
}

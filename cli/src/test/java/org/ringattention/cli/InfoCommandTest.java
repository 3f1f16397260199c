package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.ringattention.golden.Json;
import org.ringattention.kernel.Kernels;

/** info: the JDK, the Vector API and the CPU, as text and as JSON. */
class InfoCommandTest {

    @Test
    void textNamesTheJdkTheVectorApiAndTheKernels() {
        CliRun r = CliRun.of("info");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("java ").contains(Runtime.version().toString()).contains("java.home")
                .contains("vector API").contains("jdk.incubator.vector present")
                .contains("FloatVector.SPECIES_PREFERRED").contains("kernels").contains(Kernels.preferred().name())
                .contains("SIMD path").contains("cpu").contains("available processors").contains("max heap");
    }

    @Test
    void jsonIsOneObject() throws Json.ParseException {
        CliRun r = CliRun.of("info", "--json");
        assertThat(r.code()).isZero();
        assertThat(r.out().lines().count()).isEqualTo(1);
        Map<?, ?> m = (Map<?, ?>) Json.parse(r.out());
        assertThat(m.get("available_processors")).isEqualTo((long) Runtime.getRuntime().availableProcessors());
        assertThat(m.get("kernels")).isEqualTo(Kernels.preferred().name());
        Map<?, ?> v = (Map<?, ?>) m.get("vector");
        assertThat(v.get("present")).isEqualTo(true); // the build passes --add-modules jdk.incubator.vector
        assertThat((Long) v.get("bits")).isGreaterThanOrEqualTo(64L);
        assertThat((Long) v.get("lanes")).isEqualTo((Long) v.get("bits") / 32);
        assertThat(m.get("simd_active")).isEqualTo(!Kernels.preferred().name().equals(Kernels.scalar().name()));
    }
}

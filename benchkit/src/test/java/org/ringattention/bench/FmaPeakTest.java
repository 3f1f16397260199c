package org.ringattention.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** FmaPeak: the loops compute what they say, the measurement reports positive rates, bad arguments fail. */
class FmaPeakTest {

    private static final Duration SHORT = Duration.ofMillis(50);

    @Test
    void chainsConvergeToOneSoTheLoopsStayFinite() {
        // every chain tends to 1 (to within rounding), so the 16 chains sum to about 16, from any start in [0, 1]
        assertThat(FmaPeak.scalarChunk(1 << 20, 0.3f)).isCloseTo(16f, org.assertj.core.data.Offset.offset(0.05f));
        assertThat(FmaPeak.scalarChunk(0, 0f)).isEqualTo(7.5f); // 0 + 1/16 + ... + 15/16
        int lanes = FmaPeak.lanes(FmaPeak.Kind.VECTOR);
        assertThat(lanes).isGreaterThanOrEqualTo(2); // surefire loads jdk.incubator.vector
        assertThat(FmaPeak.vectorChunk(1 << 20, 0.3f)).isCloseTo(16f * lanes,
                org.assertj.core.data.Offset.offset(0.05f * lanes));
    }

    @Test
    void countsTwoFlopsPerLanePerFma() {
        assertThat(FmaPeak.flops(FmaPeak.Kind.SCALAR, 10)).isEqualTo(10L * FmaPeak.CHAINS * 2);
        assertThat(FmaPeak.flops(FmaPeak.Kind.VECTOR, 10))
                .isEqualTo(10L * FmaPeak.CHAINS * 2 * FmaPeak.lanes(FmaPeak.Kind.VECTOR));
    }

    @Test
    void measuresPositiveRatesOnOneAndTwoThreads() {
        for (int threads = 1; threads <= 2; threads++) {
            FmaPeak.Result scalar = FmaPeak.measure(FmaPeak.Kind.SCALAR, threads, Duration.ofMillis(20), SHORT);
            assertThat(scalar.available()).isTrue();
            assertThat(scalar.gflops()).isPositive();
            assertThat(scalar.threads()).isEqualTo(threads);
            assertThat(scalar.lanes()).isEqualTo(1);
            FmaPeak.Result vector = FmaPeak.measure(FmaPeak.Kind.VECTOR, threads, Duration.ofMillis(20), SHORT);
            assertThat(vector.available()).as(vector.toString()).isTrue();
            assertThat(vector.gflops()).isPositive();
            assertThat(vector.lanes()).isEqualTo(FmaPeak.lanes(FmaPeak.Kind.VECTOR));
            assertThat(vector.note()).isNull();
            assertThat(vector.toString()).contains("GFLOP/s");
        }
        assertThat(FmaPeak.vectorProblem()).isNull();
    }

    @Test
    void rejectsBadArguments() {
        assertThatThrownBy(() -> FmaPeak.measure(FmaPeak.Kind.SCALAR, 0, SHORT))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> FmaPeak.measure(FmaPeak.Kind.SCALAR, 1, Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void describesTheMachine() {
        assertThat(MachineInfo.cpuModel()).isNotBlank();
        assertThat(MachineInfo.javaVersion()).startsWith(Runtime.version().toString());
        assertThat(MachineInfo.processors()).isPositive();
        assertThat(MachineInfo.cpuDescription()).startsWith(MachineInfo.cpuModel());
        Integer family = MachineInfo.cpuFamily();
        if (family != null) {
            assertThat(family).isPositive();
            assertThat(MachineInfo.cpuDescription()).endsWith("(family " + family + ")");
        }
    }
}

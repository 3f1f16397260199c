package org.ringattention.ring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.Positions;
import org.ringattention.attention.Problem;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;

/** Layouts, memory per device, simulated links and failures of the ring. */
class RingRuntimeTest {

    /**
     * Far beyond what any of these runs takes even on a loaded machine; reached only by a hang. Ten
     * minutes, not one: a shared machine may stop the whole JVM for a minute or two.
     */
    private static final Duration HANG = Duration.ofMinutes(10);

    @Test
    void layoutsCoverEverySequencePositionOnce() {
        for (Layout layout : Layout.values()) {
            for (int n : new int[] {1, 7, 97, 1025}) {
                for (int p = 1; p <= 8; p++) {
                    int[] seen = new int[n];
                    int min = Integer.MAX_VALUE;
                    int max = 0;
                    for (Positions shard : layout.split(n, p)) {
                        for (int r = 0; r < shard.length(); r++) {
                            seen[shard.at(r)]++;
                        }
                        min = Math.min(min, shard.length());
                        max = Math.max(max, shard.length());
                    }
                    assertThat(seen).as("%s n=%d P=%d", layout, n, p).containsOnly(1);
                    // near-equal shards: at most one token apart (two for zigzag's two chunks)
                    assertThat(max - min).as("%s n=%d P=%d", layout, n, p).isLessThanOrEqualTo(
                            layout == Layout.ZIGZAG ? 2 : 1);
                }
            }
        }
        assertThat(Layout.ZIGZAG.split(8, 2)[0].toString()).isEqualTo("[0, 1, 6, 7]");
        assertThat(Layout.STRIPED.split(8, 3)[1].toString()).isEqualTo("[1, 4, 7]");
    }

    /** The target of the zigzag layout: balanced causal work (≤ 1.05), where contiguous is not. */
    @Test
    void zigzagBalancesCausalWork() {
        Problem p = problem(1, 2, 2048, 16, AttentionSpec.DEFAULT.withCausal(true));
        double zigzag = report(p, 4, Layout.ZIGZAG, 64).imbalance();
        double striped = report(p, 4, Layout.STRIPED, 64).imbalance();
        double contiguous = report(p, 4, Layout.CONTIGUOUS, 64).imbalance();
        assertThat(zigzag).isLessThanOrEqualTo(1.05);
        assertThat(striped).isLessThanOrEqualTo(1.05);
        // contiguous: device i sees (2i + 1) / 16 of the causal pairs, the last 7/4 of the mean
        assertThat(contiguous).isBetween(1.6, 1.8);
    }

    /** Per-device memory follows N / P and the block sizes, not N. */
    @Test
    void memoryPerDeviceDependsOnShardNotSequence() {
        long small = report(problem(1, 2, 512, 32, AttentionSpec.DEFAULT), 2, Layout.CONTIGUOUS, 64)
                .maxBytesPerDevice();
        long large = report(problem(1, 2, 2048, 32, AttentionSpec.DEFAULT), 8, Layout.CONTIGUOUS, 64)
                .maxBytesPerDevice();
        long longer = report(problem(1, 2, 2048, 32, AttentionSpec.DEFAULT), 2, Layout.CONTIGUOUS, 64)
                .maxBytesPerDevice();
        assertThat(large).as("N = 2048 on 8 devices vs N = 512 on 2").isEqualTo(small);
        assertThat(longer).as("4x the shard").isGreaterThan(3 * small);
        // the bytes are what the buffers hold: q, O, state and LSE of 256 rows; two K/V buffers
        long rows = 256L * 2; // rows × heads
        long expected = 4 * (rows * 32 * 3 + rows * 3 + 2 * 2 * rows * 32);
        assertThat(small).isEqualTo(expected);
    }

    @Test
    void simulatedLinkTakesTheModelledTimeAndHidesBehindLongSteps() {
        Problem p = problem(1, 1, 1024, 64, AttentionSpec.DEFAULT);
        // K and V of a 256-row shard: 2 * 256 * 64 * 4 = 128 KiB; at 20 MB/s a hop takes 6.6 ms + 2 ms
        LinkModel slow = new LinkModel(20e6, 0.002);
        RingReport r = new RingAttention(Kernels.preferred(), 64, 64, 2, 4, Layout.CONTIGUOUS, slow)
                .forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec()).report();
        long hop = slow.nanosFor(2L * 256 * 64 * 4);
        for (StepRecord s : r.steps()) {
            if (s.step() < 3) {
                assertThat(s.bytesSent()).isEqualTo(2L * 256 * 64 * 4);
                assertThat(s.transferNanos()).as("transfer of %s", s).isGreaterThanOrEqualTo(hop);
            } else {
                assertThat(s.bytesSent()).isZero();
            }
        }
        assertThat(r.overlap()).isBetween(0.0, 1.0);
        assertThat(r.bytesSent()).isEqualTo(4 * 3 * 2L * 256 * 64 * 4);
    }

    @Test
    void backwardShardsComeHomeWithTheirGradients() {
        Problem p = problem(1, 2, 300, 16, AttentionSpec.DEFAULT.withCausal(true));
        RingAttention.Backward b = RingProperties.ring(32, 48, 2, 3, Layout.ZIGZAG)
                .backward(p.qTensor(), p.kTensor(), p.vTensor(), p.dOutTensor(), p.spec());
        // P sends per device, each K, V, dK and dV of a 100-row shard of 2 heads
        assertThat(b.report().bytesSent()).isEqualTo(3 * 3 * 4L * 100 * 2 * 16 * 4);
        assertThat(b.forwardReport().bytesSent()).isEqualTo(3 * 2 * 2L * 100 * 2 * 16 * 4);
    }

    /** gradients, given the forward result, runs the backward pass's tasks and no forward task. */
    @Test
    void gradientsDoNotRunTheForwardPassAgain() {
        Problem p = problem(1, 2, 200, 16, AttentionSpec.DEFAULT.withCausal(true));
        AtomicInteger tasks = new AtomicInteger();
        RingAttention ring = RingProperties.ring(16, 32, 2, 3, Layout.ZIGZAG)
                .withFaults((d, s) -> tasks.incrementAndGet());
        AttentionOutput fwd = ring.attend(p.qTensor(), p.kTensor(), p.vTensor(), p.spec());
        int forwardTasks = tasks.getAndSet(0);
        ring.backward(p.qTensor(), p.kTensor(), p.vTensor(), p.dOutTensor(), p.spec());
        int bothPasses = tasks.getAndSet(0);
        RingAttention.Backward given = ring.backward(p.qTensor(), p.kTensor(), p.vTensor(), fwd, p.dOutTensor(),
                p.spec());
        int backwardTasks = tasks.getAndSet(0);
        ring.gradients(p.qTensor(), p.kTensor(), p.vTensor(), fwd, p.dOutTensor(), p.spec());
        // 3 devices x 3 steps; per step forward 2 heads x 5 query blocks: the first 6 in groups of at
        // most 4 within a head (3 tasks), the last 4 as two halves each (8); backward 2 heads x 3 key blocks
        assertThat(forwardTasks).isEqualTo(9 * 11);
        assertThat(bothPasses).isEqualTo(9 * (11 + 6));
        assertThat(backwardTasks).isEqualTo(9 * 6);
        assertThat(tasks.get()).as("tasks of gradients").isEqualTo(9 * 6);
        assertThat(given.forwardReport()).isNull();
        assertThat(given.output()).isSameAs(fwd);
        assertThat(given.report().bytesSent()).isPositive();
    }

    @Test
    void aFailingDeviceStopsTheRingNamingDeviceAndStep() throws InterruptedException {
        SplittableRandom rnd = new SplittableRandom(7);
        Problem p = problem(1, 2, 512, 32, AttentionSpec.DEFAULT);
        for (int trial = 0; trial < 8; trial++) {
            int devices = 2 + rnd.nextInt(5);
            int device = rnd.nextInt(devices);
            int step = rnd.nextInt(devices);
            boolean backward = rnd.nextBoolean();
            RingAttention ring = RingProperties.ring(32, 32, 2, devices, Layout.CONTIGUOUS)
                    .withFaults((d, s) -> {
                        if (d == device && s == step) {
                            throw new IllegalStateException("injected fault");
                        }
                    });
            assertThatThrownBy(() -> runBounded(ring, p, backward))
                    .isInstanceOf(RingFailure.class)
                    .hasMessageContaining("device " + device + " failed at step " + step)
                    .hasMessageContaining("injected fault")
                    .satisfies(e -> assertThat(((RingFailure) e).device()).isEqualTo(device));
            assertNoRingThreadsLeft();
        }
    }

    @Test
    void nonFiniteInputsAreRefusedNamingTheFirstOne() {
        Problem p = problem(1, 2, 120, 8, AttentionSpec.DEFAULT);
        Tensor k = p.kTensor();
        Tensor v = p.vTensor();
        k.set(0, 1, 119, 7, Float.NaN);
        k.set(0, 1, 90, 3, Float.NEGATIVE_INFINITY);
        v.set(0, 0, 0, 0, Float.NaN);
        RingAttention ring = RingProperties.ring(32, 48, 2, 3, Layout.ZIGZAG);
        assertThatThrownBy(() -> ring.forward(p.qTensor(), k, v, p.spec()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("k contains -Infinity at [0, 1, 90, 3]");
        Tensor dOut = p.dOutTensor();
        dOut.set(0, 1, 5, 2, Float.POSITIVE_INFINITY);
        assertThatThrownBy(() -> ring.backward(p.qTensor(), p.kTensor(), p.vTensor(), dOut, p.spec()))
                .hasMessageContaining("dO contains Infinity at [0, 1, 5, 2]");
    }

    @Test
    void anInterruptedDeviceStopsTheRing() throws InterruptedException {
        Problem p = problem(1, 1, 512, 32, AttentionSpec.DEFAULT);
        // A slow link keeps the other devices waiting: each hop takes at least 0.5 s. The interrupt
        // must end the ring where it is: no device gets to the last step, which a ring that went on
        // would reach after two more hops. No wall-clock limit: the outcome is asserted instead.
        AtomicBoolean interrupted = new AtomicBoolean();
        AtomicInteger laterSteps = new AtomicInteger();
        RingAttention ring = new RingAttention(Kernels.preferred(), 32, 32, 2, 4, Layout.CONTIGUOUS,
                new LinkModel(1e6, 0.5)).withFaults((d, s) -> {
                    if (d == 2 && s == 1 && interrupted.compareAndSet(false, true)) {
                        Thread.currentThread().interrupt();
                    } else if (interrupted.get() && s == 3) {
                        laterSteps.incrementAndGet();
                    }
                });
        assertThatThrownBy(() -> runBounded(ring, p, false))
                .isInstanceOf(RingFailure.class)
                .hasMessageContaining("device 2 was interrupted at step 1")
                .satisfies(e -> assertThat(((RingFailure) e).device()).isEqualTo(2));
        assertThat(interrupted).isTrue();
        assertThat(laterSteps).as("tasks of the last step started after the interrupt").hasValue(0);
        assertNoRingThreadsLeft();
    }

    /**
     * A task that never ends: once nothing has happened for the stall timeout the ring fails, naming
     * the device furthest behind. Device 0 is held at its first task, so it is that device whenever
     * the supervisor looks (the first of those at the lowest step): the message does not depend on
     * how far the others got, nor on the machine stopping the JVM meanwhile.
     */
    @Test
    void aRingInWhichNothingHappensFailsNamingTheDeviceFurthestBehind() throws InterruptedException {
        Problem p = problem(1, 1, 96, 8, AttentionSpec.DEFAULT);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean held = new AtomicBoolean();
        RingAttention ring = RingProperties.ring(32, 32, 2, 3, Layout.CONTIGUOUS)
                .withStallTimeout(Duration.ofSeconds(1))
                .withFaults((d, s) -> {
                    if (d == 0 && s == 0 && held.compareAndSet(false, true)) {
                        release.await(HANG.toMillis(), TimeUnit.MILLISECONDS);
                    }
                });
        try {
            assertThatThrownBy(() -> runBounded(ring, p, false))
                    .isInstanceOf(RingFailure.class)
                    .hasMessageStartingWith("device 0 stalled (nothing happened for 1 s; waiting for ")
                    .hasMessageEndingWith(") at step 0")
                    .satisfies(e -> assertThat(((RingFailure) e).device()).isZero())
                    .satisfies(e -> assertThat(((RingFailure) e).step()).isZero());
        } finally {
            release.countDown();
        }
        assertThat(held).as("the task was held").isTrue();
        assertNoRingThreadsLeft();
    }

    /** The caller interrupted while it waits for the ring: the ring stops, the interrupt is kept. */
    @Test
    void anInterruptedCallerStopsTheRingAndKeepsItsInterrupt() throws InterruptedException {
        Problem p = problem(1, 1, 96, 8, AttentionSpec.DEFAULT);
        AtomicReference<Thread> caller = new AtomicReference<>();
        AtomicBoolean interruptKept = new AtomicBoolean();
        AtomicBoolean sent = new AtomicBoolean();
        // each hop takes at least 0.5 s: the ring is still running when the caller is interrupted
        RingAttention ring = new RingAttention(Kernels.preferred(), 32, 32, 2, 3, Layout.CONTIGUOUS,
                new LinkModel(1e6, 0.5)).withFaults((d, s) -> {
                    if (d == 1 && s == 1 && sent.compareAndSet(false, true)) {
                        caller.get().interrupt();
                    }
                });
        RingFailure f = assertTimeoutPreemptively(HANG, () -> {
            caller.set(Thread.currentThread());
            try {
                ring.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec());
                return null;
            } catch (RingFailure e) {
                interruptKept.set(Thread.interrupted());
                return e;
            }
        });
        assertThat(f).as("the ring failed").isNotNull()
                .hasMessage("interrupted while waiting for the ring")
                .hasCauseInstanceOf(InterruptedException.class);
        assertThat(f.device()).isEqualTo(-1);
        assertThat(f.step()).isEqualTo(-1);
        assertThat(interruptKept).as("the caller's interrupt is set again").isTrue();
        assertNoRingThreadsLeft();
    }

    /**
     * Each device run on its own by {@link RingAttention#runDevice}, joined to the others by links
     * (here in-process links shared by three threads, as MPI ranks would be): forward and backward
     * give each device the rows of the whole ring's results, bit for bit; without dO the forward
     * pass only. A device checks the rows of q it holds before it joins the ring.
     */
    @Test
    void devicesRunOnTheirOwnGiveTheRowsOfTheWholeRing() throws Exception {
        Problem p = problem(2, 2, 100, 8, AttentionSpec.DEFAULT.withCausal(true));
        int devices = 3;
        RingAttention ring = RingProperties.ring(16, 8, 1, devices, Layout.ZIGZAG);
        RingAttention.Backward whole = ring.backward(p.qTensor(), p.kTensor(), p.vTensor(), p.dOutTensor(),
                p.spec());
        for (boolean backward : new boolean[] {true, false}) {
            DeviceResult[] results = assertTimeoutPreemptively(HANG,
                    () -> DeviceThreads.run(ring, p, devices, backward, Links.inProcess(LinkModel.UNTHROTTLED)));
            for (int i = 0; i < devices; i++) {
                DeviceResult r = results[i];
                String at = "device " + i + (backward ? " backward" : " forward");
                assertThat(r.device()).isEqualTo(i);
                Positions rows = r.queryRows();
                assertThat(rows.toString()).isEqualTo(Layout.ZIGZAG.split(100, devices)[i].toString());
                assertArrayEquals(Shards.gather(whole.output().out(), rows).toArray(), r.out().toArray(), at + " O");
                assertArrayEquals(Shards.gatherRows(whole.output().lse(), rows, 100), r.lse(), at + " LSE");
                assertThat(r.forward().steps()).as(at).hasSize(devices);
                if (backward) {
                    Positions keys = r.keyRows();
                    assertArrayEquals(Shards.gather(whole.gradients().dq(), rows).toArray(), r.dq().toArray(),
                            at + " dQ");
                    assertArrayEquals(Shards.gather(whole.gradients().dk(), keys).toArray(), r.dk().toArray(),
                            at + " dK");
                    assertArrayEquals(Shards.gather(whole.gradients().dv(), keys).toArray(), r.dv().toArray(),
                            at + " dV");
                    assertThat(r.backward().steps()).as(at).hasSize(devices);
                    assertThat(r.backward().bytesSent()).as(at).isEqualTo(
                            whole.report().steps().stream().filter(st -> st.device() == r.device())
                                    .mapToLong(StepRecord::bytesSent).sum());
                } else {
                    assertThat(r.dq()).isNull();
                    assertThat(r.dk()).isNull();
                    assertThat(r.dv()).isNull();
                    assertThat(r.backward()).isNull();
                }
            }
        }
        assertNoRingThreadsLeft();

        // every device finds a NaN in its rows of dO after the forward pass, before the backward
        // pass starts: no device waits for another that gave up
        Tensor badDo = p.dOutTensor();
        for (int i = 0; i < devices; i++) {
            badDo.set(0, 1, Layout.ZIGZAG.split(100, devices)[i].at(2), 3, Float.NaN);
        }
        Links links = Links.inProcess(LinkModel.UNTHROTTLED);
        Throwable[] refused = assertTimeoutPreemptively(HANG,
                () -> DeviceThreads.attempt(ring, p, devices, badDo, links, new DeviceResult[devices]));
        for (int i = 0; i < devices; i++) {
            assertThat(refused[i]).as("device %d", i).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("dO (rows of device " + i + ") contains NaN at [0, 1, 2, 3] (inputs must be finite)");
        }
        assertNoRingThreadsLeft();

        Tensor q = p.qTensor();
        q.set(1, 1, 0, 5, Float.NaN); // token 0 is device 0's under every layout
        assertThatThrownBy(() -> ring.runDevice(0, q, p.kTensor(), p.vTensor(), null, p.spec(),
                Links.inProcess(LinkModel.UNTHROTTLED)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("q (rows of device 0) contains NaN at [1, 1, 0, 5] (inputs must be finite)");
    }

    /**
     * What a report says agrees with what the run did, whatever the machine's speed: the steps'
     * compute and wait times fit in the pass's wall time, which fits in the time the caller waited;
     * a hop takes at least the model's time (K and V, then dK and dV at the model's bandwidth);
     * the workers' bytes follow the thread count; the backward pass does not count the forward's
     * tiles again.
     */
    @Test
    void reportsAgreeWithWhatTheRunDid() {
        Problem p = problem(1, 1, 96, 8, AttentionSpec.DEFAULT.withCausal(true));
        LinkModel slow = new LinkModel(20e6, 0.002);
        long kvBytes = 2L * 32 * 8 * Float.BYTES; // K and V of a 32-row shard
        RingAttention ring = new RingAttention(Kernels.preferred(), 16, 16, 2, 3, Layout.CONTIGUOUS, slow);
        long t0 = System.nanoTime();
        RingAttention.Forward fwd = ring.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec());
        long forwardElapsed = System.nanoTime() - t0;
        t0 = System.nanoTime();
        RingAttention.Backward both = ring.backward(p.qTensor(), p.kTensor(), p.vTensor(), p.dOutTensor(), p.spec());
        long backwardElapsed = System.nanoTime() - t0;

        assertThat(fwd.report().wallNanos()).isPositive().isLessThanOrEqualTo(forwardElapsed);
        assertThat(both.forwardReport().wallNanos() + both.report().wallNanos()).isLessThanOrEqualTo(backwardElapsed);
        assertSteps(fwd.report(), 2, kvBytes, slow.nanosFor(kvBytes));
        assertSteps(both.forwardReport(), 2, kvBytes, slow.nanosFor(kvBytes));
        assertSteps(both.report(), 3, 2 * kvBytes, slow.nanosFor(kvBytes) + slow.bandwidthNanos(kvBytes));

        assertThat(fwd.output().tilesComputed()).isPositive();
        assertThat(both.output().tilesComputed()).as("tiles after both passes").isEqualTo(
                fwd.output().tilesComputed());
        assertThat(both.output().tilesSkipped()).isEqualTo(fwd.output().tilesSkipped()).isPositive();
        long oneWorker = new RingAttention(Kernels.preferred(), 16, 16, 1, 3, Layout.CONTIGUOUS, slow)
                .forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec()).report().workspaceBytes();
        assertThat(oneWorker).isPositive();
        assertThat(fwd.report().workspaceBytes()).as("two workers").isEqualTo(2 * oneWorker);
    }

    /** Every step of {@code r}: times within the pass; the first {@code sends} steps carry a hop. */
    private static void assertSteps(RingReport r, int sends, long bytes, long minTransferNanos) {
        assertThat(r.steps()).hasSize(3 * 3);
        for (StepRecord s : r.steps()) {
            assertThat(s.computeNanos()).as("compute of %s", s).isNotNegative();
            assertThat(s.waitNanos()).as("wait of %s", s).isNotNegative();
            assertThat(s.computeNanos() + s.waitNanos()).as("%s within the pass", s).isLessThanOrEqualTo(
                    r.wallNanos());
            if (s.step() < sends) {
                assertThat(s.bytesSent()).as("%s", s).isEqualTo(bytes);
                assertThat(s.transferNanos()).as("%s", s).isBetween(minTransferNanos, r.wallNanos());
            } else {
                assertThat(s.bytesSent()).as("%s", s).isZero();
                assertThat(s.transferNanos()).as("%s", s).isZero();
            }
        }
    }

    /** No thread of a run ends on an uncaught exception (a worker per thread asked for, each with its workspace). */
    @Test
    void noRingThreadEndsOnAnUncaughtException() {
        Thread.UncaughtExceptionHandler before = Thread.getDefaultUncaughtExceptionHandler();
        List<String> uncaught = Collections.synchronizedList(new ArrayList<>());
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> uncaught.add(t.getName() + ": " + e));
        try {
            Problem p = problem(1, 2, 96, 8, AttentionSpec.DEFAULT.withCausal(true));
            for (int devices : new int[] {1, 3}) {
                RingProperties.ring(16, 16, 2, devices, Layout.ZIGZAG)
                        .backward(p.qTensor(), p.kTensor(), p.vTensor(), p.dOutTensor(), p.spec());
            }
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(before);
        }
        // the ring joins its threads before it returns, so their handlers have run by now
        assertThat(uncaught).as("uncaught exceptions in ring threads").isEmpty();
    }

    @Test
    void badArgumentsAreRefusedNamingTheirValues() {
        Kernels kernels = Kernels.preferred();
        LinkModel none = LinkModel.UNTHROTTLED;
        assertThatThrownBy(() -> new RingAttention(kernels, 0, 8, 1, 2, null, none))
                .hasMessage("block sizes must be >= 1, got block-q 0, block-kv 8");
        assertThatThrownBy(() -> new RingAttention(kernels, 8, 0, 1, 2, null, none))
                .hasMessage("block sizes must be >= 1, got block-q 8, block-kv 0");
        assertThatThrownBy(() -> new RingAttention(kernels, 8, 8, 0, 2, null, none))
                .hasMessage("threads must be >= 1, got 0");
        assertThatThrownBy(() -> new RingAttention(kernels, 8, 8, 1, 0, null, none))
                .hasMessage("devices must be >= 1, got 0");
        RingAttention ring = new RingAttention(kernels, 16, 8, 2, 3, null, none);
        assertThatThrownBy(() -> ring.withStallTimeout(Duration.ofNanos(-1)))
                .hasMessage("the stall timeout must be >= 0, got -1 ns");
        assertThat(ring.devices()).isEqualTo(3);
        assertThat(ring.layoutFor(AttentionSpec.DEFAULT.withCausal(true))).isEqualTo(Layout.defaultFor(true));
        assertThat(ring.layoutFor(AttentionSpec.DEFAULT)).isEqualTo(Layout.defaultFor(false));
        RingAttention striped = new RingAttention(kernels, 16, 8, 2, 3, Layout.STRIPED, none);
        assertThat(striped.layoutFor(AttentionSpec.DEFAULT.withCausal(true))).isEqualTo(Layout.STRIPED);
        assertThat(ring.describe()).isEqualTo("ring float32 over 3 devices, blocks 16x8, " + kernels.name()
                + " kernels, 2 threads");
        assertThat(striped.describe()).isEqualTo("ring float32 over 3 devices, " + Layout.STRIPED
                + " layout, blocks 16x8, " + kernels.name() + " kernels, 2 threads");

        Problem p = problem(1, 2, 30, 8, AttentionSpec.DEFAULT);
        Links links = Links.inProcess(none);
        for (int device : new int[] {-1, 3}) {
            assertThatThrownBy(() -> ring.runDevice(device, p.qTensor(), p.kTensor(), p.vTensor(), null, p.spec(),
                    links)).hasMessage("device " + device + " is not one of 0..2");
        }
        Tensor shortDo = Tensor.zeros(1, 2, 29, 8);
        assertThatThrownBy(() -> ring.runDevice(1, p.qTensor(), p.kTensor(), p.vTensor(), shortDo, p.spec(), links))
                .hasMessage("dO has shape " + shortDo.shape() + ", expected the shape of q " + p.qTensor().shape());
        assertThatThrownBy(() -> ring.backward(p.qTensor(), p.kTensor(), p.vTensor(), shortDo, p.spec()))
                .hasMessage("dO has shape " + shortDo.shape() + ", expected the shape of q " + p.qTensor().shape());
        AttentionOutput fwd = ring.attend(p.qTensor(), p.kTensor(), p.vTensor(), p.spec());
        AttentionOutput fewLse = new AttentionOutput(fwd.out(), new float[59], 0, 0);
        assertThatThrownBy(() -> ring.gradients(p.qTensor(), p.kTensor(), p.vTensor(), fewLse, p.dOutTensor(),
                p.spec())).hasMessage("the forward result O " + fwd.out().shape()
                        + " with 59 LSE values does not fit q " + p.qTensor().shape());
        AttentionOutput shortO = new AttentionOutput(Tensor.zeros(1, 2, 29, 8), fwd.lse(), 0, 0);
        assertThatThrownBy(() -> ring.gradients(p.qTensor(), p.kTensor(), p.vTensor(), shortO, p.dOutTensor(),
                p.spec())).hasMessageStartingWith("the forward result O " + shortO.out().shape() + " with 60 LSE");
    }


    private static void run(RingAttention ring, Problem p, boolean backward) {
        if (backward) {
            ring.backward(p.qTensor(), p.kTensor(), p.vTensor(), p.dOutTensor(), p.spec());
        } else {
            ring.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec());
        }
    }

    /**
     * Runs the ring with a generous bound instead of a wall-clock assertion: a ring that hangs
     * fails the test after {@link #HANG}; a slow machine only makes it slower.
     */
    private static void runBounded(RingAttention ring, Problem p, boolean backward) {
        assertTimeoutPreemptively(HANG, () -> run(ring, p, backward));
    }

    /** Every ring thread has ended: waits for each (bounded), then asserts none is alive. */
    private static void assertNoRingThreadsLeft() throws InterruptedException {
        long deadline = System.nanoTime() + HANG.toNanos();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("ring-")) {
                t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            }
        }
        assertThat(Thread.getAllStackTraces().keySet())
                .filteredOn(t -> t.getName().startsWith("ring-") && t.isAlive())
                .as("ring threads still running")
                .isEmpty();
    }

    private static RingReport report(Problem p, int devices, Layout layout, int block) {
        return RingProperties.ring(block, block, 2, devices, layout)
                .forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec()).report();
    }

    private static Problem problem(int batch, int heads, int n, int d, AttentionSpec spec) {
        return Problem.random(new AttentionShape(batch, heads, heads, n, n, d), spec, 42, 1);
    }
}

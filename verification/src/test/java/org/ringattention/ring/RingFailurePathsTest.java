package org.ringattention.ring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.Gradients;
import org.ringattention.attention.KvShard;
import org.ringattention.attention.Positions;
import org.ringattention.attention.Problem;
import org.ringattention.tensor.Tensor;

/**
 * Failure paths of the ring that the runs of RingRuntimeTest reach only when their timing lets
 * them, each made to happen on purpose: a link that fails before any other part of the ring did,
 * a bad dO given to the backward pass from a forward result, and a task waiting for a dQ turn that
 * never comes when the ring fails. Each asserts what happened; waits are bounded by {@link #HANG}
 * only against hangs.
 */
class RingFailurePathsTest {

    private static final Duration HANG = Duration.ofMinutes(10);

    /** A link whose sends fail; it records what the ring asked of it. */
    private static final class FailingLink implements Link {
        final List<String> calls = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void grant(KvShard buffer, int owner, Positions positions) {
            calls.add("grant");
        }

        @Override
        public boolean arrived() {
            return false;
        }

        @Override
        public boolean hasCredit() {
            return true;
        }

        @Override
        public void sendKeysValues(KvShard shard) {
            throw new IllegalStateException("injected link fault");
        }

        @Override
        public void sendGradients(KvShard shard) {
            throw new AssertionError("no gradients before a K, V send");
        }

        @Override
        public boolean sent() {
            return false;
        }

        @Override
        public long bytesSent() {
            return 0;
        }

        @Override
        public long transferNanos() {
            return 0;
        }

        @Override
        public void abort() {
            calls.add("abort");
        }

        @Override
        public void close() {
            calls.add("close");
        }
    }

    /**
     * Device 0 of two, alone in this process: its first send fails in the link, so the ring fails
     * naming the device, its step and the link's error (the first failure: nothing else failed),
     * and both its links are aborted, then closed.
     */
    @Test
    void aLinkThatFailsFirstStopsTheRingNamingTheDeviceAndAbortsTheLinks() {
        Problem p = problem(2, 64);
        FailingLink in = new FailingLink();
        FailingLink out = new FailingLink();
        Links links = (from, pass) -> from == 0 ? out : in;
        RingAttention ring = RingProperties.ring(16, 16, 1, 2, Layout.CONTIGUOUS);
        assertThatThrownBy(() -> assertTimeoutPreemptively(HANG,
                () -> ring.runDevice(0, p.qTensor(), p.kTensor(), p.vTensor(), null, p.spec(), links)))
                .isInstanceOf(RingFailure.class)
                .hasMessage("device 0 link failed at step 0: injected link fault")
                .satisfies(e -> {
                    assertThat(((RingFailure) e).device()).isEqualTo(0);
                    assertThat(((RingFailure) e).step()).isEqualTo(0);
                    assertThat(e.getCause()).isInstanceOf(IllegalStateException.class);
                });
        assertThat(in.calls).as("the incoming link").containsExactly("grant", "abort", "close");
        assertThat(out.calls).as("the outgoing link").containsExactly("abort", "close");
    }

    /**
     * The gradients from a given forward result (AttentionEngine's entry) are those of the whole
     * backward, bit for bit; that entry checks dO as the whole backward does: its shape, then its values.
     */
    @Test
    void theBackwardFromAForwardResultGivesTheSameBitsAndRefusesABadDO() {
        Problem p = problem(2, 48);
        RingAttention ring = RingProperties.ring(16, 16, 1, 3, Layout.ZIGZAG);
        AttentionOutput fwd = ring.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec()).output();
        Gradients whole = ring.backward(p.qTensor(), p.kTensor(), p.vTensor(), p.dOutTensor(), p.spec()).gradients();
        Gradients given = ring.gradients(p.qTensor(), p.kTensor(), p.vTensor(), fwd, p.dOutTensor(), p.spec());
        assertArrayEquals(whole.dq().toArray(), given.dq().toArray(), "dQ from the given forward result");
        assertArrayEquals(whole.dk().toArray(), given.dk().toArray(), "dK");
        assertArrayEquals(whole.dv().toArray(), given.dv().toArray(), "dV");
        Tensor shortDo = Tensor.zeros(1, 2, 47, 8);
        assertThatThrownBy(() -> ring.backward(p.qTensor(), p.kTensor(), p.vTensor(), fwd, shortDo, p.spec()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("dO has shape [1, 2, 47, 8], expected the shape of q [1, 2, 48, 8]");
        Tensor nan = p.dOutTensor();
        nan.set(0, 1, 40, 3, Float.NaN);
        assertThatThrownBy(() -> ring.backward(p.qTensor(), p.kTensor(), p.vTensor(), fwd, nan, p.spec()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("dO contains NaN at [0, 1, 40, 3]");
    }

    /**
     * In the backward pass the task of key block 1 waits at each dQ_i for block 0's turn. Block 0's
     * task fails in the fault hook, before it runs (so it does not abandon the turns itself), and
     * only once the other worker has claimed block 1: the ring's failure must make the waiting task
     * give up, else its worker never ends (and the ring returns with it still running). Whether block 1 reached its wait before the failure does
     * not matter: a turn that never comes is waited for either way. The hook counts the forward
     * pass's tasks of device 0 at step 1 first (a forward step splits its last units in two, so
     * their number is not the number of query blocks), so that the fault falls in the backward pass.
     */
    @Test
    void aTaskWaitingForATurnThatNeverComesGivesUpWhenTheRingFails() throws InterruptedException {
        Problem p = problem(1, 256);
        AtomicInteger counted = new AtomicInteger();
        RingProperties.ring(32, 32, 2, 2, Layout.CONTIGUOUS).withFaults((d, s) -> {
            if (d == 0 && s == 1) {
                counted.incrementAndGet();
            }
        }).forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec());
        int forwardTasks = counted.get();
        assertThat(forwardTasks).as("forward tasks of device 0 at step 1").isPositive();
        AtomicInteger calls = new AtomicInteger();
        CountDownLatch secondClaimed = new CountDownLatch(1);
        RingAttention ring = RingProperties.ring(32, 32, 2, 2, Layout.CONTIGUOUS).withFaults((d, s) -> {
            if (d == 0 && s == 1) {
                int call = calls.incrementAndGet();
                if (call == forwardTasks + 2) {
                    secondClaimed.countDown(); // the other worker has claimed key block 1
                } else if (call == forwardTasks + 1) { // the backward's first task: key block 0
                    if (!secondClaimed.await(HANG.toMillis(), TimeUnit.MILLISECONDS)) {
                        throw new AssertionError("the second worker never claimed key block 1");
                    }
                    throw new IllegalStateException("injected fault");
                }
            }
        });
        Set<Thread> before = ringThreads();
        long start = System.nanoTime();
        assertThatThrownBy(() -> assertTimeoutPreemptively(HANG,
                () -> ring.backward(p.qTensor(), p.kTensor(), p.vTensor(), p.dOutTensor(), p.spec())))
                .isInstanceOf(RingFailure.class)
                .hasMessage("device 0 failed at step 1: injected fault");
        assertThat(secondClaimed.getCount()).as("the fault fell in the backward pass").isZero();
        // Ring joins its threads (for up to 2 s) before it throws: checked the moment it did. Only a
        // pass that took that long (a process stopped or starved meanwhile) may leave one running,
        // and then it must still end, bounded by a generous 30 s.
        long took = System.nanoTime() - start;
        Set<Thread> left = ringThreads();
        left.removeAll(before);
        if (!left.isEmpty()) {
            assertThat(took).as("the pass returned before its 2 s join with ring threads alive: %s", left)
                    .isGreaterThanOrEqualTo(TimeUnit.SECONDS.toNanos(2));
            for (Thread t : left) {
                t.join(TimeUnit.SECONDS.toMillis(30));
            }
            assertThat(left).filteredOn(Thread::isAlive).as("ring threads that never ended").isEmpty();
        }
    }

    private static Set<Thread> ringThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("ring-") && t.isAlive())
                .collect(Collectors.toSet());
    }

    private static Problem problem(int heads, int n) {
        return Problem.random(new AttentionShape(1, heads, heads, n, n, 8), AttentionSpec.DEFAULT, 42, 1);
    }
}

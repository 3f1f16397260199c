package org.ringattention.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.KvShard;
import org.ringattention.attention.Positions;
import org.ringattention.attention.ShardAttention;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;

/**
 * One in-process link on its own, its two ends driven by the test thread: a hop that completes
 * reports its bytes and a busy time within what the model asks and what the test saw; a transfer
 * that fails (the granted buffer is too small) or is aborted is rethrown at both ends, naming the
 * link, until the link is closed; close ends the transfer thread before it returns. Waits are
 * bounded by {@link #HANG}, reached only by a link that never answers; nothing asserts a duration
 * the machine decides.
 */
class InProcessLinkTest {

    private static final long HANG = TimeUnit.MINUTES.toNanos(2);
    private static final AttentionShape SHAPE = new AttentionShape(1, 2, 2, 8, 8, 3);
    private static final LinkModel AN_HOUR = new LinkModel(Double.POSITIVE_INFINITY, 3600);

    private final ShardAttention attention = new ShardAttention(Kernels.scalar(), SHAPE, AttentionSpec.DEFAULT, 4, 4);

    /** A buffer holding the shard of device {@code owner}: rows 0..rows-1 of counting K and V. */
    private KvShard shard(int owner, int rows, boolean backward) {
        float[] data = new float[2 * 8 * 3];
        for (int i = 0; i < data.length; i++) {
            data[i] = i + 1;
        }
        KvShard s = attention.kvBuffer(8, backward);
        attention.load(s, owner, Tensor.wrap(data, 1, 2, 8, 3), Tensor.wrap(data.clone(), 1, 2, 8, 3),
                Positions.range(0, rows));
        return s;
    }

    @Test
    void aHopCarriesTheShardAndReportsItsBytesAndBusyTime() {
        // 240 bytes of K, V then 240 of dK, dV at 1200 bytes/s: 200 ms each, so that a K, V phase
        // overslept on a loaded machine does not make up for a dK, dV phase left out
        LinkModel model = new LinkModel(1200, 0);
        InProcessLink link = new InProcessLink(70, model);
        try {
            KvShard src = shard(3, 5, true);
            KvShard dst = attention.kvBuffer(8, true);
            long before = System.nanoTime();
            link.grant(dst, 3, Positions.range(0, 5));
            assertTrue(link.hasCredit());
            link.sendKeysValues(src);
            assertFalse(link.hasCredit(), "a send uses the credit");
            link.sendGradients(src);
            awaitTrue(() -> link.sent() && link.arrived());
            long seen = System.nanoTime() - before;

            assertEquals(3, dst.owner());
            assertEquals(5, dst.length());
            assertEquals(src.keyValueBytes() + src.gradientBytes(), link.bytesSent());
            long asked = model.nanosFor(src.keyValueBytes()) + model.bandwidthNanos(src.gradientBytes());
            assertTrue(link.transferNanos() >= asked, () -> "busy " + link.transferNanos() + " ns < " + asked);
            assertTrue(link.transferNanos() <= seen, () -> "busy " + link.transferNanos() + " ns > seen " + seen);
        } finally {
            link.close();
        }
    }

    @Test
    void aTransferThatFailsIsRethrownAtBothEndsUntilTheLinkCloses() throws InterruptedException {
        Thread.UncaughtExceptionHandler before = Thread.getDefaultUncaughtExceptionHandler();
        List<String> uncaught = Collections.synchronizedList(new ArrayList<>());
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> uncaught.add(t.getName() + ": " + e));
        InProcessLink link = new InProcessLink(71, LinkModel.UNTHROTTLED);
        Thread transfer = transferThread(71);
        try {
            link.grant(attention.kvBuffer(2, false), 3, Positions.range(0, 5)); // room for 2 rows, 5 sent
            link.sendKeysValues(shard(3, 5, false));
            RuntimeException e = awaitFailure(link::sent);
            assertInstanceOf(IllegalStateException.class, e);
            assertTrue(e.getMessage().startsWith("the link from device 71 failed"), e.getMessage());
            assertInstanceOf(IllegalArgumentException.class, e.getCause());
            assertSame(e, assertThrows(IllegalStateException.class, link::arrived), "the consumer sees it too");
            assertSame(e, assertThrows(IllegalStateException.class, link::sent), "and again");

            transfer.join(TimeUnit.NANOSECONDS.toMillis(HANG));
            assertFalse(transfer.isAlive(), "a failed transfer thread ends");
            link.close();
            assertFalse(link.sent(), "a closed link no longer rethrows");
            assertFalse(link.arrived());
        } finally {
            link.close();
            Thread.setDefaultUncaughtExceptionHandler(before);
        }
        assertEquals(List.of(), uncaught, "the transfer thread ends on its failure, not on another");
    }

    @Test
    void anAbortStopsATransferUnderWayAndIsRethrown() {
        InProcessLink link = new InProcessLink(72, AN_HOUR);
        try {
            link.grant(attention.kvBuffer(8, false), 1, Positions.range(0, 4));
            link.sendKeysValues(shard(1, 4, false));
            link.abort();
            RuntimeException e = awaitFailure(link::arrived);
            assertEquals("the link from device 72 was interrupted", e.getMessage());
            assertInstanceOf(InterruptedException.class, e.getCause());
            assertSame(e, assertThrows(IllegalStateException.class, link::sent), "the producer sees it too");
        } finally {
            link.close();
        }
    }

    @Test
    void closeEndsATransferUnderWayBeforeItReturnsAndRecordsNoFailure() throws InterruptedException {
        InProcessLink link = new InProcessLink(73, AN_HOUR);
        Thread transfer = transferThread(73);
        link.grant(attention.kvBuffer(8, false), 2, Positions.range(0, 4));
        link.sendKeysValues(shard(2, 4, false));
        closeAndAssertEnded(link, transfer); // the transfer thread was asleep for the model's hour
        assertFalse(link.sent(), "the shard never went");
        assertFalse(link.arrived());
    }

    @Test
    void closeEndsAnIdleTransferThreadBeforeItReturns() throws InterruptedException {
        InProcessLink link = new InProcessLink(74, LinkModel.UNTHROTTLED);
        Thread transfer = transferThread(74);
        closeAndAssertEnded(link, transfer);
        assertTrue(link.sent(), "nothing was in flight");
        link.close(); // idempotent
    }

    @Test
    void sendsOutOfTurnAreRefusedNamingTheLink() {
        InProcessLink link = new InProcessLink(75, LinkModel.UNTHROTTLED);
        try {
            KvShard s = shard(4, 3, true);
            assertEquals("link 75: a send without a credit",
                    assertThrows(IllegalStateException.class, () -> link.sendKeysValues(s)).getMessage());
            assertEquals("link 75: gradients of a shard not being sent",
                    assertThrows(IllegalStateException.class, () -> link.sendGradients(s)).getMessage());
            link.grant(attention.kvBuffer(8, true), 5, Positions.range(0, 3));
            assertEquals("link 75: sends the shard of device 4 where the next device expects that of device 5",
                    assertThrows(IllegalStateException.class, () -> link.sendKeysValues(s)).getMessage());
            assertTrue(link.hasCredit(), "a refused send keeps the credit");
        } finally {
            link.close();
        }
    }

    /** A caller interrupted while close waits for the transfer thread keeps its interrupt; the thread still ends. */
    @Test
    void closeKeepsTheCallersInterrupt() throws InterruptedException {
        InProcessLink link = new InProcessLink(77, AN_HOUR);
        Thread transfer = transferThread(77);
        link.grant(attention.kvBuffer(8, false), 2, Positions.range(0, 4));
        link.sendKeysValues(shard(2, 4, false));
        Thread.currentThread().interrupt();
        link.close();
        assertTrue(Thread.interrupted(), "the interrupt is kept (and cleared here)");
        transfer.join(TimeUnit.NANOSECONDS.toMillis(HANG));
        assertFalse(transfer.isAlive());
    }

    /** What Link leaves to a transport by default, as the in-process link keeps it. */
    @Test
    void theDefaultsOfALinkInProcess() {
        InProcessLink link = new InProcessLink(76, LinkModel.UNTHROTTLED);
        try {
            assertEquals("the previous device", link.peer(true));
            assertEquals("the next device", link.peer(false));
            assertFalse(link.transferring(), "it moves on its own thread: a waiting device may park");
            link.progress(); // nothing to do
            assertTrue(link.sent());
        } finally {
            link.close();
        }
    }

    /**
     * Closes the link and asserts its transfer thread ended before close returned. Close waits up
     * to 2 s for it: only a process stopped or starved for that long (the coordinator stops
     * processes for minutes) returns with the thread alive, and then the thread must still end
     * soon after, bounded by a generous 30 s instead of the 2-minute {@link #HANG}.
     */
    private static void closeAndAssertEnded(InProcessLink link, Thread transfer) throws InterruptedException {
        long before = System.nanoTime();
        link.close();
        long took = System.nanoTime() - before;
        if (transfer.isAlive()) {
            assertTrue(took >= TimeUnit.SECONDS.toNanos(2),
                    () -> "close returned after " + took + " ns with its transfer thread still running");
            transfer.join(TimeUnit.SECONDS.toMillis(30));
            assertFalse(transfer.isAlive(), "the transfer thread never ended");
        }
    }

    /** The failure {@code end} throws once the link has failed (at most {@link #HANG} later). */
    private static RuntimeException awaitFailure(BooleanSupplier end) {
        long deadline = System.nanoTime() + HANG;
        while (System.nanoTime() < deadline) {
            try {
                end.getAsBoolean();
            } catch (RuntimeException e) {
                return e;
            }
            Thread.onSpinWait();
        }
        throw new AssertionError("the link never reported its failure");
    }

    private static void awaitTrue(BooleanSupplier condition) {
        long deadline = System.nanoTime() + HANG;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the hop never completed");
            }
            Thread.onSpinWait();
        }
    }

    private static Thread transferThread(int from) {
        Thread found = null;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().equals("ring-link-" + from) && t.isAlive()) {
                assertNull(found, "one transfer thread per link");
                found = t;
            }
        }
        assertTrue(found != null, "the link's transfer thread ring-link-" + from);
        return found;
    }
}

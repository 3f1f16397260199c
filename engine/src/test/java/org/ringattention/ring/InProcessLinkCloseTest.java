package org.ringattention.ring;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

/**
 * InProcessLink.close waits for its transfer thread (within its 2 s bound), on a scripted clock
 * and with no timing involved: the test holds the link's lock, so the transfer thread cannot end
 * until close's clock, at its third reading (inside close's wait, after one join), lets the lock
 * go. A close that returned without waiting would return with the thread still held.
 */
class InProcessLinkCloseTest {

    @Test
    void closeWaitsUntilItsTransferThreadHasEnded() throws InterruptedException {
        int[] readings = {0};
        InProcessLink[] link = new InProcessLink[1];
        LongSupplier clock = () -> {
            if (++readings[0] == 3) {
                link[0].lock.unlock(); // the transfer thread may end from now on
            }
            return readings[0] * TimeUnit.MILLISECONDS.toNanos(1); // far within the 2 s bound
        };
        link[0] = new InProcessLink(79, LinkModel.UNTHROTTLED, clock);
        Thread transfer = transferThread(79);
        link[0].lock.lock();
        try {
            link[0].close();
            assertFalse(transfer.isAlive(), "close returned before its transfer thread ended");
            assertTrue(readings[0] >= 3, "close waited " + readings[0] + " readings");
        } finally {
            while (link[0].lock.isHeldByCurrentThread()) {
                link[0].lock.unlock();
            }
            transfer.join(TimeUnit.MINUTES.toMillis(10));
        }
        assertFalse(transfer.isAlive());
    }

    private static Thread transferThread(int from) {
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().equals("ring-link-" + from) && t.isAlive()) {
                return t;
            }
        }
        assertNotNull(null, "no transfer thread ring-link-" + from);
        return null;
    }
}

package org.ringattention.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.ringattention.ring.ShardlessRing.HANG;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.KvShard;
import org.ringattention.attention.Positions;
import org.ringattention.attention.ShardAttention;
import org.ringattention.tasks.Tasks;

/**
 * A ring whose links move only when their device calls {@link Link#progress} (as MPI's do): a
 * credit, a send's end and an arrival are seen only after a progress call that follows a "not yet",
 * and a transfer under way while the device waits for its tasks needs a few progress calls. So the
 * pass completes only if each device progresses both its links while it waits for a credit, a send
 * or a shard, and while its tasks run with a transfer under way. An end asked "not yet" four times,
 * or "transferring" three times, without a progress call in between throws, as does asking whether
 * a send is done with none under way, which fails the ring ("link failed") instead of hanging it.
 * Each step's task waits until its device waits for it and its device's ends have moved, so that
 * the device does wait for its tasks with a transfer under way. Devices without shards.
 */
class RingLinkProgressTest {


    /** One end of a link, used by one device in one role; its device is the thread that first used it. */
    static final class End implements Link {
        volatile int owner = -1;
        volatile int sends;
        private int sendsSeen; // sends whose end was seen
        volatile int grants;
        volatile int toMove; // progress calls the transfer under way still needs
        volatile int progressCalls;
        private boolean credit;
        private boolean sent;
        private boolean arrived;
        private boolean askedNotYet;
        private int notYet;
        private int transferringUnmoved;

        private void own() {
            if (owner < 0) {
                String name = Thread.currentThread().getName();
                owner = Integer.parseInt(name.substring(name.lastIndexOf('-') + 1));
            }
        }

        private synchronized boolean answer(boolean ready) {
            if (ready) {
                return true;
            }
            askedNotYet = true;
            if (++notYet > 3) {
                throw new IllegalStateException("asked " + notYet + " times without a progress call");
            }
            return false;
        }

        @Override
        public synchronized void progress() {
            progressCalls++;
            if (askedNotYet) { // what was asked for moves in now
                credit = true;
                sent = true;
                arrived = true;
            }
            askedNotYet = false;
            notYet = 0;
            transferringUnmoved = 0;
            if (toMove > 0) {
                toMove--;
            }
        }

        @Override
        public synchronized boolean transferring() {
            if (toMove == 0) {
                return false;
            }
            if (++transferringUnmoved > 2) {
                throw new IllegalStateException("transferring, polled " + transferringUnmoved + " times without a progress call");
            }
            return true;
        }

        // consumer

        @Override
        public synchronized void grant(KvShard buffer, int owner, Positions positions) {
            own();
            arrived = false;
            toMove = grants % 2 == 0 ? 1 : 3; // more to move on the incoming link than the outgoing at odd steps
            grants++;
        }

        @Override
        public synchronized boolean arrived() {
            return answer(arrived);
        }

        // producer

        @Override
        public synchronized boolean hasCredit() {
            own();
            return answer(credit);
        }

        @Override
        public synchronized void sendKeysValues(KvShard shard) {
            credit = false;
            sent = false;
            toMove = sends % 2 == 0 ? 3 : 1; // and the other way round at even steps
            sends++;
        }

        @Override
        public synchronized void sendGradients(KvShard shard) {
            sent = false;
        }

        @Override
        public synchronized boolean sent() {
            if (sends == sendsSeen) {
                throw new IllegalStateException("asked whether a send is done, with none under way");
            }
            if (answer(sent)) {
                sendsSeen = sends;
                return true;
            }
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
        }

        @Override
        public void close() {
        }
    }

    /** A new end for each call: in a ring of local devices, each device gets its own in and out end. */
    static final class Ends implements Links {
        final List<End> made = new ArrayList<>();

        @Override
        public synchronized Link link(int from, int pass) {
            End e = new End();
            made.add(e);
            return e;
        }

        synchronized List<End> of(int device) {
            List<End> mine = new ArrayList<>();
            for (End e : made) {
                if (e.owner == device) {
                    mine.add(e);
                }
            }
            return mine;
        }
    }

    private static void assertPassCompletes(int devices, boolean gradients) {
        Ends links = new Ends();
        int sends = DeviceProtocol.sendsPerPass(devices, gradients);
        AtomicBoolean stopped = new AtomicBoolean();
        Ring.Work work = new Ring.Work() {
            @Override
            public Tasks<ShardAttention.Workspace> tasks(Device device, int step) {
                return Tasks.of(1, (w, task) -> {
                    while (step < sends && !stopped.get() && !moved(device, links.of(device.id))) {
                        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
                    }
                    return 1;
                });
            }

            @Override
            public void stop() {
                stopped.set(true);
            }
        };
        List<StepRecord> steps = assertTimeoutPreemptively(HANG,
                () -> ShardlessRing.ring(ShardlessRing.devices(devices), gradients, links, work, 2).run());

        assertEquals(devices * devices, steps.size());
        assertEquals(2 * devices, links.made.size());
        for (int i = 0; i < devices; i++) {
            List<End> mine = links.of(i);
            assertEquals(2, mine.size(), "device " + i + " used an in and an out end");
            for (End e : mine) {
                assertEquals(0, e.toMove, "device " + i + " moved every transfer");
                assertTrue(e.progressCalls > 0);
            }
        }
    }

    /** The device waits for its tasks (its step's send began before), and neither of its ends needs more progress. */
    private static boolean moved(Device device, List<End> ends) {
        if (ends.size() < 2 || !"its tasks".equals(device.waitingFor)) {
            return false;
        }
        for (End e : ends) {
            if (e.toMove > 0) {
                return false;
            }
        }
        return true;
    }

    @Test
    void aForwardPassMovesLinksThatNeedProgressCalls() {
        assertPassCompletes(3, false);
    }

    @Test
    void aBackwardPassMovesLinksThatNeedProgressCalls() {
        assertPassCompletes(3, true);
    }
}

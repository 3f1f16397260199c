package org.ringattention.ring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.Problem;

/**
 * {@link Link#assist}: the ring's workers give every link of the pass a call after each task, so a
 * transport that moves only inside its own calls (MPI) moves while the device thread waits for a
 * core. Counted through links that wrap the in-process ones.
 */
class LinkAssistTest {

    @Test
    void workersAssistTheLinksAfterTheirTasks() {
        int devices = 2;
        Problem p = Problem.random(new AttentionShape(1, 2, 2, 96, 96, 8), AttentionSpec.DEFAULT, 7, 1);
        RingAttention ring = RingProperties.ring(16, 16, 2, devices, Layout.CONTIGUOUS);
        AtomicInteger assists = new AtomicInteger();
        Set<String> threads = ConcurrentHashMap.newKeySet();
        Links inProcess = Links.inProcess(LinkModel.UNTHROTTLED);
        Links counted = (from, pass) -> counting(inProcess.link(from, pass), assists, threads);
        assertTimeoutPreemptively(Duration.ofMinutes(10), () -> DeviceThreads.run(ring, p, devices, true, counted));
        // 96 rows in 2 shards of 48, blocks of 16: at least 3 query-block tasks per device and step,
        // 2 steps a pass, forward and backward; each task's end assists both links of its device
        assertThat(assists.get()).isGreaterThanOrEqualTo(2 * 2 * 2 * 3 * 2);
        assertThat(threads).allMatch(name -> name.startsWith("ring-worker-"));
    }

    private static Link counting(Link link, AtomicInteger assists, Set<String> threads) {
        return (Link) Proxy.newProxyInstance(Link.class.getClassLoader(), new Class<?>[] {Link.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("assist")) {
                        assists.incrementAndGet();
                        threads.add(Thread.currentThread().getName());
                    }
                    try {
                        return method.invoke(link, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }
}

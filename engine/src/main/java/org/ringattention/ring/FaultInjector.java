package org.ringattention.ring;

/**
 * A hook called before every task a device runs, for tests that make a device fail: it may throw,
 * or interrupt the calling thread, which the ring treats as that device being interrupted.
 */
@FunctionalInterface
public interface FaultInjector {

    FaultInjector NONE = (device, step) -> { };

    void beforeTask(int device, int step) throws Exception;
}

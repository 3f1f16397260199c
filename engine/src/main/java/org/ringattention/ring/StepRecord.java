package org.ringattention.ring;

/**
 * What one device did in one ring step: compute time (step start to its last task's end), wait
 * time (from then until it could start the next step: the part of the transfers not hidden behind
 * computing), the bytes it sent on and how long that transfer took, and the query-key pairs it
 * computed (tiles a mask hides are not counted).
 */
public record StepRecord(int device, int step, long computeNanos, long waitNanos, long bytesSent,
        long transferNanos, long pairs) {
}

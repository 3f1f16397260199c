package org.ringattention.ring;

/** A ring stopped because a device failed, was interrupted, or stalled; names the device and step. */
public final class RingFailure extends RuntimeException {

    private final int device;
    private final int step;

    /** Device {@code device} did {@code what} ("failed", "was interrupted") at step {@code step}. */
    RingFailure(int device, int step, String what, Throwable cause) {
        this(device, step, "device " + device + " " + what + " at step " + step
                + (cause == null ? "" : ": " + (cause.getMessage() != null ? cause.getMessage() : cause.toString())),
                cause, true);
    }

    /** A failure not of one device (device −1), such as the caller being interrupted. */
    RingFailure(String message, Throwable cause) {
        this(-1, -1, message, cause, true);
    }

    private RingFailure(int device, int step, String message, Throwable cause, boolean unused) {
        super(message, cause);
        this.device = device;
        this.step = step;
    }

    /** The device that failed first. */
    public int device() {
        return device;
    }

    /** The step it was at. */
    public int step() {
        return step;
    }
}

package org.ringattention.mpi;

import java.io.PrintStream;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.ring.DeviceResult;
import org.ringattention.ring.FaultInjector;
import org.ringattention.ring.RingAttention;
import org.ringattention.ring.RingFailure;
import org.ringattention.tensor.Tensor;

/**
 * Runs this rank's device of a ring of one device per rank (device r on rank r), and ends the job
 * when something goes wrong, so that no rank waits for one that will not come:
 * <ul>
 *   <li>a failure here (a task throws, a link fails, the stall timeout passes because a peer hangs)
 *       prints one line naming the rank, device and step to stderr and calls MPI_Abort, which ends
 *       every rank with a non-zero exit;
 *   <li>a rank killed elsewhere (SIGKILL) makes mpirun stop the others with SIGTERM: each prints one
 *       line naming its rank and the step it was at, from a shutdown hook.
 * </ul>
 * The stall timeout (RingAttention#withStallTimeout) is how a hung peer is noticed: a rank waiting
 * for its neighbour sees nothing happen.
 */
public final class MpiRing {

    private final Mpi mpi;
    private final AtomicInteger step = new AtomicInteger(-1);
    private final AtomicReference<String> pass = new AtomicReference<>("start-up");
    private volatile boolean finished;

    private MpiRing(Mpi mpi) {
        this.mpi = mpi;
    }

    /** Initializes MPI and arms the shutdown hook for this rank. */
    public static MpiRing start() {
        MpiRing r = new MpiRing(Mpi.init());
        Thread hook = Thread.ofPlatform().unstarted(() -> {
            if (!r.finished) {
                System.err.println("ring-attention: rank " + r.mpi.rank() + " stopped at step " + r.step.get()
                        + " of " + r.pass.get() + " (the job was ended: another rank failed or was killed)");
                System.err.flush();
            }
        });
        Runtime.getRuntime().addShutdownHook(hook);
        return r;
    }

    public Mpi mpi() {
        return mpi;
    }

    /**
     * Device {@code rank} of {@code ring} (whose device count must equal the world size) on the
     * inputs (whole-sequence tensors; only this device's rows are read), run number {@code run} of
     * this job; {@code faults} is called before every task (tests). On failure: one line, MPI_Abort.
     */
    public DeviceResult run(RingAttention ring, int run, Tensor q, Tensor k, Tensor v, Tensor dOut, AttentionSpec spec,
            FaultInjector faults) {
        if (ring.devices() != mpi.size()) {
            fail(new IllegalArgumentException("the ring has " + ring.devices() + " devices but the MPI job "
                    + mpi.size() + " ranks"));
        }
        FaultInjector tracking = (device, s) -> {
            step.set(s);
            faults.beforeTask(device, s);
        };
        pass.set("run " + run);
        try {
            return ring.withFaults(tracking).runDevice(mpi.rank(), q, k, v, dOut, spec, new MpiLinks(mpi, run));
        } catch (RuntimeException e) {
            fail(e);
            throw e; // not reached
        }
    }

    /** Prints one line naming this rank and what failed, and ends the job (MPI_Abort). */
    public void fail(Throwable e) {
        finished = true;
        String what = e instanceof RingFailure f && f.device() >= 0 ? e.getMessage()
                : "failed at step " + step.get() + ": " + e.getMessage();
        PrintStream err = System.err;
        err.println("ring-attention: rank " + mpi.rank() + ": " + what);
        err.flush();
        mpi.abort(1);
    }

    /** The job's work is done on this rank: MPI_Finalize, and the shutdown hook stays silent. */
    public void finish() {
        finished = true;
        mpi.finish();
    }
}

package org.ringattention.mpi;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.ringattention.ring.DeviceResult;
import org.ringattention.ring.FaultInjector;
import org.ringattention.ring.RingAttention;
import org.ringattention.tensor.Tensor;

/**
 * What each rank of the equivalence tests runs under mpirun: {@code RankMain <dir> <threads> <case>...}.
 * Rank r runs device r of every case in turn (one MPI job, one run number per case) and writes its
 * rows to {@code <dir>/<case>-rank<r>.bin}: O, LSE and, after a backward pass, dQ, dK and dV, as
 * float bits in order. Failures end the job as {@link MpiRing} does; system properties inject
 * faults for the fault tests ({@code mpi.test.fault}, {@code mpi.test.stall} in seconds).
 */
public final class RankMain {

    private RankMain() {
    }

    public static void main(String[] args) throws IOException {
        MpiRing mpiRing = MpiRing.start();
        Mpi mpi = mpiRing.mpi();
        Path dir = Path.of(args[0]);
        int threads = Integer.parseInt(args[1]);
        Files.writeString(dir.resolve("pid-rank" + mpi.rank()), String.valueOf(ProcessHandle.current().pid()));
        FaultInjector faults = fault(System.getProperty("mpi.test.fault"), mpi.rank(), dir);
        Duration stall = Duration.ofSeconds(Long.getLong("mpi.test.stall", 30));
        for (int c = 2; c < args.length; c++) {
            RingCase rc = RingCase.parse(args[c]);
            RingAttention ring = rc.ring(mpi.size(), threads).withStallTimeout(stall);
            DeviceResult r = mpiRing.run(ring, c - 2, rc.q(), rc.k(), rc.v(), rc.backward() ? rc.dOut() : null,
                    rc.spec(), faults);
            write(dir.resolve((c - 2) + "-rank" + mpi.rank() + ".bin"), r);
        }
        mpiRing.finish();
    }

    /**
     * The fault of {@code spec} ("throw:R:S", "hang:R:S" or "pause:R:S": rank R at step S throws,
     * hangs, or writes {@code <dir>/paused-rankR} and sleeps for a test to kill it), or none.
     */
    private static FaultInjector fault(String spec, int rank, Path dir) {
        if (spec == null || spec.isBlank()) {
            return FaultInjector.NONE;
        }
        String[] f = spec.split(":");
        int atRank = Integer.parseInt(f[1]);
        int atStep = Integer.parseInt(f[2]);
        if (atRank != rank) {
            return FaultInjector.NONE;
        }
        return (device, step) -> {
            if (step != atStep) {
                return;
            }
            Files.writeString(dir.resolve("fault-rank" + rank), String.valueOf(System.currentTimeMillis()));
            switch (f[0]) {
                case "throw" -> throw new IllegalStateException("injected fault");
                case "hang" -> {
                    while (true) {
                        Thread.sleep(1000); // a rank that hangs: no progress, no exit
                    }
                }
                case "pause" -> {
                    Files.writeString(dir.resolve("paused-rank" + rank), "");
                    // until the test kills it: a test JVM stopped for minutes must still find it here
                    Thread.sleep(Duration.ofHours(1));
                }
                default -> throw new IllegalArgumentException("unknown fault " + spec);
            }
        };
    }

    private static void write(Path file, DeviceResult r) throws IOException {
        try (OutputStream os = Files.newOutputStream(file); DataOutputStream out = new DataOutputStream(
                new java.io.BufferedOutputStream(os))) {
            write(out, r.out().toArray());
            write(out, r.lse());
            if (r.dq() != null) {
                for (Tensor t : new Tensor[] {r.dq(), r.dk(), r.dv()}) {
                    write(out, t.toArray());
                }
            }
        }
    }

    private static void write(DataOutputStream out, float[] x) throws IOException {
        for (float f : x) {
            out.writeInt(Float.floatToRawIntBits(f));
        }
    }
}

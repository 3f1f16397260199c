package org.ringattention.mpi;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.ringattention.ring.DeviceResult;
import org.ringattention.ring.RingAttention;
import org.ringattention.tensor.Tensor;

/**
 * What each rank of the equivalence tests runs under mpirun: {@code RankMain <dir> <threads> <case>...}.
 * Rank r runs device r of every case in turn (one MPI job, one run number per case) and writes its
 * rows to {@code <dir>/<case>-rank<r>.bin}: O, LSE and, after a backward pass, dQ, dK and dV, as
 * float bits in order. On failure it prints one line and aborts the job.
 */
public final class RankMain {

    private RankMain() {
    }

    public static void main(String[] args) throws IOException {
        Mpi mpi = Mpi.init();
        Path dir = Path.of(args[0]);
        int threads = Integer.parseInt(args[1]);
        try {
            for (int c = 2; c < args.length; c++) {
                RingCase rc = RingCase.parse(args[c]);
                RingAttention ring = rc.ring(mpi.size(), threads);
                DeviceResult r = ring.runDevice(mpi.rank(), rc.q(), rc.k(), rc.v(), rc.backward() ? rc.dOut() : null,
                        rc.spec(), new MpiLinks(mpi, c - 2));
                write(dir.resolve((c - 2) + "-rank" + mpi.rank() + ".bin"), r);
            }
        } catch (RuntimeException e) {
            System.err.println("rank " + mpi.rank() + ": " + e.getMessage());
            System.err.flush();
            mpi.abort(1);
        }
        mpi.finish();
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

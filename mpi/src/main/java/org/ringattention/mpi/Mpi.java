package org.ringattention.mpi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Open MPI 4.1 (libmpi.so.40) through java.lang.foreign, written by hand from its mpi.h (no Java
 * bindings ship with Debian's Open MPI, and there is no jextract): the calls a ring needs and
 * nothing else.
 *
 * <p><b>ABI facts</b> (Open MPI's mpi.h): handles are pointers; the predefined ones are the
 * addresses of global symbols (MPI_COMM_WORLD = &amp;ompi_mpi_comm_world, MPI_BYTE =
 * &amp;ompi_mpi_byte, MPI_ERRORS_RETURN = &amp;ompi_mpi_errors_return); MPI_STATUS_IGNORE is NULL;
 * MPI_Status is 24 bytes {int MPI_SOURCE, MPI_TAG, MPI_ERROR, _cancelled; size_t _ucount};
 * MPI_THREAD_MULTIPLE is 3; MPI_SUCCESS is 0; MPI_MAX_ERROR_STRING is 256.
 *
 * <p>Bound: MPI_Init_thread, MPI_Initialized, MPI_Finalized, MPI_Comm_rank, MPI_Comm_size,
 * MPI_Comm_set_errhandler, MPI_Isend, MPI_Irecv, MPI_Test, MPI_Wait, MPI_Cancel, MPI_Barrier,
 * MPI_Bcast, MPI_Abort, MPI_Finalize, MPI_Error_string.
 *
 * <p>Thread safety: initialized with MPI_THREAD_MULTIPLE, so any thread may call; a ring calls the
 * point-to-point functions from its device thread only. Errors on MPI_COMM_WORLD return codes
 * (MPI_ERRORS_RETURN) and become {@link MpiException}s naming the call.
 */
public final class Mpi {

    /** Where Debian puts the library; {@link #available} looks for it there or on the loader's path. */
    public static final String LIBRARY = "libmpi.so.40";
    static final int THREAD_MULTIPLE = 3;
    static final int STATUS_BYTES = 24;
    static final int MAX_ERROR_STRING = 256;
    static final int ANY_TAG = -1;
    static final int ANY_SOURCE = -1;
    /** At most one {@link #poke} per this many nanoseconds and process. */
    static final long POKE_INTERVAL_NANOS = 250_000;

    private static volatile Mpi instance;

    private final MemorySegment commWorld;
    private final MemorySegment byteType;
    private final MethodHandle initThread;
    private final MethodHandle initialized;
    private final MethodHandle finalized;
    private final MethodHandle commRank;
    private final MethodHandle commSize;
    private final MethodHandle setErrhandler;
    private final MethodHandle isend;
    private final MethodHandle irecv;
    private final MethodHandle test;
    private final MethodHandle iprobe;
    private final ThreadLocal<MemorySegment> pokeFlag = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(JAVA_INT));
    private volatile long lastPoke;
    private final MethodHandle waitOne;
    private final MethodHandle cancel;
    private final MethodHandle barrier;
    private final MethodHandle bcast;
    private final MethodHandle abort;
    private final MethodHandle finalizeCall;
    private final MethodHandle errorString;
    private final MemorySegment errorsReturn;
    private int rank;
    private int size;

    private Mpi(SymbolLookup lib) {
        Linker linker = Linker.nativeLinker();
        commWorld = lib.findOrThrow("ompi_mpi_comm_world");
        byteType = lib.findOrThrow("ompi_mpi_byte");
        errorsReturn = lib.findOrThrow("ompi_mpi_errors_return");
        initThread = linker.downcallHandle(lib.findOrThrow("MPI_Init_thread"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS));
        initialized = linker.downcallHandle(lib.findOrThrow("MPI_Initialized"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        finalized = linker.downcallHandle(lib.findOrThrow("MPI_Finalized"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        commRank = linker.downcallHandle(lib.findOrThrow("MPI_Comm_rank"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        commSize = linker.downcallHandle(lib.findOrThrow("MPI_Comm_size"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        setErrhandler = linker.downcallHandle(lib.findOrThrow("MPI_Comm_set_errhandler"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        // int MPI_Isend(const void *buf, int count, MPI_Datatype, int dest, int tag, MPI_Comm, MPI_Request *)
        isend = linker.downcallHandle(lib.findOrThrow("MPI_Isend"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        irecv = linker.downcallHandle(lib.findOrThrow("MPI_Irecv"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        // int MPI_Test(MPI_Request *, int *flag, MPI_Status *)
        test = linker.downcallHandle(lib.findOrThrow("MPI_Test"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        waitOne = linker.downcallHandle(lib.findOrThrow("MPI_Wait"), FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        // int MPI_Iprobe(int source, int tag, MPI_Comm, int *flag, MPI_Status *)
        iprobe = linker.downcallHandle(lib.findOrThrow("MPI_Iprobe"),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        cancel = linker.downcallHandle(lib.findOrThrow("MPI_Cancel"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        barrier = linker.downcallHandle(lib.findOrThrow("MPI_Barrier"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        // int MPI_Bcast(void *buffer, int count, MPI_Datatype, int root, MPI_Comm)
        bcast = linker.downcallHandle(lib.findOrThrow("MPI_Bcast"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        abort = linker.downcallHandle(lib.findOrThrow("MPI_Abort"), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        finalizeCall = linker.downcallHandle(lib.findOrThrow("MPI_Finalize"), FunctionDescriptor.of(JAVA_INT));
        errorString = linker.downcallHandle(lib.findOrThrow("MPI_Error_string"),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    }

    /** Whether libmpi.so.40 can be found (without initializing MPI). */
    public static boolean available() {
        if (Files.exists(Path.of("/usr/lib/x86_64-linux-gnu", LIBRARY)) || Files.exists(Path.of("/usr/lib64", LIBRARY))) {
            return true;
        }
        try {
            SymbolLookup.libraryLookup(LIBRARY, Arena.global());
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /**
     * Initializes MPI once for this process (MPI_Init_thread with MPI_THREAD_MULTIPLE; a plain
     * {@code java} without mpirun is a singleton rank) and returns it.
     */
    public static synchronized Mpi init() {
        if (instance == null) {
            SymbolLookup lib;
            try {
                lib = SymbolLookup.libraryLookup(LIBRARY, Arena.global());
            } catch (IllegalArgumentException e) {
                throw new MpiException("cannot load " + LIBRARY + " (install Open MPI: apt-get install openmpi-bin"
                        + " libopenmpi-dev): " + e.getMessage());
            }
            Mpi m = new Mpi(lib);
            m.start();
            instance = m;
        }
        return instance;
    }

    private void start() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment flag = a.allocate(JAVA_INT);
            check((int) initialized.invokeExact(flag), "MPI_Initialized");
            if (flag.get(JAVA_INT, 0) == 0) {
                MemorySegment provided = a.allocate(JAVA_INT);
                check((int) initThread.invokeExact(MemorySegment.NULL, MemorySegment.NULL, THREAD_MULTIPLE, provided),
                        "MPI_Init_thread");
                if (provided.get(JAVA_INT, 0) < THREAD_MULTIPLE) {
                    throw new MpiException("MPI_Init_thread granted thread level " + provided.get(JAVA_INT, 0)
                            + ", the ring needs MPI_THREAD_MULTIPLE (3)");
                }
            }
            check((int) setErrhandler.invokeExact(commWorld, errorsReturn), "MPI_Comm_set_errhandler");
            MemorySegment out = a.allocate(JAVA_INT);
            check((int) commRank.invokeExact(commWorld, out), "MPI_Comm_rank");
            rank = out.get(JAVA_INT, 0);
            check((int) commSize.invokeExact(commWorld, out), "MPI_Comm_size");
            size = out.get(JAVA_INT, 0);
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new MpiException("MPI initialization failed: " + t);
        }
    }

    /** This process's rank in MPI_COMM_WORLD. */
    public int rank() {
        return rank;
    }

    /** The number of ranks in MPI_COMM_WORLD. */
    public int size() {
        return size;
    }

    /** MPI_Isend of {@code bytes} bytes of {@code buf} (MPI_BYTE); the request handle goes to {@code request}. */
    void isend(MemorySegment buf, int bytes, int dest, int tag, MemorySegment request) {
        try {
            check((int) isend.invokeExact(buf, bytes, byteType, dest, tag, commWorld, request), "MPI_Isend");
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new MpiException("MPI_Isend: " + t);
        }
    }

    /** MPI_Irecv of at most {@code bytes} bytes into {@code buf}. */
    void irecv(MemorySegment buf, int bytes, int source, int tag, MemorySegment request) {
        try {
            check((int) irecv.invokeExact(buf, bytes, byteType, source, tag, commWorld, request), "MPI_Irecv");
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new MpiException("MPI_Irecv: " + t);
        }
    }

    /** MPI_Test: true when the request is complete (its handle is then MPI_REQUEST_NULL); {@code status} may be NULL. */
    boolean test(MemorySegment request, MemorySegment flag, MemorySegment status) {
        try {
            check((int) test.invokeExact(request, flag, status), "MPI_Test");
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new MpiException("MPI_Test: " + t);
        }
        return flag.get(JAVA_INT, 0) != 0;
    }

    /**
     * Lets Open MPI progress every transfer of this process, from any thread, at most once per
     * {@link #POKE_INTERVAL_NANOS}: an MPI_Iprobe for any message, whose result is ignored (Open
     * MPI's probe runs its progress engine when nothing matches, and a probe consumes nothing).
     */
    void poke() {
        long now = System.nanoTime();
        if (now - lastPoke < POKE_INTERVAL_NANOS) {
            return;
        }
        lastPoke = now;
        try {
            check((int) iprobe.invokeExact(ANY_SOURCE, ANY_TAG, commWorld, pokeFlag.get(), MemorySegment.NULL),
                    "MPI_Iprobe");
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new MpiException("MPI_Iprobe: " + t);
        }
    }

    /** MPI_Cancel then MPI_Wait: a posted receive that will not be needed. */
    void cancelAndWait(MemorySegment request) {
        try {
            check((int) cancel.invokeExact(request), "MPI_Cancel");
            check((int) waitOne.invokeExact(request, MemorySegment.NULL), "MPI_Wait");
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new MpiException("MPI_Cancel: " + t);
        }
    }

    /** MPI_Wait with MPI_STATUS_IGNORE. */
    void await(MemorySegment request) {
        try {
            check((int) waitOne.invokeExact(request, MemorySegment.NULL), "MPI_Wait");
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new MpiException("MPI_Wait: " + t);
        }
    }

    /** MPI_Barrier on MPI_COMM_WORLD. */
    public void barrier() {
        try {
            check((int) barrier.invokeExact(commWorld), "MPI_Barrier");
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new MpiException("MPI_Barrier: " + t);
        }
    }

    /** MPI_Bcast of one long from rank {@code root}: every rank returns root's {@code value}. */
    public long broadcast(long value, int root) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(java.lang.foreign.ValueLayout.JAVA_LONG);
            buf.set(java.lang.foreign.ValueLayout.JAVA_LONG, 0, value);
            check((int) bcast.invokeExact(buf, Long.BYTES, byteType, root, commWorld), "MPI_Bcast");
            return buf.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0);
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new MpiException("MPI_Bcast: " + t);
        }
    }

    /**
     * A ring's hop without the computing, to measure a link: after a barrier every rank sends
     * {@code bytes} bytes to rank + 1 and receives as many from rank − 1 (MPI_Isend, MPI_Irecv,
     * MPI_Wait; tag {@code tag}). Returns the nanoseconds from the barrier until this rank's receive
     * completed. A collective: every rank calls it alike.
     */
    public long ringExchange(int bytes, int tag) {
        int next = Math.floorMod(rank + 1, size);
        int previous = Math.floorMod(rank - 1, size);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(Math.max(1, bytes), 64);
            MemorySegment in = a.allocate(Math.max(1, bytes), 64);
            MemorySegment sendRequest = a.allocate(ADDRESS);
            MemorySegment recvRequest = a.allocate(ADDRESS);
            barrier();
            long start = System.nanoTime();
            irecv(in, bytes, previous, tag, recvRequest);
            isend(out, bytes, next, tag, sendRequest);
            await(recvRequest);
            long nanos = System.nanoTime() - start;
            await(sendRequest);
            return nanos;
        }
    }

    /** MPI_Abort on MPI_COMM_WORLD: ends every rank of the job with {@code code}; does not return. */
    public void abort(int code) {
        try {
            int rc = (int) abort.invokeExact(commWorld, code);
            System.exit(rc == 0 ? code : code);
        } catch (Throwable t) {
            System.exit(code);
        }
    }

    /** MPI_Finalize, once; later calls do nothing. */
    public synchronized void finish() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment flag = a.allocate(JAVA_INT);
            check((int) finalized.invokeExact(flag), "MPI_Finalized");
            if (flag.get(JAVA_INT, 0) == 0) {
                check((int) finalizeCall.invokeExact(), "MPI_Finalize");
            }
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new MpiException("MPI_Finalize: " + t);
        }
    }

    private void check(int rc, String call) {
        if (rc != 0) {
            throw new MpiException(call + " failed: " + describe(rc) + " (error " + rc + ")");
        }
    }

    private String describe(int code) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment text = a.allocate(MAX_ERROR_STRING);
            MemorySegment len = a.allocate(JAVA_INT);
            if ((int) errorString.invokeExact(code, text, len) != 0) {
                return "unknown error";
            }
            return text.getString(0);
        } catch (Throwable t) {
            return "unknown error";
        }
    }
}

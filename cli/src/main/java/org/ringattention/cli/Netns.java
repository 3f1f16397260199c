package org.ringattention.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Separate "hosts" on one machine: H network namespaces, every two joined by a veth pair of their
 * own (a full mesh, so that MPI's collectives reach every rank, not only the ring's neighbours),
 * each pair on a /24 of its own in 10.77.0.0/16, both ends shaped with a token bucket ({@code tc
 * qdisc ... tbf}); and each joined to this machine's own namespace by an unshaped launch link
 * (10.78.i.0/24), over which mpirun talks to the Open MPI daemon it starts on the host. Linux has no delay without netem (missing on these kernels), so the links have
 * the bandwidth asked for and the latency of a veth (microseconds).
 *
 * <p>Names: namespace {@code ra<pid>h<i>}, veth end {@code ra<pid>v<i>x<j>} in host i, launch link
 * ends {@code ra<pid>m<i>} here and {@code ra<pid>n<i>} in host i (at most 15 characters for pids
 * up to 7 digits), so that {@link #removeStale} can tell whose they are:
 * deleting a namespace deletes the veth ends in it, and with them their peers. {@link #close}
 * deletes them all; a shutdown hook does it too when the JVM ends on a signal.
 *
 * <p>Everything runs through the {@code ip} and {@code tc} commands of iproute2 (as root).
 */
final class Netns implements AutoCloseable {

    /** The subnets of the links: 10.77.k.0/24 for link k. */
    static final String SUBNETS = "10.77.0.0/16";

    /** The subnets of the launch links, host i's 10.78.i.0/24 (mpirun to its daemons), not shaped. */
    static final String LAUNCH_SUBNETS = "10.78.0.0/16";

    private static final Pattern OURS = Pattern.compile("ra(\\d+)h\\d+");
    private static final long COMMAND_SECONDS = 20;

    private final String ip;
    private final String tc;
    private final String prefix;
    private final int hosts;
    private final List<String> created = new ArrayList<>();
    private final List<String[]> ends = new ArrayList<>(); // {namespace, device}
    private final List<Process> processes = new ArrayList<>();
    private final Thread hook = Thread.ofPlatform().unstarted(this::deleteAll);

    private Netns(String ip, String tc, int hosts) {
        this.ip = ip;
        this.tc = tc;
        this.prefix = "ra" + ProcessHandle.current().pid();
        this.hosts = hosts;
    }

    /**
     * Why network namespaces cannot be made here (the {@code ip} command missing, not root, the
     * kernel refusing), or null when a probe namespace could be added and deleted.
     */
    static String unavailable(String ip) {
        String probe = "ra" + ProcessHandle.current().pid() + "probe";
        Result add;
        try {
            add = run(List.of(ip, "netns", "add", probe));
        } catch (IOException e) {
            return "cannot run '" + ip + "' (iproute2): " + e.getMessage();
        }
        if (add.code != 0) {
            return "'" + ip + " netns add' failed: " + add.firstLine();
        }
        try {
            run(List.of(ip, "netns", "delete", probe));
        } catch (IOException e) {
            return "'" + ip + " netns delete' failed: " + e.getMessage();
        }
        return null;
    }

    /** The namespace of host {@code i}. */
    String namespace(int i) {
        return prefix + "h" + i;
    }

    /** The address of host {@code i} on the link it shares with host {@code j}. */
    static String address(int i, int j) {
        return "10.77." + linkIndex(i, j) + "." + (i < j ? 1 : 2);
    }

    /**
     * The address on host {@code i}'s launch link (to this machine's own namespace, where mpirun
     * runs): this end's ({@code local}) or the host's. mpirun reaches the host's daemon over it.
     */
    static String launchAddress(int i, boolean local) {
        return "10.78." + i + "." + (local ? 1 : 2);
    }

    private static int linkIndex(int i, int j) {
        int a = Math.min(i, j);
        int b = Math.max(i, j);
        return a * 16 + b;
    }

    /** Makes {@code hosts} namespaces joined pairwise by veths, up, unshaped. */
    static Netns create(String ip, String tc, int hosts) throws IOException {
        Netns n = new Netns(ip, tc, hosts);
        Runtime.getRuntime().addShutdownHook(n.hook);
        try {
            for (int i = 0; i < hosts; i++) {
                n.must(List.of(ip, "netns", "add", n.namespace(i)));
                n.created.add(n.namespace(i));
                n.must(List.of(ip, "-n", n.namespace(i), "link", "set", "lo", "up"));
            }
            for (int i = 0; i < hosts; i++) { // the launch network: host i to this namespace, unshaped
                String root = n.prefix + "m" + i;
                String far = n.prefix + "n" + i;
                n.must(List.of(ip, "link", "add", root, "type", "veth", "peer", "name", far, "netns", n.namespace(i)));
                n.must(List.of(ip, "addr", "add", launchAddress(i, true) + "/24", "dev", root));
                n.must(List.of(ip, "link", "set", root, "up"));
                n.must(List.of(ip, "-n", n.namespace(i), "addr", "add", launchAddress(i, false) + "/24", "dev", far));
                n.must(List.of(ip, "-n", n.namespace(i), "link", "set", far, "up"));
            }
            for (int i = 0; i < hosts; i++) {
                for (int j = i + 1; j < hosts; j++) {
                    String a = n.prefix + "v" + i + "x" + j;
                    String b = n.prefix + "v" + j + "x" + i;
                    n.must(List.of(ip, "link", "add", a, "netns", n.namespace(i), "type", "veth", "peer", "name", b,
                            "netns", n.namespace(j)));
                    n.up(i, a, address(i, j));
                    n.up(j, b, address(j, i));
                }
            }
        } catch (IOException | RuntimeException e) {
            n.close();
            throw e;
        }
        return n;
    }

    private void up(int host, String dev, String address) throws IOException {
        must(List.of(ip, "-n", namespace(host), "addr", "add", address + "/24", "dev", dev));
        must(List.of(ip, "-n", namespace(host), "link", "set", dev, "up"));
        ends.add(new String[] {namespace(host), dev});
    }

    /**
     * Shapes every veth end to {@code bytesPerSecond} with a token bucket: a burst of 1 ms of the
     * rate, at least 32 KiB (small against a shard, so that a shard is not sent at the veth's speed
     * first; tbf splits larger offloaded packets), and up to 50 ms of queue before drops.
     */
    void shape(double bytesPerSecond) throws IOException {
        long rate = Math.max(8_000, Math.round(bytesPerSecond * 8)); // bit/s
        long burst = Math.max(32 * 1024, Math.round(bytesPerSecond / 1000));
        for (String[] e : ends) {
            must(List.of(tc, "-n", e[0], "qdisc", "replace", "dev", e[1], "root", "tbf", "rate", rate + "bit",
                    "burst", String.valueOf(burst), "latency", "50ms"));
        }
    }

    /** Deletes the namespaces of processes that no longer run (left by a run killed with SIGKILL). */
    static List<String> removeStale(String ip) throws IOException {
        Result list = run(List.of(ip, "netns", "list"));
        List<String> removed = new ArrayList<>();
        for (String line : list.out.split("\n")) {
            String name = line.strip().split("\\s+")[0];
            Matcher m = OURS.matcher(name);
            if (m.matches() && ProcessHandle.of(Long.parseLong(m.group(1))).map(p -> !p.isAlive()).orElse(true)) {
                run(List.of(ip, "netns", "delete", name));
                removed.add(name);
            }
        }
        return removed;
    }

    int hosts() {
        return hosts;
    }

    @Override
    public void close() {
        deleteAll();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook runs or ran
        }
    }

    /**
     * Ends {@code p} and its descendants (mpirun, its daemons and ranks) before the namespaces go:
     * a namespace that a process still lives in outlives {@code ip netns delete}, with its veths.
     */
    synchronized void endOnClose(Process p) {
        processes.add(p);
    }

    private synchronized void deleteAll() {
        for (Process p : processes) {
            List<ProcessHandle> all = new ArrayList<>(p.descendants().toList());
            all.add(p.toHandle());
            all.forEach(ProcessHandle::destroy); // SIGTERM: mpirun stops its ranks
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (all.stream().anyMatch(ProcessHandle::isAlive) && System.nanoTime() < end) {
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            all.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
        }
        processes.clear();
        for (int i = created.size() - 1; i >= 0; i--) {
            try {
                run(List.of(ip, "netns", "delete", created.get(i)));
            } catch (IOException e) {
                System.err.println("ring-attention: could not delete network namespace " + created.get(i) + ": "
                        + e.getMessage() + " (delete it with: ip netns delete " + created.get(i) + ")");
            }
        }
        for (int i = 0; i < hosts; i++) { // gone with their namespace, unless a process held it
            try {
                run(List.of(ip, "link", "delete", prefix + "m" + i));
            } catch (IOException e) {
                // nothing to delete
            }
        }
        created.clear();
        ends.clear();
    }

    private void must(List<String> cmd) throws IOException {
        Result r = run(cmd);
        if (r.code != 0) {
            throw new IOException("'" + String.join(" ", cmd) + "' failed: " + r.firstLine());
        }
    }

    private record Result(int code, String out) {
        String firstLine() {
            String s = out.strip();
            int nl = s.indexOf('\n');
            return s.isEmpty() ? "exit code " + code : nl < 0 ? s : s.substring(0, nl);
        }
    }

    private static Result run(List<String> cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(COMMAND_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.format(Locale.ROOT, "'%s' did not end within %d s",
                        String.join(" ", cmd), COMMAND_SECONDS));
            }
            return new Result(p.exitValue(), out);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running '" + String.join(" ", cmd) + "'", e);
        }
    }
}

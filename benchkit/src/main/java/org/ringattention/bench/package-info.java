/**
 * Measuring tools shared by the command line and the JMH benchmarks, kept out of the library: the
 * machine's floating-point ceiling ({@link org.ringattention.bench.FmaPeak}), a description of the
 * machine to print beside the numbers ({@link org.ringattention.bench.MachineInfo}), the FLOPs that
 * GFLOP/s count ({@link org.ringattention.bench.AttentionFlops}) and the timing harness: when to
 * stop warming up ({@link org.ringattention.bench.WarmupRule}) and the statistics of timed runs
 * ({@link org.ringattention.bench.Timings}).
 */
package org.ringattention.bench;

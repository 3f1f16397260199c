/*
 * The ring protocol of org.ringattention.ring.DeviceProtocol as implemented: P devices, each with
 * two key/value buffers (current, incoming), joined by P single-producer single-consumer links with
 * credits (org.ringattention.ring.Link; a Link process here is the transfer, the in-process link's
 * thread or MPI moving the bytes). One pass, forward (BACKWARD=0: P-1 sends) or backward
 * (BACKWARD=1: P sends, dK and dV follow K and V once the step's tasks are done, every shard comes
 * home). With FAULTS=1 any device may fail at any step (a task throws, a link fails, a stall);
 * every wait then ends, as Supervision makes it.
 *
 * Checked (spin -a; cc pan.c; ./pan): no invalid end state (no deadlock; after a failure every
 * device and link ends), and the assertions: a buffer is written only when it is free (its step
 * ended, nobody computes on it), a device computes only on a complete shard, a send carries the
 * shard its receiver expects, dK and dV leave only after the step's tasks, and (without a failure)
 * every device absorbs every shard exactly once per pass, backward shards come home.
 *
 *   spin -a -DP=3 -DBACKWARD=1 -DFAULTS=1 ring.pml && cc -O2 -o pan pan.c && ./pan -m100000
 */
#ifndef P
#define P 3
#endif
#ifndef BACKWARD
#define BACKWARD 0
#endif
#ifndef FAULTS
#define FAULTS 0
#endif

#define SENDS (P == 1 -> 0 : (BACKWARD -> P : P - 1))
#define EMPTY 255
#define B(d, b) (2 * (d) + (b))
#define NEXT(d) (((d) + 1) % P)
#define PREV(d) (((d) + P - 1) % P)

byte buf[2 * P];         /* owner of the shard in buffer b of device d, or EMPTY */
bool inUse[2 * P];       /* a step computes on it, or it holds a shard not yet used */
bool writing[2 * P];     /* a link is filling it */
bit cur[P];              /* the buffer device d computes on */
byte absorbed[P * P];    /* absorbed[d * P + o]: times device d computed on shard o */
bool computed[P];        /* device d's tasks of its step are done */

/* link l, from device l to device l + 1 (producer l, consumer l + 1) */
bool credit[P];          /* granted, not yet used by a send */
bit grantBuf[P];         /* the consumer's buffer it granted */
byte expect[P];          /* whose shard the consumer expects */
bool kvReq[P];           /* the producer started sending K and V */
bit srcBuf[P];           /* the producer's buffer being sent */
bool gradReq[P];         /* the producer started sending dK and dV */
bool sent[P];            /* producer side: every send done, the shard may change */
bool arrived[P];         /* consumer side: the shard is complete in the granted buffer */

bool failed;

/* Device d grants its incoming buffer for the shard that arrives during step st (Link.grant). */
inline grant(d, st) {
    atomic {
        grantBuf[PREV(d)] = 1 - cur[d];
        expect[PREV(d)] = ((d) + 2 * P - (st) - 1) % P;
        arrived[PREV(d)] = false;
        credit[PREV(d)] = true
    }
}

proctype Device(byte i) {
    byte s = 0;
    byte o;
    if
    :: SENDS > 0 -> grant(i, 0)
    :: else -> skip
    fi;
    do
    :: s < P ->
        computed[i] = false;
        /* if s < sends: await a credit, send K and V of current (DeviceProtocol sends before publishing
           the step's tasks when the credit is in, else after: either way the tasks only read the shard) */
        if
        :: s < SENDS ->
            if
            :: credit[i] -> skip
            :: failed -> goto stop
            fi;
            atomic {
                assert(buf[B(i, cur[i])] == expect[i]);
                credit[i] = false;
                srcBuf[i] = cur[i];
                sent[i] = false;
                kvReq[i] = true
            }
        :: else -> skip
        fi;
        /* the workers compute on the shard held (the link may copy it meanwhile: reads only) */
        atomic {
            o = buf[B(i, cur[i])];
            assert(o != EMPTY && !writing[B(i, cur[i])] && inUse[B(i, cur[i])]);
            absorbed[i * P + o]++;
            computed[i] = true
        }
#if FAULTS
        if
        :: !failed -> failed = true; goto stop   /* a task throws: Supervision.fail */
        :: true -> skip
        fi;
#endif
        /* backward: dK and dV are complete now */
        if
        :: BACKWARD && s < SENDS -> gradReq[i] = true
        :: else -> skip
        fi;
        if
        :: s < SENDS ->
            if
            :: sent[i] -> skip
            :: failed -> goto stop
            fi;
            if
            :: arrived[PREV(i)] -> skip
            :: failed -> goto stop
            fi;
            atomic {
                inUse[B(i, cur[i])] = false;   /* the step that computed on it has ended */
                cur[i] = 1 - cur[i]            /* swap: what came in is what it computes on next */
            }
            if
            :: s + 1 < SENDS -> grant(i, s + 1)
            :: else -> skip
            fi
        :: else -> skip
        fi;
        s++
    :: else -> break
    od;
    /* the pass is over: every shard absorbed once, backward shards home */
    o = 0;
    do
    :: o < P -> assert(failed || absorbed[i * P + o] == 1); o++
    :: else -> break
    od;
    assert(failed || !BACKWARD || P == 1 || buf[B(i, cur[i])] == i);
stop:
    skip
}

/* The transfer of link l: K and V into the granted buffer, then (backward) dK and dV. */
proctype Link(byte l) {
    byte n = 0;
    byte dst;
    do
    :: n < SENDS ->
        if
        :: kvReq[l] -> kvReq[l] = false
        :: failed -> goto stop
        fi;
        dst = B(NEXT(l), grantBuf[l]);
        atomic {
            assert(!inUse[dst] && !writing[dst] && cur[NEXT(l)] != grantBuf[l]);
            writing[dst] = true
        }
        atomic {
            assert(buf[B(l, srcBuf[l])] == expect[l]);  /* the source still holds the shard */
            buf[dst] = buf[B(l, srcBuf[l])];
            writing[dst] = false
        }
#if BACKWARD
        if
        :: gradReq[l] -> gradReq[l] = false; assert(computed[l])
        :: failed -> goto stop
        fi;
#endif
        atomic {
            inUse[dst] = true;
            sent[l] = true;
            arrived[l] = true
        }
        n++
    :: else -> break
    od;
stop:
    skip
}

init {
    byte d = 0;
    atomic {
        do
        :: d < P ->
            buf[B(d, 0)] = d;          /* its own shard */
            buf[B(d, 1)] = EMPTY;
            inUse[B(d, 0)] = true;
            cur[d] = 0;
            d++
        :: else -> break
        od;
        d = 0;
        do
        :: d < P -> run Device(d); d++
        :: else -> break
        od;
        d = 0;
        do
        :: SENDS > 0 && d < P -> run Link(d); d++
        :: else -> break
        od
    }
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The non-remapped x86 MSI affinity protocol (src/arch/x86/x86_msi.c,
 * docs/x86-msi-affinity.md), as a Promela model checked with spin.
 *
 * One interrupt moves from (CPU O, vector V_OLD) to (CPU N, vector V_NEW)
 * while its device, an MSI function without per-vector masking, may raise
 * at any moment.  The device sends whatever its two registers hold when it
 * raises: ADDR (destination CPU) and DATA (vector) are written one at a
 * time by CPU O, so a raise between the writes sends a mix.
 *
 * Modelled:
 *  - the device raising at any point (paced: its next raise only after a
 *    handler saw the previous one, so every raise is one message and a lost
 *    one cannot be hidden by a later one);
 *  - each CPU's IRR (one bit per vector) and vector table (which interrupt
 *    owns each slot: ours, another one, nobody, or marked RETRIGGERED);
 *  - CPU O: taking interrupts, then the update with its interrupts off
 *    (mark the slot (O, V_NEW), DATA := V_NEW, ADDR := N, IRR check and
 *    retrigger by IPI), then taking interrupts again and running the
 *    old-vector cleanup, which waits while V_OLD is pending in its IRR;
 *  - CPU N: taking interrupts; the first one on (N, V_NEW) completes the
 *    move and asks CPU O to release V_OLD;
 *  - the slots (O, V_NEW) and (N, V_OLD) free or owned by another
 *    interrupt (both explored).
 *
 * Checked: every raise is handled exactly once (assertions when the system
 * comes to rest, and the LTL property "lossless"), no message reaches a
 * slot nobody owns ("no irq handler"), our handler never runs more often
 * than the device raised.
 *
 * Variants (spin -D...): NAIVE writes the final message at once (ADDR then
 * DATA, as PCI MSI orders its registers) with no IRR check; NO_IRR_CHECK,
 * NO_MARK, NO_CLEANUP_CHECK and EARLY_RELEASE (old vector released right
 * after the update) each drop one ingredient of the protocol.  All of them
 * must fail; tests/spin/run_spin.sh checks that they do.  NO_UNPACED drops
 * the unpaced raise (shorter counterexamples); LTL_ONLY leaves the checking
 * to the LTL property.
 */

#define O 0
#define N 1
#define V_OLD 0
#define V_NEW 1

/* Vector table slot contents. */
#define UNUSED 0
#define IRQ 1           /* our interrupt */
#define OTHER 2         /* another interrupt owns the slot */
#define RETRIGGERED 3   /* released/marked: absorb one stray silently */

#ifndef MAXRAISE
#define MAXRAISE 3
#endif

/* The cleanup on CPU O is postponed while V_OLD is still pending in its IRR. */
#ifdef NO_CLEANUP_CHECK
#define CLEANUP_MAY_RUN (cleanup_asked)
#else
#define CLEANUP_MAY_RUN (cleanup_asked && !IRR(O, V_OLD))
#endif

#define SLOT(c, v) slot[(c) * 2 + (v)]
#define IRR(c, v) irr[(c) * 2 + (v)]

byte addr = O;                  /* the function's MSI address register: destination */
byte data = V_OLD;              /* its MSI data register: vector */
byte slot[4];
bool irr[4];

byte raises = 0;                /* messages the device sent */
byte runs = 0;                  /* runs of our handler */
bool pending = false;           /* a raise no handler has seen yet */
bool unpaced = false;           /* the device raised once without waiting */
byte nohandler = 0;             /* hits on an unowned slot ("no irq handler") */
byte other_runs = 0;            /* spurious calls of another interrupt's handler */
byte strays = 0;                /* hits absorbed by a RETRIGGERED slot */
byte retriggers = 0;
bool move_in_progress = true;   /* V_OLD on O is still routed to us */
bool cleanup_asked = false;

ltl lossless { [] (pending -> <> !pending) }

/*
 * Raises are paced: the next only once a handler saw the previous one.  Once
 * per run the device may also raise again before that (a second event
 * while the first is pending), which is what exercises the old vector's
 * cleanup; the two may then coalesce in an IRR, so "exactly once" is only
 * asserted for runs without it.
 */
proctype device()
{
end_idle:
	do
	:: raises < MAXRAISE && !pending ->
		/* One bus write: the registers as they are at this moment. */
		atomic { pending = true; raises++; IRR(addr, data) = true }
#ifndef NO_UNPACED
	:: raises < MAXRAISE && pending && !unpaced ->
		atomic { unpaced = true; raises++; IRR(addr, data) = true }
#endif
	od
}

/*
 * CPU c takes a pending vector: entry, vector table lookup, flow handler.
 * The handler reads its device's state, which covers every raise so far.
 */
inline take(c)
{
	atomic {
		if
		:: IRR(c, V_OLD) -> IRR(c, V_OLD) = false; v = V_OLD
		:: IRR(c, V_NEW) -> IRR(c, V_NEW) = false; v = V_NEW
		fi;
		if
		:: SLOT(c, v) == IRQ ->
			/* ack: the first interrupt on the new target completes the move */
			if
			:: c == N && v == V_NEW && move_in_progress -> cleanup_asked = true
			:: else -> skip
			fi;
			runs++;
			pending = false;
			assert(runs <= raises)
		:: SLOT(c, v) == RETRIGGERED -> SLOT(c, v) = UNUSED; strays++
		:: SLOT(c, v) == OTHER -> other_runs++
		:: SLOT(c, v) == UNUSED -> nohandler++
		fi;
		v = 0
	}
}

proctype cpu_o()
{
	byte v = 0;

	/* Before the update: interrupts on. */
	do
	:: (IRR(O, V_OLD) || IRR(O, V_NEW)) -> take(O)
	:: break
	od;

	/* The update, interrupts off (descriptor lock held). */
#ifdef NAIVE
	addr = N;
	data = V_NEW;
#else
#ifndef NO_MARK
	atomic {
		if
		:: SLOT(O, V_NEW) == UNUSED -> SLOT(O, V_NEW) = RETRIGGERED
		:: else -> skip
		fi
	}
#endif
	data = V_NEW;                   /* 1. new vector, current CPU */
	addr = N;                       /* 2. new CPU */
#ifndef NO_IRR_CHECK
	if                              /* 3. raced? replay on the new target (IPI) */
	:: IRR(O, V_NEW) -> IRR(N, V_NEW) = true; retriggers++
	:: else -> skip
	fi;
#endif
#endif
#ifdef EARLY_RELEASE
	SLOT(O, V_OLD) = UNUSED;        /* not waiting for an interrupt on the new target */
	move_in_progress = false;
#endif

	/* Interrupts on again; the old vector's cleanup arrives as an IPI. */
end_o:
	do
	:: (IRR(O, V_OLD) || IRR(O, V_NEW)) -> take(O)
	:: atomic {
		CLEANUP_MAY_RUN ->
		SLOT(O, V_OLD) = UNUSED; move_in_progress = false; cleanup_asked = false
	   }
	od
}

proctype cpu_n()
{
	byte v = 0;

end_n:
	do
	:: (IRR(N, V_OLD) || IRR(N, V_NEW)) -> take(N)
	od
}

/* When nothing can move any more: every raise was handled, exactly once. */
proctype at_rest()
{
#ifdef LTL_ONLY
	skip                    /* leave it to the LTL property */
#else
	timeout ->
	assert(!pending);
	assert(unpaced || runs == raises);
	assert(nohandler == 0)
#endif
}

init
{
	atomic {
		SLOT(O, V_OLD) = IRQ;   /* old target, kept until the move completes */
		SLOT(N, V_NEW) = IRQ;   /* new target, assigned before any write */
		if
		:: SLOT(O, V_NEW) = UNUSED
		:: SLOT(O, V_NEW) = OTHER
		fi;
		if
		:: SLOT(N, V_OLD) = UNUSED
		:: SLOT(N, V_OLD) = OTHER
		fi;
		run device();
		run cpu_o();
		run cpu_n();
		run at_rest()
	}
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * The host port: every service of include/irqkit/osl.h, implemented on the
 * current simulated machine the way an operating system would implement it
 * on real hardware (cross-CPU calls are IPIs through the ICR, EOIs are
 * LAPIC register writes, the IDT belongs to the port).
 */
#include <errno.h>
#include <sched.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <irqkit/osl.h>

#include "host_port.h"
#include "sim_internal.h"

#define WORK_IDLE 0u
#define WORK_QUEUED 0x51u
#define SPIN_DEADLOCK_CHECK_NS (30ull * 1000000000ull)
#define RELAX_LIVELOCK_LIMIT 50000000ull

struct sim_call {
	struct sim_call *next;
	void (*fn)(void *arg);
	void *arg;
	int done;		/* __atomic */
	bool owned_by_port;	/* !wait: freed after it ran */
};

struct sim_port {
	void (*entry)(unsigned int vector);

	/* Cross-CPU calls waiting for their IPI, per target CPU. */
	pthread_mutex_t call_lock;
	struct sim_call *calls_head[SIM_MAX_CPUS];
	struct sim_call *calls_tail[SIM_MAX_CPUS];
	/* An ICR write is two register writes; keep senders on one LAPIC apart. */
	pthread_mutex_t icr_lock[SIM_MAX_CPUS];

	/* Host work queue; threaded mode drains it from a worker thread. */
	pthread_mutex_t work_lock;
	pthread_cond_t work_cond;
	struct ik_os_work *work_head, *work_tail;
	bool worker_started;
	bool worker_stop;
	bool worker_busy;
	pthread_t worker;
	/* Armed timers that have not expired (unordered), under work_lock. */
	struct ik_os_timer *timers;

	/* Deterministic-mode livelock detection in ik_os_cpu_relax(). */
	uint64_t relax_spins;
	uint64_t relax_actions;
};

static uint64_t port_unhandled;		/* __atomic */
static uint64_t port_spurious;		/* __atomic */

/* ---- Helpers ---------------------------------------------------------------- */

static struct sim_machine *port_machine(const char *what)
{
	struct sim_machine *m = sim_current();

	if (!m)
		sim_fatal("%s called with no current machine (sim_create() first)", what);
	return m;
}

static void lapic_eoi(struct sim_machine *m)
{
	sim_cpu_write(m, sim_ctx_cpu(m), SIM_LAPIC_BASE + LAPIC_REG_EOI, 0, 4);
}

/* ---- Memory ---------------------------------------------------------------------- */

#define ALLOC_HEADER ((sizeof(size_t) + alignof(max_align_t) - 1) / alignof(max_align_t) * \
		      alignof(max_align_t))

static uint64_t alloc_fail_countdown;	/* __atomic */
static uint64_t alloc_count;		/* __atomic */
static int64_t alloc_outstanding;	/* __atomic */
static int64_t alloc_bytes;		/* __atomic */

void sim_alloc_fail_nth(uint64_t n)
{
	__atomic_store_n(&alloc_fail_countdown, n, __ATOMIC_RELAXED);
}

uint64_t sim_alloc_count(void)
{
	return __atomic_load_n(&alloc_count, __ATOMIC_RELAXED);
}

int64_t sim_alloc_outstanding(void)
{
	return __atomic_load_n(&alloc_outstanding, __ATOMIC_RELAXED);
}

int64_t sim_alloc_bytes_outstanding(void)
{
	return __atomic_load_n(&alloc_bytes, __ATOMIC_RELAXED);
}

static bool alloc_should_fail(void)
{
	uint64_t n = __atomic_load_n(&alloc_fail_countdown, __ATOMIC_RELAXED);

	while (n) {
		if (__atomic_compare_exchange_n(&alloc_fail_countdown, &n, n - 1, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			return n == 1;
	}
	return false;
}

void *ik_os_alloc(size_t size)
{
	unsigned char *block;

	if (!size || size > SIZE_MAX - ALLOC_HEADER || alloc_should_fail())
		return NULL;
	block = calloc(1, ALLOC_HEADER + size);
	if (!block)
		return NULL;
	memcpy(block, &size, sizeof(size));
	__atomic_add_fetch(&alloc_count, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&alloc_outstanding, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&alloc_bytes, (int64_t)size, __ATOMIC_RELAXED);
	return block + ALLOC_HEADER;
}

void ik_os_free(void *ptr)
{
	unsigned char *block;
	size_t size;

	if (!ptr)
		return;
	block = (unsigned char *)ptr - ALLOC_HEADER;
	memcpy(&size, block, sizeof(size));
	__atomic_sub_fetch(&alloc_outstanding, 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&alloc_bytes, (int64_t)size, __ATOMIC_RELAXED);
	free(block);
}

/* ---- Interrupt flag ------------------------------------------------------------------ */

ik_irqflags_t ik_os_irq_save(void)
{
	struct sim_machine *m = sim_current();
	bool was_enabled;

	if (!m)
		return 1;
	was_enabled = sim_ctx_irqs_enabled(m);
	sim_ctx_set_irqs(m, false);
	return was_enabled;
}

void ik_os_irq_restore(ik_irqflags_t flags)
{
	struct sim_machine *m = sim_current();

	if (!m)
		return;
	if (!flags) {
		sim_ctx_set_irqs(m, false);
		return;
	}
	if (sim_ctx_irqs_enabled(m))
		return;
	sim_ctx_set_irqs(m, true);
	sim_ctx_irqs_enabled_point(m);
}

bool ik_os_irqs_disabled(void)
{
	struct sim_machine *m = sim_current();

	return m ? !sim_ctx_irqs_enabled(m) : false;
}

/* ---- Spinlocks ----------------------------------------------------------------------- */

/* opaque[0]: lock word; opaque[1]: owner (CPU + 1, or 0x10000 + n for non-CPU threads). */

void ik_os_spin_init(ik_spinlock_t *lock)
{
	__atomic_store_n(&lock->opaque[0], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&lock->opaque[1], 0, __ATOMIC_RELAXED);
}

static void describe_owner(uint32_t owner, char *buf, size_t len)
{
	if (owner && owner < 0x10000)
		snprintf(buf, len, "cpu %u", owner - 1);
	else if (owner)
		snprintf(buf, len, "host thread #%u", owner - 0x10000);
	else
		snprintf(buf, len, "nobody");
}

static void __attribute__((noreturn)) spin_deadlock(const ik_spinlock_t *lock, uint32_t me,
						     const char *why)
{
	char holder[32], taker[32];

	describe_owner(__atomic_load_n(&lock->opaque[1], __ATOMIC_RELAXED), holder,
		       sizeof(holder));
	describe_owner(me, taker, sizeof(taker));
	sim_fatal("spinlock %p: %s: held by %s, wanted by %s", (const void *)lock, why,
		  holder, taker);
}

static uint64_t host_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void spin_acquire_threaded(ik_spinlock_t *lock, uint32_t me)
{
	uint64_t start = 0;
	unsigned int spins = 0;
	uint32_t expected = 0;

	while (!__atomic_compare_exchange_n(&lock->opaque[0], &expected, 1, false,
					    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		if (__atomic_load_n(&lock->opaque[1], __ATOMIC_RELAXED) == me)
			spin_deadlock(lock, me, "recursive acquisition");
		if (++spins % 1024 == 0) {
			uint64_t now = host_monotonic_ns();

			if (!start)
				start = now;
			else if (now - start > SPIN_DEADLOCK_CHECK_NS)
				spin_deadlock(lock, me, "spinning for 30 s");
			sched_yield();
		}
		expected = 0;
	}
}

/*
 * Count of spinlocks held on the machine.  Deterministic mode has one host
 * thread, so a plain read-modify-write is enough there and keeps the
 * host's locks cheap on the dispatch path.
 */
static void spin_held_add(struct sim_machine *m, int delta)
{
	if (m->cfg.threaded)
		__atomic_add_fetch(&m->spin_held, delta, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&m->spin_held,
				 __atomic_load_n(&m->spin_held, __ATOMIC_RELAXED) + delta,
				 __ATOMIC_RELAXED);
}

/* Owner tag of the caller; same as sim_ctx_lock_owner() with a fast path. */
static uint32_t lock_owner(struct sim_machine *m)
{
	if (!m)
		return 0x10000;
	if (!m->cfg.threaded && m->ctx_depth)
		return m->cur_cpu + 1;
	return sim_ctx_lock_owner(m);
}

void ik_os_spin_lock(ik_spinlock_t *lock)
{
	struct sim_machine *m = sim_current();
	uint32_t me = lock_owner(m);

	if (m && m->cfg.threaded) {
		spin_acquire_threaded(lock, me);
	} else {
		/* One host thread: a held lock can never be released while we wait. */
		if (__atomic_load_n(&lock->opaque[0], __ATOMIC_RELAXED))
			spin_deadlock(lock, me, "deadlock in deterministic mode");
		__atomic_store_n(&lock->opaque[0], 1, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&lock->opaque[1], me, __ATOMIC_RELAXED);
	if (m)
		spin_held_add(m, 1);
}

void ik_os_spin_unlock(ik_spinlock_t *lock)
{
	struct sim_machine *m = sim_current();

	if (!__atomic_load_n(&lock->opaque[0], __ATOMIC_RELAXED))
		sim_fatal("spinlock %p: unlock of an unlocked lock", (void *)lock);
	__atomic_store_n(&lock->opaque[1], 0, __ATOMIC_RELAXED);
	if (m)
		spin_held_add(m, -1);
	__atomic_store_n(&lock->opaque[0], 0, __ATOMIC_RELEASE);
}

ik_irqflags_t ik_os_spin_lock_irqsave(ik_spinlock_t *lock)
{
	ik_irqflags_t flags = ik_os_irq_save();

	ik_os_spin_lock(lock);
	return flags;
}

void ik_os_spin_unlock_irqrestore(ik_spinlock_t *lock, ik_irqflags_t flags)
{
	ik_os_spin_unlock(lock);
	ik_os_irq_restore(flags);
}

bool ik_os_spin_held(const ik_spinlock_t *lock)
{
	struct sim_machine *m = sim_current();
	uint32_t me = lock_owner(m);

	return __atomic_load_n(&lock->opaque[0], __ATOMIC_RELAXED) &&
	       __atomic_load_n(&lock->opaque[1], __ATOMIC_RELAXED) == me;
}

/* ---- Mutexes ----------------------------------------------------------------------------- */

struct sim_mutex {
	pthread_mutex_t mutex;
	uint64_t owner_task;	/* __atomic; 0 when unlocked */
};

IK_STATIC_ASSERT(sizeof(struct sim_mutex) <= sizeof(ik_mutex_t), "ik_mutex_t too small");
IK_STATIC_ASSERT(alignof(struct sim_mutex) <= alignof(ik_mutex_t), "ik_mutex_t misaligned");

static struct sim_mutex *to_sim_mutex(const ik_mutex_t *mutex)
{
	return (struct sim_mutex *)(uintptr_t)(const void *)mutex;
}

void ik_os_mutex_init(ik_mutex_t *mutex)
{
	struct sim_mutex *sm = to_sim_mutex(mutex);

	memset(mutex, 0, sizeof(*mutex));
	pthread_mutex_init(&sm->mutex, NULL);
}

void ik_os_mutex_destroy(ik_mutex_t *mutex)
{
	struct sim_mutex *sm = to_sim_mutex(mutex);

	if (__atomic_load_n(&sm->owner_task, __ATOMIC_RELAXED))
		sim_fatal("mutex %p destroyed while held", (void *)mutex);
	pthread_mutex_destroy(&sm->mutex);
}

void ik_os_mutex_lock(ik_mutex_t *mutex)
{
	struct sim_mutex *sm = to_sim_mutex(mutex);
	struct sim_machine *m = sim_current();
	uint64_t me = sim_ctx_task(m);

	if (m && sim_ctx_in_irq(m))
		sim_fatal("mutex %p taken in interrupt context on cpu %u", (void *)mutex,
			  sim_ctx_cpu(m));
	if (__atomic_load_n(&sm->owner_task, __ATOMIC_RELAXED) == me)
		sim_fatal("mutex %p: recursive acquisition", (void *)mutex);
	if (m && !m->cfg.threaded) {
		/* Nobody else can run to release it: sleeping here is a deadlock. */
		if (pthread_mutex_trylock(&sm->mutex))
			sim_fatal("mutex %p: contended in deterministic mode (held by task %llu, "
				  "wanted by task %llu on cpu %u)", (void *)mutex,
				  (unsigned long long)__atomic_load_n(&sm->owner_task,
								      __ATOMIC_RELAXED),
				  (unsigned long long)me, sim_ctx_cpu(m));
	} else {
		pthread_mutex_lock(&sm->mutex);
	}
	__atomic_store_n(&sm->owner_task, me, __ATOMIC_RELAXED);
}

void ik_os_mutex_unlock(ik_mutex_t *mutex)
{
	struct sim_mutex *sm = to_sim_mutex(mutex);

	__atomic_store_n(&sm->owner_task, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&sm->mutex);
}

bool ik_os_mutex_held(const ik_mutex_t *mutex)
{
	struct sim_mutex *sm = to_sim_mutex(mutex);

	return __atomic_load_n(&sm->owner_task, __ATOMIC_RELAXED) == sim_ctx_task(sim_current());
}

/* ---- CPUs ---------------------------------------------------------------------------------- */

unsigned int ik_os_cpu_count(void)
{
	struct sim_machine *m = sim_current();

	return m ? sim_nr_cpus(m) : 1;
}

unsigned int ik_os_cpu_id(void)
{
	struct sim_machine *m = sim_current();

	if (!m)
		return 0;
	/* Deterministic fast path: inside a CPU context the answer is stored. */
	if (!m->cfg.threaded && m->ctx_depth)
		return m->cur_cpu;
	return sim_ctx_cpu(m);
}

void ik_os_cpu_relax(void)
{
	struct sim_machine *m = sim_current();
	struct sim_port *port;
	uint64_t actions;

	if (!m)
		return;
	if (m->cfg.threaded) {
		sim_point(m);
		sched_yield();
		return;
	}
	/* A busy-wait that nothing can ever satisfy would spin forever: say so. */
	port = m->port;
	sim_point(m);
	actions = sim_actions(m);
	if (actions != port->relax_actions) {
		port->relax_actions = actions;
		port->relax_spins = 0;
	} else if (++port->relax_spins > RELAX_LIVELOCK_LIMIT) {
		sim_fatal("cpu %u busy-waits with nothing left to run (livelock)", sim_ctx_cpu(m));
	}
}

static void send_call_ipi(struct sim_machine *m, unsigned int from, unsigned int to)
{
	struct sim_port *port = m->port;

	pthread_mutex_lock(&port->icr_lock[from]);
	sim_cpu_write(m, from, SIM_LAPIC_BASE + LAPIC_REG_ICR_HI,
		      (uint64_t)sim_cpu_apic_id(m, to) << 24, 4);
	/* Fixed delivery, physical destination, edge, no shorthand. */
	sim_cpu_write(m, from, SIM_LAPIC_BASE + LAPIC_REG_ICR_LO, SIM_VECTOR_CALL_FUNCTION, 4);
	pthread_mutex_unlock(&port->icr_lock[from]);
}

static void queue_call(struct sim_port *port, unsigned int cpu, struct sim_call *call)
{
	pthread_mutex_lock(&port->call_lock);
	call->next = NULL;
	if (port->calls_tail[cpu])
		port->calls_tail[cpu]->next = call;
	else
		port->calls_head[cpu] = call;
	port->calls_tail[cpu] = call;
	pthread_mutex_unlock(&port->call_lock);
}

/* The call-function IPI handler: run everything queued for this CPU. */
static void run_queued_calls(struct sim_machine *m, unsigned int cpu)
{
	struct sim_port *port = m->port;
	struct sim_call *list;

	pthread_mutex_lock(&port->call_lock);
	list = port->calls_head[cpu];
	port->calls_head[cpu] = port->calls_tail[cpu] = NULL;
	pthread_mutex_unlock(&port->call_lock);
	while (list) {
		struct sim_call *call = list;

		list = call->next;
		call->fn(call->arg);
		if (call->owned_by_port)
			free(call);
		else
			__atomic_store_n(&call->done, 1, __ATOMIC_RELEASE);
	}
}

static void wait_for_call(struct sim_machine *m, unsigned int cpu, struct sim_call *call)
{
	if (m->cfg.threaded) {
		while (!__atomic_load_n(&call->done, __ATOMIC_ACQUIRE)) {
			sim_point(m);
			sched_yield();
		}
		return;
	}
	while (!__atomic_load_n(&call->done, __ATOMIC_ACQUIRE)) {
		if (!sim_det_step(m))
			sim_fatal("ik_os_cpu_call: cpu %u cannot take the call from cpu %u "
				  "(its interrupts are disabled or a spinlock is held)",
				  cpu, sim_ctx_cpu(m));
	}
}

int ik_os_cpu_call(unsigned int cpu, void (*fn)(void *arg), void *arg, bool wait)
{
	struct sim_machine *m = port_machine("ik_os_cpu_call");
	struct sim_call on_stack = { .fn = fn, .arg = arg };
	struct sim_call *call = &on_stack;

	if (cpu >= sim_nr_cpus(m))
		return -IK_EINVAL;
	if (!sim_cpu_is_online(m, cpu) || !sim_lapic_sw_enabled(m, cpu))
		return -IK_ENODEV;
	if (sim_ctx_is_cpu(m, cpu)) {
		/* As on Linux: a call to the own CPU runs at once, interrupts off. */
		ik_irqflags_t flags = ik_os_irq_save();

		fn(arg);
		ik_os_irq_restore(flags);
		return 0;
	}
	if (!wait) {
		call = calloc(1, sizeof(*call));
		if (!call)
			return -IK_ENOMEM;
		call->fn = fn;
		call->arg = arg;
		call->owned_by_port = true;
	}
	queue_call(m->port, cpu, call);
	send_call_ipi(m, sim_ctx_cpu(m), cpu);
	if (wait)
		wait_for_call(m, cpu, call);
	return 0;
}

/* ---- Timers --------------------------------------------------------------------------------- */

/*
 * A timer lives in host_private: a work item that runs its callback, the
 * link of the port's pending list, the deadline and its state.  Expired
 * timers become work items, so callbacks run exactly where work runs.
 */
#define TIMER_IDLE 0u
#define TIMER_PENDING 1u	/* on port->timers */
#define TIMER_QUEUED 2u		/* its work item is queued */

struct sim_timer {
	struct ik_os_work work;
	struct ik_os_timer *next;
	uint64_t deadline_ns;
	uint32_t state;
	uint32_t running;	/* callback started, not finished */
};

IK_STATIC_ASSERT(sizeof(struct sim_timer) <= sizeof(((struct ik_os_timer *)0)->host_private),
		 "ik_os_timer too small");

static struct sim_timer *to_sim_timer(struct ik_os_timer *t)
{
	return (struct sim_timer *)(void *)t->host_private;
}

static struct ik_os_timer *timer_of_work(struct ik_os_work *work)
{
	return (struct ik_os_timer *)(void *)((char *)work -
					       offsetof(struct ik_os_timer, host_private));
}

static void timer_work_fn(struct ik_os_work *work);

static void queue_work_locked(struct sim_port *port, struct ik_os_work *work)
{
	if (work->host_state == WORK_QUEUED)
		return;
	work->host_state = WORK_QUEUED;
	work->host_next = NULL;
	if (port->work_tail)
		port->work_tail->host_next = work;
	else
		port->work_head = work;
	port->work_tail = work;
	pthread_cond_signal(&port->work_cond);
}

static void unlink_work_locked(struct sim_port *port, struct ik_os_work *work)
{
	struct ik_os_work *prev = NULL;

	for (struct ik_os_work *w = port->work_head; w; prev = w, w = w->host_next) {
		if (w != work)
			continue;
		if (prev)
			prev->host_next = w->host_next;
		else
			port->work_head = w->host_next;
		if (port->work_tail == w)
			port->work_tail = prev;
		w->host_next = NULL;
		w->host_state = WORK_IDLE;
		return;
	}
}

static void unlink_timer_locked(struct sim_port *port, struct ik_os_timer *t)
{
	for (struct ik_os_timer **pp = &port->timers; *pp; pp = &to_sim_timer(*pp)->next) {
		if (*pp == t) {
			*pp = to_sim_timer(t)->next;
			to_sim_timer(t)->next = NULL;
			return;
		}
	}
}

/*
 * Move every due timer to the work queue; work_lock held.  Returns the
 * earliest deadline still pending, or UINT64_MAX.
 */
static uint64_t expire_timers_locked(struct sim_port *port, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	struct ik_os_timer **pp = &port->timers;

	while (*pp) {
		struct ik_os_timer *t = *pp;
		struct sim_timer *st = to_sim_timer(t);

		if (st->deadline_ns <= now) {
			*pp = st->next;
			st->next = NULL;
			st->state = TIMER_QUEUED;
			queue_work_locked(port, &st->work);
			continue;
		}
		if (st->deadline_ns < next)
			next = st->deadline_ns;
		pp = &st->next;
	}
	return next;
}

static uint64_t ns_to_ticks(uint64_t ns)
{
	return ns / 10 + (ns % 10 != 0);
}

/*
 * Deterministic mode: a device event at the deadline.  It names only the
 * machine, never a timer, so a cancelled (even freed) timer leaves nothing
 * behind but a harmless extra pass.  Events may run early: re-schedule for
 * whatever is still pending.
 */
static void timer_event(void *arg)
{
	struct sim_machine *m = arg;
	struct sim_port *port = m->port;
	uint64_t now = ik_os_time_ns();
	uint64_t next;

	pthread_mutex_lock(&port->work_lock);
	next = expire_timers_locked(port, now);
	pthread_mutex_unlock(&port->work_lock);
	if (next != UINT64_MAX)
		sim_schedule(m, ns_to_ticks(next - now) ? ns_to_ticks(next - now) : 1,
			     timer_event, m);
}

void ik_os_timer_arm(struct ik_os_timer *timer, uint64_t delay_ns)
{
	struct sim_machine *m = port_machine("ik_os_timer_arm");
	struct sim_port *port = m->port;
	struct sim_timer *st = to_sim_timer(timer);
	uint64_t now = ik_os_time_ns();
	bool armed = false;

	pthread_mutex_lock(&port->work_lock);
	if (st->state == TIMER_IDLE) {
		st->work.fn = timer_work_fn;
		st->deadline_ns = delay_ns > UINT64_MAX - now ? UINT64_MAX : now + delay_ns;
		st->state = TIMER_PENDING;
		st->next = port->timers;
		port->timers = timer;
		armed = true;
		/* The worker may be asleep with a later (or no) deadline. */
		pthread_cond_signal(&port->work_cond);
	}
	pthread_mutex_unlock(&port->work_lock);
	if (armed && !m->cfg.threaded)
		sim_schedule(m, ns_to_ticks(delay_ns) ? ns_to_ticks(delay_ns) : 1, timer_event, m);
}

static void timer_work_fn(struct ik_os_work *work)
{
	struct ik_os_timer *t = timer_of_work(work);
	struct sim_machine *m = port_machine("timer callback");
	struct sim_port *port = m->port;

	/* dequeue_work_locked() moved it to running under work_lock. */
	t->fn(t);
	pthread_mutex_lock(&port->work_lock);
	to_sim_timer(t)->running = 0;
	pthread_mutex_unlock(&port->work_lock);
}

bool ik_os_timer_cancel_sync(struct ik_os_timer *timer)
{
	struct sim_machine *m = port_machine("ik_os_timer_cancel_sync");
	struct sim_port *port = m->port;
	struct sim_timer *st = to_sim_timer(timer);
	bool cancelled = false;

	pthread_mutex_lock(&port->work_lock);
	if (st->state == TIMER_PENDING)
		unlink_timer_locked(port, timer);
	else if (st->state == TIMER_QUEUED)
		unlink_work_locked(port, &st->work);
	cancelled = st->state != TIMER_IDLE;
	st->state = TIMER_IDLE;
	/*
	 * Wait for a running callback, unless we are it: the worker thread in
	 * threaded mode; in deterministic mode only the callback itself can
	 * observe its timer running (work items never nest).
	 */
	while (st->running && m->cfg.threaded &&
	       !(port->worker_started && pthread_equal(port->worker, pthread_self()))) {
		pthread_mutex_unlock(&port->work_lock);
		sched_yield();
		pthread_mutex_lock(&port->work_lock);
	}
	pthread_mutex_unlock(&port->work_lock);
	return cancelled;
}

/* ---- Deferred work ------------------------------------------------------------------------- */

void ik_os_work_queue(struct ik_os_work *work)
{
	struct sim_machine *m = port_machine("ik_os_work_queue");
	struct sim_port *port = m->port;

	pthread_mutex_lock(&port->work_lock);
	if (work->host_state != WORK_QUEUED) {
		work->host_state = WORK_QUEUED;
		work->host_next = NULL;
		if (port->work_tail)
			port->work_tail->host_next = work;
		else
			port->work_head = work;
		port->work_tail = work;
		pthread_cond_signal(&port->work_cond);
	}
	pthread_mutex_unlock(&port->work_lock);
}

static struct ik_os_work *dequeue_work_locked(struct sim_port *port)
{
	struct ik_os_work *work = port->work_head;

	if (!work)
		return NULL;
	port->work_head = work->host_next;
	if (!port->work_head)
		port->work_tail = NULL;
	work->host_next = NULL;
	/* Started: from now on queuing it again is not a no-op. */
	work->host_state = WORK_IDLE;
	if (work->fn == timer_work_fn) {
		struct sim_timer *st = to_sim_timer(timer_of_work(work));

		st->state = TIMER_IDLE;
		st->running = 1;
	}
	return work;
}

struct ik_os_work *sim_port_dequeue_work(struct sim_machine *m)
{
	struct sim_port *port = m->port;
	struct ik_os_work *work;

	pthread_mutex_lock(&port->work_lock);
	work = dequeue_work_locked(port);
	pthread_mutex_unlock(&port->work_lock);
	return work;
}

bool sim_port_idle(struct sim_machine *m)
{
	struct sim_port *port = m->port;
	bool idle;

	pthread_mutex_lock(&port->work_lock);
	idle = !port->work_head && !port->worker_busy && (!m->cfg.threaded || !port->timers);
	pthread_mutex_unlock(&port->work_lock);
	return idle;
}

static void *worker_main(void *arg)
{
	struct sim_machine *m = arg;
	struct sim_port *port = m->port;

	pthread_mutex_lock(&port->work_lock);
	while (!port->worker_stop) {
		uint64_t next = expire_timers_locked(port, host_monotonic_ns());
		struct ik_os_work *work = dequeue_work_locked(port);

		if (!work) {
			if (next == UINT64_MAX) {
				pthread_cond_wait(&port->work_cond, &port->work_lock);
			} else {
				struct timespec ts = {
					.tv_sec = (time_t)(next / 1000000000ull),
					.tv_nsec = (long)(next % 1000000000ull),
				};

				pthread_cond_timedwait(&port->work_cond, &port->work_lock, &ts);
			}
			continue;
		}
		port->worker_busy = true;
		pthread_mutex_unlock(&port->work_lock);
		sim_trace(m, SIM_TRACE_WORK, sim_ctx_cpu(m), 0, (uint64_t)(uintptr_t)work);
		work->fn(work);
		pthread_mutex_lock(&port->work_lock);
		port->worker_busy = false;
	}
	pthread_mutex_unlock(&port->work_lock);
	return NULL;
}


/* ---- Register access -------------------------------------------------------------------------- */

uint32_t ik_os_mmio_read32(uint64_t phys)
{
	struct sim_machine *m = port_machine("ik_os_mmio_read32");

	sim_point(m);
	return (uint32_t)sim_cpu_read(m, sim_ctx_cpu(m), phys, 4);
}

void ik_os_mmio_write32(uint64_t phys, uint32_t value)
{
	struct sim_machine *m = port_machine("ik_os_mmio_write32");

	sim_point(m);
	sim_cpu_write(m, sim_ctx_cpu(m), phys, value, 4);
}

uint64_t ik_os_mmio_read64(uint64_t phys)
{
	struct sim_machine *m = port_machine("ik_os_mmio_read64");

	sim_point(m);
	return sim_cpu_read(m, sim_ctx_cpu(m), phys, 8);
}

void ik_os_mmio_write64(uint64_t phys, uint64_t value)
{
	struct sim_machine *m = port_machine("ik_os_mmio_write64");

	sim_point(m);
	sim_cpu_write(m, sim_ctx_cpu(m), phys, value, 8);
}

int ik_os_pci_cfg_read(uint16_t segment, uint16_t bdf, uint16_t offset,
		       unsigned int size, uint32_t *value)
{
	struct sim_machine *m = port_machine("ik_os_pci_cfg_read");

	sim_point(m);
	return sim_pci_cfg_read(m, segment, bdf, offset, size, value);
}

int ik_os_pci_cfg_write(uint16_t segment, uint16_t bdf, uint16_t offset,
			unsigned int size, uint32_t value)
{
	struct sim_machine *m = port_machine("ik_os_pci_cfg_write");

	sim_point(m);
	return sim_pci_cfg_write(m, segment, bdf, offset, size, value);
}

/* ---- Log and time --------------------------------------------------------------------------------- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_level = IK_LOG_WARN;
static uint64_t log_warnings;
static char log_last[512];

void sim_port_set_log_level(int level)
{
	pthread_mutex_lock(&log_lock);
	log_level = level;
	pthread_mutex_unlock(&log_lock);
}

uint64_t sim_port_warnings(void)
{
	uint64_t n;

	pthread_mutex_lock(&log_lock);
	n = log_warnings;
	pthread_mutex_unlock(&log_lock);
	return n;
}

const char *sim_port_last_log(void)
{
	return log_last;
}

void ik_os_vlog(int level, const char *fmt, va_list ap)
{
	static const char *const names[] = { "err", "warn", "info", "debug" };
	char line[sizeof(log_last)];
	size_t len;

	vsnprintf(line, sizeof(line), fmt, ap);
	len = strlen(line);
	while (len && line[len - 1] == '\n')
		line[--len] = '\0';
	pthread_mutex_lock(&log_lock);
	memcpy(log_last, line, len + 1);
	if (level <= IK_LOG_WARN)
		log_warnings++;
	if (level <= log_level)
		fprintf(stderr, "irqkit %s: %s\n",
			level >= 0 && level <= IK_LOG_DEBUG ? names[level] : "?", line);
	pthread_mutex_unlock(&log_lock);
}

uint64_t ik_os_time_ns(void)
{
	struct sim_machine *m = sim_current();

	if (m && !m->cfg.threaded)
		return sim_now(m) * 10;	/* one tick = 10 ns of virtual time */
	return host_monotonic_ns();
}

/* ---- The IDT ------------------------------------------------------------------------------------------ */

uint64_t sim_port_unhandled(void)
{
	return __atomic_load_n(&port_unhandled, __ATOMIC_RELAXED);
}

uint64_t sim_port_spurious(void)
{
	return __atomic_load_n(&port_spurious, __ATOMIC_RELAXED);
}

static void port_idt_entry(void *ctx, unsigned int vector)
{
	struct sim_machine *m = ctx;
	void (*entry)(unsigned int) = __atomic_load_n(&m->port->entry, __ATOMIC_ACQUIRE);

	switch (vector) {
	case SIM_VECTOR_CALL_FUNCTION:
		lapic_eoi(m);
		run_queued_calls(m, sim_ctx_cpu(m));
		break;
	case SIM_VECTOR_SPURIOUS:
		/* A spurious interrupt never set an ISR bit: no EOI. */
		__atomic_add_fetch(&port_spurious, 1, __ATOMIC_RELAXED);
		break;
	default:
		if (entry) {
			entry(vector);
		} else {
			lapic_eoi(m);
			__atomic_add_fetch(&port_unhandled, 1, __ATOMIC_RELAXED);
		}
		break;
	}
}

void sim_port_install(struct sim_machine *m, void (*entry)(unsigned int vector))
{
	__atomic_store_n(&m->port->entry, entry, __ATOMIC_RELEASE);
	sim_set_idt(m, port_idt_entry, m);
	/* What an OS does at boot on every CPU: enable the APIC, flat logical model. */
	for (unsigned int cpu = 0; cpu < sim_nr_cpus(m); cpu++) {
		uint32_t ldr = cpu < 8 ? (1u << cpu) << 24 : 0;

		sim_cpu_write(m, cpu, SIM_LAPIC_BASE + LAPIC_REG_DFR, 0xFFFFFFFFu, 4);
		sim_cpu_write(m, cpu, SIM_LAPIC_BASE + LAPIC_REG_LDR, ldr, 4);
		sim_cpu_write(m, cpu, SIM_LAPIC_BASE + LAPIC_REG_SVR,
			      LAPIC_SVR_ENABLE | SIM_VECTOR_SPURIOUS, 4);
	}
}

/* ---- Per-machine state ------------------------------------------------------------------------------- */

int sim_port_machine_init(struct sim_machine *m)
{
	struct sim_port *port = calloc(1, sizeof(*port));

	if (!port)
		return -ENOMEM;
	pthread_mutex_init(&port->call_lock, NULL);
	for (unsigned int i = 0; i < SIM_MAX_CPUS; i++)
		pthread_mutex_init(&port->icr_lock[i], NULL);
	pthread_mutex_init(&port->work_lock, NULL);
	{
		pthread_condattr_t attr;

		/* Timer deadlines are on CLOCK_MONOTONIC (host_monotonic_ns()). */
		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&port->work_cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	m->port = port;
	if (m->cfg.threaded) {
		if (pthread_create(&port->worker, NULL, worker_main, m)) {
			sim_port_machine_fini(m);
			return -EAGAIN;
		}
		port->worker_started = true;
	}
	return 0;
}

void sim_port_machine_stop(struct sim_machine *m)
{
	struct sim_port *port = m->port;

	if (!port || !port->worker_started)
		return;
	pthread_mutex_lock(&port->work_lock);
	port->worker_stop = true;
	pthread_cond_signal(&port->work_cond);
	pthread_mutex_unlock(&port->work_lock);
	pthread_join(port->worker, NULL);
	port->worker_started = false;
}

void sim_port_machine_fini(struct sim_machine *m)
{
	struct sim_port *port = m->port;

	if (!port)
		return;
	/* Calls queued with !wait whose IPI was never taken. */
	for (unsigned int cpu = 0; cpu < SIM_MAX_CPUS; cpu++) {
		while (port->calls_head[cpu]) {
			struct sim_call *call = port->calls_head[cpu];

			port->calls_head[cpu] = call->next;
			if (call->owned_by_port)
				free(call);
		}
	}
	pthread_mutex_destroy(&port->call_lock);
	for (unsigned int i = 0; i < SIM_MAX_CPUS; i++)
		pthread_mutex_destroy(&port->icr_lock[i]);
	pthread_mutex_destroy(&port->work_lock);
	pthread_cond_destroy(&port->work_cond);
	free(port);
	m->port = NULL;
}

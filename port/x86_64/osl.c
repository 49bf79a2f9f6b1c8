// SPDX-License-Identifier: BSD-2-Clause
/*
 * The OS services (include/irqkit/osl.h) on bare metal, plus the port's
 * process-context machinery: deferred work, timers and run-on-CPU
 * requests, run by the idle loops of the APs and by every port_wait /
 * port_delay_us loop.
 */
#include "kern.h"

/* ---- Memory ------------------------------------------------------------------------ */

/*
 * Power-of-two size classes (32 B .. 32 MiB), each with a free list; a
 * class grows from a bump region.  A 16-byte header in front of every
 * block remembers its class.  The lock is taken with interrupts off
 * (ik_os_free may be called in any context).
 */
#define HEAP_MIN_SHIFT 5
#define HEAP_MAX_SHIFT 25
#define HEAP_HDR 16u

struct heap_block {
	struct heap_block *next;
};

static ik_spinlock_t heap_lock;
static uint64_t heap_cur, heap_end;
static struct heap_block *heap_free[HEAP_MAX_SHIFT + 1];
static uint64_t heap_in_use;

static ik_spinlock_t phys_lock;
static uint64_t phys_cur, phys_end;

void heap_init(uint64_t start, uint64_t end)
{
	ik_os_spin_init(&heap_lock);
	heap_cur = (start + 63) & ~63ull;
	heap_end = end;
}

void phys_init(uint64_t start, uint64_t end)
{
	ik_os_spin_init(&phys_lock);
	phys_cur = start;
	phys_end = end;
}

void *ik_os_alloc(size_t size)
{
	unsigned int shift = HEAP_MIN_SHIFT;
	uint64_t *hdr = NULL;
	ik_irqflags_t flags;

	if (!size)
		return NULL;
	while (shift <= HEAP_MAX_SHIFT && (1ull << shift) < size + HEAP_HDR)
		shift++;
	if (shift > HEAP_MAX_SHIFT)
		return NULL;
	flags = ik_os_spin_lock_irqsave(&heap_lock);
	if (heap_free[shift]) {
		hdr = (uint64_t *)(void *)heap_free[shift];
		heap_free[shift] = heap_free[shift]->next;
	} else if (heap_end - heap_cur >= (1ull << shift)) {
		hdr = (uint64_t *)(uintptr_t)heap_cur;
		heap_cur += 1ull << shift;
	}
	if (hdr)
		heap_in_use += 1ull << shift;
	ik_os_spin_unlock_irqrestore(&heap_lock, flags);
	if (!hdr)
		return NULL;
	memset(hdr, 0, 1ull << shift);
	hdr[0] = shift;
	hdr[1] = 0x6b6f6c6c61717269ull;	/* "irqalloc": checked on free */
	return (char *)hdr + HEAP_HDR;
}

void ik_os_free(void *ptr)
{
	uint64_t *hdr;
	ik_irqflags_t flags;
	unsigned int shift;

	if (!ptr)
		return;
	hdr = (uint64_t *)(void *)((char *)ptr - HEAP_HDR);
	shift = (unsigned int)hdr[0];
	if (hdr[1] != 0x6b6f6c6c61717269ull || shift < HEAP_MIN_SHIFT || shift > HEAP_MAX_SHIFT)
		port_fail("ik_os_free: bad or double free of %p\n", ptr);
	hdr[1] = 0;
	flags = ik_os_spin_lock_irqsave(&heap_lock);
	((struct heap_block *)(void *)hdr)->next = heap_free[shift];
	heap_free[shift] = (struct heap_block *)(void *)hdr;
	heap_in_use -= 1ull << shift;
	ik_os_spin_unlock_irqrestore(&heap_lock, flags);
}

void *port_phys_alloc(size_t size, size_t align)
{
	ik_irqflags_t flags;
	uint64_t a;
	void *p = NULL;

	if (align < 16)
		align = 16;
	flags = ik_os_spin_lock_irqsave(&phys_lock);
	a = (phys_cur + align - 1) & ~(uint64_t)(align - 1);
	if (a + size <= phys_end) {
		phys_cur = a + size;
		p = (void *)(uintptr_t)a;
	}
	ik_os_spin_unlock_irqrestore(&phys_lock, flags);
	if (p)
		memset(p, 0, size);
	return p;
}

/* ---- Interrupt state --------------------------------------------------------------- */

#define RFLAGS_IF (1ull << 9)

ik_irqflags_t ik_os_irq_save(void)
{
	uint64_t f = read_flags();

	cli();
	return (ik_irqflags_t)f;
}

void ik_os_irq_restore(ik_irqflags_t flags)
{
	if (flags & RFLAGS_IF)
		sti();
}

bool ik_os_irqs_disabled(void)
{
	return !(read_flags() & RFLAGS_IF);
}

/*
 * ---- Spinlocks: tickets ----------------------------------------------------------------
 * opaque[0] holds two 16-bit halves, the next ticket and the ticket being
 * served; opaque[1] the owner's CPU + 1 (ik_os_spin_held).  Fair on
 * purpose: with an unfair lock a vCPU that entered an interrupt could
 * lose the descriptor lock to another CPU for milliseconds on end.
 */
static uint16_t *ticket_next(ik_spinlock_t *lock)
{
	return (uint16_t *)(void *)&lock->opaque[0];
}

static uint16_t *ticket_owner(ik_spinlock_t *lock)
{
	return (uint16_t *)(void *)&lock->opaque[0] + 1;
}

void ik_os_spin_init(ik_spinlock_t *lock)
{
	lock->opaque[0] = 0;
	lock->opaque[1] = 0;
}

static void __attribute__((noreturn)) spin_stuck(ik_spinlock_t *lock)
{
	port_fail("PORT: spinlock %p stuck on cpu %u (held by cpu %d)\n", (void *)lock,
		  ik_os_cpu_id(), (int)__atomic_load_n(&lock->opaque[1], __ATOMIC_RELAXED) - 1);
}

void ik_os_spin_lock(ik_spinlock_t *lock)
{
	struct percpu *pc = this_cpu();
	uint16_t me;
	uint64_t start = 0;

	if (__atomic_load_n(&lock->opaque[1], __ATOMIC_RELAXED) == pc->cpu + 1)
		port_fail("PORT: spinlock %p taken recursively on cpu %u\n", (void *)lock, pc->cpu);
	me = __atomic_fetch_add(ticket_next(lock), 1, __ATOMIC_RELAXED);
	while (__atomic_load_n(ticket_owner(lock), __ATOMIC_ACQUIRE) != me) {
		cpu_pause();
		if (!start)
			start = rdtsc();
		else if (rdtsc() - start > 20000000000ull)
			spin_stuck(lock);
	}
	__atomic_store_n(&lock->opaque[1], pc->cpu + 1, __ATOMIC_RELAXED);
	pc->spin_depth++;
}

void ik_os_spin_unlock(ik_spinlock_t *lock)
{
	struct percpu *pc = this_cpu();
	uint16_t owner = __atomic_load_n(ticket_owner(lock), __ATOMIC_RELAXED);

	__atomic_store_n(&lock->opaque[1], 0, __ATOMIC_RELAXED);
	pc->spin_depth--;
	__atomic_store_n(ticket_owner(lock), (uint16_t)(owner + 1), __ATOMIC_RELEASE);
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
	/* Only the holder stores its CPU, and clears it before releasing. */
	return __atomic_load_n(&lock->opaque[1], __ATOMIC_RELAXED) == this_cpu()->cpu + 1;
}

/* ---- Mutexes ------------------------------------------------------------------------- */

/*
 * A context token names the "thread": the CPU plus how deeply deferred
 * work / requests are nested in waits on it.  The mutex word holds the
 * owner's token; waiters spin with interrupts enabled.
 */
static uint64_t ctx_token(void)
{
	struct percpu *pc = this_cpu();

	return (uint64_t)(pc->cpu + 1) | (uint64_t)pc->work_depth << 16;
}

void ik_os_mutex_init(ik_mutex_t *mutex)
{
	mutex->opaque[0] = 0;
}

void ik_os_mutex_destroy(ik_mutex_t *mutex)
{
	if (__atomic_load_n(&mutex->opaque[0], __ATOMIC_RELAXED))
		port_fail("PORT: mutex %p destroyed while held\n", (void *)mutex);
}

void ik_os_mutex_lock(ik_mutex_t *mutex)
{
	uint64_t me = ctx_token();

	if (ik_os_irqs_disabled() || this_cpu()->spin_depth)
		port_fail("PORT: mutex %p taken in atomic context\n", (void *)mutex);
	if (__atomic_load_n(&mutex->opaque[0], __ATOMIC_RELAXED) == me)
		port_fail("PORT: mutex %p taken recursively\n", (void *)mutex);
	for (;;) {
		uint64_t expect = 0;

		if (__atomic_compare_exchange_n(&mutex->opaque[0], &expect, me, false,
						__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
		cpu_pause();
	}
}

void ik_os_mutex_unlock(ik_mutex_t *mutex)
{
	if (__atomic_load_n(&mutex->opaque[0], __ATOMIC_RELAXED) != ctx_token())
		port_fail("PORT: mutex %p unlocked by a non-owner\n", (void *)mutex);
	__atomic_store_n(&mutex->opaque[0], 0, __ATOMIC_RELEASE);
}

bool ik_os_mutex_held(const ik_mutex_t *mutex)
{
	return __atomic_load_n(&mutex->opaque[0], __ATOMIC_RELAXED) == ctx_token();
}

/* ---- CPUs ------------------------------------------------------------------------------ */

struct percpu *port_cpus[PORT_MAX_CPUS];
unsigned int port_cpus_up;

unsigned int ik_os_cpu_count(void)
{
	return port_acpi()->nr_cpus;
}

unsigned int ik_os_cpu_id(void)
{
	unsigned int cpu;

	__asm__ volatile("movl %%gs:8, %0" : "=r"(cpu));
	return cpu;
}

/*
 * Busy-waits of the library (e.g. for a threaded handler to finish) are
 * satisfied by other CPUs running the deferred work.  With no other CPU
 * up, a process-context caller runs it itself.
 */
void ik_os_cpu_relax(void)
{
	cpu_pause();
	if (__atomic_load_n(&port_cpus_up, __ATOMIC_RELAXED) <= 1)
		osl_run_deferred();
}

unsigned int port_nr_cpus(void)
{
	return __atomic_load_n(&port_cpus_up, __ATOMIC_ACQUIRE);
}

static struct percpu *cpu_taking_calls(unsigned int cpu)
{
	struct percpu *pc = cpu < PORT_MAX_CPUS ? __atomic_load_n(&port_cpus[cpu], __ATOMIC_ACQUIRE) :
			    NULL;

	return pc && pc->up ? pc : NULL;
}

int ik_os_cpu_call(unsigned int cpu, void (*fn)(void *arg), void *arg, bool wait)
{
	volatile int done = 0;
	struct percpu *pc;
	ik_irqflags_t flags;

	if (cpu >= ik_os_cpu_count())
		return -IK_EINVAL;
	if (cpu == ik_os_cpu_id()) {
		/* Allowed by the interface: run at once, interrupts off. */
		flags = ik_os_irq_save();
		fn(arg);
		ik_os_irq_restore(flags);
		return 0;
	}
	pc = cpu_taking_calls(cpu);
	if (!pc)
		return -IK_ENODEV;
	if (wait && ik_os_irqs_disabled())
		port_fail("PORT: ik_os_cpu_call(wait) with interrupts disabled\n");
	for (;;) {
		flags = ik_os_spin_lock_irqsave(&pc->call_lock);
		if (pc->call_tail - pc->call_head < IK_ARRAY_SIZE(pc->calls))
			break;
		/* Ring full: let the target drain it. */
		ik_os_spin_unlock_irqrestore(&pc->call_lock, flags);
		cpu_pause();
	}
	pc->calls[pc->call_tail % IK_ARRAY_SIZE(pc->calls)] =
		(struct cpu_call_slot){ fn, arg, wait ? &done : NULL };
	pc->call_tail++;
	ik_os_spin_unlock_irqrestore(&pc->call_lock, flags);
	lapic_send(pc->apic_id, PORT_VECTOR_CALL);
	if (wait)
		while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE))
			cpu_pause();
	return 0;
}

/* Call IPI: run everything queued for this CPU, interrupts off. */
void osl_handle_call_ipi(void)
{
	struct percpu *pc = this_cpu();

	for (;;) {
		struct cpu_call_slot slot;

		ik_os_spin_lock(&pc->call_lock);
		if (pc->call_head == pc->call_tail) {
			ik_os_spin_unlock(&pc->call_lock);
			return;
		}
		slot = pc->calls[pc->call_head % IK_ARRAY_SIZE(pc->calls)];
		pc->call_head++;
		ik_os_spin_unlock(&pc->call_lock);
		slot.fn(slot.arg);
		if (slot.done)
			__atomic_store_n(slot.done, 1, __ATOMIC_RELEASE);
	}
}

/* ---- Deferred work and timers ------------------------------------------------------------ */

/*
 * One global queue of work items and one list of pending timers under
 * work_lock.  Work and timer callbacks run one at a time (work_busy), like
 * a single worker thread, on whichever CPU is in process context first:
 * an AP's idle loop or a port_wait / port_delay_us loop.  A CPU that
 * queues work kicks the idle APs.
 */
#define WORK_IDLE 0u
#define WORK_QUEUED 1u

#define TIMER_IDLE 0u
#define TIMER_PENDING 1u

struct port_timer {
	struct ik_os_timer *next;
	uint64_t deadline_ns;
	uint32_t state;
	uint32_t pad;
	uint64_t running_token;	/* context running the callback, 0 when none */
};
IK_STATIC_ASSERT(sizeof(struct port_timer) <= sizeof(((struct ik_os_timer *)0)->host_private),
		 "ik_os_timer too small");

static ik_spinlock_t work_lock;
static struct ik_os_work *work_head, *work_tail;
static struct ik_os_timer *timer_head;
static uint64_t work_busy;	/* token of the context running work, 0 when none */

static struct port_timer *ptimer(struct ik_os_timer *t)
{
	return (struct port_timer *)(void *)t->host_private;
}

static void kick_idle_cpus(void)
{
	unsigned int me = ik_os_cpu_id();

	for (unsigned int cpu = 1; cpu < PORT_MAX_CPUS; cpu++) {
		struct percpu *pc = cpu_taking_calls(cpu);

		if (pc && cpu != me) {
			/* An empty call: the IPI only ends the target's hlt. */
			lapic_send(pc->apic_id, PORT_VECTOR_CALL);
			return;
		}
	}
}

void ik_os_work_queue(struct ik_os_work *work)
{
	ik_irqflags_t flags = ik_os_spin_lock_irqsave(&work_lock);
	bool queued = false;

	if (work->host_state != WORK_QUEUED) {
		work->host_state = WORK_QUEUED;
		work->host_next = NULL;
		if (work_tail)
			work_tail->host_next = work;
		else
			work_head = work;
		work_tail = work;
		queued = true;
	}
	ik_os_spin_unlock_irqrestore(&work_lock, flags);
	if (queued)
		kick_idle_cpus();
}

void ik_os_timer_arm(struct ik_os_timer *timer, uint64_t delay_ns)
{
	struct port_timer *pt = ptimer(timer);
	uint64_t now = ik_os_time_ns();
	ik_irqflags_t flags = ik_os_spin_lock_irqsave(&work_lock);

	if (pt->state == TIMER_IDLE) {
		pt->deadline_ns = delay_ns > UINT64_MAX - now ? UINT64_MAX : now + delay_ns;
		pt->state = TIMER_PENDING;
		pt->next = timer_head;
		timer_head = timer;
	}
	ik_os_spin_unlock_irqrestore(&work_lock, flags);
}

static void unlink_timer_locked(struct ik_os_timer *timer)
{
	for (struct ik_os_timer **pp = &timer_head; *pp; pp = &ptimer(*pp)->next) {
		if (*pp == timer) {
			*pp = ptimer(timer)->next;
			ptimer(timer)->next = NULL;
			return;
		}
	}
}

bool ik_os_timer_cancel_sync(struct ik_os_timer *timer)
{
	struct port_timer *pt = ptimer(timer);
	uint64_t me = ctx_token();
	bool cancelled;
	ik_irqflags_t flags = ik_os_spin_lock_irqsave(&work_lock);

	cancelled = false;
	for (;;) {
		if (pt->state == TIMER_PENDING) {
			unlink_timer_locked(timer);
			cancelled = true;
		}
		pt->state = TIMER_IDLE;
		/* Wait for a running callback on another context (never for ourselves). */
		if (!pt->running_token || pt->running_token == me)
			break;
		while (pt->running_token && pt->running_token != me) {
			ik_os_spin_unlock_irqrestore(&work_lock, flags);
			cpu_pause();
			flags = ik_os_spin_lock_irqsave(&work_lock);
		}
		/* The callback may have re-armed it meanwhile: cancel that too. */
	}
	ik_os_spin_unlock_irqrestore(&work_lock, flags);
	return cancelled;
}

/* Take the next runnable item: a due timer first, then queued work.  work_lock held. */
static bool take_item_locked(uint64_t now, struct ik_os_work **work, struct ik_os_timer **timer)
{
	for (struct ik_os_timer **pp = &timer_head; *pp; pp = &ptimer(*pp)->next) {
		struct ik_os_timer *t = *pp;

		if (ptimer(t)->deadline_ns <= now) {
			*pp = ptimer(t)->next;
			ptimer(t)->next = NULL;
			ptimer(t)->state = TIMER_IDLE;
			ptimer(t)->running_token = work_busy;
			*timer = t;
			return true;
		}
	}
	if (work_head) {
		struct ik_os_work *w = work_head;

		work_head = w->host_next;
		if (!work_head)
			work_tail = NULL;
		w->host_next = NULL;
		/* Started: queuing it again from now on is not a no-op. */
		w->host_state = WORK_IDLE;
		*work = w;
		return true;
	}
	return false;
}

/* Run due timers and queued work until there is none (or another CPU is at it). */
static void run_work(void)
{
	struct percpu *pc = this_cpu();

	for (;;) {
		struct ik_os_work *work = NULL;
		struct ik_os_timer *timer = NULL;
		uint64_t now = ik_os_time_ns();
		ik_irqflags_t flags = ik_os_spin_lock_irqsave(&work_lock);
		uint64_t me;

		if (work_busy || (!work_head && !timer_head)) {
			ik_os_spin_unlock_irqrestore(&work_lock, flags);
			return;
		}
		pc->work_depth++;
		me = ctx_token();
		work_busy = me;
		if (!take_item_locked(now, &work, &timer)) {
			work_busy = 0;
			pc->work_depth--;
			ik_os_spin_unlock_irqrestore(&work_lock, flags);
			return;
		}
		ik_os_spin_unlock_irqrestore(&work_lock, flags);

		if (timer)
			timer->fn(timer);
		else
			work->fn(work);	/* may free @work: not touched afterwards */

		flags = ik_os_spin_lock_irqsave(&work_lock);
		if (timer && ptimer(timer)->running_token == me)
			ptimer(timer)->running_token = 0;
		work_busy = 0;
		pc->work_depth--;
		ik_os_spin_unlock_irqrestore(&work_lock, flags);
	}
}

/* ---- Run on a CPU in process context ------------------------------------------------ */

static void run_requests(struct percpu *pc)
{
	for (;;) {
		struct run_req *req;
		ik_irqflags_t flags = ik_os_spin_lock_irqsave(&pc->req_lock);

		req = pc->req_head;
		if (req) {
			pc->req_head = req->next;
			if (!pc->req_head)
				pc->req_tail = NULL;
		}
		ik_os_spin_unlock_irqrestore(&pc->req_lock, flags);
		if (!req)
			return;
		pc->work_depth++;
		req->fn(req->arg);
		pc->work_depth--;
		__atomic_store_n(&req->done, 1, __ATOMIC_RELEASE);
	}
}

void osl_run_deferred(void)
{
	struct percpu *pc = this_cpu();

	if (pc->irq_depth || pc->spin_depth || ik_os_irqs_disabled())
		return;
	run_requests(pc);
	run_work();
}

int port_run_on_cpu(unsigned int cpu, void (*fn)(void *arg), void *arg)
{
	struct run_req req = { .fn = fn, .arg = arg };
	struct percpu *pc;
	ik_irqflags_t flags;

	if (cpu >= ik_os_cpu_count())
		return -IK_EINVAL;
	pc = cpu_taking_calls(cpu);
	if (!pc)
		return -IK_ENODEV;
	if (cpu == ik_os_cpu_id()) {
		fn(arg);
		return 0;
	}
	flags = ik_os_spin_lock_irqsave(&pc->req_lock);
	if (pc->req_tail)
		pc->req_tail->next = &req;
	else
		pc->req_head = &req;
	pc->req_tail = &req;
	ik_os_spin_unlock_irqrestore(&pc->req_lock, flags);
	lapic_send(pc->apic_id, PORT_VECTOR_CALL);
	while (!__atomic_load_n(&req.done, __ATOMIC_ACQUIRE)) {
		osl_run_deferred();
		cpu_pause();
	}
	return 0;
}

static bool work_pending(struct percpu *pc)
{
	return __atomic_load_n(&pc->req_head, __ATOMIC_RELAXED) ||
	       (!__atomic_load_n(&work_busy, __ATOMIC_RELAXED) &&
		__atomic_load_n(&work_head, __ATOMIC_RELAXED));
}

void osl_idle_loop(void)
{
	struct percpu *pc = this_cpu();

	for (;;) {
		osl_run_deferred();
		cli();
		if (work_pending(pc))
			sti();
		else
			__asm__ volatile("sti; hlt" : : : "memory");
	}
}

/* ---- Register access ------------------------------------------------------------------ */

uint32_t ik_os_mmio_read32(uint64_t phys)
{
	return port_mmio_read32(phys);
}

void ik_os_mmio_write32(uint64_t phys, uint32_t value)
{
	port_mmio_write32(phys, value);
}

uint64_t ik_os_mmio_read64(uint64_t phys)
{
	return port_mmio_read64(phys);
}

void ik_os_mmio_write64(uint64_t phys, uint64_t value)
{
	port_mmio_write64(phys, value);
}

/* ---- Log --------------------------------------------------------------------------------- */

static uint64_t log_warnings;

uint64_t port_log_warnings(void)
{
	return __atomic_load_n(&log_warnings, __ATOMIC_RELAXED);
}

void ik_os_vlog(int level, const char *fmt, va_list ap)
{
	static const char *const prefix[] = { "irqkit err: ", "irqkit warn: ", "irqkit info: ",
					      "irqkit debug: " };
	size_t len = port_strlen(fmt);

	if (level <= IK_LOG_WARN)
		__atomic_add_fetch(&log_warnings, 1, __ATOMIC_RELAXED);
	if (level > IK_LOG_INFO || level < 0)
		return;
	port_vprintf(prefix[level], fmt, ap);
	if (!len || fmt[len - 1] != '\n')
		port_printf("\n");
}

/* ---- Time ------------------------------------------------------------------------------ */

static uint64_t tsc_base, tsc_mult;	/* ns = (tsc - base) * mult >> 32 */

uint64_t ik_os_time_ns(void)
{
	uint64_t d;

	if (!tsc_mult)
		return 0;
	d = rdtsc() - tsc_base;
	return (uint64_t)(((unsigned __int128)d * tsc_mult) >> 32);
}

uint64_t port_time_ns(void)
{
	return ik_os_time_ns();
}

/*
 * TSC against PIT channel 2 (gate and output through port 0x61), 10 ms in
 * mode 0; then the local APIC timer (divide by 16) against the TSC.
 */
void time_init(void)
{
	const uint32_t pit_hz = 1193182, count = pit_hz / 100;
	uint64_t t0, t1, hz;
	uint8_t v = port_inb(0x61);

	port_outb(0x61, (uint8_t)((v & ~0x02) | 0x01));	/* gate on, speaker off */
	port_outb(0x43, 0xB0);				/* ch2, lo/hi, mode 0 */
	port_outb(0x42, (uint8_t)count);
	port_outb(0x42, (uint8_t)(count >> 8));
	t0 = rdtsc();
	while (!(port_inb(0x61) & 0x20))
		cpu_pause();
	t1 = rdtsc();
	port_outb(0x61, v & ~0x03);
	hz = (t1 - t0) * 100;
	tsc_base = t0;
	tsc_mult = (1000000000ull << 32) / hz;

	lapic_write(LAPIC_TIMER_DCR, 0x3);
	lapic_write(LAPIC_LVT_TIMER, 1u << 16);	/* masked */
	lapic_write(LAPIC_TIMER_ICR, 0xFFFFFFFFu);
	t0 = ik_os_time_ns();
	while (ik_os_time_ns() - t0 < 2000000)
		cpu_pause();
	port_lapic_timer_per_ms = (0xFFFFFFFFu - lapic_read(LAPIC_TIMER_CCR)) / 2;
	lapic_write(LAPIC_TIMER_ICR, 0);
	port_printf("time: tsc %llu kHz, lapic timer %llu ticks/ms\n",
		    (unsigned long long)(hz / 1000), (unsigned long long)port_lapic_timer_per_ms);
}

void port_delay_us(uint64_t us)
{
	uint64_t end = ik_os_time_ns() + us * 1000;

	while (ik_os_time_ns() < end) {
		osl_run_deferred();
		cpu_pause();
	}
}

bool port_wait(bool (*cond)(void *arg), void *arg, uint64_t timeout_ms)
{
	uint64_t end = ik_os_time_ns() + timeout_ms * 1000000;

	for (;;) {
		if (cond(arg))
			return true;
		if (ik_os_time_ns() >= end)
			return cond(arg);
		osl_run_deferred();
		cpu_pause();
	}
}

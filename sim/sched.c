// SPDX-License-Identifier: BSD-2-Clause
/*
 * Execution: who runs as which CPU, when interrupts are taken, when device
 * events and deferred work run.
 *
 * Deterministic mode.  One host thread plays every CPU.  The "current CPU"
 * is switched on the host stack: sim_run_on_cpu() runs process context on
 * a CPU, and delivering an interrupt to another CPU temporarily becomes
 * that CPU, runs its IDT entry and switches back (so contexts nest the way
 * interrupts nest).  Interleaving happens only at points (sim_point()), and
 * which points interleave is drawn from the seeded PRNG, so a seed
 * reproduces a run exactly.  A CPU other than the current one is only
 * entered when no spinlock is held anywhere: the holder is suspended on
 * the same host stack and could never release it.
 *
 * Threaded mode.  One host thread per CPU, each waiting for process-context
 * calls and interrupts; interrupts are taken when the thread is idle or
 * when the code it runs hits a point with IF set.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "sim_internal.h"

#define SIM_MAX_POINT_DEPTH 32
#define SIM_IDLE_STEP_CAP 100000000ull
#define SIM_THREADED_IDLE_POLLS 50000000ull

struct sim_run_call {
	struct sim_run_call *next;
	void (*fn)(void *arg);
	void *arg;
	int done;		/* __atomic */
};

/* Threaded mode: the CPU this host thread is (NULL for other threads). */
static _Thread_local struct sim_cpu *tls_cpu;
/* Interrupt flag and identity of host threads that are not CPU threads. */
static _Thread_local bool tls_irqs_off;
static _Thread_local uint64_t tls_task;
static _Thread_local uint32_t tls_thread_id;
static uint64_t next_thread_task = 1ull << 40;	/* __atomic; disjoint from det task ids */
static uint32_t next_thread_id;			/* __atomic */

static bool is_threaded(const struct sim_machine *m)
{
	return m->cfg.threaded;
}

static struct sim_cpu *thread_cpu(const struct sim_machine *m)
{
	return tls_cpu && tls_cpu->m == m ? tls_cpu : NULL;
}

static uint64_t thread_task(void)
{
	if (!tls_task)
		tls_task = __atomic_add_fetch(&next_thread_task, 1, __ATOMIC_RELAXED);
	return tls_task;
}

static uint32_t thread_id(void)
{
	if (!tls_thread_id)
		tls_thread_id = __atomic_add_fetch(&next_thread_id, 1, __ATOMIC_RELAXED);
	return tls_thread_id;
}

static bool cpu_if(const struct sim_cpu *cpu)
{
	return __atomic_load_n(&cpu->if_flag, __ATOMIC_RELAXED) != 0;
}

static void cpu_set_if(struct sim_cpu *cpu, bool on)
{
	__atomic_store_n(&cpu->if_flag, on ? 1 : 0, __ATOMIC_RELAXED);
}

static int spin_held_anywhere(const struct sim_machine *m)
{
	return __atomic_load_n(&m->spin_held, __ATOMIC_RELAXED);
}

/* ---- Random numbers and time ---------------------------------------------- */

/* splitmix64 (Steele, Lea, Flood 2014): tiny, full period, good enough here. */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

uint64_t sim_rand(struct sim_machine *m)
{
	uint64_t v;

	if (!is_threaded(m))
		return splitmix64(&m->rng);
	pthread_mutex_lock(&m->rng_lock);
	v = splitmix64(&m->rng);
	pthread_mutex_unlock(&m->rng_lock);
	return v;
}

uint64_t sim_now(const struct sim_machine *m)
{
	return __atomic_load_n(&m->now, __ATOMIC_RELAXED);
}

unsigned int sim_set_interleave(struct sim_machine *m, unsigned int permille)
{
	unsigned int old = m->interleave_permille;

	m->interleave_permille = !permille ? 250 : permille > 1000 ? 1000 : permille;
	return old;
}

uint64_t sim_actions(const struct sim_machine *m)
{
	return __atomic_load_n(&m->actions, __ATOMIC_RELAXED);
}

static void count_action(struct sim_machine *m)
{
	__atomic_add_fetch(&m->actions, 1, __ATOMIC_RELAXED);
}

/* ---- The calling context ------------------------------------------------------ */

unsigned int sim_ctx_cpu(struct sim_machine *m)
{
	if (is_threaded(m)) {
		struct sim_cpu *cpu = thread_cpu(m);

		return cpu ? cpu->index : sim_first_online_cpu(m);
	}
	return m->ctx_depth ? m->cur_cpu : sim_first_online_cpu(m);
}

unsigned int sim_cpu_current(struct sim_machine *m)
{
	return sim_ctx_cpu(m);
}

bool sim_ctx_is_cpu(struct sim_machine *m, unsigned int cpu)
{
	if (is_threaded(m)) {
		struct sim_cpu *self = thread_cpu(m);

		return self && self->index == cpu;
	}
	return sim_ctx_cpu(m) == cpu;
}

bool sim_ctx_irqs_enabled(struct sim_machine *m)
{
	if (is_threaded(m) && !thread_cpu(m))
		return !tls_irqs_off;
	return cpu_if(&m->cpus[sim_ctx_cpu(m)]);
}

void sim_ctx_set_irqs(struct sim_machine *m, bool enabled)
{
	if (is_threaded(m) && !thread_cpu(m))
		tls_irqs_off = !enabled;
	else
		cpu_set_if(&m->cpus[sim_ctx_cpu(m)], enabled);
}

bool sim_ctx_in_irq(struct sim_machine *m)
{
	if (is_threaded(m) && !thread_cpu(m))
		return false;
	return m->cpus[sim_ctx_cpu(m)].irq_depth > 0;
}

uint32_t sim_ctx_lock_owner(struct sim_machine *m)
{
	if (is_threaded(m) && !thread_cpu(m))
		return 0x10000u + thread_id();
	return sim_ctx_cpu(m) + 1;
}

uint64_t sim_ctx_task(struct sim_machine *m)
{
	if (!m || is_threaded(m))
		return thread_task();
	return m->cur_task;
}

/* ---- Taking interrupts ---------------------------------------------------------- */

/* The CPU has moved @vector IRR -> ISR; run the IDT entry as the hardware would. */
static void run_vector(struct sim_machine *m, struct sim_cpu *cpu, unsigned int vector)
{
	sim_vector_entry_t entry = __atomic_load_n(&m->idt_entry, __ATOMIC_ACQUIRE);

	cpu_set_if(cpu, false);
	cpu->irq_depth++;
	sim_stat_inc(m, SIM_STAT_INTERRUPTS_TAKEN);
	__atomic_add_fetch(&cpu->vector_count[vector], 1, __ATOMIC_RELAXED);
	count_action(m);
	sim_trace(m, SIM_TRACE_IRQ_ENTER, cpu->index, vector, 0);
	if (entry) {
		entry(m->idt_ctx, vector);
	} else {
		/* No OS: retire the vector so the CPU is not blocked forever. */
		sim_stat_inc(m, SIM_STAT_NO_IDT);
		sim_lapic_write(m, cpu->index, LAPIC_REG_EOI, 0);
	}
	sim_trace(m, SIM_TRACE_IRQ_EXIT, cpu->index, vector, 0);
	cpu->irq_depth--;
	cpu_set_if(cpu, true);	/* IRET: IF was set when the vector was taken */
}

/*
 * Take every vector @cpu can take now, highest first, while its IF is set.
 * The caller has made @cpu the current context.  @cpu->active covers the
 * window between the IRR bit clearing and the entry finishing, so a
 * threaded sim_run_until_idle() never sees the CPU as idle in between.
 */
static uint64_t take_pending(struct sim_machine *m, struct sim_cpu *cpu)
{
	uint64_t taken = 0;

	while (cpu_if(cpu)) {
		int vector;

		__atomic_add_fetch(&cpu->active, 1, __ATOMIC_ACQ_REL);
		vector = sim_lapic_ack(m, cpu->index);
		if (vector < 0) {
			__atomic_sub_fetch(&cpu->active, 1, __ATOMIC_ACQ_REL);
			break;
		}
		run_vector(m, cpu, (unsigned int)vector);
		__atomic_sub_fetch(&cpu->active, 1, __ATOMIC_ACQ_REL);
		taken++;
	}
	return taken;
}

/* ---- Deterministic mode ------------------------------------------------------------ */

/* Become @cpu on this host stack and take what it can take, then switch back. */
static uint64_t det_take_on(struct sim_machine *m, unsigned int cpu)
{
	unsigned int saved_cur = m->cur_cpu;
	uint64_t taken;

	if (!cpu_if(&m->cpus[cpu]) || sim_lapic_deliverable(m, cpu) < 0)
		return 0;
	m->cur_cpu = cpu;
	m->ctx_depth++;
	taken = take_pending(m, &m->cpus[cpu]);
	m->ctx_depth--;
	m->cur_cpu = saved_cur;
	return taken;
}

static uint64_t det_deliver(struct sim_machine *m)
{
	unsigned int self = sim_ctx_cpu(m);
	uint64_t taken = det_take_on(m, self);
	unsigned int start;

	if (spin_held_anywhere(m))
		return taken;
	start = (unsigned int)(sim_rand(m) % m->nr_cpus);
	for (unsigned int i = 0; i < m->nr_cpus; i++) {
		unsigned int cpu = (start + i) % m->nr_cpus;

		if (cpu != self)
			taken += det_take_on(m, cpu);
	}
	return taken;
}

static bool event_before(const struct sim_event *a, const struct sim_event *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void event_swap(struct sim_event *a, struct sim_event *b)
{
	struct sim_event t = *a;

	*a = *b;
	*b = t;
}

static void event_push(struct sim_machine *m, const struct sim_event *ev)
{
	size_t i;

	if (m->nr_events == m->events_cap) {
		size_t cap = m->events_cap ? m->events_cap * 2 : 64;
		struct sim_event *events = realloc(m->events, cap * sizeof(*events));

		if (!events)
			sim_fatal("out of memory queuing an event");
		m->events = events;
		m->events_cap = cap;
	}
	i = m->nr_events++;
	m->events[i] = *ev;
	while (i > 0 && event_before(&m->events[i], &m->events[(i - 1) / 2])) {
		event_swap(&m->events[i], &m->events[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
}

static struct sim_event event_pop(struct sim_machine *m)
{
	struct sim_event top = m->events[0];
	size_t i = 0;

	m->events[0] = m->events[--m->nr_events];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;

		if (l < m->nr_events && event_before(&m->events[l], &m->events[min]))
			min = l;
		if (r < m->nr_events && event_before(&m->events[r], &m->events[min]))
			min = r;
		if (min == i)
			break;
		event_swap(&m->events[i], &m->events[min]);
		i = min;
	}
	return top;
}

static void run_event(struct sim_machine *m, const struct sim_event *ev)
{
	sim_stat_inc(m, SIM_STAT_EVENTS_RUN);
	count_action(m);
	sim_trace(m, SIM_TRACE_EVENT, sim_ctx_cpu(m), 0, ev->due);
	ev->fn(ev->arg);
}

static uint64_t det_run_due_events(struct sim_machine *m)
{
	uint64_t ran = 0;

	while (m->nr_events && m->events[0].due <= sim_now(m)) {
		struct sim_event ev = event_pop(m);

		run_event(m, &ev);
		ran++;
	}
	return ran;
}

/* Run the earliest event now; @advance moves the clock to its due time first. */
static uint64_t det_run_next_event(struct sim_machine *m, bool advance)
{
	struct sim_event ev;

	if (!m->nr_events)
		return 0;
	ev = event_pop(m);
	if (advance && ev.due > sim_now(m))
		__atomic_store_n(&m->now, ev.due, __ATOMIC_RELAXED);
	run_event(m, &ev);
	return 1;
}

/*
 * Host work is sleepable process context: it may only start on a CPU that
 * is in process context with IF set, with no spinlock held anywhere, and
 * not inside another work item.
 */
static uint64_t det_run_work(struct sim_machine *m)
{
	struct sim_cpu *cpu = &m->cpus[sim_ctx_cpu(m)];
	struct ik_os_work *work;
	uint64_t saved_task;

	if (m->work_running || spin_held_anywhere(m) || !cpu_if(cpu) || cpu->irq_depth)
		return 0;
	work = sim_port_dequeue_work(m);
	if (!work)
		return 0;
	m->work_running = true;
	saved_task = m->cur_task;
	m->cur_task = ++m->next_task;
	count_action(m);
	sim_trace(m, SIM_TRACE_WORK, cpu->index, 0, (uint64_t)(uintptr_t)work);
	work->fn(work);
	if (!cpu_if(cpu))
		sim_fatal("work item %p returned with interrupts disabled", (void *)work);
	m->cur_task = saved_task;
	m->work_running = false;
	return 1;
}

uint64_t sim_det_step(struct sim_machine *m)
{
	uint64_t done = det_run_due_events(m);

	done += det_deliver(m);
	done += det_run_work(m);
	if (!done)
		done = det_run_next_event(m, true);
	return done;
}

static void det_point(struct sim_machine *m)
{
	uint64_t done;

	__atomic_add_fetch(&m->now, 1, __ATOMIC_RELAXED);
	if (m->point_depth >= SIM_MAX_POINT_DEPTH)
		return;
	if (sim_rand(m) % 1000 >= m->interleave_permille)
		return;
	m->point_depth++;
	done = det_run_due_events(m);
	/* Nothing due: sometimes let the next device event happen early. */
	if (!done && m->nr_events && (sim_rand(m) & 1))
		det_run_next_event(m, false);
	det_deliver(m);
	det_run_work(m);
	m->point_depth--;
}

/* ---- Threaded mode ----------------------------------------------------------------- */

void sim_kick_cpu(struct sim_machine *m, unsigned int cpu)
{
	struct sim_cpu *c;

	if (!is_threaded(m) || cpu >= m->nr_cpus)
		return;
	c = &m->cpus[cpu];
	pthread_mutex_lock(&c->run_lock);
	c->kicks++;
	pthread_cond_signal(&c->run_cond);
	pthread_mutex_unlock(&c->run_lock);
}

static void run_process_call(struct sim_machine *m, struct sim_cpu *cpu,
			     void (*fn)(void *), void *arg)
{
	bool saved_if = cpu_if(cpu);

	cpu_set_if(cpu, true);
	fn(arg);
	if (!cpu_if(cpu))
		sim_fatal("sim_run_on_cpu(%u): function returned with interrupts disabled",
			  cpu->index);
	cpu_set_if(cpu, saved_if);
}

static void *cpu_thread_main(void *arg)
{
	struct sim_cpu *cpu = arg;
	struct sim_machine *m = cpu->m;

	tls_cpu = cpu;
	pthread_mutex_lock(&cpu->run_lock);
	while (!cpu->stop) {
		struct sim_run_call *call = cpu->calls_head;
		uint64_t seen;

		if (call) {
			cpu->calls_head = call->next;
			if (!cpu->calls_head)
				cpu->calls_tail = NULL;
			__atomic_add_fetch(&cpu->active, 1, __ATOMIC_ACQ_REL);
			pthread_mutex_unlock(&cpu->run_lock);
			run_process_call(m, cpu, call->fn, call->arg);
			pthread_mutex_lock(&cpu->run_lock);
			__atomic_sub_fetch(&cpu->active, 1, __ATOMIC_ACQ_REL);
			/* The caller may free @call as soon as it sees done. */
			__atomic_store_n(&call->done, 1, __ATOMIC_RELEASE);
			pthread_cond_broadcast(&cpu->done_cond);
			continue;
		}
		/* Sample kicks first: a kick after this point forces another pass. */
		seen = cpu->kicks;
		pthread_mutex_unlock(&cpu->run_lock);
		take_pending(m, cpu);
		pthread_mutex_lock(&cpu->run_lock);
		if (seen == cpu->kicks && !cpu->calls_head && !cpu->stop)
			pthread_cond_wait(&cpu->run_cond, &cpu->run_lock);
	}
	pthread_mutex_unlock(&cpu->run_lock);
	return NULL;
}

int sim_threads_start(struct sim_machine *m)
{
	if (!is_threaded(m))
		return 0;
	for (unsigned int i = 0; i < m->nr_cpus; i++) {
		if (pthread_create(&m->cpus[i].thread, NULL, cpu_thread_main, &m->cpus[i])) {
			sim_threads_stop(m);
			return -EAGAIN;
		}
		m->cpus[i].thread_started = true;
	}
	return 0;
}

void sim_threads_stop(struct sim_machine *m)
{
	for (unsigned int i = 0; i < m->nr_cpus; i++) {
		struct sim_cpu *cpu = &m->cpus[i];

		if (!cpu->thread_started)
			continue;
		pthread_mutex_lock(&cpu->run_lock);
		cpu->stop = true;
		pthread_cond_signal(&cpu->run_cond);
		pthread_mutex_unlock(&cpu->run_lock);
		pthread_join(cpu->thread, NULL);
		cpu->thread_started = false;
	}
}

static void threaded_run_on_cpu(struct sim_machine *m, struct sim_cpu *cpu,
				void (*fn)(void *), void *arg)
{
	struct sim_cpu *self = thread_cpu(m);
	struct sim_run_call call = { .fn = fn, .arg = arg };

	if (self == cpu) {
		run_process_call(m, cpu, fn, arg);
		return;
	}
	pthread_mutex_lock(&cpu->run_lock);
	if (cpu->calls_tail)
		cpu->calls_tail->next = &call;
	else
		cpu->calls_head = &call;
	cpu->calls_tail = &call;
	cpu->kicks++;
	pthread_cond_signal(&cpu->run_cond);
	if (!self) {
		while (!__atomic_load_n(&call.done, __ATOMIC_ACQUIRE))
			pthread_cond_wait(&cpu->done_cond, &cpu->run_lock);
		pthread_mutex_unlock(&cpu->run_lock);
		return;
	}
	pthread_mutex_unlock(&cpu->run_lock);
	/*
	 * A CPU thread must stay interruptible while it waits, or two CPUs
	 * calling each other (directly or via cross-CPU calls) would deadlock.
	 */
	while (!__atomic_load_n(&call.done, __ATOMIC_ACQUIRE)) {
		take_pending(m, self);
		sched_yield();
	}
}

static bool threaded_busy(struct sim_machine *m)
{
	for (unsigned int i = 0; i < m->nr_cpus; i++) {
		struct sim_cpu *cpu = &m->cpus[i];
		bool queued;

		pthread_mutex_lock(&cpu->run_lock);
		queued = cpu->calls_head != NULL;
		pthread_mutex_unlock(&cpu->run_lock);
		if (queued || __atomic_load_n(&cpu->active, __ATOMIC_ACQUIRE) ||
		    sim_lapic_deliverable(m, i) >= 0)
			return true;
	}
	return !sim_port_idle(m);
}

static uint64_t threaded_run_until_idle(struct sim_machine *m)
{
	const struct timespec pause = { .tv_nsec = 50000 };
	unsigned int quiet = 0;
	uint64_t polls = 0;

	/* Idle is a snapshot; demand a few in a row so in-flight kicks land. */
	while (quiet < 3) {
		quiet = threaded_busy(m) ? 0 : quiet + 1;
		nanosleep(&pause, NULL);
		if (++polls > SIM_THREADED_IDLE_POLLS)
			sim_fatal("sim_run_until_idle: machine still busy after %llu polls",
				  (unsigned long long)polls);
	}
	return polls;
}

/* ---- API ------------------------------------------------------------------------------- */

void sim_sched_init(struct sim_machine *m)
{
	pthread_mutex_init(&m->rng_lock, NULL);
	m->rng = m->cfg.seed;
	m->cur_task = 1;
	m->next_task = 1;
}

void sim_sched_fini(struct sim_machine *m)
{
	free(m->events);
	m->events = NULL;
	m->nr_events = 0;
	pthread_mutex_destroy(&m->rng_lock);
}

void sim_point(struct sim_machine *m)
{
	struct sim_cpu *cpu;

	if (!m)
		return;
	if (!is_threaded(m)) {
		det_point(m);
		return;
	}
	__atomic_add_fetch(&m->now, 1, __ATOMIC_RELAXED);
	cpu = thread_cpu(m);
	if (cpu)
		take_pending(m, cpu);
}

void sim_ctx_irqs_enabled_point(struct sim_machine *m)
{
	if (is_threaded(m)) {
		sim_point(m);
		return;
	}
	/* Like STI: a pending interrupt is taken before the next instruction. */
	det_take_on(m, sim_ctx_cpu(m));
	sim_point(m);
}

void sim_run_on_cpu(struct sim_machine *m, unsigned int cpu, void (*fn)(void *), void *arg)
{
	unsigned int saved_cur;
	uint64_t saved_task;
	int spin_before;

	if (cpu >= m->nr_cpus)
		sim_fatal("sim_run_on_cpu: no CPU %u (machine has %u)", cpu, m->nr_cpus);
	if (is_threaded(m)) {
		threaded_run_on_cpu(m, &m->cpus[cpu], fn, arg);
		return;
	}
	saved_cur = m->cur_cpu;
	saved_task = m->cur_task;
	spin_before = spin_held_anywhere(m);
	m->cur_cpu = cpu;
	m->ctx_depth++;
	m->cur_task = ++m->next_task;
	run_process_call(m, &m->cpus[cpu], fn, arg);
	if (spin_held_anywhere(m) != spin_before)
		sim_fatal("sim_run_on_cpu(%u): function returned with a spinlock held", cpu);
	m->cur_task = saved_task;
	m->ctx_depth--;
	m->cur_cpu = saved_cur;
}

void sim_schedule(struct sim_machine *m, uint64_t delay, void (*fn)(void *), void *arg)
{
	struct sim_event ev = { .fn = fn, .arg = arg };

	if (is_threaded(m)) {
		fn(arg);
		return;
	}
	ev.due = sim_now(m) + delay;
	ev.seq = m->event_seq++;
	event_push(m, &ev);
}

uint64_t sim_run_until_idle(struct sim_machine *m)
{
	uint64_t start = sim_actions(m);

	if (is_threaded(m))
		return threaded_run_until_idle(m);
	/* Steps are actions (events, vectors, work items), nested ones included. */
	while (sim_det_step(m)) {
		if (sim_actions(m) - start > SIM_IDLE_STEP_CAP)
			sim_fatal("sim_run_until_idle: still busy after %llu steps (interrupt storm "
				  "or work requeuing itself?)", (unsigned long long)SIM_IDLE_STEP_CAP);
	}
	return sim_actions(m) - start;
}

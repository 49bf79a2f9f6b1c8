// SPDX-License-Identifier: BSD-2-Clause
/* The deterministic scheduler: reproducibility, event order, idling, lock rules. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <irqkit/osl.h>

#include "host_port.h"
#include "sim_test.h"

#define DEV_BASE 0xC0000000ull

/* ---- An "OS" entry like the library's: count, check the CPU, EOI via MMIO ---- */

static uint64_t entry_count[SIM_MAX_CPUS][256];
static unsigned int entry_wrong_cpu;

static void counting_entry(unsigned int vector)
{
	unsigned int cpu = ik_os_cpu_id();

	entry_count[cpu][vector]++;
	/* Vectors 0x40 + n are routed to CPU n in these tests. */
	if (vector >= 0x40 && vector < 0x40 + SIM_MAX_CPUS && vector - 0x40 != cpu)
		entry_wrong_cpu++;
	if (!ik_os_irqs_disabled())
		entry_wrong_cpu++;
	ik_os_mmio_write32(SIM_LAPIC_BASE + T_LAPIC_EOI, 0);
}

static void reset_entry_counts(void)
{
	memset(entry_count, 0, sizeof(entry_count));
	entry_wrong_cpu = 0;
}

/* ---- Reproducibility ------------------------------------------------------------ */

struct trace_rec {
	uint64_t now;
	uint32_t type, cpu, vector;
};

struct trace_buf {
	struct trace_rec rec[16384];
	unsigned int n;
};

static void record_trace(void *ctx, enum sim_trace_type type, uint64_t now, unsigned int cpu,
			 unsigned int vector, uint64_t value)
{
	struct trace_buf *t = ctx;

	if (t->n < IK_ARRAY_SIZE(t->rec))
		t->rec[t->n++] = (struct trace_rec){ now, type, cpu, vector };
}

struct fire_arg {
	struct sim_testdev *dev;
	unsigned int slot;
};

static void fire_event(void *arg)
{
	struct fire_arg *f = arg;

	sim_testdev_fire(f->dev, f->slot);
}

static void busy_process_context(void *arg)
{
	for (unsigned int i = 0; i < 300; i++)
		(void)ik_os_mmio_read32(0x1000 + 4 * (i % 16));
}

static void run_scenario(uint64_t seed, struct trace_buf *t)
{
	struct sim_machine *m = sim_test_machine(4, NULL, seed, false, 300);
	static struct fire_arg fires[48];
	struct sim_testdev *dev;

	assert_non_null(m);
	t->n = 0;
	sim_set_trace(m, record_trace, t);
	sim_port_install(m, counting_entry);
	dev = sim_testdev_create(m, DEV_BASE, 4, 0x0200);
	assert_non_null(dev);
	for (unsigned int slot = 0; slot < 4; slot++) {
		sim_cpu_write(m, 0, DEV_BASE + slot * 16, sim_test_msi_addr(slot, false), 4);
		sim_cpu_write(m, 0, DEV_BASE + slot * 16 + 8, 0x40 + slot, 4);
	}
	for (unsigned int i = 0; i < IK_ARRAY_SIZE(fires); i++) {
		fires[i] = (struct fire_arg){ dev, i % 4 };
		sim_schedule(m, (i * 37) % 400, fire_event, &fires[i]);
	}
	for (unsigned int cpu = 0; cpu < 4; cpu++)
		sim_run_on_cpu(m, cpu, busy_process_context, NULL);
	sim_run_until_idle(m);
	assert_int_equal(sim_stat(m, SIM_STAT_EVENTS_RUN), IK_ARRAY_SIZE(fires));
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_ACCEPTED), IK_ARRAY_SIZE(fires));
	sim_destroy(m);
}

static int traces_equal(const struct trace_buf *a, const struct trace_buf *b)
{
	return a->n == b->n && !memcmp(a->rec, b->rec, a->n * sizeof(a->rec[0]));
}

static void test_same_seed_same_trace(void **state)
{
	static struct trace_buf a, b, c;

	reset_entry_counts();
	run_scenario(1234, &a);
	run_scenario(1234, &b);
	run_scenario(98765, &c);
	assert_true(a.n > 100);
	assert_true(traces_equal(&a, &b));
	assert_false(traces_equal(&a, &c));
	assert_int_equal(entry_wrong_cpu, 0);
}

/* ---- Events -------------------------------------------------------------------------- */

struct order_log {
	struct sim_machine *m;
	unsigned int ids[16];
	uint64_t at[16];
	unsigned int n;
};

struct order_arg {
	struct order_log *log;
	unsigned int id;
};

static void order_event(void *arg)
{
	struct order_arg *a = arg;

	a->log->at[a->log->n] = sim_now(a->log->m);
	a->log->ids[a->log->n++] = a->id;
	/* Event 2 schedules event 9 from inside the queue. */
	if (a->id == 2) {
		static struct order_arg nine;

		nine = (struct order_arg){ a->log, 9 };
		sim_schedule(a->log->m, 10, order_event, &nine);
	}
}

static void test_events_in_due_order(void **state)
{
	struct sim_machine *m = sim_test_machine(1, NULL, 1, false, 0);
	static const uint64_t delays[] = { 5, 1, 3, 1, 0 };
	static const unsigned int expect_ids[] = { 4, 1, 3, 2, 0, 9 };
	static const uint64_t expect_at[] = { 0, 1, 1, 3, 5, 13 };
	struct order_log log = { .m = m };
	struct order_arg args[5];

	for (unsigned int i = 0; i < 5; i++) {
		args[i] = (struct order_arg){ &log, i };
		sim_schedule(m, delays[i], order_event, &args[i]);
	}
	assert_int_equal(sim_run_until_idle(m), 6);
	assert_int_equal(log.n, 6);
	for (unsigned int i = 0; i < 6; i++) {
		assert_int_equal(log.ids[i], expect_ids[i]);
		assert_int_equal(log.at[i], expect_at[i]);
	}
	assert_int_equal(sim_now(m), 13);
	assert_int_equal(sim_run_until_idle(m), 0);
	sim_destroy(m);
}

/* ---- Draining --------------------------------------------------------------------------- */

static unsigned int work_runs;

static void count_work(struct ik_os_work *w)
{
	work_runs++;
}

static struct ik_os_work drain_work = { .fn = count_work };

static void queue_work_event(void *arg)
{
	ik_os_work_queue(&drain_work);
}

static void test_run_until_idle_drains(void **state)
{
	struct sim_machine *m = sim_test_machine(4, NULL, 3, false, 0);
	static struct fire_arg fires[4];
	struct sim_testdev *dev;
	uint64_t steps;

	reset_entry_counts();
	work_runs = 0;
	sim_port_install(m, counting_entry);
	dev = sim_testdev_create(m, DEV_BASE, 4, 0x0200);
	for (unsigned int slot = 0; slot < 4; slot++) {
		sim_cpu_write(m, 0, DEV_BASE + slot * 16, sim_test_msi_addr(slot, false), 4);
		sim_cpu_write(m, 0, DEV_BASE + slot * 16 + 8, 0x40 + slot, 4);
		fires[slot] = (struct fire_arg){ dev, slot };
		sim_schedule(m, 100 * slot, fire_event, &fires[slot]);
	}
	sim_schedule(m, 1000, queue_work_event, NULL);
	steps = sim_run_until_idle(m);
	/* 5 events, 4 vectors, 1 work item. */
	assert_int_equal(steps, 10);
	for (unsigned int cpu = 0; cpu < 4; cpu++) {
		assert_int_equal(entry_count[cpu][0x40 + cpu], 1);
		assert_false(sim_lapic_isr_test(m, cpu, 0x40 + cpu));
	}
	assert_int_equal(work_runs, 1);
	assert_int_equal(entry_wrong_cpu, 0);
	assert_int_equal(sim_run_until_idle(m), 0);
	sim_destroy(m);
}

/* ---- Interleaving rules --------------------------------------------------------------- */

static void hold_lock_and_poke(void *arg)
{
	struct sim_machine *m = arg;
	ik_spinlock_t lock;
	ik_irqflags_t flags;

	ik_os_spin_init(&lock);
	flags = ik_os_spin_lock_irqsave(&lock);
	sim_test_msi(m, 1, false, 0x41);	/* for CPU 1 */
	sim_test_msi(m, 0, false, 0x40);	/* for this CPU, IF = 0 */
	for (unsigned int i = 0; i < 100; i++)
		sim_point(m);
	/* Another CPU must not run while this one holds a spinlock. */
	assert_int_equal(entry_count[1][0x41], 0);
	assert_int_equal(entry_count[0][0x40], 0);
	ik_os_spin_unlock(&lock);
	for (unsigned int i = 0; i < 100; i++)
		sim_point(m);
	/* Unlocked but still IF = 0 here: CPU 1 may run, this CPU not. */
	assert_int_equal(entry_count[1][0x41], 1);
	assert_int_equal(entry_count[0][0x40], 0);
	/* Like sti: the pending vector is taken at once. */
	ik_os_irq_restore(flags);
	assert_int_equal(entry_count[0][0x40], 1);
}

static void test_no_cross_cpu_delivery_under_spinlock(void **state)
{
	struct sim_machine *m = sim_test_machine(2, NULL, 5, false, 1000);

	reset_entry_counts();
	sim_port_install(m, counting_entry);
	sim_run_on_cpu(m, 0, hold_lock_and_poke, m);
	assert_int_equal(entry_wrong_cpu, 0);
	sim_destroy(m);
}

static void points_in_process_context(void *arg)
{
	struct sim_machine *m = arg;
	uint64_t t0 = ik_os_time_ns();

	assert_int_equal(ik_os_cpu_id(), 2);
	assert_int_equal(sim_cpu_current(m), 2);
	assert_false(ik_os_irqs_disabled());
	sim_test_msi(m, 2, false, 0x42);
	sim_test_msi(m, 3, false, 0x43);
	for (unsigned int i = 0; i < 50; i++)
		(void)ik_os_mmio_read32(0x100);
	assert_int_equal(entry_count[2][0x42], 1);
	assert_int_equal(entry_count[3][0x43], 1);
	assert_true(ik_os_time_ns() >= t0 + 50 * 10);
	/* Switching CPUs for the interrupts switched back. */
	assert_int_equal(ik_os_cpu_id(), 2);
}

static void test_points_deliver(void **state)
{
	struct sim_machine *m = sim_test_machine(4, NULL, 9, false, 1000);

	reset_entry_counts();
	sim_port_install(m, counting_entry);
	/* Outside sim_run_on_cpu the current CPU is the first online one. */
	assert_int_equal(ik_os_cpu_id(), 0);
	sim_cpu_set_online(m, 0, false);
	assert_int_equal(ik_os_cpu_id(), 1);
	sim_cpu_set_online(m, 0, true);
	sim_run_on_cpu(m, 2, points_in_process_context, m);
	assert_int_equal(entry_wrong_cpu, 0);
	assert_int_equal(ik_os_cpu_id(), 0);
	sim_destroy(m);
}

/* ---- Deadlocks abort with a message (in a child process) ----------------------------- */

static void double_lock(void)
{
	ik_spinlock_t lock;

	ik_os_spin_init(&lock);
	ik_os_spin_lock(&lock);
	ik_os_spin_lock(&lock);
}

static void double_mutex(void)
{
	ik_mutex_t mutex;

	ik_os_mutex_init(&mutex);
	ik_os_mutex_lock(&mutex);
	ik_os_mutex_lock(&mutex);
}

static int run_in_child(void (*fn)(void))
{
	pid_t pid = fork();
	int status = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct sim_machine *m = sim_test_machine(2, NULL, 1, false, 0);

		if (!freopen("/dev/null", "w", stderr))
			_exit(3);
		if (!m)
			_exit(2);
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void test_deadlocks_abort(void **state)
{
	int status = run_in_child(double_lock);

	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	status = run_in_child(double_mutex);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_seed_same_trace),
		cmocka_unit_test(test_events_in_due_order),
		cmocka_unit_test(test_run_until_idle_drains),
		cmocka_unit_test(test_no_cross_cpu_delivery_under_spinlock),
		cmocka_unit_test(test_points_deliver),
		cmocka_unit_test(test_deadlocks_abort),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: BSD-2-Clause
/* The host port: every OS service of osl.h, in both execution modes. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <irqkit/osl.h>

#include "host_port.h"
#include "sim_test.h"

#define DEV_BASE 0xC0000000ull

static uint64_t entry_count[SIM_MAX_CPUS][256];	/* __atomic */

static void counting_entry(unsigned int vector)
{
	__atomic_add_fetch(&entry_count[ik_os_cpu_id()][vector], 1, __ATOMIC_RELAXED);
	ik_os_mmio_write32(SIM_LAPIC_BASE + T_LAPIC_EOI, 0);
}

static uint64_t entry_total(unsigned int vector)
{
	uint64_t n = 0;

	for (unsigned int cpu = 0; cpu < SIM_MAX_CPUS; cpu++)
		n += __atomic_load_n(&entry_count[cpu][vector], __ATOMIC_RELAXED);
	return n;
}

static struct sim_machine *machine(unsigned int nr_cpus, bool threaded)
{
	struct sim_machine *m = sim_test_machine(nr_cpus, NULL, 11, threaded, 0);

	assert_non_null(m);
	memset(entry_count, 0, sizeof(entry_count));
	sim_port_install(m, counting_entry);
	return m;
}

/* ---- Memory ------------------------------------------------------------------------ */

static void test_alloc(void **state)
{
	uint64_t count0 = sim_alloc_count();
	int64_t out0 = sim_alloc_outstanding(), bytes0 = sim_alloc_bytes_outstanding();
	unsigned char *a, *b, *c;

	a = ik_os_alloc(24);
	assert_non_null(a);
	assert_int_equal((uintptr_t)a % 16, 0);
	for (unsigned int i = 0; i < 24; i++)
		assert_int_equal(a[i], 0);
	assert_int_equal(sim_alloc_outstanding() - out0, 1);
	assert_int_equal(sim_alloc_bytes_outstanding() - bytes0, 24);

	sim_alloc_fail_nth(2);
	b = ik_os_alloc(100);
	c = ik_os_alloc(100);
	assert_non_null(b);
	assert_null(c);
	c = ik_os_alloc(7);		/* one-shot: the next one succeeds */
	assert_non_null(c);
	assert_int_equal(sim_alloc_count() - count0, 3);
	assert_int_equal(sim_alloc_bytes_outstanding() - bytes0, 131);
	assert_null(ik_os_alloc(0));

	ik_os_free(a);
	ik_os_free(b);
	ik_os_free(NULL);
	assert_int_equal(sim_alloc_outstanding() - out0, 1);
	assert_int_equal(sim_alloc_bytes_outstanding() - bytes0, 7);
	ik_os_free(c);
	assert_int_equal(sim_alloc_outstanding(), out0);
	assert_int_equal(sim_alloc_bytes_outstanding(), bytes0);

	sim_alloc_fail_nth(1);
	sim_alloc_fail_nth(0);		/* disarmed */
	a = ik_os_alloc(1);
	assert_non_null(a);
	ik_os_free(a);
}

/* ---- Locks and interrupt state ---------------------------------------------------- */

struct lock_check {
	ik_spinlock_t *lock;
	ik_mutex_t *mutex;
	bool spin_held, mutex_held;
};

static void check_other_cpu(void *arg)
{
	struct lock_check *c = arg;

	c->spin_held = ik_os_spin_held(c->lock);
	c->mutex_held = ik_os_mutex_held(c->mutex);
}

static void take_locks_on_cpu1(void *arg)
{
	struct sim_machine *m = sim_current();
	struct lock_check *c = arg;
	ik_irqflags_t flags;

	assert_false(ik_os_irqs_disabled());
	ik_os_mutex_lock(c->mutex);
	assert_true(ik_os_mutex_held(c->mutex));
	flags = ik_os_spin_lock_irqsave(c->lock);
	assert_true(ik_os_irqs_disabled());
	assert_true(ik_os_spin_held(c->lock));
	assert_int_equal(flags, 1);
	/* Another CPU does not hold them. */
	c->spin_held = c->mutex_held = true;
	sim_run_on_cpu(m, 2, check_other_cpu, c);
	assert_false(c->spin_held);
	assert_false(c->mutex_held);
	ik_os_spin_unlock_irqrestore(c->lock, flags);
	assert_false(ik_os_irqs_disabled());
	assert_false(ik_os_spin_held(c->lock));
	ik_os_mutex_unlock(c->mutex);
	assert_false(ik_os_mutex_held(c->mutex));
}

static void test_locks(void **state)
{
	struct sim_machine *m = machine(4, false);
	ik_spinlock_t lock;
	ik_mutex_t mutex;
	struct lock_check c = { &lock, &mutex, false, false };
	ik_irqflags_t outer, inner;

	ik_os_spin_init(&lock);
	ik_os_mutex_init(&mutex);
	sim_run_on_cpu(m, 1, take_locks_on_cpu1, &c);
	/* Nested save/restore. */
	outer = ik_os_irq_save();
	inner = ik_os_irq_save();
	assert_int_equal(outer, 1);
	assert_int_equal(inner, 0);
	ik_os_irq_restore(inner);
	assert_true(ik_os_irqs_disabled());
	ik_os_irq_restore(outer);
	assert_false(ik_os_irqs_disabled());
	ik_os_mutex_destroy(&mutex);
	assert_int_equal(ik_os_cpu_count(), 4);
	sim_destroy(m);
}

/* ---- Cross-CPU calls ---------------------------------------------------------------------- */

struct call_record {
	unsigned int ran_on[SIM_MAX_CPUS];	/* __atomic; calls run per CPU */
	unsigned int irqs_on;			/* __atomic; calls that ran with IF = 1 */
};

static void record_call(void *arg)
{
	struct call_record *r = arg;

	__atomic_add_fetch(&r->ran_on[ik_os_cpu_id()], 1, __ATOMIC_RELAXED);
	if (!ik_os_irqs_disabled())
		__atomic_add_fetch(&r->irqs_on, 1, __ATOMIC_RELAXED);
}

static void call_everyone_from_here(void *arg)
{
	struct call_record *r = arg;

	for (unsigned int cpu = 0; cpu < ik_os_cpu_count(); cpu++) {
		if (sim_cpu_is_online(sim_current(), cpu))
			assert_int_equal(ik_os_cpu_call(cpu, record_call, r, true), 0);
	}
}

static void check_cpu_calls(bool threaded)
{
	struct sim_machine *m = machine(4, threaded);
	struct call_record r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(ik_os_cpu_call(4, record_call, &r, true), -IK_EINVAL);
	sim_cpu_set_online(m, 3, false);
	assert_int_equal(ik_os_cpu_call(3, record_call, &r, true), -IK_ENODEV);
	assert_int_equal(ik_os_cpu_call(3, record_call, &r, false), -IK_ENODEV);

	/* From outside any CPU context, then from CPU 2 to everyone (itself included). */
	call_everyone_from_here(&r);
	sim_run_on_cpu(m, 2, call_everyone_from_here, &r);
	for (unsigned int cpu = 0; cpu < 3; cpu++)
		assert_int_equal(r.ran_on[cpu], 2);
	assert_int_equal(r.ran_on[3], 0);
	assert_int_equal(r.irqs_on, 0);

	/* Without waiting: done once the machine has run. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(ik_os_cpu_call(1, record_call, &r, false), 0);
	assert_int_equal(ik_os_cpu_call(2, record_call, &r, false), 0);
	sim_run_until_idle(m);
	assert_int_equal(__atomic_load_n(&r.ran_on[1], __ATOMIC_RELAXED), 1);
	assert_int_equal(__atomic_load_n(&r.ran_on[2], __ATOMIC_RELAXED), 1);
	/* The calls arrived as IPIs on the port's vector, which the port EOIed. */
	assert_true(sim_cpu_vector_count(m, 1, SIM_VECTOR_CALL_FUNCTION) >= 2);
	assert_false(sim_lapic_isr_test(m, 1, SIM_VECTOR_CALL_FUNCTION));
	assert_true(sim_stat(m, SIM_STAT_IPIS_SENT) >= 6);
	assert_int_equal(entry_total(SIM_VECTOR_CALL_FUNCTION), 0);
	sim_destroy(m);
}

static void test_cpu_call_deterministic(void **state)
{
	check_cpu_calls(false);
}

static void test_cpu_call_threaded(void **state)
{
	check_cpu_calls(true);
}

/* Every CPU calls every other CPU with wait, all at once: waiting CPUs must stay interruptible. */
static struct call_record crossfire;

static void crossfire_fn(void *arg)
{
	for (unsigned int round = 0; round < 200; round++)
		for (unsigned int cpu = 0; cpu < ik_os_cpu_count(); cpu++)
			assert_int_equal(ik_os_cpu_call(cpu, record_call, &crossfire, true), 0);
}

static void *crossfire_thread(void *arg)
{
	sim_run_on_cpu(sim_current(), (unsigned int)(uintptr_t)arg, crossfire_fn, NULL);
	return NULL;
}

static void test_cpu_call_threaded_crossfire(void **state)
{
	struct sim_machine *m = machine(4, true);
	pthread_t threads[4];

	memset(&crossfire, 0, sizeof(crossfire));
	for (uintptr_t cpu = 0; cpu < 4; cpu++)
		assert_int_equal(pthread_create(&threads[cpu], NULL, crossfire_thread, (void *)cpu), 0);
	for (unsigned int cpu = 0; cpu < 4; cpu++)
		pthread_join(threads[cpu], NULL);
	for (unsigned int cpu = 0; cpu < 4; cpu++)
		assert_int_equal(__atomic_load_n(&crossfire.ran_on[cpu], __ATOMIC_RELAXED), 4 * 200);
	assert_int_equal(crossfire.irqs_on, 0);
	sim_destroy(m);
}

/* ---- Work --------------------------------------------------------------------------------- */

struct work_check {
	struct ik_os_work work;
	unsigned int runs;		/* __atomic */
	bool bad_context;
	bool requeue_once;
};

static void work_fn(struct ik_os_work *w)
{
	struct work_check *c = ik_container_of(w, struct work_check, work);
	ik_mutex_t mutex;

	/* Sleepable process context with interrupts enabled. */
	if (ik_os_irqs_disabled() || ik_os_cpu_id() >= ik_os_cpu_count())
		c->bad_context = true;
	ik_os_mutex_init(&mutex);
	ik_os_mutex_lock(&mutex);
	ik_os_mutex_unlock(&mutex);
	ik_os_mutex_destroy(&mutex);
	if (c->requeue_once) {
		c->requeue_once = false;
		ik_os_work_queue(w);	/* started: queuing again is not a no-op */
	}
	__atomic_add_fetch(&c->runs, 1, __ATOMIC_RELEASE);
}

static void check_work(bool threaded)
{
	struct sim_machine *m = machine(2, threaded);
	struct work_check c = { .work = { .fn = work_fn }, .requeue_once = true };

	ik_os_work_queue(&c.work);
	ik_os_work_queue(&c.work);	/* already queued, not started: no-op (det) */
	sim_run_until_idle(m);
	if (!threaded)
		assert_int_equal(c.runs, 2);
	else
		assert_true(__atomic_load_n(&c.runs, __ATOMIC_ACQUIRE) >= 2);
	assert_false(c.bad_context);
	sim_destroy(m);
}

static void test_work_deterministic(void **state)
{
	check_work(false);
}

static void test_work_threaded(void **state)
{
	check_work(true);
}

/* A work item queued from interrupt context runs from a point in process context. */
static struct work_check irq_work = { .work = { .fn = work_fn } };

static void queue_from_irq_entry(unsigned int vector)
{
	ik_os_work_queue(&irq_work.work);
	ik_os_mmio_write32(SIM_LAPIC_BASE + T_LAPIC_EOI, 0);
	/* Still interrupt context: the work must not have run yet. */
	assert_int_equal(irq_work.runs, 0);
}

static void wait_for_work(void *arg)
{
	struct sim_machine *m = arg;

	sim_test_msi(m, ik_os_cpu_id(), false, 0x50);
	while (!__atomic_load_n(&irq_work.runs, __ATOMIC_ACQUIRE))
		ik_os_cpu_relax();
}

static void test_work_from_irq_runs_at_points(void **state)
{
	struct sim_machine *m = sim_test_machine(2, NULL, 4, false, 0);

	sim_port_install(m, queue_from_irq_entry);
	irq_work.runs = 0;
	sim_run_on_cpu(m, 1, wait_for_work, m);
	assert_int_equal(irq_work.runs, 1);
	assert_false(irq_work.bad_context);
	sim_destroy(m);
}

/* ---- Config space, logging, time, unhandled vectors ------------------------------------------ */

static int fake_cfg_read(void *opaque, uint16_t segment, uint16_t bdf, uint16_t offset,
			 unsigned int size, uint32_t *value)
{
	*value = (uint32_t)bdf << 16 | offset;
	return 0;
}

static int fake_cfg_write(void *opaque, uint16_t segment, uint16_t bdf, uint16_t offset,
			  unsigned int size, uint32_t value)
{
	*(uint32_t *)opaque = value;
	return 0;
}

static const struct sim_pci_cfg_ops fake_cfg = { fake_cfg_read, fake_cfg_write };

static void test_pci_cfg(void **state)
{
	struct sim_machine *m = machine(1, false);
	uint32_t v = 0, written = 0;

	assert_int_equal(ik_os_pci_cfg_read(0, 0x0100, 0, 4, &v), 0);
	assert_int_equal(v, 0xFFFFFFFF);
	assert_int_equal(ik_os_pci_cfg_read(0, 0x0100, 2, 2, &v), 0);
	assert_int_equal(v, 0xFFFF);
	assert_int_equal(ik_os_pci_cfg_read(0, 0x0100, 3, 1, &v), 0);
	assert_int_equal(v, 0xFF);
	assert_int_equal(ik_os_pci_cfg_read(0, 0x0100, 2, 4, &v), -IK_EINVAL);
	assert_int_equal(ik_os_pci_cfg_read(0, 0x0100, 0, 3, &v), -IK_EINVAL);
	assert_int_equal(ik_os_pci_cfg_read(0, 0x0100, 4096, 4, &v), -IK_EINVAL);
	assert_int_equal(ik_os_pci_cfg_write(0, 0x0100, 1, 2, 0), -IK_EINVAL);
	assert_int_equal(ik_os_pci_cfg_write(0, 0x0100, 4, 4, 0), 0);

	sim_set_pci_cfg_handler(m, &fake_cfg, &written);
	assert_int_equal(ik_os_pci_cfg_read(0, 0x0108, 0x40, 4, &v), 0);
	assert_int_equal(v, 0x01080040);
	assert_int_equal(ik_os_pci_cfg_write(0, 0x0108, 0x44, 2, 0x12345678), 0);
	assert_int_equal(written, 0x5678);
	sim_destroy(m);
}

static void vlog(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ik_os_vlog(level, fmt, ap);
	va_end(ap);
}

static void test_log_time_unhandled(void **state)
{
	struct sim_machine *m = machine(1, false);
	uint64_t warnings = sim_port_warnings(), t0, unhandled = sim_port_unhandled();

	sim_port_set_log_level(-1);	/* keep the test output quiet */
	vlog(IK_LOG_INFO, "info %d", 1);
	assert_int_equal(sim_port_warnings(), warnings);
	assert_string_equal(sim_port_last_log(), "info 1");
	vlog(IK_LOG_WARN, "warn %s %x\n", "x", 0xab);
	vlog(IK_LOG_ERR, "err");
	assert_int_equal(sim_port_warnings(), warnings + 2);
	assert_string_equal(sim_port_last_log(), "err");
	sim_port_set_log_level(IK_LOG_WARN);

	t0 = ik_os_time_ns();
	for (unsigned int i = 0; i < 10; i++)
		sim_point(m);
	assert_int_equal(ik_os_time_ns() - t0, 100);

	/* Without a library entry the port EOIs and counts. */
	sim_port_install(m, NULL);
	sim_test_msi(m, 0, false, 0x66);
	sim_run_until_idle(m);
	assert_int_equal(sim_port_unhandled(), unhandled + 1);
	assert_false(sim_lapic_isr_test(m, 0, 0x66));
	sim_destroy(m);
}

/* ---- Threaded smoke test: 4 CPU threads, a device thread, 10000 messages ----------------- */

#define SMOKE_MESSAGES 10000

struct smoke {
	struct sim_machine *m;
	struct sim_testdev *dev;
};

static void *device_thread(void *arg)
{
	struct smoke *s = arg;

	for (unsigned int i = 0; i < SMOKE_MESSAGES; i++) {
		sim_testdev_fire(s->dev, i % 4);
		if ((i & 255) == 0)
			sched_yield();
	}
	return NULL;
}

static void process_load(void *arg)
{
	ik_spinlock_t *lock = arg;

	for (unsigned int i = 0; i < 2000; i++) {
		ik_irqflags_t flags = ik_os_spin_lock_irqsave(lock);

		(void)ik_os_mmio_read32(0x2000);
		ik_os_spin_unlock_irqrestore(lock, flags);
		(void)ik_os_mmio_read32(0x2004);
	}
}

static ik_spinlock_t shared_lock;

static void *cpu_load_thread(void *arg)
{
	struct sim_machine *m = sim_current();

	sim_run_on_cpu(m, (unsigned int)(uintptr_t)arg, process_load, &shared_lock);
	return NULL;
}

static void test_threaded_smoke(void **state)
{
	struct sim_machine *m = machine(4, true);
	struct smoke s = { .m = m };
	pthread_t dev_thread, load[2];
	uint64_t taken = 0;

	s.dev = sim_testdev_create(m, DEV_BASE, 4, 0x0400);
	assert_non_null(s.dev);
	for (unsigned int slot = 0; slot < 4; slot++) {
		sim_cpu_write(m, 0, DEV_BASE + slot * 16, sim_test_msi_addr(slot, false), 4);
		sim_cpu_write(m, 0, DEV_BASE + slot * 16 + 8, 0x40 + slot, 4);
	}
	ik_os_spin_init(&shared_lock);
	assert_int_equal(pthread_create(&dev_thread, NULL, device_thread, &s), 0);
	/* Process context with spinlocks on CPUs 1 and 3 meanwhile. */
	assert_int_equal(pthread_create(&load[0], NULL, cpu_load_thread, (void *)1), 0);
	assert_int_equal(pthread_create(&load[1], NULL, cpu_load_thread, (void *)3), 0);
	pthread_join(dev_thread, NULL);
	pthread_join(load[0], NULL);
	pthread_join(load[1], NULL);
	sim_run_until_idle(m);

	for (unsigned int slot = 0; slot < 4; slot++) {
		assert_int_equal(sim_testdev_sent(s.dev, slot), SMOKE_MESSAGES / 4);
		assert_int_equal(__atomic_load_n(&entry_count[slot][0x40 + slot], __ATOMIC_RELAXED),
				 sim_cpu_vector_count(m, slot, 0x40 + slot));
		taken += entry_count[slot][0x40 + slot];
	}
	/* Every message ended up either taken or merged into a pending one. */
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_ACCEPTED), SMOKE_MESSAGES);
	assert_int_equal(taken + sim_stat(m, SIM_STAT_MSI_COALESCED), SMOKE_MESSAGES);
	assert_true(taken > 0);
	for (unsigned int cpu = 0; cpu < 4; cpu++) {
		assert_false(sim_lapic_irr_test(m, cpu, 0x40 + cpu));
		assert_false(sim_lapic_isr_test(m, cpu, 0x40 + cpu));
	}
	sim_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc),
		cmocka_unit_test(test_locks),
		cmocka_unit_test(test_cpu_call_deterministic),
		cmocka_unit_test(test_cpu_call_threaded),
		cmocka_unit_test(test_cpu_call_threaded_crossfire),
		cmocka_unit_test(test_work_deterministic),
		cmocka_unit_test(test_work_threaded),
		cmocka_unit_test(test_work_from_irq_runs_at_points),
		cmocka_unit_test(test_pci_cfg),
		cmocka_unit_test(test_log_time_unhandled),
		cmocka_unit_test(test_threaded_smoke),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

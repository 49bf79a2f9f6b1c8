// SPDX-License-Identifier: BSD-2-Clause
/*
 * Interrupt entry vs. free (threaded simulator, one host thread per CPU).
 *
 * ik_x86_common_interrupt() reads the CPU's vector slot and calls the flow
 * handler, which only then takes the descriptor lock.  A CPU between the
 * two is not "in progress", so ik_free_irq() cannot wait for it; the
 * domain free must (one cross-CPU call per CPU after deactivation, see
 * wait_for_stale_entries() in src/core/irqdomain.c) or the CPU resumes on
 * a freed descriptor (seen on QEMU as ik_handle_edge_irq calling through
 * the NULL chip of a freed interrupt).
 *
 * Why threaded: the deterministic scheduler delivers another CPU's
 * interrupt only when no spinlock is held anywhere and runs the whole
 * entry nested, to completion, before the interrupted context continues.
 * An entry can therefore never be suspended between its slot read and its
 * lock while a free runs, whatever the register-access offset of the raise:
 * the window cannot be opened there.
 *
 * How the window is held open: the test installs a flow handler that wraps
 * ik_handle_edge_irq().  The entry reads the slot and calls it; on the
 * armed entry it stalls (interrupts off, like a vCPU descheduled there)
 * until the free has returned or STALL_MS have passed, then runs the real
 * flow handler.  Meanwhile CPU 0 runs ik_free_irq() + ik_irq_domain_free_irqs()
 * (vector freed with it).
 *  - Fixed library: the domain free waits in its cross-CPU call until the
 *    stalled entry has finished; the entry never resumes after the free.
 *  - Without the fix: the free returns while the entry is stalled.  That is
 *    counted (late_entries, asserted 0: observable without sanitizers) and,
 *    under AddressSanitizer, the flow handler is then run on the freed
 *    descriptor so ASan reports the use after free; without ASan the entry
 *    is dropped with an EOI instead of crashing or spinning on freed memory.
 *
 * Each round targets another CPU; rounds are deterministic in outcome (the
 * stall makes the window certain), only host timing varies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sched.h>
#include <time.h>
#include <cmocka.h>

#include "core/internals.h"
#include "sim_test.h"
#include "testbed.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define NR_CPUS 4
#define ROUNDS 3
#define STALL_MS 1000           /* how long the armed entry waits for the free */
#define WAIT_MS 20000           /* host-time guard for the test's own waits */

static struct {
	struct testbed *tb;
	unsigned int target;     /* CPU whose entry is stalled */
	int armed;               /* __atomic: stall the next entry on target */
	int in_window;           /* __atomic: the stalled entry read its slot */
	int freed;               /* __atomic: the free returned */
	uint64_t late_entries;   /* __atomic: entries resumed after the free returned */
	uint64_t stalled;        /* __atomic */
	uint64_t handled;        /* __atomic */
} st;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The flow handler of the test's interrupt: the entry's slot is read, the lock not yet taken. */
static void stalling_flow(struct ik_irq_desc *desc)
{
	if (ik_os_cpu_id() == st.target && __atomic_exchange_n(&st.armed, 0, __ATOMIC_ACQ_REL)) {
		uint64_t deadline = now_ms() + STALL_MS;

		__atomic_add_fetch(&st.stalled, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&st.in_window, 1, __ATOMIC_RELEASE);
		while (!__atomic_load_n(&st.freed, __ATOMIC_ACQUIRE) && now_ms() < deadline)
			sched_yield();
		if (__atomic_load_n(&st.freed, __ATOMIC_ACQUIRE)) {
			/* The free did not wait for this entry: @desc is gone. */
			__atomic_add_fetch(&st.late_entries, 1, __ATOMIC_RELAXED);
			if (!UNDER_ASAN) {
				sim_cpu_write(st.tb->m, st.target, SIM_LAPIC_BASE + T_LAPIC_EOI, 0, 4);
				return;
			}
		}
	}
	ik_handle_edge_irq(desc);
}

static ik_irqreturn_t handler(unsigned int irq, void *dev_id)
{
	__atomic_add_fetch(&st.handled, 1, __ATOMIC_RELAXED);
	return IK_IRQ_HANDLED;
}

struct call {
	unsigned int irq;
	unsigned int cpu;
	int ret, ret2;
};

static void request_fn(void *arg)
{
	struct call *c = arg;
	struct ik_irq_desc *desc = ik_irq_to_desc(c->irq);
	ik_irqflags_t flags;
	ik_cpumask_t m;

	c->ret = ik_request_irq(c->irq, handler, 0, "free-vs-entry", &st);
	if (c->ret)
		return;
	ik_cpumask_clear(&m);
	ik_cpumask_set_cpu(c->cpu, &m);
	c->ret = ik_irq_set_affinity(c->irq, &m);
	flags = ik_os_spin_lock_irqsave(&desc->lock);
	__atomic_store_n(&desc->handle_irq, stalling_flow, __ATOMIC_RELEASE);
	ik_os_spin_unlock_irqrestore(&desc->lock, flags);
}

static void free_fn(void *arg)
{
	struct call *c = arg;

	c->ret = ik_free_irq(c->irq, &st);
	c->ret2 = ik_irq_domain_free_irqs(c->irq, 1);
	__atomic_store_n(&st.freed, 1, __ATOMIC_RELEASE);
}

static bool wait_flag(int *flag)
{
	uint64_t deadline = now_ms() + WAIT_MS;

	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
		if (now_ms() > deadline)
			return false;
		sched_yield();
	}
	return true;
}

static void test_free_waits_for_entry_in_window(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = NR_CPUS, .seed = 5, .threaded = true };

	testbed_init(&tb, &o);
	st.tb = &tb;
	for (unsigned int round = 0; round < ROUNDS; round++) {
		struct call c = { .cpu = 1 + round % (NR_CPUS - 1) };
		struct ik_x86_irq_target t;
		int virq = testbed_alloc(&tb, 0, 1, NULL);
		uint64_t late_before = __atomic_load_n(&st.late_entries, __ATOMIC_RELAXED);

		assert_true(virq > 0);
		c.irq = (unsigned int)virq;
		st.target = c.cpu;
		__atomic_store_n(&st.in_window, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&st.freed, 0, __ATOMIC_RELEASE);
		testbed_on_cpu(&tb, 0, request_fn, &c);
		assert_int_equal(c.ret, 0);
		assert_int_equal(ik_x86_irq_target(c.irq, &t), 0);
		assert_int_equal(t.cpu, c.cpu);

		/* One raise: the target's entry reads the slot and stalls in the window. */
		__atomic_store_n(&st.armed, 1, __ATOMIC_RELEASE);
		sim_testdev_fire(tb.dev, 0);
		if (!wait_flag(&st.in_window))
			fail_msg("round %u: the raise never entered on CPU %u", round, c.cpu);

		/* CPU 0 frees the interrupt and its vector while the entry is in the window. */
		testbed_on_cpu(&tb, 0, free_fn, &c);
		assert_int_equal(c.ret, 0);
		assert_int_equal(c.ret2, 0);
		sim_run_until_idle(tb.m);
		if (__atomic_load_n(&st.late_entries, __ATOMIC_RELAXED) != late_before)
			fail_msg("round %u: CPU %u resumed an entry on interrupt %u after "
				 "ik_irq_domain_free_irqs() returned (freed descriptor)",
				 round, c.cpu, c.irq);
	}
	assert_int_equal(__atomic_load_n(&st.stalled, __ATOMIC_RELAXED), ROUNDS);
	assert_int_equal(__atomic_load_n(&st.late_entries, __ATOMIC_RELAXED), 0);
	/* The stalled entries ran on a shut-down interrupt: absorbed, never handled. */
	assert_int_equal(__atomic_load_n(&st.handled, __ATOMIC_RELAXED), 0);
	assert_int_equal(ik_x86_matrix_check(), 0);
	assert_int_equal(testbed_fini(&tb), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_free_waits_for_entry_in_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

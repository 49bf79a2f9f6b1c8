// SPDX-License-Identifier: BSD-2-Clause
/*
 * The port's own OS services, checked against the contracts in
 * include/irqkit/osl.h: allocation, locks, cross-CPU calls, deferred work,
 * one-shot timers (cancel_sync), threaded handlers whose work must run on
 * another CPU while the caller busy-waits, and the console's formatting.
 */
#include "port.h"

static volatile unsigned int call_cpu[PORT_MAX_CPUS];
static volatile bool call_irqs_off[PORT_MAX_CPUS];

static void call_fn(void *arg)
{
	unsigned int cpu = ik_os_cpu_id();

	call_cpu[cpu] = (unsigned int)(uintptr_t)arg;
	call_irqs_off[cpu] = ik_os_irqs_disabled();
}

static volatile unsigned int nowait_hits;

static void nowait_fn(void *arg)
{
	__atomic_add_fetch(&nowait_hits, 1, __ATOMIC_RELAXED);
}

static bool nowait_all(void *arg)
{
	return nowait_hits >= *(unsigned int *)arg;
}

/* ---- Work and timers ---- */

struct wtest {
	struct ik_os_work work;
	volatile unsigned int runs;
	volatile unsigned int cpu;
	volatile bool irqs_off;
};

static void work_fn(struct ik_os_work *w)
{
	struct wtest *t = ik_container_of(w, struct wtest, work);

	t->cpu = ik_os_cpu_id();
	t->irqs_off = ik_os_irqs_disabled();
	__atomic_add_fetch(&t->runs, 1, __ATOMIC_RELEASE);
}

static volatile bool blocker_release, blocker_running;

static void blocker_fn(struct ik_os_work *w)
{
	blocker_running = true;
	while (!blocker_release)
		ik_os_cpu_relax();
}

static bool work_ran(void *arg)
{
	return ((struct wtest *)arg)->runs > 0;
}

struct ttest {
	struct ik_os_timer timer;
	volatile unsigned int runs;
	uint64_t armed_at, ran_at;
	unsigned int rearm;		/* re-arm from the callback this many times */
	uint64_t rearm_ns;		/* after this long (0: 1 ms) */
	bool cancel_self;
	volatile bool cancel_ret;
	volatile bool slow;		/* callback spins 20 ms */
	volatile bool in_cb;
};

static void timer_fn(struct ik_os_timer *tm)
{
	struct ttest *t = ik_container_of(tm, struct ttest, timer);

	t->in_cb = true;
	t->ran_at = port_time_ns();
	if (t->slow)
		port_delay_us(20000);
	if (t->rearm) {
		t->rearm--;
		ik_os_timer_arm(tm, t->rearm_ns ? t->rearm_ns : 1000000);
	}
	/* From the callback itself: only disarms (the re-arm above), never waits. */
	if (t->cancel_self)
		t->cancel_ret = ik_os_timer_cancel_sync(tm);
	t->in_cb = false;
	__atomic_add_fetch(&t->runs, 1, __ATOMIC_RELEASE);
}

struct ttest_want {
	struct ttest *t;
	unsigned int n;
};

static bool timer_runs_n(void *arg)
{
	struct ttest_want *w = arg;

	return w->t->runs >= w->n;
}

static bool timer_runs(void *arg)
{
	struct ttest *t = arg;

	return t->runs >= 1;
}

/* ---- Threaded handler on the IPI device ---- */

static const struct ik_irq_chip thr_chip = {
	.name = "THRDEV",
	.irq_ack = ik_irq_chip_ack_parent,
	.irq_set_affinity = ik_irq_chip_set_affinity_parent,
	.flags = IK_IRQCHIP_ONESHOT_SAFE,
};

static int thr_alloc(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr, void *arg)
{
	int ret = ik_irq_domain_alloc_irqs_parent(domain, virq, nr, arg);

	if (ret)
		return ret;
	for (unsigned int i = 0; i < nr; i++)
		ik_irq_domain_set_info(domain, virq + i, i, &thr_chip, NULL, ik_handle_edge_irq, NULL);
	return 0;
}

static void thr_free(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++)
		ik_irq_domain_reset_irq_data(ik_irq_domain_get_irq_data(domain, virq + i));
	ik_irq_domain_free_irqs_parent(domain, virq, nr);
}

static const struct ik_irq_domain_ops thr_ops = { .alloc = thr_alloc, .free = thr_free };

static volatile unsigned int thr_hard, thr_thread, thr_thread_cpu;
static int thr_cookie;

static ik_irqreturn_t thr_primary(unsigned int irq, void *dev_id)
{
	__atomic_add_fetch(&thr_hard, 1, __ATOMIC_RELAXED);
	return IK_IRQ_WAKE_THREAD;
}

static ik_irqreturn_t thr_thread_fn(unsigned int irq, void *dev_id)
{
	/* Slow on purpose: the free below must wait for it. */
	port_delay_us(30000);
	thr_thread_cpu = ik_os_cpu_id();
	__atomic_add_fetch(&thr_thread, 1, __ATOMIC_RELEASE);
	return IK_IRQ_HANDLED;
}

static bool thr_hard_seen(void *arg)
{
	return thr_hard > 0;
}

static void self_ipi(unsigned int irq)
{
	struct ik_x86_irq_target t;
	ik_irqflags_t f;

	if (ik_x86_irq_target(irq, &t))
		return;
	f = ik_os_irq_save();
	port_mmio_write32(0xFEE00310, ik_x86_cpu_apic_id(t.cpu) << 24);
	port_mmio_write32(0xFEE00300, t.vector);
	ik_os_irq_restore(f);
}

static struct wtest irq_work;

static ik_irqreturn_t queue_work_handler(unsigned int irq, void *dev_id)
{
	ik_os_work_queue(&irq_work.work);
	return IK_IRQ_HANDLED;
}

PORT_TEST(osl_services)
{
	unsigned int ncpu = port_nr_cpus();

	PORT_CHECK(ncpu >= 2);
	PORT_CHECK_EQ(ik_os_cpu_id(), 0);
	PORT_CHECK(!ik_os_irqs_disabled());

	/* Memory: zeroed, distinct, reusable; absurd sizes fail cleanly. */
	{
		unsigned char *a = ik_os_alloc(100), *b = ik_os_alloc(100), *c;

		PORT_CHECK(a && b && a != b);
		for (unsigned int i = 0; i < 100; i++)
			PORT_CHECK_EQ(a[i] | b[i], 0);
		a[0] = 0x5a;
		ik_os_free(a);
		c = ik_os_alloc(100);
		PORT_CHECK(c);
		PORT_CHECK_EQ(c[0], 0);
		ik_os_free(b);
		ik_os_free(c);
		ik_os_free(NULL);
		PORT_CHECK(!ik_os_alloc((size_t)1 << 40));
		PORT_CHECK(!ik_os_alloc(0));
	}

	/* Locks. */
	{
		ik_spinlock_t l;
		ik_mutex_t mx;
		ik_irqflags_t f;

		ik_os_spin_init(&l);
		PORT_CHECK(!ik_os_spin_held(&l));
		f = ik_os_spin_lock_irqsave(&l);
		PORT_CHECK(ik_os_spin_held(&l));
		PORT_CHECK(ik_os_irqs_disabled());
		ik_os_spin_unlock_irqrestore(&l, f);
		PORT_CHECK(!ik_os_spin_held(&l));
		PORT_CHECK(!ik_os_irqs_disabled());
		ik_os_mutex_init(&mx);
		PORT_CHECK(!ik_os_mutex_held(&mx));
		ik_os_mutex_lock(&mx);
		PORT_CHECK(ik_os_mutex_held(&mx));
		PORT_CHECK(!ik_os_irqs_disabled());
		ik_os_mutex_unlock(&mx);
		PORT_CHECK(!ik_os_mutex_held(&mx));
		ik_os_mutex_destroy(&mx);
	}

	/* Cross-CPU calls: interrupts off on the target, self runs at once, bad CPUs refused. */
	for (unsigned int cpu = 0; cpu < ncpu; cpu++) {
		call_cpu[cpu] = 0;
		PORT_CHECK_EQ(ik_os_cpu_call(cpu, call_fn, (void *)(uintptr_t)(cpu + 100), true), 0);
		PORT_CHECK_EQ(call_cpu[cpu], cpu + 100);
		PORT_CHECK(call_irqs_off[cpu]);
	}
	PORT_CHECK_EQ(ik_os_cpu_call(ik_os_cpu_count(), call_fn, NULL, true), -IK_EINVAL);
	PORT_CHECK_EQ(port_run_on_cpu(ik_os_cpu_count(), call_fn, NULL), -IK_EINVAL);
	{
		unsigned int want = 0;

		nowait_hits = 0;
		for (unsigned int i = 0; i < 200; i++)
			for (unsigned int cpu = 0; cpu < ncpu; cpu++, want++)
				PORT_CHECK_EQ(ik_os_cpu_call(cpu, nowait_fn, NULL, false), 0);
		PORT_CHECK(port_wait(nowait_all, &want, 1000));
		port_delay_us(1000);
		PORT_CHECK_EQ(nowait_hits, want);
	}

	/*
	 * Work: process context, interrupts on; queuing a queued item is a
	 * no-op.  Work runs one item at a time (like one worker thread), so a
	 * blocker keeps the item queued while it is queued again.
	 */
	{
		struct wtest w = { .work.fn = work_fn };
		struct ik_os_work blocker = { .fn = blocker_fn };
		ik_irqflags_t f;

		blocker_release = false;
		blocker_running = false;
		ik_os_work_queue(&blocker);
		while (!blocker_running)
			ik_os_cpu_relax();
		f = ik_os_irq_save();
		ik_os_work_queue(&w.work);
		ik_os_work_queue(&w.work);
		ik_os_irq_restore(f);
		port_delay_us(2000);
		PORT_CHECK_EQ(w.runs, 0);
		blocker_release = true;
		PORT_CHECK(port_wait(work_ran, &w, 1000));
		port_delay_us(5000);
		PORT_CHECK_EQ(w.runs, 1);
		PORT_CHECK(!w.irqs_off);
		port_printf("osl: work ran on cpu %u\n", w.cpu);
	}

	/* Timers: never early; cancel before expiry; re-arm and cancel from the callback. */
	{
		struct ttest t = { .timer.fn = timer_fn };

		/* Arming a pending timer is a no-op (a 10 s timer: no timing assumption). */
		ik_os_timer_arm(&t.timer, 10000000000ull);
		ik_os_timer_arm(&t.timer, 1000);
		port_delay_us(5000);
		PORT_CHECK_EQ(t.runs, 0);
		PORT_CHECK(ik_os_timer_cancel_sync(&t.timer));

		t.armed_at = port_time_ns();
		ik_os_timer_arm(&t.timer, 5000000);
		PORT_CHECK(port_wait(timer_runs, &t, 1000));
		PORT_CHECK(t.ran_at - t.armed_at >= 5000000);
		port_delay_us(10000);
		PORT_CHECK_EQ(t.runs, 1);
		PORT_CHECK(!ik_os_timer_cancel_sync(&t.timer));

		/* Cancelled long before it is due (no timing assumption: 10 s). */
		t.runs = 0;
		ik_os_timer_arm(&t.timer, 10000000000ull);
		PORT_CHECK(ik_os_timer_cancel_sync(&t.timer));
		PORT_CHECK(!ik_os_timer_cancel_sync(&t.timer));
		port_delay_us(5000);
		PORT_CHECK_EQ(t.runs, 0);

		/* Re-armed from its own callback, twice: three runs, then quiet. */
		t.rearm = 2;
		{
			struct ttest_want tw = { &t, 3 };

			ik_os_timer_arm(&t.timer, 1000000);
			PORT_CHECK(port_wait(timer_runs_n, &tw, 2000));
		}
		port_delay_us(10000);
		PORT_CHECK_EQ(t.runs, 3);

		/* Re-armed, then cancelled from the callback: true, and no second run. */
		t.runs = 0;
		t.rearm = 1;
		t.cancel_self = true;
		ik_os_timer_arm(&t.timer, 1000000);
		PORT_CHECK(port_wait(timer_runs, &t, 2000));
		port_delay_us(10000);
		PORT_CHECK_EQ(t.runs, 1);
		PORT_CHECK(t.cancel_ret);
		t.cancel_self = false;
		t.rearm = 0;
		PORT_CHECK(!ik_os_timer_cancel_sync(&t.timer));
	}

	/* cancel_sync waits for a callback running elsewhere (CPU 0 does not run work here). */
	{
		struct ttest t = { .timer.fn = timer_fn, .slow = true, .rearm = 1,
				   .rearm_ns = 10000000000ull };

		ik_os_timer_arm(&t.timer, 1000000);
		while (!t.in_cb)
			ik_os_cpu_relax();	/* an AP picked it up */
		/* It re-arms itself (10 s) while we wait: that run is cancelled too. */
		PORT_CHECK(ik_os_timer_cancel_sync(&t.timer));
		PORT_CHECK(!t.in_cb);
		PORT_CHECK_EQ(t.runs, 1);
		port_delay_us(10000);
		PORT_CHECK_EQ(t.runs, 1);
	}

	/* Work queued from hard-interrupt context, and a threaded handler freed while queued. */
	{
		struct ik_irq_domain *dom = ik_irq_domain_create_hierarchy(ik_x86_vector_domain(), 0,
									   0, "THRDEV", &thr_ops,
									   NULL);
		int irq;

		PORT_CHECK(dom);
		irq = ik_irq_domain_alloc_irqs(dom, 2, NULL, NULL);
		PORT_CHECK(irq >= 0);
		irq_work.work.fn = work_fn;
		irq_work.runs = 0;
		PORT_CHECK_EQ(ik_request_irq((unsigned int)irq + 1, queue_work_handler, 0, "qw", &irq_work),
			      0);
		self_ipi((unsigned int)irq + 1);
		PORT_CHECK(port_wait(work_ran, &irq_work, 1000));
		PORT_CHECK_EQ(ik_free_irq((unsigned int)irq + 1, &irq_work), 0);

		PORT_CHECK_EQ(ik_request_threaded_irq((unsigned int)irq, thr_primary, thr_thread_fn, 0,
						      "thr", &thr_cookie), 0);
		self_ipi((unsigned int)irq);
		PORT_CHECK(port_wait(thr_hard_seen, NULL, 1000));
		/*
		 * The thread is queued or running: the free busy-waits for it
		 * (ik_os_cpu_relax) and another CPU must run it meanwhile.
		 */
		PORT_CHECK_EQ(ik_free_irq((unsigned int)irq, &thr_cookie), 0);
		PORT_CHECK_EQ(thr_thread, 1);
		port_printf("osl: thread ran on cpu %u\n", thr_thread_cpu);
		PORT_CHECK_EQ(ik_irq_domain_free_irqs((unsigned int)irq, 2), 0);
		PORT_CHECK_EQ(ik_irq_domain_remove(dom), 0);
	}

	/* Time is monotonic and roughly right against the delay loop. */
	{
		uint64_t t0 = port_time_ns(), t1;

		port_delay_us(10000);
		t1 = port_time_ns();
		PORT_CHECK(t1 - t0 >= 10000000);
	}
	port_printf("osl: fmt [%5d] [%-4u] [%04x] [%lx] [%llu] [%s] [%c] [%i] [%ld] [%p]\n", -42, 7u,
		    0xabu, 0xdeadbeefUL, 18446744073709551615ull, "str", 'c', -1, -5L, (void *)0x1000);
	PORT_CHECK_EQ(port_log_warnings(), 0);
	return 0;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * Core tests of the x86-64 port: the library's x86 platform on QEMU's
 * local APICs, I/O APIC, VT-d remapping and HPET, through the same public
 * API the simulator tests use.  Each runs on CPU 0 in process context.
 */
#include "port.h"

#define LAPIC 0xFEE00000ull
#define ICR_LO 0x300
#define ICR_HI 0x310

static unsigned int pick_other_cpu(unsigned int cpu)
{
	return (cpu + 1) % port_nr_cpus();
}

static void mask_of(ik_cpumask_t *m, unsigned int cpu)
{
	ik_cpumask_clear(m);
	ik_cpumask_set_cpu(cpu, m);
}

/* Fixed-delivery IPI of @vector to the CPU with @apic_id (self-IPI when it is us). */
static void send_vector(uint32_t apic_id, unsigned int vector)
{
	ik_irqflags_t f = ik_os_irq_save();

	while (port_mmio_read32(LAPIC + ICR_LO) & (1u << 12))
		ik_os_cpu_relax();
	port_mmio_write32(LAPIC + ICR_HI, apic_id << 24);
	port_mmio_write32(LAPIC + ICR_LO, vector);
	ik_os_irq_restore(f);
}

/* boot: every CPU came up, and its APIC ID as the library read it matches the MADT. */
PORT_TEST(boot)
{
	const struct port_acpi *acpi = port_acpi();

	PORT_CHECK(acpi->nr_cpus >= 2);
	PORT_CHECK_EQ(port_nr_cpus(), acpi->nr_cpus);
	PORT_CHECK_EQ(ik_os_cpu_count(), acpi->nr_cpus);
	for (unsigned int cpu = 0; cpu < acpi->nr_cpus; cpu++) {
		port_printf("boot: cpu %u apic id %u (madt %u)\n", cpu, ik_x86_cpu_apic_id(cpu),
			    acpi->apic_id[cpu]);
		PORT_CHECK_EQ(ik_x86_cpu_apic_id(cpu), acpi->apic_id[cpu]);
	}
	PORT_CHECK_EQ(ik_x86_cpu_apic_id(acpi->nr_cpus), UINT32_MAX);
	PORT_CHECK_EQ(ik_x86_matrix_check(), 0);
	PORT_CHECK_EQ(port_log_warnings(), 0);
	return 0;
}

/* ---- lapic_vectors: a tiny IPI "device" domain directly below the vector domain ---------- */

#define IPIDEV_N 8

static const struct ik_irq_chip ipidev_chip = {
	.name = "IPIDEV",
	.irq_ack = ik_irq_chip_ack_parent,
	.irq_set_affinity = ik_irq_chip_set_affinity_parent,
};

static int ipidev_alloc(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr, void *arg)
{
	int ret = ik_irq_domain_alloc_irqs_parent(domain, virq, nr, arg);

	if (ret)
		return ret;
	for (unsigned int i = 0; i < nr; i++) {
		ret = ik_irq_domain_set_info(domain, virq + i, virq + i, &ipidev_chip, NULL,
					     ik_handle_edge_irq, NULL);
		if (ret) {
			ik_irq_domain_free_irqs_parent(domain, virq, nr);
			return ret;
		}
	}
	return 0;
}

static void ipidev_free(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++)
		ik_irq_domain_reset_irq_data(ik_irq_domain_get_irq_data(domain, virq + i));
	ik_irq_domain_free_irqs_parent(domain, virq, nr);
}

static const struct ik_irq_domain_ops ipidev_ops = {
	.alloc = ipidev_alloc,
	.free = ipidev_free,
};

struct counter {
	volatile uint64_t per_cpu[PORT_MAX_CPUS];
	volatile uint64_t total;
	volatile unsigned int last_cpu;
};

static struct counter ipi_count[IPIDEV_N];

static ik_irqreturn_t count_handler(unsigned int irq, void *dev_id)
{
	struct counter *c = dev_id;
	unsigned int cpu = ik_os_cpu_id();

	__atomic_add_fetch(&c->per_cpu[cpu], 1, __ATOMIC_RELAXED);
	c->last_cpu = cpu;
	__atomic_add_fetch(&c->total, 1, __ATOMIC_RELEASE);
	return IK_IRQ_HANDLED;
}

struct count_wait {
	struct counter *c;
	uint64_t want;
};

static bool count_reached(void *arg)
{
	struct count_wait *w = arg;

	return __atomic_load_n(&w->c->total, __ATOMIC_ACQUIRE) >= w->want;
}

struct fire_req {
	unsigned int irq;
	unsigned int times;
	int ret;
};

/* Fire @irq at its current (cpu, vector), from whichever CPU runs this. */
static void fire_fn(void *arg)
{
	struct fire_req *f = arg;
	struct ik_x86_irq_target t;

	f->ret = ik_x86_irq_target(f->irq, &t);
	if (f->ret)
		return;
	for (unsigned int i = 0; i < f->times; i++)
		send_vector(ik_x86_cpu_apic_id(t.cpu), t.vector);
}

static int fire_and_check(unsigned int irq, struct counter *c, unsigned int from_cpu,
			  unsigned int times)
{
	struct ik_x86_irq_target t;
	struct fire_req f = { irq, times, 0 };
	struct count_wait w = { c, c->total + times };
	uint64_t before;

	PORT_CHECK_EQ(ik_x86_irq_target(irq, &t), 0);
	before = c->per_cpu[t.cpu];
	/* One at a time: back-to-back IPIs of one vector may coalesce in the IRR. */
	for (unsigned int i = 0; i < times; i++) {
		struct count_wait one = { c, c->total + 1 };

		f.times = 1;
		PORT_CHECK_EQ(port_run_on_cpu(from_cpu, fire_fn, &f), 0);
		PORT_CHECK_EQ(f.ret, 0);
		PORT_CHECK(port_wait(count_reached, &one, 1000));
	}
	PORT_CHECK(port_wait(count_reached, &w, 1000));
	port_delay_us(2000);
	PORT_CHECK_EQ(c->total, w.want);
	PORT_CHECK_EQ(c->per_cpu[t.cpu] - before, times);
	PORT_CHECK_EQ(c->last_cpu, t.cpu);
	PORT_CHECK_EQ(ik_irq_count_cpu(irq, t.cpu), c->per_cpu[t.cpu]);
	return 0;
}

static bool move_done(void *arg)
{
	struct ik_x86_irq_target t;

	return !ik_x86_irq_target(*(unsigned int *)arg, &t) && !t.move_in_progress;
}

PORT_TEST(lapic_vectors)
{
	struct ik_irq_domain *dom;
	unsigned int ncpu = port_nr_cpus();
	int base;

	PORT_CHECK(ncpu >= 2);
	dom = ik_irq_domain_create_hierarchy(ik_x86_vector_domain(), 0, 0, "IPIDEV", &ipidev_ops,
					     NULL);
	PORT_CHECK(dom);
	base = ik_irq_domain_alloc_irqs(dom, IPIDEV_N, NULL, NULL);
	PORT_CHECK(base >= 0);
	for (unsigned int i = 0; i < IPIDEV_N; i++)
		PORT_CHECK_EQ(ik_request_irq((unsigned int)base + i, count_handler, 0, "ipidev",
					     &ipi_count[i]), 0);
	PORT_CHECK_EQ(ik_x86_matrix_check(), 0);

	/* Where the library put them, fired from CPU 0 and from another CPU. */
	for (unsigned int i = 0; i < IPIDEV_N; i++) {
		struct ik_x86_irq_target t;

		PORT_CHECK_EQ(ik_x86_irq_target((unsigned int)base + i, &t), 0);
		PORT_CHECK(t.cpu < ncpu);
		PORT_CHECK(t.vector >= IK_X86_FIRST_EXTERNAL_VECTOR &&
			   t.vector < IK_X86_FIRST_SYSTEM_VECTOR);
		if (fire_and_check((unsigned int)base + i, &ipi_count[i], 0, 5) ||
		    fire_and_check((unsigned int)base + i, &ipi_count[i], ncpu - 1, 5))
			return 1;
	}

	/* Move every interrupt through every CPU, firing on each. */
	for (unsigned int round = 0; round < ncpu; round++) {
		for (unsigned int i = 0; i < IPIDEV_N; i++) {
			unsigned int irq = (unsigned int)base + i;
			struct ik_x86_irq_target t, t2;
			ik_cpumask_t m, eff;
			unsigned int dest;

			PORT_CHECK_EQ(ik_x86_irq_target(irq, &t), 0);
			dest = pick_other_cpu(t.cpu);
			mask_of(&m, dest);
			PORT_CHECK_EQ(ik_irq_set_affinity(irq, &m), 0);
			PORT_CHECK_EQ(ik_x86_irq_target(irq, &t2), 0);
			PORT_CHECK_EQ(t2.cpu, dest);
			PORT_CHECK_EQ(ik_irq_get_effective_affinity(irq, &eff), 0);
			PORT_CHECK(ik_cpumask_test_cpu(dest, &eff));
			if (fire_and_check(irq, &ipi_count[i], i % ncpu, 3))
				return 1;
			/*
			 * The first interrupt on the new vector completed the move: the
			 * old CPU releases its vector on the cleanup IPI.
			 */
			PORT_CHECK(port_wait(move_done, &irq, 1000));
		}
	}
	port_delay_us(5000);	/* old vectors' cleanup IPIs */
	PORT_CHECK_EQ(ik_x86_matrix_check(), 0);

	for (unsigned int i = 0; i < IPIDEV_N; i++)
		PORT_CHECK_EQ(ik_free_irq((unsigned int)base + i, &ipi_count[i]), 0);
	PORT_CHECK_EQ(ik_irq_domain_free_irqs((unsigned int)base, IPIDEV_N), 0);
	PORT_CHECK_EQ(ik_irq_domain_remove(dom), 0);
	PORT_CHECK_EQ(ik_x86_matrix_check(), 0);
	PORT_CHECK_EQ(port_log_warnings(), 0);
	return 0;
}

/* ---- IO-APIC edge: PIT channel 0 ---------------------------------------------------------- */

static void pit_start(unsigned int hz)
{
	unsigned int div = 1193182u / hz;

	port_outb(0x43, 0x34);	/* channel 0, lo/hi, mode 2 (rate generator) */
	port_outb(0x40, (uint8_t)div);
	port_outb(0x40, (uint8_t)(div >> 8));
}

static void pit_stop(void)
{
	port_outb(0x43, 0x30);	/* channel 0, mode 0, no count written: output stays low */
}

static struct counter pit_count;

static bool cpu_got_ticks(void *arg)
{
	const uint64_t *want = arg;	/* [cpu, count] */

	return pit_count.per_cpu[want[0]] >= want[1];
}

/* @n more ticks on @cpu within a second. */
static int expect_ticks_on(unsigned int cpu, uint64_t n)
{
	uint64_t want[2] = { cpu, pit_count.per_cpu[cpu] + n };

	PORT_CHECK(port_wait(cpu_got_ticks, want, 1000));
	return 0;
}

static int pit_alloc(int *irq_out)
{
	const struct port_acpi *acpi = port_acpi();
	uint32_t gsi = acpi->isa_gsi[0];
	uint16_t fl = acpi->isa_flags[0];
	unsigned int pin = gsi - acpi->ioapic_gsi_base;
	bool low = (fl & 3) == 3;
	unsigned int type = ((fl >> 2) & 3) == 3 ? IK_IRQ_TYPE_LEVEL_HIGH : IK_IRQ_TYPE_EDGE_RISING;
	int irq;

	port_printf("pit: isa irq 0 -> gsi %u (pin %u, %s, %s)\n", gsi, pin,
		    type == IK_IRQ_TYPE_EDGE_RISING ? "edge" : "level", low ? "low" : "high");
	PORT_CHECK(port_ioapic());
	irq = ik_x86_ioapic_alloc_irq(port_ioapic(), pin, type, low);
	PORT_CHECK(irq >= 0);
	PORT_CHECK_EQ(ik_request_irq((unsigned int)irq, count_handler, 0, "pit", &pit_count), 0);
	*irq_out = irq;
	return 0;
}

static int pit_free(int irq)
{
	unsigned int pin = port_acpi()->isa_gsi[0] - port_acpi()->ioapic_gsi_base;

	pit_stop();
	PORT_CHECK_EQ(ik_free_irq((unsigned int)irq, &pit_count), 0);
	PORT_CHECK_EQ(ik_x86_ioapic_free_irq(port_ioapic(), pin), 0);
	return 0;
}

static int ioapic_edge(bool want_ir)
{
	unsigned int ncpu = port_nr_cpus();
	struct ik_x86_irq_target t;
	uint64_t rte;
	int irq;

	PORT_CHECK_EQ(port_ir_enabled(), want_ir);
	PORT_CHECK(ncpu >= 2);
	if (pit_alloc(&irq))
		return 1;
	rte = ik_x86_ioapic_rte(port_ioapic(), port_acpi()->isa_gsi[0] - port_acpi()->ioapic_gsi_base);
	port_printf("pit: irq %d rte %llx\n", irq, (unsigned long long)rte);
	if (want_ir) {
		struct ik_x86_ir_irq_info info;

		PORT_CHECK_EQ(ik_x86_ir_irq_info((unsigned int)irq, &info), 0);
		PORT_CHECK(info.programmed);
		PORT_CHECK(rte & (1ull << 48));		/* remappable format */
		PORT_CHECK_EQ(rte >> 49, info.handle & 0x7FFF);
	} else {
		PORT_CHECK(!(rte & (1ull << 48)));
	}
	pit_start(1000);
	PORT_CHECK_EQ(ik_x86_irq_target((unsigned int)irq, &t), 0);
	if (expect_ticks_on(t.cpu, 20))
		return 1;

	/* Affinity moves while the PIT keeps ticking: every CPU in turn, then back. */
	for (unsigned int step = 1; step <= ncpu; step++) {
		unsigned int dest = (t.cpu + step) % ncpu;
		ik_cpumask_t m;
		uint64_t old_cpu_count;

		mask_of(&m, dest);
		PORT_CHECK_EQ(ik_irq_set_affinity((unsigned int)irq, &m), 0);
		if (expect_ticks_on(dest, 20))
			return 1;
		/* Nothing on any other CPU once the move is done. */
		for (unsigned int c = 0; c < ncpu; c++) {
			if (c == dest)
				continue;
			old_cpu_count = pit_count.per_cpu[c];
			if (expect_ticks_on(dest, 10))
				return 1;
			PORT_CHECK_EQ(pit_count.per_cpu[c], old_cpu_count);
		}
	}
	if (pit_free(irq))
		return 1;
	port_delay_us(5000);
	PORT_CHECK_EQ(ik_x86_matrix_check(), 0);
	port_printf("pit: %llu ticks", (unsigned long long)pit_count.total);
	for (unsigned int c = 0; c < ncpu; c++)
		port_printf(" cpu%u=%llu", c, (unsigned long long)pit_count.per_cpu[c]);
	port_printf("\n");
	PORT_CHECK_EQ(port_log_warnings(), 0);
	return 0;
}

PORT_TEST(ioapic_edge)
{
	return ioapic_edge(false);
}

PORT_TEST(ioapic_edge_ir)
{
	return ioapic_edge(true);
}

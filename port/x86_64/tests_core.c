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

	/* QEMU's PIT may make one more transition after the mode change: let it land. */
	pit_stop();
	port_delay_us(5000);
	/*
	 * No quiescing of the CPUs here: a CPU that read the vector slot just
	 * before the free is waited for by the library (the domain free runs
	 * one cross-CPU call per CPU after deactivation).
	 */
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
		/* The entry checks the I/O APIC's source id from the DMAR scope (SVT = 1, full SID). */
		PORT_CHECK_EQ(info.irte_hi & 0xFFFF, port_acpi()->ioapic_sid);
		PORT_CHECK_EQ((info.irte_hi >> 18) & 3, 1);
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

/* ---- IO-APIC level: edu's INTx ---------------------------------------------------------- */

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_ID          0x00
#define EDU_IRQ_STATUS  0x24
#define EDU_IRQ_RAISE   0x60
#define EDU_IRQ_ACK     0x64

#define IOAPIC_RTE_MASKED     (1u << 16)
#define IOAPIC_RTE_REMOTE_IRR (1u << 14)

static uint64_t edu_bar;
static volatile unsigned int edu_found_pin = ~0u;
static volatile unsigned int edu_ack_on_run;	/* ack on this run number (1 = first) */
static volatile unsigned int edu_runs_since_raise;
static struct counter edu_count;

static ik_irqreturn_t edu_probe_handler(unsigned int irq, void *dev_id)
{
	uint32_t st = port_mmio_read32(edu_bar + EDU_IRQ_STATUS);

	if (!st)
		return IK_IRQ_NONE;
	port_mmio_write32(edu_bar + EDU_IRQ_ACK, st);
	edu_found_pin = (unsigned int)(uintptr_t)dev_id;
	return IK_IRQ_HANDLED;
}

/* Acks the device on the edu_ack_on_run-th run after a raise: earlier runs leave the line up. */
static ik_irqreturn_t edu_level_handler(unsigned int irq, void *dev_id)
{
	uint32_t st = port_mmio_read32(edu_bar + EDU_IRQ_STATUS);

	if (!st)
		return IK_IRQ_NONE;
	if (++edu_runs_since_raise >= edu_ack_on_run)
		port_mmio_write32(edu_bar + EDU_IRQ_ACK, st);
	return count_handler(irq, dev_id);
}

static bool edu_pin_found(void *arg)
{
	return edu_found_pin != ~0u;
}

/* The RTE's low dword straight from the I/O APIC (only while nothing is in flight). */
static uint32_t ioapic_rte_lo(unsigned int pin)
{
	uint64_t base = port_acpi()->ioapic_base;
	ik_irqflags_t f = ik_os_irq_save();
	uint32_t v;

	port_mmio_write32(base, 0x10 + 2 * pin);
	v = port_mmio_read32(base + 0x10);
	ik_os_irq_restore(f);
	return v;
}

static int edu_setup(uint16_t *bdf)
{
	uint32_t cmd;

	PORT_CHECK_EQ(port_pci_find(EDU_VENDOR, EDU_DEVICE, 0, bdf), 0);
	edu_bar = port_pci_bar(*bdf, 0);
	PORT_CHECK(edu_bar);
	PORT_CHECK_EQ(port_mmio_read32(edu_bar + EDU_ID) & 0xFF, 0xed);
	cmd = port_pci_read(*bdf, IK_PCI_COMMAND, 2);
	port_pci_write(*bdf, IK_PCI_COMMAND, 2, cmd & ~IK_PCI_COMMAND_INTX_DISABLE);
	port_mmio_write32(edu_bar + EDU_IRQ_ACK, 0xFFFFFFFFu);
	return 0;
}

/*
 * Which I/O APIC input edu's INTA# reaches: q35 routes PIRQ A-H to pins
 * 16-23 through the firmware's link setup, which only the DSDT's AML
 * describes.  Without an AML interpreter: allocate all eight as level
 * inputs, raise once and see which one fires.
 */
static int edu_find_pin(unsigned int *pin_out)
{
	struct ik_x86_ioapic *io = port_ioapic();
	int irqs[8];

	for (unsigned int i = 0; i < 8; i++) {
		irqs[i] = ik_x86_ioapic_alloc_irq(io, 16 + i, IK_IRQ_TYPE_LEVEL_HIGH, false);
		PORT_CHECK(irqs[i] >= 0);
		PORT_CHECK_EQ(ik_request_irq((unsigned int)irqs[i], edu_probe_handler, 0, "edu-probe",
					     (void *)(uintptr_t)(16 + i)), 0);
	}
	edu_found_pin = ~0u;
	port_mmio_write32(edu_bar + EDU_IRQ_RAISE, 1);
	PORT_CHECK(port_wait(edu_pin_found, NULL, 1000));
	for (unsigned int i = 0; i < 8; i++) {
		PORT_CHECK_EQ(ik_free_irq((unsigned int)irqs[i], (void *)(uintptr_t)(16 + i)), 0);
		PORT_CHECK_EQ(ik_x86_ioapic_free_irq(io, 16 + i), 0);
	}
	port_printf("edu: INTA# -> I/O APIC pin %u\n", edu_found_pin);
	*pin_out = edu_found_pin;
	return 0;
}

/* Raise once; expect exactly @runs handler runs on @cpu and the line back down. */
static int edu_raise_expect(unsigned int pin, unsigned int ack_on, unsigned int runs,
			    unsigned int cpu)
{
	struct count_wait w = { &edu_count, edu_count.total + runs };
	uint64_t on_cpu = edu_count.per_cpu[cpu];
	uint32_t rte;

	edu_ack_on_run = ack_on;
	edu_runs_since_raise = 0;
	port_mmio_write32(edu_bar + EDU_IRQ_RAISE, 1);
	PORT_CHECK(port_wait(count_reached, &w, 1000));
	port_delay_us(10000);
	PORT_CHECK_EQ(edu_count.total, w.want);
	PORT_CHECK_EQ(edu_count.per_cpu[cpu] - on_cpu, runs);
	PORT_CHECK_EQ(port_mmio_read32(edu_bar + EDU_IRQ_STATUS), 0);
	/* The EOI cleared Remote IRR, the entry is live again. */
	rte = ioapic_rte_lo(pin);
	PORT_CHECK_EQ(rte & (IOAPIC_RTE_REMOTE_IRR | IOAPIC_RTE_MASKED), 0);
	return 0;
}

static int ioapic_level(bool want_ir)
{
	struct ik_x86_irq_target t;
	unsigned int pin, ncpu = port_nr_cpus();
	uint16_t bdf;
	ik_cpumask_t m;
	int irq;

	PORT_CHECK_EQ(port_ir_enabled(), want_ir);
	if (edu_setup(&bdf) || edu_find_pin(&pin))
		return 1;
	irq = ik_x86_ioapic_alloc_irq(port_ioapic(), pin, IK_IRQ_TYPE_LEVEL_HIGH, false);
	PORT_CHECK(irq >= 0);
	PORT_CHECK_EQ(ik_request_irq((unsigned int)irq, edu_level_handler, 0, "edu-intx", &edu_count),
		      0);
	if (want_ir) {
		struct ik_x86_ir_irq_info info;

		PORT_CHECK_EQ(ik_x86_ir_irq_info((unsigned int)irq, &info), 0);
		PORT_CHECK(ik_x86_ioapic_rte(port_ioapic(), pin) & (1ull << 48));
	}
	PORT_CHECK_EQ(ik_x86_irq_target((unsigned int)irq, &t), 0);

	/* One handler run per raise: the handler acks, the line drops, EOI clears Remote IRR. */
	for (unsigned int i = 0; i < 10; i++)
		if (edu_raise_expect(pin, 1, 1, t.cpu))
			return 1;
	/* A line still asserted at EOI is delivered again: two runs, the second acks. */
	if (edu_raise_expect(pin, 2, 2, t.cpu) || edu_raise_expect(pin, 3, 3, t.cpu))
		return 1;

	/* Disabled: the line is masked on its first assertion and replayed on enable. */
	PORT_CHECK_EQ(ik_disable_irq((unsigned int)irq), 0);
	{
		uint64_t before = edu_count.total;
		struct count_wait w = { &edu_count, before + 1 };

		edu_ack_on_run = 1;
		edu_runs_since_raise = 0;
		port_mmio_write32(edu_bar + EDU_IRQ_RAISE, 1);
		port_delay_us(20000);
		PORT_CHECK_EQ(edu_count.total, before);
		PORT_CHECK(port_mmio_read32(edu_bar + EDU_IRQ_STATUS) != 0);
		PORT_CHECK_EQ(ik_enable_irq((unsigned int)irq), 0);
		PORT_CHECK(port_wait(count_reached, &w, 1000));
		port_delay_us(10000);
		PORT_CHECK_EQ(edu_count.total, before + 1);
		PORT_CHECK_EQ(ioapic_rte_lo(pin) & (IOAPIC_RTE_REMOTE_IRR | IOAPIC_RTE_MASKED), 0);
	}

	/* Moved to every other CPU in turn (level entries are rewritten masked). */
	for (unsigned int step = 1; step <= ncpu; step++) {
		unsigned int dest = (t.cpu + step) % ncpu;

		mask_of(&m, dest);
		PORT_CHECK_EQ(ik_irq_set_affinity((unsigned int)irq, &m), 0);
		for (unsigned int i = 0; i < 3; i++)
			if (edu_raise_expect(pin, 1, 1, dest))
				return 1;
	}
	PORT_CHECK_EQ(ik_free_irq((unsigned int)irq, &edu_count), 0);
	PORT_CHECK_EQ(ik_x86_ioapic_free_irq(port_ioapic(), pin), 0);
	port_delay_us(5000);
	PORT_CHECK_EQ(ik_x86_matrix_check(), 0);
	PORT_CHECK_EQ(port_log_warnings(), 0);
	return 0;
}

PORT_TEST(ioapic_level)
{
	return ioapic_level(false);
}

PORT_TEST(ioapic_level_ir)
{
	return ioapic_level(true);
}

/* ---- HPET comparator through FSB (MSI) ------------------------------------------------------ */

static struct counter hpet_count;

struct affinity_req {
	unsigned int irq, cpu;
	int ret;
};

static void set_affinity_fn(void *arg)
{
	struct affinity_req *r = arg;
	ik_cpumask_t m;

	mask_of(&m, r->cpu);
	r->ret = ik_irq_set_affinity(r->irq, &m);
}

PORT_TEST(hpet_msi)
{
	struct ik_x86_hpet_config cfg = { 0 };
	struct ik_x86_hpet *hpet;
	struct ik_x86_irq_target t;
	uint64_t period_fs, ticks_per_ms;
	struct ik_x86_msi_stats st0, st1;
	unsigned int timer, ncpu = port_nr_cpus();
	int irq = -IK_ENOTSUPP;

	/* QEMU's HPET bypasses the IOMMU: compatibility format only (qemu-notes.md). */
	PORT_CHECK(!port_ir_enabled());
	PORT_CHECK(port_acpi()->hpet_base);
	cfg.base = port_acpi()->hpet_base;
	PORT_CHECK_EQ(ik_x86_hpet_create(&cfg, &hpet), 0);
	period_fs = port_mmio_read64(cfg.base) >> 32;
	PORT_CHECK(period_fs > 0 && period_fs <= 100000000ull);
	ticks_per_ms = 1000000000000ull / period_fs;
	for (timer = 0; timer < ik_x86_hpet_nr_timers(hpet); timer++) {
		irq = ik_x86_hpet_timer_alloc_irq(hpet, timer);
		if (irq != -IK_ENOTSUPP)
			break;
	}
	port_printf("hpet: %u timers, %llu fs/tick, timer %u irq %d\n", ik_x86_hpet_nr_timers(hpet),
		    (unsigned long long)period_fs, timer, irq);
	PORT_CHECK(irq >= 0);
	PORT_CHECK_EQ(ik_request_irq((unsigned int)irq, count_handler, 0, "hpet", &hpet_count), 0);
	PORT_CHECK_EQ(ik_x86_irq_target((unsigned int)irq, &t), 0);
	/*
	 * Started, not armed: the library parks the comparator far ahead
	 * before opening the interrupt, so nothing arrives before the first
	 * arm (QEMU would fire at once for a comparator behind the counter).
	 */
	port_delay_us(20000);
	PORT_CHECK_EQ(hpet_count.total, 0);

	ik_x86_msi_get_stats(&st0);
	for (unsigned int step = 0; step <= 2 * ncpu; step++) {
		unsigned int dest = (t.cpu + step) % ncpu;
		struct ik_x86_irq_target cur;

		PORT_CHECK_EQ(ik_x86_irq_target((unsigned int)irq, &cur), 0);
		if (step) {
			struct affinity_req ar = { (unsigned int)irq, dest, 1 };

			/*
			 * Odd steps ask on the CPU the interrupt targets (the two-step
			 * update runs at once), even steps on CPU 0 (left pending for
			 * the next interrupt, which may still land on the old CPU).
			 */
			PORT_CHECK_EQ(port_run_on_cpu(step & 1 ? cur.cpu : 0, set_affinity_fn, &ar), 0);
			PORT_CHECK_EQ(ar.ret, 0);
			if (!(step & 1) && cur.cpu != 0) {
				struct count_wait w = { &hpet_count, hpet_count.total + 1 };
				uint64_t both = hpet_count.per_cpu[dest] + hpet_count.per_cpu[cur.cpu];

				PORT_CHECK_EQ(ik_x86_hpet_timer_arm(hpet, timer, ticks_per_ms), 0);
				PORT_CHECK(port_wait(count_reached, &w, 1000));
				port_delay_us(3000);
				PORT_CHECK_EQ(hpet_count.total, w.want);
				PORT_CHECK_EQ(hpet_count.per_cpu[dest] + hpet_count.per_cpu[cur.cpu] -
					      both, 1);
			}
		}
		for (unsigned int i = 0; i < 4; i++) {
			struct count_wait w = { &hpet_count, hpet_count.total + 1 };
			uint64_t on_cpu = hpet_count.per_cpu[dest];

			PORT_CHECK_EQ(ik_x86_hpet_timer_arm(hpet, timer, ticks_per_ms), 0);
			PORT_CHECK(port_wait(count_reached, &w, 1000));
			port_delay_us(3000);
			/* One-shot: exactly one interrupt per arm, on the CPU it targets. */
			PORT_CHECK_EQ(hpet_count.total, w.want);
			PORT_CHECK_EQ(hpet_count.per_cpu[dest] - on_cpu, 1);
		}
		{
			unsigned int uirq = (unsigned int)irq;

			PORT_CHECK(port_wait(move_done, &uirq, 1000));
		}
	}
	ik_x86_msi_get_stats(&st1);
	port_printf("hpet: x86-msi updates: direct %llu two-step %llu deferred %llu raced %llu\n",
		    (unsigned long long)(st1.direct - st0.direct),
		    (unsigned long long)(st1.two_step - st0.two_step),
		    (unsigned long long)(st1.deferred - st0.deferred),
		    (unsigned long long)(st1.raced - st0.raced));
	PORT_CHECK(st1.two_step + st1.direct > st0.two_step + st0.direct);
	PORT_CHECK(st1.deferred > st0.deferred);
	PORT_CHECK_EQ(ik_free_irq((unsigned int)irq, &hpet_count), 0);
	PORT_CHECK_EQ(ik_x86_hpet_timer_free_irq(hpet, timer), 0);
	ik_x86_hpet_destroy(hpet);
	port_delay_us(5000);
	PORT_CHECK_EQ(ik_x86_matrix_check(), 0);
	PORT_CHECK_EQ(port_log_warnings(), 0);
	return 0;
}

/* ---- CPU offline / online ----------------------------------------------------------------- */

struct hotplug_req {
	bool online;
	int ret;
};

static void hotplug_fn(void *arg)
{
	struct hotplug_req *r = arg;

	r->ret = r->online ? ik_x86_cpu_online() : ik_x86_cpu_offline();
}

static struct counter off_ipi_count[4];

PORT_TEST(cpu_offline)
{
	const unsigned int victim = 1;
	unsigned int ncpu = port_nr_cpus();
	struct hotplug_req req;
	struct ik_irq_domain *dom;
	ik_cpumask_t m, all;
	int pit, base;

	PORT_CHECK(ncpu >= 2);
	ik_cpumask_setall(&all, ncpu);
	if (pit_alloc(&pit))
		return 1;
	dom = ik_irq_domain_create_hierarchy(ik_x86_vector_domain(), 0, 0, "IPIDEV", &ipidev_ops,
					     NULL);
	PORT_CHECK(dom);
	base = ik_irq_domain_alloc_irqs(dom, 4, NULL, NULL);
	PORT_CHECK(base >= 0);
	for (unsigned int i = 0; i < 4; i++)
		PORT_CHECK_EQ(ik_request_irq((unsigned int)base + i, count_handler, 0, "ipidev",
					     &off_ipi_count[i]), 0);

	/* Everything on the victim, the PIT ticking there. */
	mask_of(&m, victim);
	PORT_CHECK_EQ(ik_irq_set_affinity((unsigned int)pit, &m), 0);
	for (unsigned int i = 0; i < 4; i++) {
		/* Requested affinity: all CPUs, effective: the victim. */
		PORT_CHECK_EQ(ik_irq_set_affinity((unsigned int)base + i, &m), 0);
		if (fire_and_check((unsigned int)base + i, &off_ipi_count[i], 0, 2))
			return 1;
		PORT_CHECK_EQ(ik_irq_set_affinity((unsigned int)base + i, i & 1 ? &all : &m), 0);
	}
	pit_start(1000);
	if (expect_ticks_on(victim, 20))
		return 1;

	/* Out of service: every interrupt leaves it, the PIT keeps ticking elsewhere. */
	req.online = false;
	req.ret = 1;
	PORT_CHECK_EQ(port_run_on_cpu(victim, hotplug_fn, &req), 0);
	PORT_CHECK_EQ(req.ret, 0);
	{
		struct ik_x86_irq_target t;
		uint64_t frozen;

		PORT_CHECK_EQ(ik_x86_irq_target((unsigned int)pit, &t), 0);
		PORT_CHECK(t.cpu != victim);
		if (expect_ticks_on(t.cpu, 20))
			return 1;
		frozen = pit_count.per_cpu[victim];
		if (expect_ticks_on(t.cpu, 20))
			return 1;
		PORT_CHECK_EQ(pit_count.per_cpu[victim], frozen);
		for (unsigned int i = 0; i < 4; i++) {
			PORT_CHECK_EQ(ik_x86_irq_target((unsigned int)base + i, &t), 0);
			PORT_CHECK(t.cpu != victim);
			if (fire_and_check((unsigned int)base + i, &off_ipi_count[i], 0, 2))
				return 1;
		}
	}
	/* Nothing can be moved onto it meanwhile. */
	PORT_CHECK(ik_irq_set_affinity((unsigned int)pit, &m) != 0);
	PORT_CHECK_EQ(ik_x86_matrix_check(), 0);

	/* Back in service, and interrupts moved onto it again. */
	req.online = true;
	req.ret = 1;
	PORT_CHECK_EQ(port_run_on_cpu(victim, hotplug_fn, &req), 0);
	PORT_CHECK_EQ(req.ret, 0);
	PORT_CHECK_EQ(ik_irq_set_affinity((unsigned int)pit, &m), 0);
	if (expect_ticks_on(victim, 20))
		return 1;
	for (unsigned int i = 0; i < 4; i++) {
		struct ik_x86_irq_target t;

		PORT_CHECK_EQ(ik_irq_set_affinity((unsigned int)base + i, &m), 0);
		PORT_CHECK_EQ(ik_x86_irq_target((unsigned int)base + i, &t), 0);
		PORT_CHECK_EQ(t.cpu, victim);
		if (fire_and_check((unsigned int)base + i, &off_ipi_count[i], 0, 2))
			return 1;
	}

	if (pit_free(pit))
		return 1;
	for (unsigned int i = 0; i < 4; i++)
		PORT_CHECK_EQ(ik_free_irq((unsigned int)base + i, &off_ipi_count[i]), 0);
	PORT_CHECK_EQ(ik_irq_domain_free_irqs((unsigned int)base, 4), 0);
	PORT_CHECK_EQ(ik_irq_domain_remove(dom), 0);
	port_delay_us(5000);
	PORT_CHECK_EQ(ik_x86_matrix_check(), 0);
	PORT_CHECK_EQ(port_log_warnings(), 0);
	return 0;
}

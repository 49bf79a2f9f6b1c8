// SPDX-License-Identifier: BSD-2-Clause
/*
 * port/x86_64/tests_pci.c - the library's PCI MSI / MSI-X layers on QEMU's
 * emulated devices (edu, e1000e, nvme), with and without VT-d interrupt
 * remapping.  Everything goes through the library's public API, as the
 * simulator tests (tests/unit/test_pci_msi.c, test_pci_msix.c,
 * test_x86_ir.c, test_x86_msi_affinity.c) do; the devices are programmed
 * directly through their BARs, as a driver would.
 *
 * Devices and what makes them send a message:
 *  - edu (1234:11e8): one MSI vector, 64-bit, no per-vector mask.  Every
 *    write to 0x60 sends one MSI (no "only on change" logic); the handler
 *    acknowledges the status through 0x64.
 *  - e1000e (8086:10d3): five MSI-X vectors (table in BAR3).  IVAR maps the
 *    causes RXQ0/RXQ1/TXQ0/TXQ1/OTHER to vectors; writing a cause to ICS
 *    raises it.  QEMU re-signals only when the set of pending (ICR & IMS)
 *    causes changes, so the handler must write-1-to-clear its cause in ICR
 *    or the next raise of the same cause sends nothing.
 *  - nvme (1b36:0010): MSI-X with msix_qsize vectors.  The admin completion
 *    queue signals vector 0; an I/O completion queue signals the vector
 *    given when it was created (Create I/O CQ, IV field).
 *
 * Pacing: a device interrupt is an edge; two messages to the same vector
 * while it is pending in the IRR are one interrupt by design.  So every
 * test raises the next interrupt only after the handler saw the previous
 * one, and "delivered == fired" is exact.  A lost interrupt shows as a
 * stall, reported with the interrupt's vector state.
 */
#include "port.h"

#include <irqkit/cpumask.h>

/* ---- Small helpers ------------------------------------------------------------------ */

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define E1000E_VENDOR 0x8086
#define E1000E_DEVICE 0x10d3
#define NVME_VENDOR 0x1b36
#define NVME_DEVICE 0x0010

/* How long a paced interrupt may take before the test calls it lost. */
#define PACE_TIMEOUT_MS 2000u

struct wait_u64 {
	volatile uint64_t *p;
	uint64_t want;
};

static bool reached(void *arg)
{
	struct wait_u64 *w = arg;

	return __atomic_load_n(w->p, __ATOMIC_ACQUIRE) >= w->want;
}

/* Wait until *@p >= @want; false on timeout. */
static bool wait_count(volatile uint64_t *p, uint64_t want, uint64_t timeout_ms)
{
	struct wait_u64 w = { p, want };

	return port_wait(reached, &w, timeout_ms);
}

static void dump_target(const char *what, unsigned int irq)
{
	struct ik_x86_irq_target t;

	if (ik_x86_irq_target(irq, &t)) {
		port_printf("  %s irq %u: no vector level\n", what, irq);
		return;
	}
	port_printf("  %s irq %u: cpu %u vector 0x%x prev cpu %u vector 0x%x move %d count %llu\n",
		    what, irq, t.cpu, t.vector, t.prev_cpu, t.prev_vector, (int)t.move_in_progress,
		    (unsigned long long)ik_irq_count(irq));
}

/*
 * Where a handler may legitimately run: the interrupt's current target, or
 * the previous one while a move is in progress (a message sent before the
 * move reached the old vector, which stays routed until the first
 * interrupt on the new one).  Called from the handler.
 */
static bool cpu_expected(unsigned int irq, unsigned int cpu)
{
	struct ik_x86_irq_target t;

	if (ik_x86_irq_target(irq, &t))
		return false;
	return cpu == t.cpu || (t.move_in_progress && cpu == t.prev_cpu);
}

static uint64_t spurious_total(void)
{
	struct ik_x86_vector_stats s;
	uint64_t n = 0;

	for (unsigned int c = 0; c < port_nr_cpus(); c++)
		if (!ik_x86_vector_stats(c, &s))
			n += s.spurious + s.shutdown_hits;
	return n;
}

static int set_cpu(unsigned int irq, unsigned int cpu)
{
	ik_cpumask_t m;

	ik_cpumask_clear(&m);
	ik_cpumask_set_cpu(cpu, &m);
	return ik_irq_set_affinity(irq, &m);
}

/* The MSI capability's message as the library programmed it. */
struct msi_regs {
	uint64_t addr;
	uint32_t data;
	uint16_t ctrl;
};

static int read_msi_regs(struct ik_device *dev, struct msi_regs *r)
{
	uint16_t bdf = ik_pci_bdf(dev);
	uint8_t cap = ik_pci_find_capability(dev, IK_PCI_CAP_ID_MSI);

	if (!cap)
		return -1;
	r->ctrl = (uint16_t)port_pci_read(bdf, cap + 2, 2);
	r->addr = port_pci_read(bdf, cap + 4, 4);
	if (r->ctrl & 0x80) {  /* 64-bit capable */
		r->addr |= (uint64_t)port_pci_read(bdf, cap + 8, 4) << 32;
		r->data = port_pci_read(bdf, cap + 12, 2);
	} else {
		r->data = port_pci_read(bdf, cap + 8, 2);
	}
	return 0;
}

/* IR message format: handle[14:0] in address bits 19:5, handle[15] in bit 2. */
static unsigned int msi_handle(uint64_t addr)
{
	return (unsigned int)(((addr >> 5) & 0x7FFF) | (((addr >> 2) & 1) << 15));
}

/*
 * Check a message against what the interrupt's levels say: remappable
 * (bit 4) naming the interrupt's IRTE when remapping is on; otherwise
 * compatibility format naming the target CPU's APIC ID and vector.
 */
static int check_msg(unsigned int irq, uint64_t addr, uint32_t data)
{
	struct ik_x86_irq_target t;

	PORT_CHECK_EQ(addr >> 20, 0xFEEull);
	if (port_ir_enabled()) {
		struct ik_x86_ir_irq_info info;

		PORT_CHECK(addr & (1u << 4));                 /* remappable format */
		PORT_CHECK_EQ(ik_x86_ir_irq_info(irq, &info), 0);
		PORT_CHECK(info.programmed);
		if (addr & (1u << 3))                         /* SHV: data is the subhandle */
			PORT_CHECK_EQ(msi_handle(addr) + (data & 0xFFFF), info.index);
		else
			PORT_CHECK_EQ(msi_handle(addr), info.index);
	} else {
		PORT_CHECK(!(addr & (1u << 4)));
		PORT_CHECK_EQ(ik_x86_irq_target(irq, &t), 0);
		PORT_CHECK_EQ((addr >> 12) & 0xFF, ik_x86_cpu_apic_id(t.cpu));
		PORT_CHECK_EQ(data & 0xFF, t.vector);
		PORT_CHECK_EQ((data >> 8) & 7, 0);            /* fixed delivery */
	}
	return 0;
}

/* ---- edu ----------------------------------------------------------------------------- */

#define EDU_ID         0x00
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE  0x60
#define EDU_IRQ_ACK    0x64

struct edu {
	struct ik_device *dev;
	uint16_t bdf;
	uint64_t bar;
	unsigned int irq;
	volatile uint64_t fired;        /* raises written */
	volatile uint64_t delivered;    /* handler runs */
	volatile uint64_t wrong_cpu;    /* handler runs outside cpu_expected() */
	volatile uint64_t empty;        /* handler runs with no status bit */
	volatile uint64_t per_cpu[PORT_MAX_CPUS];
	volatile unsigned int last_cpu;
	/* Self-sustaining chain (affinity_moves): the handler raises the next one. */
	volatile bool chain;
	volatile bool need_raise;       /* the chain continues from CPU 0's process context */
};

static struct edu g_edu;

static ik_irqreturn_t edu_handler(unsigned int irq, void *dev_id)
{
	struct edu *e = dev_id;
	unsigned int cpu = ik_os_cpu_id();
	uint32_t st = port_mmio_read32(e->bar + EDU_IRQ_STATUS);

	port_mmio_write32(e->bar + EDU_IRQ_ACK, st);
	if (!st)
		IK_ATOMIC_INC(e->empty);
	if (!cpu_expected(irq, cpu))
		IK_ATOMIC_INC(e->wrong_cpu);
	if (cpu < PORT_MAX_CPUS)
		IK_ATOMIC_INC(e->per_cpu[cpu]);
	e->last_cpu = cpu;
	IK_ATOMIC_INC(e->delivered);
	if (e->chain) {
		/*
		 * The next one only after this one was seen: a loss stalls the
		 * chain.  Not from CPU 0's handler: the next interrupt would be
		 * taken right at the handler's return, and again, and CPU 0's
		 * test loop would never run; CPU 0 raises it from process context.
		 */
		if (cpu == 0) {
			__atomic_store_n(&e->need_raise, true, __ATOMIC_RELEASE);
		} else {
			IK_ATOMIC_INC(e->fired);
			port_mmio_write32(e->bar + EDU_IRQ_RAISE, 1);
		}
	}
	return IK_IRQ_HANDLED;
}

/* Find edu #@nth, create its device, enable MSI with one vector, request it. */
static int edu_setup(struct edu *e, unsigned int nth)
{
	int ret;

	for (size_t i = 0; i < sizeof(*e); i++)
		((volatile char *)e)[i] = 0;
	PORT_CHECK_EQ(port_pci_find(EDU_VENDOR, EDU_DEVICE, nth, &e->bdf), 0);
	PORT_CHECK_EQ(port_pci_device_get(e->bdf, &e->dev), 0);
	e->bar = port_pci_bar(e->bdf, 0);
	PORT_CHECK(e->bar != 0);
	PORT_CHECK_EQ(port_mmio_read32(e->bar + EDU_ID) & 0xFF, 0xED);
	PORT_CHECK_EQ(ik_pci_enable_device(e->dev), 0);
	ik_pci_set_master(e->dev);
	/* Clear anything a previous owner left raised. */
	port_mmio_write32(e->bar + EDU_IRQ_ACK, 0xFFFFFFFFu);
	ret = ik_pci_alloc_irq_vectors(e->dev, 1, 1, IK_PCI_IRQ_MSI, NULL);
	PORT_CHECK_EQ(ret, 1);
	PORT_CHECK(ik_pci_msi_enabled(e->dev));
	ret = ik_pci_irq_vector(e->dev, 0);
	PORT_CHECK(ret > 0);
	e->irq = (unsigned int)ret;
	PORT_CHECK_EQ(ik_request_irq(e->irq, edu_handler, 0, "edu", e), 0);
	return 0;
}

static void edu_teardown(struct edu *e)
{
	e->chain = false;
	if (e->irq)
		ik_free_irq(e->irq, e);
	if (e->dev) {
		ik_pci_free_irq_vectors(e->dev);
		port_pci_device_put(e->dev);
	}
	e->irq = 0;
	e->dev = NULL;
}

/* One paced raise: fire, wait for the handler. */
static int edu_fire(struct edu *e)
{
	uint64_t want = e->delivered + 1;

	IK_ATOMIC_INC(e->fired);
	port_mmio_write32(e->bar + EDU_IRQ_RAISE, 1);
	if (!wait_count(&e->delivered, want, PACE_TIMEOUT_MS)) {
		port_printf("FAIL edu interrupt lost: fired %llu delivered %llu\n",
			    (unsigned long long)e->fired, (unsigned long long)e->delivered);
		dump_target("edu", e->irq);
		return 1;
	}
	return 0;
}

static bool move_done(void *arg)
{
	struct ik_x86_irq_target t;

	return !ik_x86_irq_target((unsigned int)(uintptr_t)arg, &t) && !t.move_in_progress;
}

/*
 * Raise until an interrupt arrives on @cpu (a move asked from another CPU
 * is carried out from the next interrupt, which still arrives on the old
 * one), then wait for the move's previous vector to be released: that
 * happens after the first interrupt on the new vector, asynchronously on
 * the previous CPU.
 */
static int edu_settle_on(struct edu *e, unsigned int cpu)
{
	struct ik_x86_irq_target t;

	for (int i = 0;; i++) {
		if (i == 4) {
			port_printf("FAIL edu: interrupt did not settle on cpu %u\n", cpu);
			dump_target("edu", e->irq);
			return 1;
		}
		if (edu_fire(e))
			return 1;
		PORT_CHECK_EQ(ik_x86_irq_target(e->irq, &t), 0);
		if (t.cpu == cpu && e->last_cpu == cpu)
			break;
	}
	if (!port_wait(move_done, (void *)(uintptr_t)e->irq, 2000)) {
		port_printf("FAIL edu: the previous vector of the move to cpu %u was never released\n",
			    cpu);
		dump_target("edu", e->irq);
		return 1;
	}
	return 0;
}

/*
 * edu_msi / edu_msi_ir: N paced raises on every CPU in turn, N handler runs,
 * each on the CPU the interrupt targets; the MSI registers hold what the
 * levels composed (remappable format under IR).
 * Catches: a wrong message (address/data composition, format, handle), a
 * lost or duplicated interrupt, a move that leaves the message pointing at
 * the old CPU, a missing EOI (the second interrupt would never come).
 */
static int edu_msi_common(void)
{
	struct edu *e = &g_edu;
	struct msi_regs r;
	uint64_t spur0 = spurious_total();
	unsigned int ncpu = port_nr_cpus();
	const unsigned int per_cpu = 25;
	uint64_t base[PORT_MAX_CPUS];
	int ret = 1;

	if (edu_setup(e, 0))
		goto out;
	if (read_msi_regs(e->dev, &r)) {
		port_printf("FAIL edu has no MSI capability\n");
		goto out;
	}
	if (!(r.ctrl & 1)) {
		port_printf("FAIL MSI Enable not set (ctrl 0x%x)\n", r.ctrl);
		goto out;
	}
	if (check_msg(e->irq, r.addr, r.data))
		goto out;
	port_printf("  edu %02x:%02x.%x irq %u msi addr 0x%llx data 0x%x\n", e->bdf >> 8,
		    (e->bdf >> 3) & 0x1F, e->bdf & 7, e->irq, (unsigned long long)r.addr, r.data);
	for (unsigned int c = 0; c < ncpu; c++) {
		if (set_cpu(e->irq, c)) {
			port_printf("FAIL set affinity to cpu %u\n", c);
			goto out;
		}
		if (edu_settle_on(e, c))
			goto out;
		for (unsigned int k = 0; k < ncpu; k++)
			base[k] = e->per_cpu[k];
		for (unsigned int i = 0; i < per_cpu; i++)
			if (edu_fire(e))
				goto out;
		/* Steady state: every one of them on @c. */
		for (unsigned int k = 0; k < ncpu; k++) {
			uint64_t want = k == c ? per_cpu : 0;

			if (e->per_cpu[k] - base[k] != want) {
				port_printf("FAIL target cpu %u: cpu %u ran %llu handlers, want %llu\n",
					    c, k, (unsigned long long)(e->per_cpu[k] - base[k]),
					    (unsigned long long)want);
				goto out;
			}
		}
		/* The message follows the interrupt. */
		read_msi_regs(e->dev, &r);
		if (check_msg(e->irq, r.addr, r.data))
			goto out;
	}
	if (e->delivered != e->fired || ik_irq_count(e->irq) != e->fired || e->wrong_cpu ||
	    e->empty) {
		port_printf("FAIL fired %llu delivered %llu counted %llu wrong cpu %llu empty %llu\n",
			    (unsigned long long)e->fired, (unsigned long long)e->delivered,
			    (unsigned long long)ik_irq_count(e->irq),
			    (unsigned long long)e->wrong_cpu, (unsigned long long)e->empty);
		goto out;
	}
	if (spurious_total() != spur0) {
		port_printf("FAIL %llu spurious vector hits\n",
			    (unsigned long long)(spurious_total() - spur0));
		goto out;
	}
	port_printf("  %llu raises, %llu handler runs over %u cpus\n",
		    (unsigned long long)e->fired, (unsigned long long)e->delivered, ncpu);
	ret = 0;
out:
	edu_teardown(e);
	if (!ret && ik_x86_matrix_check()) {
		port_printf("FAIL matrix check after teardown\n");
		ret = 1;
	}
	return ret;
}

PORT_TEST(edu_msi)
{
	PORT_CHECK(!port_ir_enabled());
	return edu_msi_common();
}

PORT_TEST(edu_msi_ir)
{
	PORT_CHECK(port_ir_enabled());
	return edu_msi_common();
}

/* ---- ir_sid_block: a wrong source id in the IRTE blocks the device --------------------- */

#define VTD_FSTS 0x034
#define VTD_IRTA 0x0B8

/*
 * Fault injection without a back door: the IRTE is found the way hardware
 * finds it -- the table address from the unit's IRTA register, the handle
 * from the device's MSI address register -- and its source id is changed in
 * memory.  The library then retargets the entry (an affinity move rewrites
 * only the low qword, destination and vector) and invalidates the unit's
 * interrupt entry cache for it, so on real VT-d the corrupted high qword is
 * what the unit uses from then on.  (QEMU 7.2 has no entry cache: the
 * change takes effect at once, and restoring it needs no invalidation;
 * real hardware would need one for the restore too, which the test cannot
 * ask of the library without a move -- see the note at the restore.)
 * QEMU records no fault for the blocked message (the fault status and
 * recording registers stay 0; notes item 1): only "no handler ran" is
 * checked; the simulator tests check the recorded fault.
 * Catches: an IRTE without source validation (SVT=0), a SID that is not the
 * device's requester id, a handle in the message that names another entry.
 */
PORT_TEST(ir_sid_block)
{
	struct edu *e = &g_edu;
	struct ik_x86_ir_irq_info info;
	struct ik_x86_ir_stats st0, st1;
	struct msi_regs r;
	uint64_t irta, irte_pa, lo, hi, bad;
	uint64_t d0;
	unsigned int other = port_nr_cpus() > 1 ? 1 : 0;
	int ret = 1;

	PORT_CHECK(port_ir_enabled());
	PORT_CHECK(port_acpi()->drhd_base != 0);
	if (edu_setup(e, 0))
		goto out;
	if (edu_fire(e))
		goto out;
	if (ik_x86_ir_irq_info(e->irq, &info) || !info.programmed) {
		port_printf("FAIL no programmed IRTE for irq %u\n", e->irq);
		goto out;
	}
	read_msi_regs(e->dev, &r);
	if (check_msg(e->irq, r.addr, r.data))
		goto out;
	irta = port_mmio_read64(port_acpi()->drhd_base + VTD_IRTA);
	irte_pa = (irta & ~0xFFFull) + 16ull * (msi_handle(r.addr) +
						 ((r.addr & (1u << 3)) ? (r.data & 0xFFFF) : 0));
	lo = port_mmio_read64(irte_pa);
	hi = port_mmio_read64(irte_pa + 8);
	port_printf("  IRTA 0x%llx IRTE %u at 0x%llx: lo 0x%llx hi 0x%llx\n",
		    (unsigned long long)irta, info.index, (unsigned long long)irte_pa,
		    (unsigned long long)lo, (unsigned long long)hi);
	if (lo != info.irte_lo || hi != info.irte_hi) {
		port_printf("FAIL IRTE in memory differs from the library's (lo 0x%llx hi 0x%llx)\n",
			    (unsigned long long)info.irte_lo, (unsigned long long)info.irte_hi);
		goto out;
	}
	if (!(lo & 1) || (hi & 0xFFFF) != e->bdf || ((hi >> 18) & 3) != 1 || ((hi >> 16) & 3) != 0) {
		port_printf("FAIL IRTE does not validate edu's requester id 0x%x exactly\n", e->bdf);
		goto out;
	}
	/* Another device's id: the next function on the bus. */
	bad = (hi & ~0xFFFFull) | (uint16_t)(e->bdf ^ 0x08);
	port_mmio_write64(irte_pa + 8, bad);
	/* Make the library invalidate the entry: a move retargets the low qword only. */
	ik_x86_ir_get_stats(&st0);
	if (set_cpu(e->irq, other)) {
		port_printf("FAIL move to cpu %u\n", other);
		goto out;
	}
	ik_x86_ir_get_stats(&st1);
	if (other && st1.invalidations == st0.invalidations) {
		port_printf("FAIL the move did not invalidate the entry\n");
		goto out;
	}
	if (port_mmio_read64(irte_pa + 8) != bad) {
		port_printf("FAIL the library rewrote the IRTE's high qword on a move\n");
		goto out;
	}
	d0 = e->delivered;
	for (int i = 0; i < 3; i++) {
		IK_ATOMIC_INC(e->fired);
		port_mmio_write32(e->bar + EDU_IRQ_RAISE, 1);
	}
	port_delay_us(50000);
	if (e->delivered != d0) {
		port_printf("FAIL %llu handler runs with a wrong SID in the IRTE\n",
			    (unsigned long long)(e->delivered - d0));
		goto out;
	}
	port_printf("  3 raises blocked (FSTS 0x%x: QEMU records no fault)\n",
		    port_mmio_read32(port_acpi()->drhd_base + VTD_FSTS));
	/*
	 * Restore.  On QEMU this takes effect at once; real hardware would need
	 * an entry-cache invalidation, which the library issues only when it
	 * writes the entry itself (the next move).
	 */
	port_mmio_write64(irte_pa + 8, hi);
	e->fired = e->delivered;        /* the blocked ones are gone, not pending */
	if (edu_fire(e))
		goto out;
	if (e->last_cpu != other) {
		port_printf("FAIL delivered on cpu %u, want %u\n", e->last_cpu, other);
		goto out;
	}
	if (set_cpu(e->irq, 0) || edu_settle_on(e, 0) || edu_fire(e))
		goto out;
	if (e->wrong_cpu || e->empty) {
		port_printf("FAIL wrong cpu %llu empty %llu\n", (unsigned long long)e->wrong_cpu,
			    (unsigned long long)e->empty);
		goto out;
	}
	ret = 0;
out:
	edu_teardown(e);
	if (!ret && ik_x86_matrix_check()) {
		port_printf("FAIL matrix check\n");
		ret = 1;
	}
	return ret;
}

/* ---- affinity_moves: moves while the device keeps firing --------------------------------- */

/*
 * Filler interrupts: vectors taken on CPUs 1..n-1 (k on CPU k), so that an
 * interrupt moving between CPUs gets a different vector on each: a move
 * then changes both fields of a non-remapped message, which is what makes
 * the library use its two-step update (with the same vector everywhere
 * only the destination changes, and one write is enough).  The store is
 * RAM (the interrupts never fire), in a device domain directly below the
 * vector domain.
 */
#define FILLER_MAX 16u

struct filler {
	struct ik_device *dev;
	unsigned int nr;
	struct ik_msi_map map[FILLER_MAX];
	bool requested[FILLER_MAX];
};

static struct filler g_filler;

static void filler_write_msg(struct ik_irq_data *d, const struct ik_msi_msg *msg)
{
	(void)d;
	(void)msg;
}

static const struct ik_msi_domain_template filler_template = {
	.name = "FILLER",
	.chip = { .name = "FILLER", .irq_write_msi_msg = filler_write_msg },
	.info = { .flags = IK_MSI_FLAG_ALLOC_SIMPLE_DESCS | IK_MSI_FLAG_FREE_DESCS,
		  .bus_token = IK_MSI_BUS_DEVICE, .hwsize = FILLER_MAX },
};

static int filler_probe(struct ik_device *dev)
{
	(void)dev;
	return 0;
}

static const struct ik_driver filler_driver = { .name = "filler", .probe = filler_probe };

static ik_irqreturn_t filler_handler(unsigned int irq, void *dev_id)
{
	(void)irq;
	(void)dev_id;
	return IK_IRQ_NONE;
}

static void filler_put(struct filler *f)
{
	for (unsigned int i = 0; i < f->nr; i++)
		if (f->requested[i])
			ik_free_irq(f->map[i].virq, f);
	if (f->dev)
		ik_device_destroy(f->dev);
	f->dev = NULL;
	f->nr = 0;
}

static int filler_get(struct filler *f)
{
	unsigned int ncpu = port_nr_cpus();

	for (size_t i = 0; i < sizeof(*f); i++)
		((volatile char *)f)[i] = 0;
	PORT_CHECK_EQ(ik_device_create(NULL, "filler", &f->dev), 0);
	ik_device_set_msi_parent(f->dev, ik_x86_vector_domain());
	PORT_CHECK_EQ(ik_device_bind(f->dev, &filler_driver), 0);
	PORT_CHECK_EQ(ik_msi_create_device_domain(f->dev, IK_MSI_DEFAULT_DOMAIN, &filler_template,
						  0, NULL, NULL), 0);
	for (unsigned int cpu = 1; cpu < ncpu; cpu++) {
		for (unsigned int k = 0; k < cpu && f->nr < FILLER_MAX; k++) {
			struct ik_msi_map *m = &f->map[f->nr];

			*m = ik_msi_domain_alloc_irq_at(f->dev, IK_MSI_DEFAULT_DOMAIN,
							IK_MSI_ANY_INDEX, NULL, 0);
			PORT_CHECK(m->index >= 0);
			f->nr++;
			/* Not activated yet: only remembered, the vector is taken on @cpu. */
			PORT_CHECK_EQ(set_cpu(m->virq, cpu), 0);
			PORT_CHECK_EQ(ik_request_irq(m->virq, filler_handler, 0, "filler", f), 0);
			f->requested[f->nr - 1] = true;
		}
	}
	return 0;
}

struct chain_wait {
	struct edu *e;
	uint64_t want;
};

/* port_wait() condition: continue the chain from CPU 0 where needed. */
static bool chain_progress(void *arg)
{
	struct chain_wait *w = arg;
	struct edu *e = w->e;

	if (__atomic_exchange_n(&e->need_raise, false, __ATOMIC_ACQ_REL) && e->chain) {
		IK_ATOMIC_INC(e->fired);
		port_mmio_write32(e->bar + EDU_IRQ_RAISE, 1);
	}
	return __atomic_load_n(&e->delivered, __ATOMIC_ACQUIRE) >= w->want;
}

/*
 * edu keeps firing: each handler run raises the next interrupt (so there
 * is always exactly one in flight and a lost one stops the chain), while
 * CPU 0 moves the affinity round-robin over every CPU.  Without remapping
 * edu's MSI is not maskable: the library uses its two-step update, and a
 * move asked from CPU 0 for an interrupt on another CPU is carried out from
 * that interrupt's next ack there.  With remapping the IRTE is retargeted.
 * After each move the test waits for two more interrupts, so every move is
 * carried out under fire.
 * Catches: a lost interrupt during a move (the chain stalls: reported with
 * the vector state), a duplicated one (delivered > fired), a handler run on
 * a CPU that is neither the target nor the previous target of a move in
 * progress, vector leaks (matrix check).
 */
static int affinity_moves_common(void)
{
	struct edu *e = &g_edu;
	unsigned int ncpu = port_nr_cpus();
	const unsigned int moves = 400;
	struct ik_x86_msi_stats ms0, ms1;
	struct chain_wait w = { e, 0 };
	uint64_t spur0 = spurious_total();
	int ret = 1;

	PORT_CHECK(ncpu >= 2);
	if (filler_get(&g_filler))
		goto out;
	ik_x86_msi_get_stats(&ms0);
	if (edu_setup(e, 0))
		goto out;
	e->chain = true;
	IK_ATOMIC_INC(e->fired);
	port_mmio_write32(e->bar + EDU_IRQ_RAISE, 1);
	for (unsigned int m = 0; m < moves; m++) {
		unsigned int cpu = (m + 1) % ncpu;
		uint64_t seen = e->delivered;
		int r = set_cpu(e->irq, cpu);

		if (r) {
			port_printf("FAIL move %u to cpu %u: %d\n", m, cpu, r);
			goto out;
		}
		w.want = seen + 2;
		if (!port_wait(chain_progress, &w, PACE_TIMEOUT_MS)) {
			port_printf("FAIL stall after move %u to cpu %u: fired %llu delivered %llu\n",
				    m, cpu, (unsigned long long)e->fired,
				    (unsigned long long)e->delivered);
			dump_target("edu", e->irq);
			goto out;
		}
	}
	/* Stop the chain (a handler may still be raising one more); the last raise must arrive. */
	e->chain = false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	port_delay_us(5000);
	if (!wait_count(&e->delivered, e->fired, PACE_TIMEOUT_MS)) {
		port_printf("FAIL the last interrupt was lost: fired %llu delivered %llu\n",
			    (unsigned long long)e->fired, (unsigned long long)e->delivered);
		dump_target("edu", e->irq);
		goto out;
	}
	port_delay_us(10000);
	ik_x86_msi_get_stats(&ms1);
	port_printf("  %u moves over %u cpus: fired %llu delivered %llu counted %llu "
		    "(two-step %llu raced %llu deferred %llu direct %llu)\n", moves, ncpu,
		    (unsigned long long)e->fired, (unsigned long long)e->delivered,
		    (unsigned long long)ik_irq_count(e->irq),
		    (unsigned long long)(ms1.two_step - ms0.two_step),
		    (unsigned long long)(ms1.raced - ms0.raced),
		    (unsigned long long)(ms1.deferred - ms0.deferred),
		    (unsigned long long)(ms1.direct - ms0.direct));
	/*
	 * The core counts flow-handler entries: a message taking the
	 * interrupt on a second CPU while the handler still runs on the first
	 * (just after a move) is replayed by the first CPU's handler loop, so
	 * there are at most as many entries as handler runs.
	 */
	if (e->delivered != e->fired || ik_irq_count(e->irq) > e->fired) {
		port_printf("FAIL delivered %llu counted %llu != fired %llu\n",
			    (unsigned long long)e->delivered, (unsigned long long)ik_irq_count(e->irq),
			    (unsigned long long)e->fired);
		goto out;
	}
	if (e->wrong_cpu) {
		port_printf("FAIL %llu handler runs on a CPU outside the effective affinity\n",
			    (unsigned long long)e->wrong_cpu);
		goto out;
	}
	for (unsigned int c = 0; c < ncpu; c++)
		if (!e->per_cpu[c]) {
			port_printf("FAIL no interrupt ever ran on cpu %u\n", c);
			goto out;
		}
	if (!port_ir_enabled() && ms1.two_step == ms0.two_step) {
		port_printf("FAIL no two-step update without remapping\n");
		goto out;
	}
	if (spurious_total() != spur0)
		port_printf("  note: %llu spurious/shutdown vector hits\n",
			    (unsigned long long)(spurious_total() - spur0));
	if (ik_x86_matrix_check()) {
		port_printf("FAIL matrix check with the interrupt still allocated\n");
		goto out;
	}
	ret = 0;
out:
	edu_teardown(e);
	filler_put(&g_filler);
	if (!ret && ik_x86_matrix_check()) {
		port_printf("FAIL matrix check after teardown\n");
		ret = 1;
	}
	return ret;
}

PORT_TEST(affinity_moves)
{
	PORT_CHECK(!port_ir_enabled());
	return affinity_moves_common();
}

PORT_TEST(affinity_moves_ir)
{
	PORT_CHECK(port_ir_enabled());
	return affinity_moves_common();
}

/* ---- e1000e ------------------------------------------------------------------------------ */

#define E1000_ICR  0x00C0
#define E1000_ICS  0x00C8
#define E1000_IMS  0x00D0
#define E1000_IMC  0x00D8
#define E1000_EIAC 0x00DC
#define E1000_IVAR 0x00E4
#define E1000_EITR(i) (0x00E8 + 4 * (i))
#define E1000_NR_VEC 5u
/* Causes routed through IVAR, in IVAR field order (4 bits each: vector, bit 3 valid). */
static const uint32_t e1000_cause[E1000_NR_VEC] = {
	1u << 20, /* RXQ0 */
	1u << 21, /* RXQ1 */
	1u << 22, /* TXQ0 */
	1u << 23, /* TXQ1 */
	1u << 24, /* OTHER */
};
/* Causes the tests raise: the queue causes (OTHER also collects link events). */
#define E1000_NR_FIRED 4u

struct e1000e;
struct e1000e_vec {
	struct e1000e *nic;
	unsigned int nr;
	unsigned int irq;
	volatile uint64_t fired, delivered, wrong_cpu;
	volatile uint64_t real;         /* handler runs answering a raise */
	volatile uint64_t empty;        /* handler runs with no raise outstanding */
	volatile int armed;             /* a raise is outstanding */
	volatile unsigned int last_cpu;
};

struct e1000e {
	struct ik_device *dev;
	uint16_t bdf;
	uint64_t bar0;
	unsigned int nvec;
	struct e1000e_vec v[E1000_NR_VEC];
};

static struct e1000e g_nic;

static ik_irqreturn_t e1000e_handler(unsigned int irq, void *dev_id)
{
	struct e1000e_vec *v = dev_id;
	unsigned int cpu = ik_os_cpu_id();
	uint32_t cause = e1000_cause[v->nr];

	/*
	 * Write-1-to-clear the cause first: QEMU re-signals only when the
	 * pending set changes, so a raise that the count below lets the test
	 * make before the clear would find the cause still set and send
	 * nothing (seen as "vector lost" when this vCPU was preempted here).
	 */
	port_mmio_write32(v->nic->bar0 + E1000_ICR, cause);
	/* Paced: one raise is outstanding per vector; a run without one is empty. */
	if (__atomic_exchange_n(&v->armed, 0, __ATOMIC_ACQ_REL))
		IK_ATOMIC_INC(v->real);
	else
		IK_ATOMIC_INC(v->empty);
	if (!cpu_expected(irq, cpu))
		IK_ATOMIC_INC(v->wrong_cpu);
	v->last_cpu = cpu;
	IK_ATOMIC_INC(v->delivered);
	return IK_IRQ_HANDLED;
}

/* MSI-X table entry @i as the library wrote it. */
static void msix_entry(uint64_t table, unsigned int i, uint64_t *addr, uint32_t *data,
		       uint32_t *ctrl)
{
	uint64_t ent = table + 16ull * i;

	*addr = port_mmio_read32(ent) | (uint64_t)port_mmio_read32(ent + 4) << 32;
	*data = port_mmio_read32(ent + 8);
	*ctrl = port_mmio_read32(ent + 12);
}

/* Table and PBA addresses from the capability (independently of the library). */
static void msix_layout(struct ik_device *dev, uint64_t *table, uint64_t *pba)
{
	uint16_t bdf = ik_pci_bdf(dev);
	uint8_t cap = ik_pci_find_capability(dev, IK_PCI_CAP_ID_MSIX);
	uint32_t t = port_pci_read(bdf, cap + 4, 4), p = port_pci_read(bdf, cap + 8, 4);

	*table = port_pci_bar(bdf, t & 7) + (t & ~7u);
	*pba = port_pci_bar(bdf, p & 7) + (p & ~7u);
}

static int e1000e_setup(struct e1000e *n, unsigned int nvec)
{
	int ret;

	for (size_t i = 0; i < sizeof(*n); i++)
		((volatile char *)n)[i] = 0;
	PORT_CHECK_EQ(port_pci_find(E1000E_VENDOR, E1000E_DEVICE, 0, &n->bdf), 0);
	PORT_CHECK_EQ(port_pci_device_get(n->bdf, &n->dev), 0);
	n->bar0 = port_pci_bar(n->bdf, 0);
	PORT_CHECK(n->bar0 != 0);
	PORT_CHECK_EQ(ik_pci_enable_device(n->dev), 0);
	ik_pci_set_master(n->dev);
	PORT_CHECK_EQ(ik_pci_msix_vec_count(n->dev), (int)E1000_NR_VEC);
	/* Quiet device: nothing enabled, nothing pending, no auto-clear, no throttling. */
	port_mmio_write32(n->bar0 + E1000_IMC, 0xFFFFFFFFu);
	port_mmio_write32(n->bar0 + E1000_EIAC, 0);
	port_mmio_write32(n->bar0 + E1000_ICR, 0xFFFFFFFFu);
	for (unsigned int i = 0; i < E1000_NR_VEC; i++)
		port_mmio_write32(n->bar0 + E1000_EITR(i), 0);
	ret = ik_pci_alloc_irq_vectors(n->dev, nvec, nvec, IK_PCI_IRQ_MSIX, NULL);
	PORT_CHECK_EQ(ret, (int)nvec);
	PORT_CHECK(ik_pci_msix_enabled(n->dev));
	n->nvec = nvec;
	for (unsigned int i = 0; i < nvec; i++) {
		struct e1000e_vec *v = &n->v[i];

		v->nic = n;
		v->nr = i;
		ret = ik_pci_irq_vector(n->dev, i);
		PORT_CHECK(ret > 0);
		v->irq = (unsigned int)ret;
		PORT_CHECK_EQ(ik_request_irq(v->irq, e1000e_handler, 0, "e1000e", v), 0);
	}
	/* Cause i -> vector i (valid), for the vectors that exist. */
	{
		uint32_t ivar = 0, ims = 0;

		for (unsigned int i = 0; i < E1000_NR_VEC && i < nvec; i++) {
			ivar |= (8u | i) << (4 * i);
			if (i < E1000_NR_FIRED)
				ims |= e1000_cause[i];
		}
		port_mmio_write32(n->bar0 + E1000_IVAR, ivar);
		port_mmio_write32(n->bar0 + E1000_IMS, ims);
	}
	return 0;
}

static void e1000e_teardown(struct e1000e *n)
{
	if (n->bar0)
		port_mmio_write32(n->bar0 + E1000_IMC, 0xFFFFFFFFu);
	for (unsigned int i = 0; i < n->nvec; i++)
		if (n->v[i].irq)
			ik_free_irq(n->v[i].irq, &n->v[i]);
	if (n->dev) {
		ik_pci_free_irq_vectors(n->dev);
		port_pci_device_put(n->dev);
	}
	n->dev = NULL;
	n->nvec = 0;
}

/*
 * Raise the causes of the vectors in @mask at once; wait for each of them.
 *
 * QEMU 7.2's e1000e cannot turn throttling off (EITR is clamped to at
 * least 500 = 128 us), and once one of a vector's messages has been
 * postponed by its throttling timer a flag stays set for good
 * (eitr_intr_pending[], removed in QEMU 8.0), after which every expiry of
 * that timer sends the vector's message again: one extra, empty interrupt
 * after each real one.  A raise less than 128 us after the vector's
 * previous message postpones it; the timer runs in QEMU's main loop and is
 * often late on a busy host, so even raises 1 ms apart do not avoid it
 * reliably.  The handler therefore tells real interrupts (a raise was
 * outstanding) from empty ones; the tests require real == fired exactly
 * and at most one empty per real interrupt (see e1000e_check()).  edu and
 * nvme have no such timer: their tests require delivered == fired exactly.
 */
static int e1000e_fire(struct e1000e *n, uint32_t mask)
{
	uint32_t causes = 0;
	uint64_t want[E1000_NR_VEC];

	port_delay_us(200);
	for (unsigned int i = 0; i < E1000_NR_FIRED; i++) {
		want[i] = n->v[i].real;
		if (mask & (1u << i)) {
			causes |= e1000_cause[i];
			IK_ATOMIC_INC(n->v[i].fired);
			__atomic_store_n(&n->v[i].armed, 1, __ATOMIC_RELEASE);
			want[i]++;
		}
	}
	port_mmio_write32(n->bar0 + E1000_ICS, causes);
	for (unsigned int i = 0; i < E1000_NR_FIRED; i++) {
		if (!(mask & (1u << i)))
			continue;
		if (!wait_count(&n->v[i].real, want[i], PACE_TIMEOUT_MS)) {
			port_printf("FAIL e1000e vector %u lost: fired %llu delivered %llu\n", i,
				    (unsigned long long)n->v[i].fired,
				    (unsigned long long)n->v[i].real);
			dump_target("e1000e", n->v[i].irq);
			return 1;
		}
	}
	return 0;
}

/*
 * Real interrupts == raises exactly; QEMU's empty resends bounded.  The
 * core counts flow-handler entries: a message that arrives on the new CPU
 * while the handler still runs on the old one is replayed inside that run
 * (PENDING) and not counted again, as on Linux, so the count may be below
 * the handler runs but never above them.
 */
static int e1000e_check(struct e1000e_vec *v)
{
	if (v->real != v->fired || v->delivered != v->real + v->empty ||
	    ik_irq_count(v->irq) > v->delivered || v->empty > v->real || v->wrong_cpu) {
		port_printf("FAIL e1000e vector %u: fired %llu real %llu empty %llu delivered %llu "
			    "counted %llu wrong cpu %llu\n", v->nr, (unsigned long long)v->fired,
			    (unsigned long long)v->real, (unsigned long long)v->empty,
			    (unsigned long long)v->delivered, (unsigned long long)ik_irq_count(v->irq),
			    (unsigned long long)v->wrong_cpu);
		return 1;
	}
	return 0;
}

/*
 * e1000e_msix / e1000e_msix_ir: five MSI-X vectors allocated and requested;
 * the four queue causes mapped one per vector and raised one at a time and
 * all together, with the vectors spread over the CPUs; delivered == fired
 * per vector, each on its target; the table entries hold what the levels
 * composed, unmasked; the unused vector never runs.
 * Catches: entries left masked (nothing arrives), a wrong entry for a
 * vector (cross-talk: the wrong counter moves), messages not following an
 * affinity change, remappable format/handle errors under IR.
 */
static int e1000e_msix_common(void)
{
	struct e1000e *n = &g_nic;
	unsigned int ncpu = port_nr_cpus();
	uint64_t table, pba;
	uint64_t spur0 = spurious_total();
	int ret = 1;

	if (e1000e_setup(n, E1000_NR_VEC))
		goto out;
	msix_layout(n->dev, &table, &pba);
	for (unsigned int i = 0; i < E1000_NR_VEC; i++) {
		uint64_t a;
		uint32_t d, c;

		msix_entry(table, i, &a, &d, &c);
		if (c & 1) {
			port_printf("FAIL entry %u still masked after request\n", i);
			goto out;
		}
		if (check_msg(n->v[i].irq, a, d))
			goto out;
	}
	for (unsigned int round = 0; round < 3; round++) {
		/* Spread: vector i on CPU (i + round) % ncpu. */
		for (unsigned int i = 0; i < E1000_NR_VEC; i++)
			if (set_cpu(n->v[i].irq, (i + round) % ncpu)) {
				port_printf("FAIL affinity of vector %u\n", i);
				goto out;
			}
		for (unsigned int k = 0; k < 10; k++)
			for (unsigned int i = 0; i < E1000_NR_FIRED; i++)
				if (e1000e_fire(n, 1u << i))
					goto out;
		for (unsigned int i = 0; i < E1000_NR_FIRED; i++)
			if (n->v[i].last_cpu != (i + round) % ncpu) {
				port_printf("FAIL vector %u ran on cpu %u, want %u\n", i,
					    n->v[i].last_cpu, (i + round) % ncpu);
				goto out;
			}
		for (unsigned int k = 0; k < 10; k++)
			if (e1000e_fire(n, (1u << E1000_NR_FIRED) - 1))
				goto out;
		for (unsigned int i = 0; i < E1000_NR_VEC; i++) {
			uint64_t a;
			uint32_t d, c;

			msix_entry(table, i, &a, &d, &c);
			if (check_msg(n->v[i].irq, a, d))
				goto out;
		}
	}
	/* Let late messages (duplicates) show up before counting. */
	port_delay_us(20000);
	for (unsigned int i = 0; i < E1000_NR_VEC; i++) {
		struct e1000e_vec *v = &n->v[i];

		port_printf("  vector %u irq %u: fired %llu real %llu (+%llu empty QEMU resends)\n", i,
			    v->irq, (unsigned long long)v->fired, (unsigned long long)v->real,
			    (unsigned long long)v->empty);
		if (e1000e_check(v))
			goto out;
	}
	if (spurious_total() != spur0) {
		port_printf("FAIL %llu spurious vector hits\n",
			    (unsigned long long)(spurious_total() - spur0));
		goto out;
	}
	ret = 0;
out:
	e1000e_teardown(n);
	if (!ret && ik_x86_matrix_check()) {
		port_printf("FAIL matrix check after teardown\n");
		ret = 1;
	}
	return ret;
}

PORT_TEST(e1000e_msix)
{
	PORT_CHECK(!port_ir_enabled());
	return e1000e_msix_common();
}

PORT_TEST(e1000e_msix_ir)
{
	PORT_CHECK(port_ir_enabled());
	return e1000e_msix_common();
}

/* ---- cpu_offline_msi: a CPU leaves with edu's and e1000e's interrupts on it ---------------- */

struct hotplug_call {
	bool online;
	int ret;
};

static void hotplug_fn(void *arg)
{
	struct hotplug_call *c = arg;

	c->ret = c->online ? ik_x86_cpu_online() : ik_x86_cpu_offline();
}

static int offline_round(struct edu *e, struct e1000e *n, unsigned int nr, int want_cpu,
			 int not_cpu)
{
	for (unsigned int k = 0; k < nr; k++) {
		if (edu_fire(e) || e1000e_fire(n, 3))
			return 1;
		if (want_cpu >= 0 && (e->last_cpu != (unsigned int)want_cpu ||
				      n->v[0].last_cpu != (unsigned int)want_cpu ||
				      n->v[1].last_cpu != (unsigned int)want_cpu)) {
			port_printf("FAIL ran on cpus %u/%u/%u, want %d\n", e->last_cpu,
				    n->v[0].last_cpu, n->v[1].last_cpu, want_cpu);
			return 1;
		}
		if (not_cpu >= 0 && (e->last_cpu == (unsigned int)not_cpu ||
				     n->v[0].last_cpu == (unsigned int)not_cpu ||
				     n->v[1].last_cpu == (unsigned int)not_cpu)) {
			port_printf("FAIL an interrupt ran on offline cpu %d\n", not_cpu);
			return 1;
		}
	}
	return 0;
}

/*
 * edu (MSI: two-step without remapping) and two e1000e MSI-X vectors
 * (maskable) on CPU 1; CPU 1 runs ik_x86_cpu_offline() on itself; the
 * interrupts must have left it (targets, messages) and keep arriving
 * elsewhere; CPU 1 comes back, the interrupts are moved back and arrive
 * there again.  Catches: interrupts left on the offline CPU (lost: stall),
 * messages not rewritten by the offline path, vectors leaked on the offline
 * CPU (matrix check), online not making vectors allocatable again.
 */
static int cpu_offline_common(void)
{
	struct edu *e = &g_edu;
	struct e1000e *n = &g_nic;
	struct hotplug_call call;
	struct ik_x86_irq_target t;
	uint64_t table, pba;
	int ret = 1;

	PORT_CHECK(port_nr_cpus() >= 2);
	if (edu_setup(e, 0) || e1000e_setup(n, E1000_NR_VEC))
		goto out;
	msix_layout(n->dev, &table, &pba);
	if (set_cpu(e->irq, 1) || set_cpu(n->v[0].irq, 1) || set_cpu(n->v[1].irq, 1)) {
		port_printf("FAIL affinity to cpu 1\n");
		goto out;
	}
	if (edu_settle_on(e, 1) || offline_round(e, n, 10, 1, -1))
		goto out;

	call.online = false;
	call.ret = -1;
	if (port_run_on_cpu(1, hotplug_fn, &call) || call.ret) {
		port_printf("FAIL cpu 1 offline: %d\n", call.ret);
		goto out;
	}
	{
		const unsigned int irqs[3] = { e->irq, n->v[0].irq, n->v[1].irq };

		for (unsigned int i = 0; i < 3; i++) {
			if (ik_x86_irq_target(irqs[i], &t) || t.cpu == 1) {
				port_printf("FAIL irq %u still targets cpu 1 after offline\n", irqs[i]);
				dump_target("offline", irqs[i]);
				goto out;
			}
		}
	}
	if (offline_round(e, n, 20, -1, 1))
		goto out;
	for (unsigned int i = 0; i < 2; i++) {
		uint64_t a;
		uint32_t d, c;

		msix_entry(table, i, &a, &d, &c);
		if (check_msg(n->v[i].irq, a, d))
			goto out;
	}
	{
		struct msi_regs r;

		if (read_msi_regs(e->dev, &r) || check_msg(e->irq, r.addr, r.data))
			goto out;
	}
	if (ik_x86_matrix_check()) {
		port_printf("FAIL matrix check with cpu 1 offline\n");
		goto out;
	}
	/* Asking for the offline CPU is refused. */
	if (set_cpu(e->irq, 1) != -IK_EINVAL) {
		port_printf("FAIL affinity to an offline cpu accepted\n");
		goto out;
	}

	call.online = true;
	call.ret = -1;
	if (port_run_on_cpu(1, hotplug_fn, &call) || call.ret) {
		port_printf("FAIL cpu 1 online: %d\n", call.ret);
		goto out;
	}
	if (set_cpu(e->irq, 1) || set_cpu(n->v[0].irq, 1) || set_cpu(n->v[1].irq, 1)) {
		port_printf("FAIL affinity back to cpu 1\n");
		goto out;
	}
	if (edu_settle_on(e, 1) || offline_round(e, n, 10, 1, -1))
		goto out;
	port_delay_us(10000);   /* late empty resends of e1000e (see e1000e_fire()) */
	if (e->delivered != e->fired || e->wrong_cpu || e->empty ||
	    ik_irq_count(e->irq) != e->fired) {
		port_printf("FAIL edu: fired %llu delivered %llu counted %llu wrong cpu %llu\n",
			    (unsigned long long)e->fired, (unsigned long long)e->delivered,
			    (unsigned long long)ik_irq_count(e->irq), (unsigned long long)e->wrong_cpu);
		goto out;
	}
	if (e1000e_check(&n->v[0]) || e1000e_check(&n->v[1]))
		goto out;
	port_printf("  edu %llu, e1000e %llu + %llu interrupts (+%llu/%llu empty QEMU resends) "
		    "across offline/online of cpu 1\n",
		    (unsigned long long)e->delivered, (unsigned long long)n->v[0].real,
		    (unsigned long long)n->v[1].real, (unsigned long long)n->v[0].empty,
		    (unsigned long long)n->v[1].empty);
	if (ik_x86_matrix_check()) {
		port_printf("FAIL matrix check\n");
		goto out;
	}
	ret = 0;
out:
	e1000e_teardown(n);
	edu_teardown(e);
	if (!ret && ik_x86_matrix_check()) {
		port_printf("FAIL matrix check after teardown\n");
		ret = 1;
	}
	return ret;
}

PORT_TEST(cpu_offline_msi)
{
	PORT_CHECK(!port_ir_enabled());
	return cpu_offline_common();
}

PORT_TEST(cpu_offline_msi_ir)
{
	PORT_CHECK(port_ir_enabled());
	return cpu_offline_common();
}

/* ---- msix_dynamic: nvme, vectors allocated after MSI-X enable ------------------------------- */

#define NVME_CAP   0x00
#define NVME_CC    0x14
#define NVME_CSTS  0x1C
#define NVME_AQA   0x24
#define NVME_ASQ   0x28
#define NVME_ACQ   0x30
#define NVME_QDEPTH 8u
#define NVME_MSIX_MAX 64u  /* the list line's msix_qsize must not exceed it */

struct nvme_q {
	volatile uint32_t *sq;  /* 16 dwords per entry */
	volatile uint32_t *cq;  /* 4 dwords per entry */
	unsigned int sq_tail, cq_head, phase;
	unsigned int qid;
};

struct nvme {
	struct ik_device *dev;
	uint16_t bdf;
	uint64_t bar;
	unsigned int dstrd;
	uint16_t cid;
	struct nvme_q q[3];     /* admin, I/O 1, I/O 2 */
};

struct nvme_vec {
	unsigned int irq;
	volatile uint64_t delivered;
};

static struct nvme g_nvme;
static struct nvme_vec g_nvec[3];

static ik_irqreturn_t nvme_handler(unsigned int irq, void *dev_id)
{
	struct nvme_vec *v = dev_id;

	(void)irq;
	IK_ATOMIC_INC(v->delivered);
	return IK_IRQ_HANDLED;
}

static uint64_t nvme_db(struct nvme *c, unsigned int qid, bool cq)
{
	return c->bar + 0x1000 + ((2ull * qid + (cq ? 1 : 0)) << (2 + c->dstrd));
}

/* Submit one command (dwords 0..15, cid filled in) on @q; poll its completion. */
static int nvme_cmd(struct nvme *c, struct nvme_q *q, uint32_t *cmd, uint16_t *status)
{
	volatile uint32_t *sqe = q->sq + 16 * q->sq_tail;
	volatile uint32_t *cqe;
	uint64_t t0 = port_time_ns();
	uint16_t cid = ++c->cid;

	cmd[0] = (cmd[0] & 0xFFFF) | (uint32_t)cid << 16;
	for (unsigned int i = 0; i < 16; i++)
		sqe[i] = cmd[i];
	q->sq_tail = (q->sq_tail + 1) % NVME_QDEPTH;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	port_mmio_write32(nvme_db(c, q->qid, false), q->sq_tail);
	cqe = q->cq + 4 * q->cq_head;
	while (((cqe[3] >> 16) & 1) != q->phase) {
		if (port_time_ns() - t0 > 2000000000ull) {
			port_printf("FAIL nvme: no completion on queue %u\n", q->qid);
			return 1;
		}
		port_delay_us(10);
	}
	if ((cqe[3] & 0xFFFF) != cid) {
		port_printf("FAIL nvme: completion for cid %u, want %u\n", cqe[3] & 0xFFFF, cid);
		return 1;
	}
	*status = (uint16_t)(cqe[3] >> 17);
	if (++q->cq_head == NVME_QDEPTH) {
		q->cq_head = 0;
		q->phase ^= 1;
	}
	port_mmio_write32(nvme_db(c, q->qid, true), q->cq_head);
	return 0;
}

static void nvme_q_alloc(struct nvme_q *q, unsigned int qid)
{
	q->sq = port_phys_alloc(64 * NVME_QDEPTH, 4096);
	q->cq = port_phys_alloc(16 * NVME_QDEPTH, 4096);
	q->sq_tail = q->cq_head = 0;
	q->phase = 1;
	q->qid = qid;
}

static int nvme_enable(struct nvme *c)
{
	uint64_t cap = port_mmio_read64(c->bar + NVME_CAP);
	uint64_t t0;

	c->dstrd = (unsigned int)(cap >> 32) & 0xF;
	port_mmio_write32(c->bar + NVME_CC, 0);
	t0 = port_time_ns();
	while (port_mmio_read32(c->bar + NVME_CSTS) & 1)
		if (port_time_ns() - t0 > 2000000000ull) {
			port_printf("FAIL nvme did not reset\n");
			return 1;
		}
	nvme_q_alloc(&c->q[0], 0);
	port_mmio_write32(c->bar + NVME_AQA, (NVME_QDEPTH - 1) << 16 | (NVME_QDEPTH - 1));
	port_mmio_write64(c->bar + NVME_ASQ, (uint64_t)(uintptr_t)c->q[0].sq);
	port_mmio_write64(c->bar + NVME_ACQ, (uint64_t)(uintptr_t)c->q[0].cq);
	/* EN, NVM command set, 4 KiB pages, 64-byte SQEs, 16-byte CQEs. */
	port_mmio_write32(c->bar + NVME_CC, 1u | 6u << 16 | 4u << 20);
	t0 = port_time_ns();
	while (!(port_mmio_read32(c->bar + NVME_CSTS) & 1))
		if (port_time_ns() - t0 > 2000000000ull) {
			port_printf("FAIL nvme did not become ready (CSTS 0x%x)\n",
				    port_mmio_read32(c->bar + NVME_CSTS));
			return 1;
		}
	return 0;
}

/* Create I/O CQ @qid signalling MSI-X vector @iv, and SQ @qid on it. */
static int nvme_create_io(struct nvme *c, unsigned int qid, unsigned int iv)
{
	uint32_t cmd[16] = { 0 };
	uint16_t st;

	nvme_q_alloc(&c->q[qid], qid);
	cmd[0] = 0x05;                                          /* Create I/O CQ */
	cmd[6] = (uint32_t)(uintptr_t)c->q[qid].cq;
	cmd[10] = (NVME_QDEPTH - 1) << 16 | qid;
	cmd[11] = iv << 16 | 2u | 1u;                           /* IV, IEN, PC */
	if (nvme_cmd(c, &c->q[0], cmd, &st))
		return 1;
	if (st) {
		port_printf("FAIL nvme create CQ %u (iv %u): status 0x%x\n", qid, iv, st);
		return 1;
	}
	for (unsigned int i = 0; i < 16; i++)
		cmd[i] = 0;
	cmd[0] = 0x01;                                          /* Create I/O SQ */
	cmd[6] = (uint32_t)(uintptr_t)c->q[qid].sq;
	cmd[10] = (NVME_QDEPTH - 1) << 16 | qid;
	cmd[11] = qid << 16 | 1u;                               /* CQID, PC */
	if (nvme_cmd(c, &c->q[0], cmd, &st))
		return 1;
	if (st) {
		port_printf("FAIL nvme create SQ %u: status 0x%x\n", qid, st);
		return 1;
	}
	return 0;
}

/* A Flush on I/O queue @qid: its completion (status does not matter) signals the CQ's vector. */
static int nvme_io(struct nvme *c, unsigned int qid)
{
	uint32_t cmd[16] = { 0 };
	uint16_t st;

	cmd[0] = 0x00;
	cmd[1] = 1;     /* NSID 1: no namespace attached, an error completion is fine */
	return nvme_cmd(c, &c->q[qid], cmd, &st);
}

/* Admin Get Features (number of queues): its completion signals vector 0. */
static int nvme_admin(struct nvme *c)
{
	uint32_t cmd[16] = { 0 };
	uint16_t st;

	cmd[0] = 0x0A;
	cmd[10] = 0x07;
	return nvme_cmd(c, &c->q[0], cmd, &st);
}

static int expect_vec(struct nvme_vec *v, uint64_t want, const char *what)
{
	if (!wait_count(&v->delivered, want, PACE_TIMEOUT_MS) || v->delivered != want) {
		port_printf("FAIL %s: irq %u delivered %llu, want %llu\n", what, v->irq,
			    (unsigned long long)v->delivered, (unsigned long long)want);
		return 1;
	}
	return 0;
}

/*
 * msix_dynamic: nvme's MSI-X enabled with one vector (entry 0, the admin
 * queue); then entry 5 (by index) and the lowest free entry (1) allocated
 * while MSI-X is enabled, each written masked and unmasked at request, no
 * other entry touched; I/O completion queues created on vectors 5 and 1
 * and driven, so each dynamic vector fires -- and only it; entry 5 freed
 * (masked, zero message): a completion on its queue is then held in the
 * PBA and no handler runs; allocated again at 5, its request unmasks the
 * entry and the held message is delivered; finally the rest of the table
 * is taken by "any" (the free entries in index order, then -ENOSPC) and
 * freed again.
 * Catches: dynamic entries written unmasked or not at all, entries of other
 * vectors rewritten, the wrong index chosen for "any", a freed entry left
 * live (a message reaches a freed vector), an unmask that does not reach
 * the device, a free-index search that skips or reuses entries.
 */
static int msix_dynamic_common(void)
{
	struct nvme *c = &g_nvme;
	struct ik_msi_map m5, many, bad;
	uint64_t table, pba, a0;
	uint32_t d0, ctl, tsize;
	int ret = 1, r;

	for (size_t i = 0; i < sizeof(*c); i++)
		((volatile char *)c)[i] = 0;
	for (size_t i = 0; i < sizeof(g_nvec); i++)
		((volatile char *)g_nvec)[i] = 0;
	m5.virq = many.virq = 0;
	PORT_CHECK_EQ(port_pci_find(NVME_VENDOR, NVME_DEVICE, 0, &c->bdf), 0);
	PORT_CHECK_EQ(port_pci_device_get(c->bdf, &c->dev), 0);
	c->bar = port_pci_bar(c->bdf, 0);
	PORT_CHECK(c->bar != 0);
	PORT_CHECK_EQ(ik_pci_enable_device(c->dev), 0);
	ik_pci_set_master(c->dev);
	r = ik_pci_msix_vec_count(c->dev);
	PORT_CHECK(r >= 8 && r <= (int)NVME_MSIX_MAX);
	tsize = (uint32_t)r;
	PORT_CHECK(ik_pci_msix_can_alloc_dyn(c->dev));
	/* Before MSI-X is enabled there is nothing to add to. */
	bad = ik_pci_msix_alloc_irq_at(c->dev, 3, NULL);
	PORT_CHECK_EQ(bad.index, -IK_ENOTSUPP);

	r = ik_pci_alloc_irq_vectors(c->dev, 1, 1, IK_PCI_IRQ_MSIX, NULL);
	if (r != 1) {
		port_printf("FAIL alloc 1 MSI-X vector: %d\n", r);
		goto out;
	}
	msix_layout(c->dev, &table, &pba);
	g_nvec[0].irq = (unsigned int)ik_pci_irq_vector(c->dev, 0);
	if (ik_request_irq(g_nvec[0].irq, nvme_handler, 0, "nvme-admin", &g_nvec[0])) {
		port_printf("FAIL request vector 0\n");
		goto out;
	}
	msix_entry(table, 0, &a0, &d0, &ctl);

	m5 = ik_pci_msix_alloc_irq_at(c->dev, 5, NULL);
	many = ik_pci_msix_alloc_irq_at(c->dev, IK_MSI_ANY_INDEX, NULL);
	if (m5.index != 5 || many.index != 1 || !m5.virq || !many.virq) {
		port_printf("FAIL dynamic allocation: at 5 -> %d, any -> %d\n", m5.index, many.index);
		goto out;
	}
	bad = ik_pci_msix_alloc_irq_at(c->dev, 5, NULL);
	if (bad.index != -IK_EBUSY) {
		port_printf("FAIL second allocation at 5: %d, want -EBUSY\n", bad.index);
		goto out;
	}
	bad = ik_pci_msix_alloc_irq_at(c->dev, tsize, NULL);
	if (bad.index != -IK_ERANGE) {
		port_printf("FAIL allocation beyond the table: %d, want -ERANGE\n", bad.index);
		goto out;
	}
	if (ik_pci_irq_vector(c->dev, 5) != (int)m5.virq ||
	    ik_pci_irq_vector(c->dev, 1) != (int)many.virq) {
		port_printf("FAIL ik_pci_irq_vector disagrees with the dynamic maps\n");
		goto out;
	}
	/* Written masked, and nothing else touched. */
	{
		uint64_t a;
		uint32_t d;

		for (unsigned int i = 1; i < 6; i += 4) {
			msix_entry(table, i, &a, &d, &ctl);
			if (!(ctl & 1)) {
				port_printf("FAIL dynamic entry %u unmasked before request\n", i);
				goto out;
			}
		}
		msix_entry(table, 0, &a, &d, &ctl);
		if (a != a0 || d != d0 || (ctl & 1)) {
			port_printf("FAIL entry 0 changed by a dynamic allocation\n");
			goto out;
		}
	}
	g_nvec[1].irq = many.virq;
	g_nvec[2].irq = m5.virq;
	if (ik_request_irq(m5.virq, nvme_handler, 0, "nvme-q1", &g_nvec[2]) ||
	    ik_request_irq(many.virq, nvme_handler, 0, "nvme-q2", &g_nvec[1])) {
		port_printf("FAIL request dynamic vectors\n");
		goto out;
	}
	for (unsigned int i = 1; i < 6; i += 4) {
		uint64_t a;
		uint32_t d;

		msix_entry(table, i, &a, &d, &ctl);
		if ((ctl & 1) || check_msg(i == 5 ? m5.virq : many.virq, a, d)) {
			port_printf("FAIL dynamic entry %u after request (ctrl 0x%x)\n", i, ctl);
			goto out;
		}
	}

	if (nvme_enable(c) || nvme_admin(c) || expect_vec(&g_nvec[0], 1, "admin completion"))
		goto out;
	/* I/O queue 1 on entry 5, queue 2 on entry 1. */
	if (nvme_create_io(c, 1, 5) || nvme_create_io(c, 2, 1) ||
	    expect_vec(&g_nvec[0], 5, "admin completions"))
		goto out;
	for (unsigned int k = 0; k < 10; k++) {
		if (nvme_io(c, 1) || expect_vec(&g_nvec[2], k + 1, "queue 1 on entry 5"))
			goto out;
		if (nvme_io(c, 2) || expect_vec(&g_nvec[1], k + 1, "queue 2 on entry 1"))
			goto out;
	}
	if (g_nvec[0].delivered != 5) {
		port_printf("FAIL I/O completions reached vector 0\n");
		goto out;
	}

	/* Free entry 5: masked with a zero message; a completion is held in the PBA. */
	ik_free_irq(m5.virq, &g_nvec[2]);
	g_nvec[2].irq = 0;
	r = ik_pci_msix_free_irq(c->dev, m5);
	m5.virq = 0;
	if (r) {
		port_printf("FAIL free entry 5: %d\n", r);
		goto out;
	}
	{
		uint64_t a;
		uint32_t d;

		msix_entry(table, 5, &a, &d, &ctl);
		if (!(ctl & 1)) {
			port_printf("FAIL freed entry 5 left unmasked\n");
			goto out;
		}
	}
	if (nvme_io(c, 1))
		goto out;
	port_delay_us(20000);
	if (g_nvec[2].delivered != 10 || !(port_mmio_read32(pba) & (1u << 5))) {
		port_printf("FAIL freed entry: delivered %llu, PBA 0x%x\n",
			    (unsigned long long)g_nvec[2].delivered, port_mmio_read32(pba));
		goto out;
	}
	/* Again at 5: the request unmasks it and the held message arrives. */
	m5 = ik_pci_msix_alloc_irq_at(c->dev, 5, NULL);
	if (m5.index != 5) {
		port_printf("FAIL realloc at 5: %d\n", m5.index);
		goto out;
	}
	g_nvec[2].irq = m5.virq;
	if (ik_request_irq(m5.virq, nvme_handler, 0, "nvme-q1", &g_nvec[2])) {
		port_printf("FAIL request the reallocated entry\n");
		goto out;
	}
	if (expect_vec(&g_nvec[2], 11, "pending message on unmask"))
		goto out;
	if (port_mmio_read32(pba) & (1u << 5)) {
		port_printf("FAIL PBA bit 5 still set after unmask\n");
		goto out;
	}
	if (nvme_io(c, 1) || expect_vec(&g_nvec[2], 12, "queue 1 after realloc"))
		goto out;
	/* The rest of the table by "any": the free entries in order, then -ENOSPC; freed again. */
	{
		struct ik_msi_map rest[NVME_MSIX_MAX];
		unsigned int nr = 0, want = 2;

		for (;;) {
			struct ik_msi_map m = ik_pci_msix_alloc_irq_at(c->dev, IK_MSI_ANY_INDEX, NULL);

			if (m.index < 0) {
				r = m.index;
				break;
			}
			while (want == 5 || want == 1)
				want++;
			if ((unsigned int)m.index != want || nr == NVME_MSIX_MAX) {
				port_printf("FAIL any-index allocation gave %d, want %u\n", m.index, want);
				rest[nr++] = m;
				r = 0;
				break;
			}
			rest[nr++] = m;
			want++;
		}
		for (unsigned int i = 0; i < nr; i++)
			if (ik_pci_msix_free_irq(c->dev, rest[i])) {
				port_printf("FAIL free entry %d\n", rest[i].index);
				goto out;
			}
		if (r != -IK_ENOSPC || nr != tsize - 3) {
			port_printf("FAIL filling the table: %u more entries, then %d (want %u, -ENOSPC)\n",
				    nr, r, tsize - 3);
			goto out;
		}
	}
	port_printf("  admin %llu, entry 1 %llu, entry 5 %llu interrupts (table size %u)\n",
		    (unsigned long long)g_nvec[0].delivered, (unsigned long long)g_nvec[1].delivered,
		    (unsigned long long)g_nvec[2].delivered, tsize);
	ret = 0;
out:
	if (c->bar)
		port_mmio_write32(c->bar + NVME_CC, 0);
	for (unsigned int i = 0; i < 3; i++)
		if (g_nvec[i].irq)
			ik_free_irq(g_nvec[i].irq, &g_nvec[i]);
	if (c->dev) {
		ik_pci_free_irq_vectors(c->dev);
		port_pci_device_put(c->dev);
	}
	if (!ret && ik_x86_matrix_check()) {
		port_printf("FAIL matrix check after teardown\n");
		ret = 1;
	}
	return ret;
}

PORT_TEST(msix_dynamic)
{
	PORT_CHECK(!port_ir_enabled());
	return msix_dynamic_common();
}

PORT_TEST(msix_dynamic_ir)
{
	PORT_CHECK(port_ir_enabled());
	return msix_dynamic_common();
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * The x86-msi protocol (src/arch/x86/x86_msi.c), case by case:
 *
 *  - the predicate "not maskable and not remapped", both ways: which
 *    protocol each kind of device domain gets, and the chip name views show;
 *  - the two-step update's register sequence (old -> new vector on the old
 *    CPU -> new CPU), and the naive one's torn intermediate (new CPU, old
 *    vector) for contrast;
 *  - a raise injected exactly between the two steps: retriggered on the new
 *    target, handled once, the stray absorbed (or given to the slot's owner
 *    as one spurious call), never reported as "no irq handler";
 *  - where the update runs: at once on the target CPU, deferred to the next
 *    interrupt's ack when asked elsewhere, on the dying CPU at offline;
 *  - the one-write cases (not started, single field changed);
 *  - maskable stores written masked, a raise meanwhile held and delivered
 *    once to the new target.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pcibed.h"

static struct pcibed pb;

static struct sim_machine *M(void)
{
	return pb.tb.m;
}

/* ---- Fixture ------------------------------------------------------------------------ */

struct fn {
	struct sim_pci_dev *sd;
	struct ik_device *dev;
	uint16_t bdf;
	unsigned int irq;
	uint64_t runs;
	unsigned int last_cpu;
};

static int setup(void **state)
{
	struct testbed_opts o = { .nr_cpus = 4, .seed = 11 };

	pcibed_init(&pb, &o);
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(pcibed_fini(&pb), 0);
	return 0;
}

static ik_irqreturn_t fn_handler(unsigned int irq, void *dev_id)
{
	struct fn *f = dev_id;

	f->runs++;
	f->last_cpu = ik_os_cpu_id();
	return IK_IRQ_HANDLED;
}

struct call {
	struct fn *f;
	ik_cpumask_t mask;
	int ret;
};

static void request_fn(void *arg)
{
	struct call *c = arg;

	c->ret = ik_request_irq(c->f->irq, fn_handler, 0, "x86msi", c->f);
}

static void free_fn(void *arg)
{
	struct call *c = arg;

	c->ret = ik_free_irq(c->f->irq, c->f);
}

static void move_fn(void *arg)
{
	struct call *c = arg;

	c->ret = ik_irq_set_affinity(c->f->irq, &c->mask);
}

/* A PCI function at 00:(3+@n).0 with one MSI vector (or MSI-X if @msix). */
static void fn_up(struct fn *f, unsigned int n, bool msix, bool maskable, bool request)
{
	struct sim_pci_dev_config c = pcibed_std_config();
	struct call call = { .f = f };

	memset(f, 0, sizeof(*f));
	c.msix = msix;
	c.msi_maskable = maskable;
	c.msi_mmc_log2 = 0;
	c.bars[0].addr = PB_BAR0 + 0x10000ull * n;
	c.bars[2].addr = PB_BAR2 + 0x1000000ull * n;
	f->bdf = SIM_PCI_BDF(0, 3 + n, 0);
	f->sd = pcibed_plug(&pb, f->bdf, &c);
	f->dev = pcibed_device(&pb, f->bdf);
	assert_int_equal(ik_pci_alloc_irq_vectors(f->dev, 1, 1,
						  msix ? IK_PCI_IRQ_MSIX : IK_PCI_IRQ_MSI, NULL), 1);
	f->irq = (unsigned int)ik_pci_irq_vector(f->dev, 0);
	if (request) {
		testbed_on_cpu(&pb.tb, 0, request_fn, &call);
		assert_int_equal(call.ret, 0);
	}
}

static void fn_down(struct fn *f, bool requested)
{
	struct call call = { .f = f };

	sim_run_until_idle(M());
	if (requested) {
		testbed_on_cpu(&pb.tb, 0, free_fn, &call);
		assert_int_equal(call.ret, 0);
	}
	ik_pci_free_irq_vectors(f->dev);
	ik_pci_device_destroy(f->dev);
	sim_pci_dev_destroy(f->sd);
}

static enum ik_x86_msi_protocol fn_protocol(struct fn *f)
{
	return ik_x86_msi_domain_protocol(ik_msi_get_device_domain(f->dev, IK_MSI_DEFAULT_DOMAIN));
}

static struct ik_x86_irq_target target(struct fn *f)
{
	struct ik_x86_irq_target t;

	assert_int_equal(ik_x86_irq_target(f->irq, &t), 0);
	return t;
}

/* Move @f to @cpu, asked from @from; returns the call's result. */
static int move(struct fn *f, unsigned int cpu, unsigned int from)
{
	struct call c = { .f = f };

	ik_cpumask_clear(&c.mask);
	ik_cpumask_set_cpu(cpu, &c.mask);
	testbed_on_cpu(&pb.tb, from, move_fn, &c);
	return c.ret;
}

/* Put @f on @cpu and complete that move (one interrupt there). */
static void settle_on(struct fn *f, unsigned int cpu)
{
	assert_int_equal(move(f, cpu, target(f).cpu), 0);
	sim_pci_dev_raise(f->sd, 0);
	sim_run_until_idle(M());
	assert_int_equal(target(f).cpu, cpu);
	assert_false(target(f).move_in_progress);
}

static struct ik_x86_msi_stats stats(void)
{
	struct ik_x86_msi_stats st;

	ik_x86_msi_get_stats(&st);
	return st;
}

static struct ik_x86_vector_stats vstats(unsigned int cpu)
{
	struct ik_x86_vector_stats st;

	assert_int_equal(ik_x86_vector_stats(cpu, &st), 0);
	return st;
}

static uint32_t dest_of(uint64_t addr)
{
	return (uint32_t)(addr >> 12) & 0xFF;
}

/* ---- Watching the MSI registers ------------------------------------------------------ */

#define MAX_STATES 16

struct msg_state {
	uint64_t addr;
	uint32_t data;
};

static struct {
	uint16_t bdf;
	struct fn *f;
	struct msg_state states[MAX_STATES];  /* distinct register states, in order */
	unsigned int n;
	/* Raise when the registers first hold this state (raise_at_data != 0). */
	uint32_t raise_at_data;
	uint32_t raise_at_dest;
	bool raised;
	struct fn *raise_fn;    /* the device that raises then (default: the watched one) */
	bool mask_always_set;   /* every message write happened with the vector masked */
} watch;

static void cfg_msg(struct sim_pci_dev *sd, uint64_t *addr, uint32_t *data)
{
	uint8_t cap = sim_pci_dev_msi_cap(sd);
	bool is64 = sim_pci_cfg_peek(sd, (uint16_t)(cap + SIM_PCI_MSI_FLAGS), 2) &
		    SIM_PCI_MSI_FLAGS_64BIT;

	*addr = sim_pci_cfg_peek(sd, (uint16_t)(cap + SIM_PCI_MSI_ADDRESS_LO), 4);
	if (is64)
		*addr |= (uint64_t)sim_pci_cfg_peek(sd, (uint16_t)(cap + SIM_PCI_MSI_ADDRESS_HI), 4)
			 << 32;
	*data = sim_pci_cfg_peek(sd, (uint16_t)(cap + (is64 ? SIM_PCI_MSI_DATA_64 :
								SIM_PCI_MSI_DATA_32)), 2);
}

static void watch_hook(struct pcibed *p, const struct pb_cfg_write *w)
{
	uint8_t cap = sim_pci_dev_msi_cap(watch.f->sd);
	struct msg_state s;

	if (w->bdf != watch.bdf || w->offset < cap + SIM_PCI_MSI_ADDRESS_LO ||
	    w->offset > cap + SIM_PCI_MSI_DATA_64)
		return;
	if (!(sim_pci_msi_mask_bits(watch.f->sd) & 1))
		watch.mask_always_set = false;
	cfg_msg(watch.f->sd, &s.addr, &s.data);
	if (watch.n && watch.states[watch.n - 1].addr == s.addr &&
	    watch.states[watch.n - 1].data == s.data)
		return;
	if (watch.n < MAX_STATES)
		watch.states[watch.n++] = s;
	if (watch.raise_at_data && !watch.raised && (s.data & 0xFF) == watch.raise_at_data &&
	    dest_of(s.addr) == watch.raise_at_dest) {
		/* The device sends right now, between two register writes. */
		watch.raised = true;
		sim_pci_dev_raise((watch.raise_fn ? watch.raise_fn : watch.f)->sd, 0);
	}
}

static void watch_start(struct fn *f)
{
	memset(&watch, 0, sizeof(watch));
	watch.f = f;
	watch.bdf = f->bdf;
	watch.mask_always_set = true;
	cfg_msg(f->sd, &watch.states[0].addr, &watch.states[0].data);
	watch.n = 1;
	pb.on_cfg_write = watch_hook;
}

static void watch_stop(void)
{
	pb.on_cfg_write = NULL;
}

static void expect_state(unsigned int i, unsigned int cpu, unsigned int vector)
{
	assert_true(i < watch.n);
	assert_int_equal(dest_of(watch.states[i].addr), ik_x86_cpu_apic_id(cpu));
	assert_int_equal(watch.states[i].data & 0xFF, vector);
}

/* ---- The predicate, both ways ---------------------------------------------------- */

static int noop_probe(struct ik_device *dev)
{
	return 0;
}

static const struct ik_driver noop_driver = { .name = "x86msi-store", .probe = noop_probe };

static void store_write(struct ik_irq_data *d, const struct ik_msi_msg *msg)
{
}

static void store_mask(struct ik_irq_data *d)
{
}

static int store_own_affinity(struct ik_irq_data *d, const ik_cpumask_t *mask, bool force)
{
	return ik_irq_chip_set_affinity_parent(d, mask, force);
}

/* A platform store (bus DEVICE) directly below the vector domain, declaring @flags. */
static enum ik_x86_msi_protocol store_protocol(uint32_t flags, bool can_mask, bool own_affinity,
					       const char **chip_name)
{
	struct ik_msi_domain_template t = {
		.name = "STORE",
		.chip = { .name = "STORE", .irq_write_msi_msg = store_write },
		.info = { .flags = flags | IK_MSI_FLAG_ALLOC_SIMPLE_DESCS | IK_MSI_FLAG_FREE_DESCS,
			  .bus_token = IK_MSI_BUS_DEVICE, .hwsize = 4 },
	};
	struct ik_device *dev;
	struct ik_irq_domain *d;
	enum ik_x86_msi_protocol p;

	if (can_mask) {
		t.chip.irq_mask = store_mask;
		t.chip.irq_unmask = store_mask;
	}
	if (own_affinity)
		t.chip.irq_set_affinity = store_own_affinity;
	assert_int_equal(ik_device_create(NULL, "store", &dev), 0);
	ik_device_set_msi_parent(dev, ik_x86_vector_domain());
	assert_int_equal(ik_device_bind(dev, &noop_driver), 0);
	assert_int_equal(ik_msi_create_device_domain(dev, IK_MSI_DEFAULT_DOMAIN, &t, 0, NULL, NULL),
			 0);
	d = ik_msi_get_device_domain(dev, IK_MSI_DEFAULT_DOMAIN);
	p = ik_x86_msi_domain_protocol(d);
	*chip_name = ik_msi_get_domain_info(d)->chip->name;
	ik_device_destroy(dev);
	return p;
}

static void test_predicate_both_ways(void **state)
{
	struct fn nomask, maskable, msix, remapped;
	struct ik_irq_info info;
	const char *chip;

	/* Not maskable, not remapped: the two-step update. */
	fn_up(&nomask, 0, false, false, true);
	assert_int_equal(fn_protocol(&nomask), IK_X86_MSI_TWO_STEP);
	assert_int_equal(ik_irq_get_info(nomask.irq, &info), 0);
	assert_string_equal(info.chip_name, IK_X86_MSI_CHIP_TWO_STEP);
	/* Maskable (MSI with mask bits, MSI-X): written masked. */
	fn_up(&maskable, 1, false, true, true);
	assert_int_equal(fn_protocol(&maskable), IK_X86_MSI_MASKED);
	assert_int_equal(ik_irq_get_info(maskable.irq, &info), 0);
	assert_string_equal(info.chip_name, IK_X86_MSI_CHIP_MASKED);
	fn_up(&msix, 2, true, true, true);
	assert_int_equal(fn_protocol(&msix), IK_X86_MSI_MASKED);
	/* Remapped (a level between the store and the vector domain): neither. */
	pcibed_tparent_create(&pb, IK_MSI_FLAG_PCI_MSIX);
	fn_up(&remapped, 3, false, false, true);
	assert_int_equal(fn_protocol(&remapped), IK_X86_MSI_NONE);
	assert_ptr_equal(ik_msi_get_domain_info(ik_msi_get_device_domain(remapped.dev,
		IK_MSI_DEFAULT_DOMAIN))->chip->irq_set_affinity, ik_msi_domain_set_affinity);
	assert_int_equal(ik_irq_get_info(remapped.irq, &info), 0);
	assert_string_equal(info.chip_name, "PCI-MSI");

	/* Declared masking, not callbacks, decides; masking at the parent does not count. */
	assert_int_equal(store_protocol(IK_MSI_FLAG_MASK_SOURCE, true, false, &chip),
			 IK_X86_MSI_MASKED);
	assert_int_equal(store_protocol(0, true, false, &chip), IK_X86_MSI_TWO_STEP);
	assert_int_equal(store_protocol(IK_MSI_FLAG_MASK_PARENT, false, false, &chip),
			 IK_X86_MSI_TWO_STEP);
	assert_string_equal(chip, IK_X86_MSI_CHIP_TWO_STEP);
	assert_int_equal(store_protocol(IK_MSI_FLAG_MASK_PARENT | IK_MSI_FLAG_MASK_SOURCE, true,
					false, &chip), IK_X86_MSI_MASKED);
	/* A store that moves by itself is left alone. */
	assert_int_equal(store_protocol(0, false, true, &chip), IK_X86_MSI_NONE);
	assert_string_equal(chip, "STORE");
	/* Not a device domain at all. */
	assert_int_equal(ik_x86_msi_domain_protocol(ik_x86_vector_domain()), IK_X86_MSI_NONE);
	assert_int_equal(ik_x86_msi_domain_protocol(NULL), IK_X86_MSI_NONE);

	fn_down(&nomask, true);
	fn_down(&maskable, true);
	fn_down(&msix, true);
	fn_down(&remapped, true);
}

/* ---- The two-step sequence and its naive contrast -------------------------------------- */

static void test_two_step_register_sequence(void **state)
{
	struct ik_x86_msi_stats before;
	struct ik_x86_irq_target t0, t1;
	struct fn f, other;

	fn_up(&f, 0, false, false, true);
	fn_up(&other, 1, false, false, true);
	settle_on(&f, 0);
	settle_on(&other, 1);   /* takes the first vector of CPU 1: f's vector must change */
	t0 = target(&f);
	before = stats();
	watch_start(&f);
	assert_int_equal(move(&f, 1, 0), 0);
	watch_stop();
	t1 = target(&f);
	assert_int_equal(t1.cpu, 1);
	assert_int_not_equal(t1.vector, t0.vector);
	assert_true(t1.move_in_progress);       /* the old vector stays until an interrupt */
	/* old -> (new vector, old CPU) -> (new vector, new CPU): one field at a time. */
	assert_int_equal(watch.n, 3);
	expect_state(0, 0, t0.vector);
	expect_state(1, 0, t1.vector);
	expect_state(2, 1, t1.vector);
	assert_int_equal(stats().two_step, before.two_step + 1);
	assert_int_equal(stats().raced, before.raced);
	/* Nothing raced: the next interrupt arrives on the new target and completes the move. */
	sim_pci_dev_raise(f.sd, 0);
	sim_run_until_idle(M());
	assert_int_equal(f.last_cpu, 1);
	assert_false(target(&f).move_in_progress);

	/* The naive variant writes the final message at once: address first, so the
	 * registers go through (new CPU, old vector), which nothing routes. */
	ik_x86_msi_set_naive_update(true);
	t0 = target(&f);
	watch_start(&f);
	assert_int_equal(move(&f, 0, 1), 0);
	watch_stop();
	ik_x86_msi_set_naive_update(false);
	t1 = target(&f);
	assert_int_equal(watch.n, 3);
	expect_state(0, 1, t0.vector);
	expect_state(1, 0, t0.vector);          /* torn: the new CPU with the old vector */
	expect_state(2, 0, t1.vector);
	assert_int_equal(stats().naive, before.naive + 1);
	assert_int_equal(testbed_spurious(&pb.tb), 0);
	fn_down(&f, true);
	fn_down(&other, true);
}

/* ---- A raise between the two steps ----------------------------------------------------- */

static void test_raise_between_steps_retriggered_once(void **state)
{
	struct ik_x86_vector_stats v0;
	struct ik_x86_msi_stats before;
	struct ik_x86_irq_target t1;
	struct fn f, other;
	uint64_t no_dest = sim_stat(M(), SIM_STAT_MSI_NO_DEST);

	fn_up(&f, 0, false, false, true);
	fn_up(&other, 1, false, false, true);
	settle_on(&f, 0);
	settle_on(&other, 1);
	before = stats();
	v0 = vstats(0);
	f.runs = 0;
	/* The device sends when its registers hold the intermediate (new vector, CPU 0). */
	watch_start(&f);
	watch.raise_at_dest = ik_x86_cpu_apic_id(0);
	watch.raise_at_data = 0x21;     /* CPU 1's 0x20 is other's: f gets 0x21 there */
	assert_int_equal(move(&f, 1, 0), 0);
	watch_stop();
	t1 = target(&f);
	assert_int_equal(t1.vector, 0x21);
	assert_true(watch.raised);
	/* It waited in CPU 0's IRR at the new vector: found and retriggered on CPU 1. */
	assert_int_equal(stats().raced, before.raced + 1);
	sim_run_until_idle(M());
	assert_int_equal(f.runs, 1);
	assert_int_equal(f.last_cpu, 1);
	/* CPU 0 took the stray at the marked slot: absorbed, not "no irq handler". */
	assert_int_equal(vstats(0).retriggered_hits, v0.retriggered_hits + 1);
	assert_int_equal(testbed_spurious(&pb.tb), 0);
	assert_int_equal(sim_stat(M(), SIM_STAT_MSI_NO_DEST), no_dest);
	/*
	 * A retriggered hit proves nothing about messages still on their way
	 * to the old slot: the device's next message completes the move.
	 */
	assert_true(target(&f).move_in_progress);
	sim_pci_dev_raise(f.sd, 0);
	sim_run_until_idle(M());
	assert_int_equal(f.runs, 2);
	assert_false(target(&f).move_in_progress);
	assert_int_equal(ik_x86_matrix_check(), 0);
	fn_down(&f, true);
	fn_down(&other, true);
}

/*
 * The intermediate slot belongs to another interrupt on the current CPU:
 * the stray runs that interrupt's handler once (a spurious call, as on
 * Linux); the moving interrupt is still retriggered and handled once.
 */
static void test_raise_between_steps_slot_owned(void **state)
{
	struct fn f, owner, other;
	struct ik_x86_msi_stats before;

	fn_up(&f, 0, false, false, true);
	fn_up(&owner, 1, false, false, true);
	fn_up(&other, 2, false, false, true);
	settle_on(&f, 0);               /* CPU 0: f 0x20 */
	settle_on(&owner, 0);           /* CPU 0: owner 0x21 */
	settle_on(&other, 1);           /* CPU 1: other 0x20, so f gets 0x21 there */
	assert_int_equal(target(&owner).vector, 0x21);
	before = stats();
	f.runs = owner.runs = 0;
	watch_start(&f);
	watch.raise_at_dest = ik_x86_cpu_apic_id(0);
	watch.raise_at_data = 0x21;
	assert_int_equal(move(&f, 1, 0), 0);
	watch_stop();
	assert_true(watch.raised);
	assert_int_equal(target(&f).vector, 0x21);
	assert_int_equal(stats().raced, before.raced + 1);
	sim_run_until_idle(M());
	assert_int_equal(f.runs, 1);
	assert_int_equal(f.last_cpu, 1);
	assert_int_equal(owner.runs, 1);
	assert_int_equal(testbed_spurious(&pb.tb), 0);
	fn_down(&f, true);
	fn_down(&owner, true);
	fn_down(&other, true);
}

/*
 * Regression (threaded CI run): the device posted a message with the old
 * target just before the rewrite, and it is still on its way when another
 * interrupt pending at the intermediate slot makes step 3 retrigger the
 * moving one on its new target.  That retriggered hit must not release
 * the old vector, or the late message lands on a freed slot ("no irq
 * handler").  Only a hit the device sent after the rewrite proves that
 * everything it sent before has landed.
 */
static void test_retrigger_keeps_old_vector_for_late_message(void **state)
{
	struct fn f, owner, other;
	struct ik_x86_msi_stats before;
	uint64_t old_addr;
	uint32_t old_data;

	fn_up(&f, 0, false, false, true);
	fn_up(&owner, 1, false, false, true);
	fn_up(&other, 2, false, false, true);
	settle_on(&f, 0);               /* CPU 0: f 0x20 */
	settle_on(&owner, 0);           /* CPU 0: owner 0x21 */
	settle_on(&other, 1);           /* CPU 1: other 0x20, so f gets 0x21 there */
	cfg_msg(f.sd, &old_addr, &old_data);    /* posted now, delivered late */
	before = stats();
	f.runs = owner.runs = 0;
	watch_start(&f);
	watch.raise_fn = &owner;        /* owner's own interrupt waits at (CPU 0, 0x21) */
	watch.raise_at_dest = ik_x86_cpu_apic_id(0);
	watch.raise_at_data = 0x21;
	assert_int_equal(move(&f, 1, 0), 0);
	watch_stop();
	assert_true(watch.raised);
	assert_int_equal(target(&f).vector, 0x21);
	assert_int_equal(stats().raced, before.raced + 1);
	sim_run_until_idle(M());
	assert_int_equal(owner.runs, 1);
	assert_int_equal(f.runs, 1);            /* the retrigger: one extra run, harmless */
	assert_int_equal(f.last_cpu, 1);
	assert_true(target(&f).move_in_progress);
	/* The late message reaches the old slot, still routed to f. */
	sim_dma_write32(M(), f.bdf, old_addr, old_data);
	sim_run_until_idle(M());
	assert_int_equal(f.runs, 2);
	assert_int_equal(f.last_cpu, 0);
	assert_int_equal(testbed_spurious(&pb.tb), 0);
	/* The device's next message goes to the new target and completes the move. */
	sim_pci_dev_raise(f.sd, 0);
	sim_run_until_idle(M());
	assert_int_equal(f.runs, 3);
	assert_int_equal(f.last_cpu, 1);
	assert_false(target(&f).move_in_progress);
	assert_int_equal(testbed_spurious(&pb.tb), 0);
	assert_int_equal(ik_x86_matrix_check(), 0);
	fn_down(&f, true);
	fn_down(&owner, true);
	fn_down(&other, true);
}

/* ---- Where the update runs -------------------------------------------------------------- */

static void test_remote_request_runs_at_next_ack(void **state)
{
	struct ik_x86_msi_stats before;
	struct ik_irq_info info;
	struct fn f, other;

	fn_up(&f, 0, false, false, true);
	fn_up(&other, 1, false, false, true);
	settle_on(&f, 2);
	settle_on(&other, 3);
	before = stats();
	/* Asked from CPU 0, f targets CPU 2: nothing changes yet, the move is pending. */
	assert_int_equal(move(&f, 3, 0), 0);
	assert_int_equal(target(&f).cpu, 2);
	assert_int_equal(stats().deferred, before.deferred + 1);
	assert_int_equal(stats().two_step, before.two_step);
	assert_int_equal(ik_irq_get_info(f.irq, &info), 0);
	assert_true(info.state & IK_IRQD_SETAFFINITY_PENDING);
	/* The next interrupt arrives on CPU 2; its ack, there, runs the update. */
	f.runs = 0;
	sim_pci_dev_raise(f.sd, 0);
	sim_run_until_idle(M());
	assert_int_equal(f.runs, 1);
	assert_int_equal(f.last_cpu, 2);
	assert_int_equal(stats().two_step, before.two_step + 1);
	assert_int_equal(target(&f).cpu, 3);
	assert_int_equal(ik_irq_get_info(f.irq, &info), 0);
	assert_false(info.state & IK_IRQD_SETAFFINITY_PENDING);
	sim_pci_dev_raise(f.sd, 0);
	sim_run_until_idle(M());
	assert_int_equal(f.runs, 2);
	assert_int_equal(f.last_cpu, 3);
	/* A request that would not move it is applied at once, from anywhere. */
	before = stats();
	{
		struct call c = { .f = &f };

		ik_cpumask_clear(&c.mask);
		ik_cpumask_set_cpu(3, &c.mask);
		ik_cpumask_set_cpu(1, &c.mask);
		testbed_on_cpu(&pb.tb, 0, move_fn, &c);
		assert_int_equal(c.ret, 0);
	}
	assert_int_equal(stats().deferred, before.deferred);
	assert_int_equal(target(&f).cpu, 3);
	fn_down(&f, true);
	fn_down(&other, true);
}

static void test_offline_runs_two_step_on_dying_cpu(void **state)
{
	struct ik_x86_msi_stats before;
	struct fn f, other;
	struct call c = { .f = &f };

	fn_up(&f, 0, false, false, true);
	fn_up(&other, 1, false, false, true);
	settle_on(&other, 3);           /* CPU 3: other 0x20 */
	settle_on(&f, 2);               /* CPU 2: f 0x20 */
	/* Allowed on 2 and 3: stays on 2 for now, goes to 3 (vector 0x21) at offline. */
	ik_cpumask_clear(&c.mask);
	ik_cpumask_set_cpu(2, &c.mask);
	ik_cpumask_set_cpu(3, &c.mask);
	testbed_on_cpu(&pb.tb, 2, move_fn, &c);
	assert_int_equal(c.ret, 0);
	assert_int_equal(target(&f).cpu, 2);
	before = stats();
	f.runs = 0;
	/* A raise lands on the intermediate target, on the CPU that is going away. */
	watch_start(&f);
	watch.raise_at_dest = ik_x86_cpu_apic_id(2);
	watch.raise_at_data = 0x21;
	assert_int_equal(testbed_cpu_offline(&pb.tb, 2), 0);
	watch_stop();
	assert_int_equal(target(&f).cpu, 3);
	assert_int_equal(target(&f).vector, 0x21);
	assert_true(watch.raised);
	expect_state(1, 2, 0x21);
	expect_state(2, 3, 0x21);
	assert_int_equal(stats().two_step, before.two_step + 1);
	assert_int_equal(stats().raced, before.raced + 1);
	sim_run_until_idle(M());
	/* Retriggered on CPU 3 before CPU 2 went away (its IRR copy was discarded). */
	assert_int_equal(f.runs, 1);
	assert_int_equal(f.last_cpu, 3);
	sim_pci_dev_raise(f.sd, 0);
	sim_run_until_idle(M());
	assert_int_equal(f.runs, 2);
	assert_int_equal(f.last_cpu, 3);
	assert_int_equal(testbed_spurious(&pb.tb), 0);
	assert_int_equal(sim_stat(M(), SIM_STAT_MSI_NO_DEST), 0);
	assert_int_equal(testbed_cpu_online(&pb.tb, 2), 0);
	fn_down(&f, true);
	fn_down(&other, true);
}

/* ---- One write is enough ---------------------------------------------------------------- */

static void test_single_write_cases(void **state)
{
	struct ik_x86_msi_stats before;
	struct ik_x86_irq_target t0;
	struct fn f, idle;

	/* Started, same vector number free on the new CPU: only the address changes. */
	fn_up(&f, 0, false, false, true);
	settle_on(&f, 0);
	t0 = target(&f);
	before = stats();
	watch_start(&f);
	assert_int_equal(move(&f, 2, 0), 0);
	watch_stop();
	assert_int_equal(target(&f).cpu, 2);
	assert_int_equal(target(&f).vector, t0.vector);
	assert_int_equal(stats().direct, before.direct + 1);
	assert_int_equal(stats().two_step, before.two_step);
	assert_int_equal(watch.n, 2);           /* old -> new, no intermediate */

	/* Not started (allocated, activated, no handler): written at once, from anywhere. */
	fn_up(&idle, 1, false, false, false);
	before = stats();
	assert_int_not_equal(target(&idle).cpu, 3);
	assert_int_equal(move(&idle, 3, 0), 0);
	assert_int_equal(target(&idle).cpu, 3);
	assert_int_equal(stats().direct, before.direct + 1);
	assert_int_equal(stats().deferred, before.deferred);
	fn_down(&f, true);
	fn_down(&idle, false);
}

/* ---- Maskable stores ---------------------------------------------------------------------- */

static void test_maskable_written_masked(void **state)
{
	struct ik_x86_msi_stats before;
	struct ik_x86_irq_target t1;
	struct fn f, other;

	fn_up(&f, 0, false, true, true);
	fn_up(&other, 1, false, true, true);
	settle_on(&f, 0);
	settle_on(&other, 1);
	before = stats();
	f.runs = 0;
	watch_start(&f);
	/* The device sends in the middle of the rewrite: held by the mask bit. */
	watch.raise_at_dest = ik_x86_cpu_apic_id(1);
	watch.raise_at_data = target(&f).vector;
	assert_int_equal(move(&f, 1, 0), 0);
	watch_stop();
	t1 = target(&f);
	assert_true(watch.mask_always_set);
	assert_true(watch.raised);
	assert_int_equal(stats().masked, before.masked + 1);
	assert_int_equal(stats().two_step, before.two_step);
	assert_false(sim_pci_msi_mask_bits(f.sd) & 1);  /* open again */
	sim_run_until_idle(M());
	/* Sent once, on unmask, with the complete new message. */
	assert_int_equal(f.runs, 1);
	assert_int_equal(f.last_cpu, t1.cpu);
	assert_int_equal(testbed_spurious(&pb.tb), 0);
	fn_down(&f, true);
	fn_down(&other, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_predicate_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_step_register_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raise_between_steps_retriggered_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_raise_between_steps_slot_owned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retrigger_keeps_old_vector_for_late_message,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_request_runs_at_next_ack, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_offline_runs_two_step_on_dying_cpu, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_single_write_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_maskable_written_masked, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

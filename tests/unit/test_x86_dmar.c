// SPDX-License-Identifier: BSD-2-Clause
/*
 * The remapping unit's fault interrupt (src/arch/x86/dmar.c) and the two
 * x86 trees with every platform device domain in place:
 *
 *   no remapping  VECTOR -> { HPET-hpet0, IO-APIC-ioapic0, DMAR-dmar0, PCI-MSIX-<fn> }
 *   remapping     VECTOR -> { INTEL-IR -> { IR-HPET-hpet0, IR-IO-APIC-ioapic0,
 *                                           IR-PCI-MSIX-<fn> },
 *                             DMAR-dmar0 }
 *
 * (names, parents and chips asserted), the fault-event registers as the
 * store (compatibility format, never remapped), a spoofed requester id
 * and a compatibility-format bypass delivering the fault interrupt whose
 * handler records reason, source id and index and clears the records,
 * masking through FECTL.IM with the unit's pending event replayed,
 * record overflow (PFO) counted and cleared so later faults are reported
 * again, an affinity move of the fault interrupt, and allocation failure
 * injection with nothing leaked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <irqkit/x86_dmar.h>
#include <irqkit/x86_hpet.h>
#include <irqkit/x86_ioapic.h>
#include <irqkit/x86_ir.h>

#include "pcibed.h"
#include "sim_hpet.h"
#include "sim_ioapic.h"
#include "sim_vtd.h"

#define RAM_SIZE (4ull << 20)
#define IR_MEM 0x100000ull
#define IR_ENTRIES 256u
#define SPOOF_RID 0x0999u

struct fx {
	struct pcibed pb;
	struct sim_vtd *u;
	struct ik_x86_dmar *dmar;
	struct ik_x86_hpet *hpet;
	struct ik_x86_ioapic *io;
	struct sim_pci_dev *sd;
	struct ik_device *dev;
	struct pb_vec v;
	bool ir;
};

static void fx_up(struct fx *f, bool ir, uint64_t seed)
{
	struct testbed_opts o = { .nr_cpus = 4, .seed = seed, .ram_size = RAM_SIZE };
	struct ik_x86_dmar_config dc = { .unit_base = SIM_VTD_DEFAULT_BASE };
	struct ik_x86_hpet_config hc = { .requester_id = SIM_HPET_DEFAULT_RID };
	struct ik_x86_ioapic_config ic = { .requester_id = SIM_IOAPIC_DEFAULT_RID };
	struct sim_pci_dev_config c;

	memset(f, 0, sizeof(*f));
	f->ir = ir;
	pcibed_init(&f->pb, &o);
	f->u = sim_vtd_create(f->pb.tb.m, NULL);
	assert_non_null(f->u);
	assert_non_null(sim_hpet_create(f->pb.tb.m, NULL));
	assert_non_null(sim_ioapic_create(f->pb.tb.m, NULL));
	if (ir) {
		struct ik_x86_ir_config rc = { .unit_base = SIM_VTD_DEFAULT_BASE, .mem_phys = IR_MEM,
					       .mem_size = IK_X86_IR_MEM_SIZE(IR_ENTRIES),
					       .nr_entries = IR_ENTRIES };

		assert_int_equal(ik_x86_ir_init(&rc), 0);
	}
	assert_int_equal(ik_x86_dmar_fault_init(&dc, &f->dmar), 0);
	assert_int_equal(ik_x86_hpet_create(&hc, &f->hpet), 0);
	assert_int_equal(ik_x86_ioapic_create(&ic, &f->io), 0);
	c = pcibed_std_config();
	c.msix = true;
	f->sd = pcibed_plug(&f->pb, PB_BDF, &c);
	f->dev = pcibed_device(&f->pb, PB_BDF);
	ik_device_set_msi_parent(f->dev, ik_x86_default_msi_parent());
	assert_int_equal(ik_pci_alloc_irq_vectors(f->dev, 1, 1, IK_PCI_IRQ_MSIX, NULL), 1);
	assert_int_equal(pb_request(&f->v, (unsigned int)ik_pci_irq_vector(f->dev, 0)), 0);
}

static void fx_down(struct fx *f)
{
	sim_run_until_idle(f->pb.tb.m);
	assert_int_equal(ik_free_irq(f->v.irq, &f->v), 0);
	ik_pci_free_irq_vectors(f->dev);
	ik_pci_device_destroy(f->dev);
	ik_x86_hpet_destroy(f->hpet);
	assert_int_equal(ik_x86_ioapic_destroy(f->io), 0);
	ik_x86_dmar_fault_exit(f->dmar);
	assert_int_equal(ik_x86_ir_exit(), 0);
	assert_int_equal(pcibed_fini(&f->pb), 0);
}

static uint32_t unit_read32(struct fx *f, uint32_t off)
{
	return (uint32_t)sim_cpu_read(f->pb.tb.m, 0, SIM_VTD_DEFAULT_BASE + off, 4);
}

static struct ik_x86_dmar_stats dstats(struct fx *f)
{
	struct ik_x86_dmar_stats st;

	assert_int_equal(ik_x86_dmar_get_stats(f->dmar, &st), 0);
	return st;
}

/* The device writes its entry-0 message under requester id @rid. */
static void send_as(struct fx *f, uint16_t rid)
{
	struct sim_pci_msix_entry e = pb_entry(f->sd, 0);

	assert_true(sim_pci_dev_dma_write32_as(f->sd, rid, (uint64_t)e.addr_hi << 32 | e.addr_lo,
					       e.data));
	sim_run_until_idle(f->pb.tb.m);
}

/* ---- Trees ------------------------------------------------------------------------ */

struct walk {
	unsigned int n;
	const char *names[16];
	struct ik_irq_domain *doms[16];
};

static int collect(struct ik_irq_domain *d, void *arg)
{
	struct walk *w = arg;

	if (w->n < 16) {
		w->names[w->n] = ik_irq_domain_name(d);
		w->doms[w->n] = d;
	}
	w->n++;
	return 0;
}

static struct ik_irq_domain *find(struct walk *w, const char *prefix)
{
	for (unsigned int i = 0; i < w->n && i < 16; i++)
		if (!strncmp(w->names[i], prefix, strlen(prefix)))
			return w->doms[i];
	fail_msg("no domain %s", prefix);
	return NULL;
}

static const char *outer_chip(unsigned int irq)
{
	struct ik_irq_info info;

	assert_int_equal(ik_irq_get_info(irq, &info), 0);
	return info.chip_name;
}

static void check_tree(struct fx *f)
{
	struct ik_irq_domain *vector = ik_x86_vector_domain(), *ir = ik_x86_ir_domain();
	struct ik_irq_domain *dmar, *hpet, *pci, *ioapic;
	unsigned int fault_irq = ik_x86_dmar_fault_irq(f->dmar);
	struct walk w = { 0 };

	ik_irq_domain_for_each(collect, &w);
	dmar = find(&w, "DMAR-dmar0");
	assert_ptr_equal(dmar, ik_x86_dmar_domain(f->dmar));
	/* DMAR: always on VECTOR. */
	assert_ptr_equal(ik_irq_domain_parent(dmar), vector);
	assert_string_equal(outer_chip(fault_irq), IK_X86_MSI_CHIP_MASKED);
	assert_int_equal(ik_x86_msi_domain_protocol(dmar), IK_X86_MSI_MASKED);
	assert_string_equal(ik_irq_get_irq_data(fault_irq)->parent_data->chip->name, "APIC");
	assert_false(ik_x86_ir_device_isolated(ik_x86_dmar_device(f->dmar)));
	if (f->ir) {
		assert_non_null(ir);
		assert_string_equal(ik_irq_domain_name(ir), "INTEL-IR");
		assert_ptr_equal(ik_irq_domain_parent(ir), vector);
		hpet = find(&w, "IR-HPET-hpet0");
		pci = find(&w, "IR-PCI-MSIX-");
		ioapic = find(&w, "IR-IO-APIC-ioapic0");
		assert_ptr_equal(ik_irq_domain_parent(ioapic), ir);
		assert_ptr_equal(ik_irq_domain_parent(hpet), ir);
		assert_ptr_equal(ik_irq_domain_parent(pci), ir);
		assert_string_equal(ik_irq_get_irq_data(f->v.irq)->parent_data->chip->name,
				    "INTEL-IR");
		/* Nothing named without the prefix: no device domain skipped remapping. */
		for (unsigned int i = 0; i < w.n; i++) {
			assert_true(strncmp(w.names[i], "HPET-", 5) != 0);
			assert_true(strncmp(w.names[i], "PCI-", 4) != 0);
			assert_true(strncmp(w.names[i], "IO-APIC-", 8) != 0);
		}
	} else {
		assert_null(ir);
		hpet = find(&w, "HPET-hpet0");
		pci = find(&w, "PCI-MSIX-");
		ioapic = find(&w, "IO-APIC-ioapic0");
		assert_ptr_equal(ik_irq_domain_parent(ioapic), vector);
		assert_ptr_equal(ik_irq_domain_parent(hpet), vector);
		assert_ptr_equal(ik_irq_domain_parent(pci), vector);
		assert_string_equal(ik_irq_get_irq_data(f->v.irq)->parent_data->chip->name, "APIC");
	}
	assert_ptr_equal(hpet, ik_x86_hpet_domain(f->hpet));
	assert_ptr_equal(ioapic, ik_x86_ioapic_domain(f->io));
	assert_ptr_equal(pci, ik_msi_get_device_domain(f->dev, IK_MSI_DEFAULT_DOMAIN));
	assert_null(ik_irq_domain_parent(vector));
}

static void test_tree_plain(void **state)
{
	struct fx f;

	fx_up(&f, false, 1);
	check_tree(&f);
	fx_down(&f);
}

static void test_tree_remapped(void **state)
{
	struct fx f;

	fx_up(&f, true, 1);
	check_tree(&f);
	fx_down(&f);
}

/* ---- Fault reporting -------------------------------------------------------------- */

static void test_fault_event_store(void **state)
{
	struct fx f;
	struct ik_x86_irq_target t;
	unsigned int irq;

	fx_up(&f, true, 2);
	irq = ik_x86_dmar_fault_irq(f.dmar);
	assert_int_equal(ik_x86_irq_target(irq, &t), 0);
	/* Compatibility format, straight at the vector level's target. */
	assert_int_equal(unit_read32(&f, SIM_VTD_FEDATA), t.vector);
	assert_int_equal(unit_read32(&f, SIM_VTD_FEADDR),
			 0xFEE00000u | ik_x86_cpu_apic_id(t.cpu) << 12);
	assert_int_equal(unit_read32(&f, SIM_VTD_FEUADDR), 0);
	assert_false(unit_read32(&f, SIM_VTD_FECTL) & SIM_VTD_FECTL_IM);
	fx_down(&f);
}

static void test_spoofed_requester_fault(void **state)
{
	struct ik_x86_dmar_fault log[4];
	struct ik_x86_ir_irq_info ii;
	struct ik_x86_dmar_stats st;
	struct sim_vtd_stats vs;
	unsigned int irq;
	struct fx f;

	fx_up(&f, true, 3);
	irq = ik_x86_dmar_fault_irq(f.dmar);
	assert_int_equal(ik_x86_ir_irq_info(f.v.irq, &ii), 0);
	send_as(&f, PB_BDF);
	assert_int_equal(f.v.count, 1);
	send_as(&f, SPOOF_RID);
	assert_int_equal(f.v.count, 1);        /* blocked, never delivered */
	st = dstats(&f);
	assert_int_equal(st.interrupts, 1);
	assert_int_equal(st.faults, 1);
	assert_int_equal(st.by_reason[SIM_VTD_FR_SOURCE_ID], 1);
	assert_int_equal(ik_irq_count(irq), 1);
	assert_int_equal(ik_x86_dmar_fault_log(f.dmar, log, 4), 1);
	assert_int_equal(log[0].reason, SIM_VTD_FR_SOURCE_ID);
	assert_int_equal(log[0].source_id, SPOOF_RID);
	assert_int_equal(log[0].index, ii.index);
	/* The handler cleared the record: nothing pending in the unit. */
	assert_false(unit_read32(&f, SIM_VTD_FSTS) & SIM_VTD_FSTS_PPF);
	for (unsigned int r = 0; r < 8; r++)
		assert_false(unit_read32(&f, SIM_VTD_FRCD + 16 * r + 12) & (1u << 31));

	/* A compatibility-format bypass: reason 0x25, index 0. */
	assert_true(sim_pci_dev_dma_write32_as(f.sd, PB_BDF, 0xFEE00000u, 0x41));
	sim_run_until_idle(f.pb.tb.m);
	st = dstats(&f);
	assert_int_equal(st.interrupts, 2);
	assert_int_equal(st.by_reason[SIM_VTD_FR_COMPAT], 1);
	assert_int_equal(ik_x86_dmar_fault_log(f.dmar, log, 4), 2);
	assert_int_equal(log[1].reason, SIM_VTD_FR_COMPAT);
	assert_int_equal(log[1].source_id, PB_BDF);
	assert_int_equal(log[1].index, 0);
	sim_vtd_get_stats(f.u, &vs);
	assert_int_equal(vs.fault_events, 2);
	assert_int_equal(vs.faults_recorded, 2);
	fx_down(&f);
}

/*
 * Disabled: the first fault event masks the unit (FECTL.IM), later faults
 * fill the records and overflow; enabling delivers, the handler drains
 * every record and clears PFO; later faults are reported again.
 */
static void test_masked_overflow(void **state)
{
	struct ik_x86_dmar_stats st;
	struct sim_vtd_stats vs;
	unsigned int irq;
	struct fx f;

	fx_up(&f, true, 4);
	irq = ik_x86_dmar_fault_irq(f.dmar);
	assert_int_equal(ik_disable_irq(irq), 0);
	for (unsigned int i = 0; i < 11; i++)
		send_as(&f, SPOOF_RID);
	assert_true(unit_read32(&f, SIM_VTD_FECTL) & SIM_VTD_FECTL_IM);
	assert_true(unit_read32(&f, SIM_VTD_FSTS) & SIM_VTD_FSTS_PFO);
	st = dstats(&f);
	assert_int_equal(st.interrupts, 0);
	assert_int_equal(ik_enable_irq(irq), 0);
	sim_run_until_idle(f.pb.tb.m);
	st = dstats(&f);
	assert_true(st.interrupts >= 1);
	assert_int_equal(st.faults, 8);
	assert_int_equal(st.overflows, 1);
	assert_false(unit_read32(&f, SIM_VTD_FSTS) & (SIM_VTD_FSTS_PFO | SIM_VTD_FSTS_PPF));
	assert_false(unit_read32(&f, SIM_VTD_FECTL) & SIM_VTD_FECTL_IM);
	send_as(&f, SPOOF_RID);
	st = dstats(&f);
	assert_int_equal(st.faults, 9);
	sim_vtd_get_stats(f.u, &vs);
	assert_int_equal(vs.faults_lost, 3);
	assert_int_equal(f.v.count, 0);
	fx_down(&f);
}

/* The fault interrupt moves like any maskable store below the vector domain. */
static void test_fault_affinity(void **state)
{
	unsigned int irq;
	struct fx f;

	fx_up(&f, true, 5);
	irq = ik_x86_dmar_fault_irq(f.dmar);
	for (unsigned int cpu = 0; cpu < 4; cpu++) {
		ik_cpumask_t m;
		uint64_t before = ik_irq_count_cpu(irq, cpu);

		ik_cpumask_clear(&m);
		ik_cpumask_set_cpu(cpu, &m);
		assert_int_equal(ik_irq_set_affinity(irq, &m), 0);
		send_as(&f, SPOOF_RID);
		assert_int_equal(ik_irq_count_cpu(irq, cpu), before + 1);
	}
	assert_int_equal(dstats(&f).faults, 4);
	assert_int_equal(ik_irq_count(irq), 4);
	fx_down(&f);
}

static void check_failures(bool ir)
{
	struct ik_x86_dmar_config dc = { .unit_base = SIM_VTD_DEFAULT_BASE, .name = "dmar1" };
	unsigned int failures = 0;
	int64_t baseline;
	struct fx f;

	fx_up(&f, ir, 9);
	/* The first set-up above created the core's number-space nodes; the old one stays. */
	baseline = sim_alloc_outstanding();
	for (uint64_t nth = 1;; nth++) {
		uint64_t start = sim_alloc_count();
		struct ik_x86_dmar *d = NULL;
		int ret;

		sim_alloc_fail_nth(nth);
		ret = ik_x86_dmar_fault_init(&dc, &d);
		sim_alloc_fail_nth(0);
		if (ret) {
			failures++;
			assert_int_equal(ret, -IK_ENOMEM);
			assert_int_equal(sim_alloc_outstanding(), baseline);
			continue;
		}
		ik_x86_dmar_fault_exit(d);
		assert_int_equal(sim_alloc_outstanding(), baseline);
		if (sim_alloc_count() - start < nth)
			break;
	}
	assert_true(failures >= 4);
	fx_down(&f);
}

static void test_failure_injection(void **state)
{
	check_failures(false);
	check_failures(true);
}

static void test_refusals(void **state)
{
	struct ik_x86_dmar_config dc = { .unit_base = 0xFED80000ull };
	struct ik_x86_dmar *d;
	struct fx f;

	fx_up(&f, false, 6);
	assert_int_equal(ik_x86_dmar_fault_init(&dc, &d), -IK_ENODEV);
	assert_int_equal(ik_x86_dmar_fault_init(NULL, &d), -IK_EINVAL);
	assert_int_equal(ik_x86_dmar_get_stats(NULL, NULL), -IK_EINVAL);
	fx_down(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_plain),
		cmocka_unit_test(test_tree_remapped),
		cmocka_unit_test(test_fault_event_store),
		cmocka_unit_test(test_spoofed_requester_fault),
		cmocka_unit_test(test_masked_overflow),
		cmocka_unit_test(test_fault_affinity),
		cmocka_unit_test(test_failure_injection),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

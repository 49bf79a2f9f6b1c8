// SPDX-License-Identifier: BSD-2-Clause
/*
 * PCI MSI (src/pci/msi.c) on the simulated PCI bus: one descriptor for a
 * power-of-two block, the fall back to one vector on a parent without
 * multi-MSI (reference scenario 13), address and data programmed and all
 * vectors masked before MSI Enable (5), no resize, the shared Mask Bits
 * register (concurrency: test_pci_threaded.c),
 * a flood on a function without per-vector masking handled by lazy disable
 * and one replay (23) and an unhandled flood disabled by spurious detection
 * (24), reservation refused for non-maskable MSI (6), pending bits and
 * introspection, restore after reset, D3, 32-bit-only addresses (29), and
 * allocation failure injection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "host_port.h"
#include "pcibed.h"

struct fx {
	struct pcibed pb;
	struct sim_pci_dev_config c;
	struct sim_pci_dev *sd;
	struct ik_device *dev;
	uint8_t cap;
};

static void fx_up(struct fx *f, const struct testbed_opts *o, uint32_t tparent,
		  void (*tweak)(struct sim_pci_dev_config *c))
{
	pcibed_init(&f->pb, o);
	if (tparent)
		pcibed_tparent_create(&f->pb, tparent);
	f->c = pcibed_std_config();
	if (tweak)
		tweak(&f->c);
	f->sd = pcibed_plug(&f->pb, PB_BDF, &f->c);
	f->cap = sim_pci_dev_msi_cap(f->sd);
	f->dev = pcibed_device(&f->pb, PB_BDF);
}

static void fx_down(struct fx *f)
{
	sim_run_until_idle(f->pb.tb.m);
	ik_pci_free_irq_vectors(f->dev);
	ik_pci_device_destroy(f->dev);
	assert_int_equal(pcibed_fini(&f->pb), 0);
}

static uint32_t msi_flags(struct fx *f)
{
	return sim_pci_cfg_peek(f->sd, (uint16_t)(f->cap + SIM_PCI_MSI_FLAGS), 2);
}

static void not_maskable(struct sim_pci_dev_config *c)
{
	c->msi_maskable = false;
}

static void msi_32bit(struct sim_pci_dev_config *c)
{
	c->msi_64bit = false;
}

static void no_msix(struct sim_pci_dev_config *c)
{
	c->msix = false;
}

/* ---- Enable ------------------------------------------------------------------ */

/*
 * Scenario 5 and 13 on the vector domain (no multi-MSI): 8 asked, 1 given;
 * the first write to Message Control clears Enable, address, data and the
 * mask go in next, and Enable is the last write.
 */
static void test_single_fallback_and_enable_order(void **state)
{
	unsigned int from, enable_at = 0, addr_at = 0, data_at = 0, mask_at = 0, first_ctrl = 0;
	struct pb_vec v = { 0 };
	const struct ik_msi_desc *desc;
	struct fx f;
	int irq;

	fx_up(&f, NULL, 0, NULL);
	from = f.pb.nr_log;
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 2, 8, IK_PCI_IRQ_MSI, NULL), -IK_ENOSPC);
	assert_non_null(strstr(sim_port_last_log(), "gives one"));
	assert_false(ik_pci_msi_enabled(f.dev));
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 8, IK_PCI_IRQ_MSI, NULL), 1);
	for (unsigned int i = from; i < f.pb.nr_log; i++) {
		const struct pb_cfg_write *w = &f.pb.log[i];

		if (w->offset == f.cap + SIM_PCI_MSI_FLAGS) {
			if (!first_ctrl)
				first_ctrl = i + 1;
			if (w->value & SIM_PCI_MSI_FLAGS_ENABLE && !enable_at)
				enable_at = i + 1;
		}
		if (w->offset == f.cap + SIM_PCI_MSI_ADDRESS_LO && !addr_at)
			addr_at = i + 1;
		if (w->offset == f.cap + SIM_PCI_MSI_DATA_64 && !data_at)
			data_at = i + 1;
		if (w->offset == f.cap + SIM_PCI_MSI_MASK_64 && !mask_at)
			mask_at = i + 1;
	}
	assert_true(first_ctrl && enable_at && addr_at && data_at && mask_at);
	assert_false(f.pb.log[first_ctrl - 1].value & SIM_PCI_MSI_FLAGS_ENABLE);
	assert_true(mask_at < addr_at);
	assert_true(addr_at < enable_at);
	assert_true(data_at < enable_at);
	assert_int_equal(msi_flags(&f) & (SIM_PCI_MSI_FLAGS_ENABLE | SIM_PCI_MSI_FLAGS_QSIZE),
			 SIM_PCI_MSI_FLAGS_ENABLE);
	assert_true(sim_pci_cfg_peek(f.sd, SIM_PCI_COMMAND, 2) & SIM_PCI_COMMAND_INTX_DISABLE);
	/* Allocated, not requested: masked (only the allocated bit). */
	assert_int_equal(sim_pci_msi_mask_bits(f.sd), 0x1);

	irq = ik_pci_irq_vector(f.dev, 0);
	assert_true(irq > 0);
	assert_int_equal(ik_pci_irq_vector(f.dev, 1), -IK_EINVAL);
	desc = ik_irq_get_msi_desc((unsigned int)irq);
	assert_int_equal(desc->nvec_used, 1);
	assert_int_equal(sim_pci_cfg_peek(f.sd, (uint16_t)(f.cap + SIM_PCI_MSI_ADDRESS_LO), 4),
			 desc->msg.address_lo);
	assert_int_equal(pb_request(&v, (unsigned int)irq), 0);
	assert_int_equal(sim_pci_msi_mask_bits(f.sd), 0);
	sim_pci_dev_raise(f.sd, 0);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 1);

	/* No resize: a second request while enabled is refused, nothing changes. */
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 1, IK_PCI_IRQ_MSI, NULL), -IK_EINVAL);
	assert_non_null(strstr(sim_port_last_log(), "cannot be resized"));
	assert_int_equal(ik_pci_irq_vector(f.dev, 0), irq);
	assert_true(msi_flags(&f) & SIM_PCI_MSI_FLAGS_ENABLE);

	assert_int_equal(pb_free(&v), 0);
	ik_pci_free_irq_vectors(f.dev);
	/* Disabled: Enable clear, vectors unmasked (power-on state), INTx back. */
	assert_int_equal(msi_flags(&f) & SIM_PCI_MSI_FLAGS_ENABLE, 0);
	assert_int_equal(sim_pci_msi_mask_bits(f.sd), 0);
	assert_false(sim_pci_cfg_peek(f.sd, SIM_PCI_COMMAND, 2) & SIM_PCI_COMMAND_INTX_DISABLE);
	fx_down(&f);
}

/* With a parent that places aligned blocks (like remapping): one descriptor for 8. */
static void test_multi_msi_block(void **state)
{
	unsigned int from;
	const struct ik_msi_desc *desc;
	struct fx f;
	int irq0;

	fx_up(&f, NULL, IK_MSI_FLAG_MULTI_PCI_MSI | IK_MSI_FLAG_PCI_MSIX, no_msix);
	/* Rounded down to a power of two. */
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 6, IK_PCI_IRQ_ALL_TYPES, NULL), 4);
	assert_int_equal((msi_flags(&f) & SIM_PCI_MSI_FLAGS_QSIZE) >> 4, 2);
	assert_int_equal(sim_pci_msi_mask_bits(f.sd), 0xF);
	ik_pci_free_irq_vectors(f.dev);
	assert_int_equal(msi_flags(&f) & SIM_PCI_MSI_FLAGS_QSIZE, 0);

	from = f.pb.nr_log;
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 8, 32, IK_PCI_IRQ_MSI, NULL), 8);
	assert_string_equal(ik_irq_domain_name(ik_msi_get_device_domain(f.dev, 0)),
			    "TIR-PCI-MSI-0000:00:03.0");
	assert_int_equal((msi_flags(&f) & SIM_PCI_MSI_FLAGS_QSIZE) >> 4, 3);
	/* One address/data pair: programmed once, by the first vector. */
	assert_int_equal(pb_count_writes(&f.pb, from, PB_BDF, f.cap + SIM_PCI_MSI_ADDRESS_LO), 1);
	irq0 = ik_pci_irq_vector(f.dev, 0);
	desc = ik_irq_get_msi_desc((unsigned int)irq0);
	assert_int_equal(desc->nvec_used, 8);
	assert_int_equal(desc->index, 0);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(ik_pci_irq_vector(f.dev, (unsigned int)i), irq0 + i);
		assert_ptr_equal(ik_irq_get_msi_desc((unsigned int)(irq0 + i)), desc);
	}
	assert_int_equal(ik_pci_irq_vector(f.dev, 8), -IK_EINVAL);
	assert_int_equal(sim_pci_msi_mask_bits(f.sd), 0xFF);
	fx_down(&f);
}

/* ---- Functions without per-vector masking --------------------------------------- */

static void test_nomask_flood_lazy_disable(void **state)
{
	struct irq_info_snapshot { struct ik_irq_info i; } snap;
	struct ik_x86_irq_target t;
	struct pb_vec v = { 0 };
	struct sim_pci_stats st;
	struct fx f;
	int irq;

	fx_up(&f, NULL, 0, not_maskable);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 1, IK_PCI_IRQ_MSI, NULL), 1);
	irq = ik_pci_irq_vector(f.dev, 0);
	/* Scenario 6: a store that cannot mask gets a real vector at once, no placeholder. */
	assert_int_equal(ik_x86_irq_target((unsigned int)irq, &t), 0);
	assert_false(t.has_reserved);
	assert_true(t.vector != IK_X86_SHUTDOWN_VECTOR);
	/* The chip has no mask callbacks: the descriptor says so, not a flag test. */
	assert_null(ik_irq_get_irq_data((unsigned int)irq)->chip->irq_mask);

	assert_int_equal(pb_request(&v, (unsigned int)irq), 0);
	sim_pci_dev_raise(f.sd, 0);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 1);

	/* Disabled: the function keeps sending, the handler does not run. */
	assert_int_equal(ik_disable_irq((unsigned int)irq), 0);
	for (int i = 0; i < 50; i++) {
		sim_pci_dev_raise(f.sd, 0);
		sim_run_until_idle(f.pb.tb.m);
	}
	assert_int_equal(v.count, 1);
	sim_pci_dev_vector_stats(f.sd, 0, &st);
	assert_int_equal(st.sent, 51);
	assert_int_equal(ik_irq_get_info((unsigned int)irq, &snap.i), 0);
	assert_true(snap.i.istate & IK_IRQS_PENDING);
	/* Enable: exactly one replay for the whole flood. */
	assert_int_equal(ik_enable_irq((unsigned int)irq), 0);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 2);
	sim_pci_dev_raise(f.sd, 0);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 3);
	assert_int_equal(pb_free(&v), 0);
	fx_down(&f);
}

static void test_nomask_unhandled_flood_spurious(void **state)
{
	static const struct ik_spurious_config small = {
		.window = 100, .threshold = 99, .aging_ns = 100000000ull,
	};
	static const struct ik_spurious_config defaults = {
		.window = 100000, .threshold = 99900, .aging_ns = 100000000ull,
	};
	struct pb_vec v = { .unhandled = true };
	struct ik_irq_info info;
	uint64_t runs;
	struct fx f;
	int irq;

	fx_up(&f, NULL, 0, not_maskable);
	ik_spurious_set_config(&small);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 1, IK_PCI_IRQ_MSI, NULL), 1);
	irq = ik_pci_irq_vector(f.dev, 0);
	assert_int_equal(pb_request(&v, (unsigned int)irq), 0);
	for (int i = 0; i < 150; i++) {
		sim_pci_dev_raise(f.sd, 0);
		sim_run_until_idle(f.pb.tb.m);
	}
	assert_int_equal(ik_irq_get_info((unsigned int)irq, &info), 0);
	assert_true(info.istate & IK_IRQS_SPURIOUS_DISABLED);
	assert_int_equal(info.spurious_disables, 1);
	runs = v.count;
	assert_int_equal(runs, 100);
	/* The function still sends (it cannot mask); nobody runs the handler. */
	for (int i = 0; i < 20; i++) {
		sim_pci_dev_raise(f.sd, 0);
		sim_run_until_idle(f.pb.tb.m);
	}
	assert_int_equal(v.count, runs);
	ik_spurious_set_config(&defaults);
	assert_int_equal(pb_free(&v), 0);
	fx_down(&f);
}

/* ---- Pending bits, introspection, reservation for maskable MSI ------------------ */

struct report {
	unsigned int n;
	struct ik_msi_irq_info info[4];
};

static int collect(const struct ik_msi_irq_info *info, void *arg)
{
	struct report *r = arg;

	if (r->n < 4)
		r->info[r->n] = *info;
	r->n++;
	return 0;
}

static void test_pending_bits_and_introspection(void **state)
{
	struct ik_x86_irq_target t;
	struct report r = { 0 };
	struct pb_vec v = { 0 };
	struct fx f;
	int irq;

	fx_up(&f, NULL, 0, NULL);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 1, IK_PCI_IRQ_MSI, NULL), 1);
	irq = ik_pci_irq_vector(f.dev, 0);
	/* Maskable: allocated but not requested holds only a reservation. */
	assert_int_equal(ik_x86_irq_target((unsigned int)irq, &t), 0);
	assert_true(t.has_reserved);
	for (int i = 0; i < 3; i++)
		sim_pci_dev_raise(f.sd, 0);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(sim_pci_msi_pending_bits(f.sd), 1);
	assert_int_equal(ik_msi_device_for_each_irq(f.dev, collect, &r), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.info[0].mode, "msi");
	assert_string_equal(r.info[0].domain, "PCI-MSI-0000:00:03.0");
	assert_true(r.info[0].masked);
	assert_true(r.info[0].pending);
	assert_false(r.info[0].started);

	assert_int_equal(pb_request(&v, (unsigned int)irq), 0);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 1);
	assert_int_equal(sim_pci_msi_pending_bits(f.sd), 0);
	r.n = 0;
	assert_int_equal(ik_msi_device_for_each_irq(f.dev, collect, &r), 0);
	assert_false(r.info[0].masked);
	assert_false(r.info[0].pending);
	assert_true(r.info[0].started);
	assert_int_equal(pb_free(&v), 0);
	fx_down(&f);
}

/* ---- Restore, D3 -------------------------------------------------------------------- */

static void test_restore_and_d3(void **state)
{
	struct sim_pci_dev_config c;
	const struct ik_msi_desc *desc;
	struct pb_vec v = { 0 };
	ik_cpumask_t mask;
	unsigned int from;
	struct fx f;
	int irq;

	fx_up(&f, NULL, 0, NULL);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 1, IK_PCI_IRQ_MSI, NULL), 1);
	irq = ik_pci_irq_vector(f.dev, 0);
	assert_int_equal(pb_request(&v, (unsigned int)irq), 0);
	desc = ik_irq_get_msi_desc((unsigned int)irq);

	/* D3: an affinity change is cached, nothing is written. */
	assert_int_equal(ik_pci_set_power_state(f.dev, IK_PCI_D3HOT), 0);
	from = f.pb.nr_log;
	ik_cpumask_clear(&mask);
	ik_cpumask_set_cpu(1, &mask);
	assert_int_equal(ik_irq_set_affinity((unsigned int)irq, &mask), 0);
	assert_int_equal(f.pb.nr_log, from);
	assert_true(sim_pci_cfg_peek(f.sd, (uint16_t)(f.cap + SIM_PCI_MSI_ADDRESS_LO), 4) !=
		    desc->msg.address_lo);

	/* Reset while in D3 (the function loses everything), back to D0, restore. */
	c = f.c;
	c.command = 0;
	sim_pci_dev_destroy(f.sd);
	f.sd = pcibed_plug(&f.pb, PB_BDF, &c);
	assert_int_equal(ik_pci_set_power_state(f.dev, IK_PCI_D0), 0);
	assert_int_equal(ik_pci_restore_msi_state(f.dev), 0);
	assert_int_equal(sim_pci_cfg_peek(f.sd, (uint16_t)(f.cap + SIM_PCI_MSI_ADDRESS_LO), 4),
			 desc->msg.address_lo);
	assert_int_equal(sim_pci_cfg_peek(f.sd, (uint16_t)(f.cap + SIM_PCI_MSI_DATA_64), 2),
			 desc->msg.data & 0xFFFF);
	assert_true(msi_flags(&f) & SIM_PCI_MSI_FLAGS_ENABLE);
	assert_int_equal(sim_pci_msi_mask_bits(f.sd), 0);
	assert_true(sim_pci_dev_bus_master(f.sd));
	sim_pci_dev_raise(f.sd, 0);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 1);
	assert_int_equal(v.last_cpu, 1);
	assert_int_equal(pb_free(&v), 0);
	fx_down(&f);
}

/* ---- 32-bit-only (scenario 29) ------------------------------------------------------ */

static void test_msi_32bit_address_check(void **state)
{
	int64_t before;
	struct fx f;

	fx_up(&f, NULL, IK_MSI_FLAG_MULTI_PCI_MSI, msi_32bit);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 1, IK_PCI_IRQ_MSI, NULL), 1);
	ik_pci_free_irq_vectors(f.dev);
	before = sim_alloc_outstanding();
	f.pb.tparent_addr_hi = 2;
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 4, IK_PCI_IRQ_MSI, NULL), -IK_EIO);
	assert_non_null(strstr(sim_port_last_log(), "only does 32-bit MSI"));
	assert_non_null(strstr(sim_port_last_log(), "0000:00:03.0"));
	assert_false(ik_pci_msi_enabled(f.dev));
	assert_int_equal(msi_flags(&f) & (SIM_PCI_MSI_FLAGS_ENABLE | SIM_PCI_MSI_FLAGS_QSIZE), 0);
	assert_int_equal(sim_pci_msi_mask_bits(f.sd), 0);
	assert_int_equal(sim_alloc_outstanding(), before);
	f.pb.tparent_addr_hi = 0;
	fx_down(&f);
}

static void test_msi_no_64bit_quirk(void **state)
{
	struct fx f;

	fx_up(&f, NULL, IK_MSI_FLAG_MULTI_PCI_MSI, no_msix);
	f.pb.tparent_addr_hi = 1;
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 1, IK_PCI_IRQ_MSI, NULL), 1);
	assert_int_equal(sim_pci_cfg_peek(f.sd, (uint16_t)(f.cap + SIM_PCI_MSI_ADDRESS_HI), 4), 1);
	ik_pci_free_irq_vectors(f.dev);
	ik_pci_set_quirks(f.dev, IK_PCI_QUIRK_NO_64BIT_MSI);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 1, IK_PCI_IRQ_MSI, NULL), -IK_EIO);
	ik_pci_set_quirks(f.dev, IK_PCI_QUIRK_NO_MSI);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 1, IK_PCI_IRQ_ALL_TYPES, NULL),
			 -IK_ENOTSUPP);
	f.pb.tparent_addr_hi = 0;
	fx_down(&f);
}

/* ---- Allocation failure injection ---------------------------------------------------- */

static void test_failure_injection_msi(void **state)
{
	struct pb_matrix mx;
	int64_t baseline;
	unsigned int failures = 0;
	struct fx f;

	fx_up(&f, NULL, IK_MSI_FLAG_MULTI_PCI_MSI, no_msix);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 4, 4, IK_PCI_IRQ_MSI, NULL), 4);
	ik_pci_free_irq_vectors(f.dev);
	baseline = sim_alloc_outstanding();
	mx = pb_matrix(&f.pb);
	for (uint64_t nth = 1;; nth++) {
		uint64_t start = sim_alloc_count();
		int ret;

		sim_alloc_fail_nth(nth);
		ret = ik_pci_alloc_irq_vectors(f.dev, 1, 4, IK_PCI_IRQ_MSI | IK_PCI_IRQ_AFFINITY, NULL);
		sim_alloc_fail_nth(0);
		if (ret < 0) {
			failures++;
			assert_int_equal(ret, -IK_ENOMEM);
			assert_int_equal(msi_flags(&f) & SIM_PCI_MSI_FLAGS_ENABLE, 0);
		} else {
			assert_int_equal(ret, 4);
			ik_pci_free_irq_vectors(f.dev);
		}
		assert_int_equal(sim_alloc_outstanding(), baseline);
		assert_true(pb_matrix_equal(pb_matrix(&f.pb), mx));
		assert_int_equal(sim_pci_msi_mask_bits(f.sd), 0);
		if (ret >= 0 && sim_alloc_count() - start < nth)
			break;
	}
	assert_true(failures >= 3);
	fx_down(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_fallback_and_enable_order),
		cmocka_unit_test(test_multi_msi_block),
		cmocka_unit_test(test_nomask_flood_lazy_disable),
		cmocka_unit_test(test_nomask_unhandled_flood_spurious),
		cmocka_unit_test(test_pending_bits_and_introspection),
		cmocka_unit_test(test_restore_and_d3),
		cmocka_unit_test(test_msi_32bit_address_check),
		cmocka_unit_test(test_msi_no_64bit_quirk),
		cmocka_unit_test(test_failure_injection_msi),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * The PCI layer with real concurrency (threaded machine, one host thread
 * per CPU; run under ThreadSanitizer in CI): the shared MSI Mask Bits
 * register under concurrent mask/unmask of different vectors of one block
 * (reference scenario 32), and dynamic MSI-X allocation and free while
 * device threads fire the active vectors (scenario 7).
 */
#include <pthread.h>
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
};

static void no_msix(struct sim_pci_dev_config *c)
{
	c->msix = false;
}

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
	f->dev = pcibed_device(&f->pb, PB_BDF);
}

static void fx_down(struct fx *f)
{
	sim_run_until_idle(f->pb.tb.m);
	ik_pci_free_irq_vectors(f->dev);
	ik_pci_device_destroy(f->dev);
	assert_int_equal(pcibed_fini(&f->pb), 0);
}

/* ---- Shared mask register (scenario 32) ---------------------------------------- */

struct masker {
	struct fx *f;
	unsigned int cpu, irq_a, irq_b;
	unsigned int rounds;
	bool bad_bits, failed;
};

static void masker_fn(void *arg)
{
	struct masker *mk = arg;

	/* No cmocka asserts off the main thread: record instead. */
	for (unsigned int r = 0; r < mk->rounds; r++) {
		if (ik_disable_irq_nosync(mk->irq_a) || ik_disable_irq_nosync(mk->irq_b))
			mk->failed = true;
		if (sim_pci_msi_mask_bits(mk->f->sd) & ~0xFFu)
			mk->bad_bits = true;
		if (ik_enable_irq(mk->irq_b))
			mk->failed = true;
		if (r + 1 < mk->rounds && ik_enable_irq(mk->irq_a))
			mk->failed = true;
	}
}

static void *masker_thread(void *arg)
{
	struct masker *mk = arg;

	sim_run_on_cpu(mk->f->pb.tb.m, mk->cpu, masker_fn, mk);
	return NULL;
}

static void test_mask_register_concurrency(void **state)
{
	struct testbed_opts o = { .nr_cpus = 4, .threaded = true, .seed = 5 };
	struct masker mk[4];
	struct pb_vec v[8] = { 0 };
	pthread_t th[4];
	uint32_t expect = 0;
	struct fx f;
	int irq0;

	fx_up(&f, &o, IK_MSI_FLAG_MULTI_PCI_MSI, no_msix);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 8, 8, IK_PCI_IRQ_MSI, NULL), 8);
	irq0 = ik_pci_irq_vector(f.dev, 0);
	for (unsigned int i = 0; i < 8; i++) {
		assert_int_equal(pb_request(&v[i], (unsigned int)irq0 + i), 0);
		assert_int_equal(ik_irq_set_disable_unlazy((unsigned int)irq0 + i, true), 0);
	}
	assert_int_equal(sim_pci_msi_mask_bits(f.sd), 0);
	for (unsigned int t = 0; t < 4; t++) {
		mk[t] = (struct masker){ .f = &f, .cpu = t, .irq_a = (unsigned int)irq0 + 2 * t,
					 .irq_b = (unsigned int)irq0 + 2 * t + 1, .rounds = 3000 };
		assert_int_equal(pthread_create(&th[t], NULL, masker_thread, &mk[t]), 0);
	}
	for (unsigned int t = 0; t < 4; t++) {
		assert_int_equal(pthread_join(th[t], NULL), 0);
		assert_false(mk[t].bad_bits);
		assert_false(mk[t].failed);
		expect |= 1u << (2 * t);
	}
	/* Every thread ends with its first vector masked, its second unmasked. */
	assert_int_equal(sim_pci_msi_mask_bits(f.sd), expect);
	for (unsigned int t = 0; t < 4; t++)
		assert_int_equal(ik_enable_irq(mk[t].irq_a), 0);
	assert_int_equal(sim_pci_msi_mask_bits(f.sd), 0);
	for (unsigned int i = 0; i < 8; i++)
		assert_int_equal(pb_free(&v[i]), 0);
	assert_int_equal(sim_pci_msi_mask_bits(f.sd), 0xFF);
	fx_down(&f);
}

/* ---- Dynamic MSI-X while device threads fire (scenario 7) --------------------------- */

struct firer {
	struct sim_pci_dev *sd;
	unsigned int first, nr;
	volatile bool *stop;
	uint64_t raised;
};

static void *firer_thread(void *arg)
{
	struct firer *fr = arg;

	while (!__atomic_load_n(fr->stop, __ATOMIC_ACQUIRE)) {
		for (unsigned int i = fr->first; i < fr->first + fr->nr; i++)
			sim_pci_dev_raise(fr->sd, i);
		__atomic_add_fetch(&fr->raised, 1, __ATOMIC_RELAXED);
		sched_yield();
	}
	return NULL;
}

static bool entry_equal(struct sim_pci_msix_entry a, struct sim_pci_msix_entry b)
{
	return a.addr_lo == b.addr_lo && a.addr_hi == b.addr_hi && a.data == b.data &&
	       a.ctrl == b.ctrl;
}

static void test_dynamic_msix_while_firing_threaded(void **state)
{
	struct testbed_opts o = { .nr_cpus = 4, .threaded = true, .seed = 9 };
	struct sim_pci_msix_entry snap[4];
	struct pb_vec v[4] = { 0 };
	struct firer fr[2];
	pthread_t th[2];
	volatile bool stop = false;
	struct fx f;

	fx_up(&f, &o, 0, NULL);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 4, 4, IK_PCI_IRQ_MSIX, NULL), 4);
	for (unsigned int i = 0; i < 4; i++) {
		ik_cpumask_t mask;

		assert_int_equal(pb_request(&v[i], ik_pci_irq_vector(f.dev, i)), 0);
		ik_cpumask_clear(&mask);
		ik_cpumask_set_cpu(i, &mask);
		assert_int_equal(ik_irq_set_affinity(v[i].irq, &mask), 0);
	}
	sim_run_until_idle(f.pb.tb.m);
	for (unsigned int i = 0; i < 4; i++)
		snap[i] = pb_entry(f.sd, i);
	for (unsigned int t = 0; t < 2; t++) {
		fr[t] = (struct firer){ .sd = f.sd, .first = 2 * t, .nr = 2, .stop = &stop };
		assert_int_equal(pthread_create(&th[t], NULL, firer_thread, &fr[t]), 0);
	}
	/* At least 400 rounds, and until both device threads fired 300 times. */
	for (unsigned int iter = 0;
	     iter < 400 || __atomic_load_n(&fr[0].raised, __ATOMIC_RELAXED) < 300 ||
	     __atomic_load_n(&fr[1].raised, __ATOMIC_RELAXED) < 300;
	     iter++) {
		assert_true(iter < 1000000);
		struct ik_msi_map map = ik_pci_msix_alloc_irq_at(f.dev, IK_MSI_ANY_INDEX, NULL);
		struct pb_vec dyn = { 0 };

		assert_int_equal(map.index, 4);
		if (iter % 8 == 0) {
			assert_int_equal(pb_request(&dyn, map.virq), 0);
			assert_int_equal(pb_free(&dyn), 0);
		}
		assert_int_equal(ik_pci_msix_free_irq(f.dev, map), 0);
		for (unsigned int i = 0; i < 4; i++)
			assert_true(entry_equal(pb_entry(f.sd, i), snap[i]));
	}
	__atomic_store_n(&stop, true, __ATOMIC_RELEASE);
	for (unsigned int t = 0; t < 2; t++)
		assert_int_equal(pthread_join(th[t], NULL), 0);
	sim_run_until_idle(f.pb.tb.m);
	for (unsigned int i = 0; i < 4; i++) {
		struct sim_pci_stats st;

		sim_pci_dev_vector_stats(f.sd, i, &st);
		/* Never found masked, every raise sent; the LAPIC may merge, nothing is lost. */
		assert_int_equal(st.pending_set, 0);
		assert_int_equal(st.sent, st.raised);
		assert_true(st.raised >= 300);
		assert_true(__atomic_load_n(&v[i].count, __ATOMIC_RELAXED) > 0);
		assert_true(entry_equal(pb_entry(f.sd, i), snap[i]));
		assert_int_equal(pb_free(&v[i]), 0);
	}
	assert_int_equal(testbed_spurious(&f.pb.tb), 0);
	fx_down(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mask_register_concurrency),
		cmocka_unit_test(test_dynamic_msix_while_firing_threaded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

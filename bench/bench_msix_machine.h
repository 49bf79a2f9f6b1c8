/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A PCI machine for the MSI-X benchmarks (bench_msix_alloc.c,
 * bench_msix_memory.c): the simulated machine with @ncpus CPUs online, the
 * library core and x86 vector domain, and a PCI segment on which functions
 * with an MSI-X capability of any table size are plugged and given an
 * ik device bound to a do-nothing driver (memory decode and bus mastering
 * on, MSI parent = the vector domain).  Every function has one 64-bit BAR
 * of 64 KiB: the table at offset 0, the PBA at 0x8000.
 */
#ifndef IK_BENCH_MSIX_MACHINE_H
#define IK_BENCH_MSIX_MACHINE_H

#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <irqkit/device.h>
#include <irqkit/irq.h>
#include <irqkit/osl.h>
#include <irqkit/pci.h>
#include <irqkit/x86.h>

#include "host_port.h"
#include "sim.h"
#include "sim_pci.h"

#define BM_NR_BUSES 8u                          /* 256 functions per bus */
#define BM_MAX_FUNCS (BM_NR_BUSES * 256u)
#define BM_BAR_BASE 0x1000000000ull             /* 64 GiB: above everything else */
#define BM_BAR_SIZE 0x10000ull

struct bm_machine {
	struct sim_machine *m;
	struct sim_pci_bus *bus;
	unsigned int ncpus;
	unsigned int nr_funcs;                  /* functions plugged so far */
};

static inline void bm_die(const char *what, int err)
{
	fprintf(stderr, "bench: %s failed: %d (%s)\n", what, err, ik_strerror(err));
	exit(2);
}

static inline double bm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/*
 * CPU time of the calling thread: the simulated machine runs on this one
 * host thread in deterministic mode, and unlike wall time this does not
 * count the time the host gave to other processes.
 */
static inline double bm_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int bm_call_ret;
static inline void bm_online_fn(void *arg)
{
	(void)arg;
	bm_call_ret = ik_x86_cpu_online();
}

static inline void bm_up(struct bm_machine *bm, unsigned int ncpus)
{
	static const uint8_t port_vectors[] = { SIM_VECTOR_CALL_FUNCTION, SIM_VECTOR_SPURIOUS };
	/* Rare interleaving: nothing is scheduled, keep the points cheap. */
	struct sim_config cfg = { .nr_cpus = ncpus, .seed = 1, .interleave_permille = 1 };
	int ret;

	memset(bm, 0, sizeof(*bm));
	bm->ncpus = ncpus;
	bm->m = sim_create(&cfg);
	if (!bm->m)
		bm_die("sim_create", -IK_EINVAL);
	sim_port_install(bm->m, ik_x86_common_interrupt);
	sim_port_set_log_level(IK_LOG_ERR);
	bm->bus = sim_pci_bus_create(bm->m, 0, 0, BM_NR_BUSES);
	if (!bm->bus)
		bm_die("sim_pci_bus_create", -IK_EINVAL);
	if ((ret = ik_core_init()))
		bm_die("ik_core_init", ret);
	if ((ret = ik_x86_vector_init(port_vectors, 2)))
		bm_die("ik_x86_vector_init", ret);
	for (unsigned int cpu = 0; cpu < ncpus; cpu++) {
		sim_run_on_cpu(bm->m, cpu, bm_online_fn, NULL);
		if (bm_call_ret)
			bm_die("ik_x86_cpu_online", bm_call_ret);
	}
}

static inline void bm_down(struct bm_machine *bm)
{
	int ret;

	sim_run_until_idle(bm->m);
	if ((ret = ik_x86_vector_exit()))
		bm_die("ik_x86_vector_exit", ret);
	if ((ret = ik_core_exit()))
		bm_die("ik_core_exit", ret);
	sim_destroy(bm->m);
	bm->m = NULL;
}

static inline int bm_probe(struct ik_device *dev)
{
	(void)dev;
	return 0;
}

static const struct ik_driver bm_driver = { .name = "bench", .probe = bm_probe };

/* Plug the next function with a @table_size-entry MSI-X table; its bdf. */
static inline uint16_t bm_plug(struct bm_machine *bm, unsigned int table_size)
{
	struct sim_pci_dev_config c;
	unsigned int i = bm->nr_funcs++;
	uint16_t bdf = (uint16_t)i;     /* bus i / 256, device, function: every slot */

	if (i >= BM_MAX_FUNCS)
		bm_die("too many functions", -IK_ENOSPC);
	memset(&c, 0, sizeof(c));
	c.vendor_id = 0x1AF4;
	c.device_id = 0x1041;
	c.class_code = 0x020000;
	c.bars[0] = (struct sim_pci_bar_config){ SIM_PCI_BAR_MEM64, false, BM_BAR_SIZE,
						 BM_BAR_BASE + (uint64_t)i * BM_BAR_SIZE };
	c.msix = true;
	c.msix_table_size = table_size;
	c.msix_table_bir = 0;
	c.msix_table_offset = 0;
	c.msix_pba_bir = 0;
	c.msix_pba_offset = 0x8000;
	if (!sim_pci_dev_create(bm->bus, bdf, &c))
		bm_die("sim_pci_dev_create", -IK_EINVAL);
	return bdf;
}

/* The ik device of a plugged function, bound to the bench driver. */
static inline struct ik_device *bm_device(struct bm_machine *bm, uint16_t bdf)
{
	struct ik_device *dev;
	int ret;

	(void)bm;
	if ((ret = ik_pci_device_create(NULL, 0, bdf, &dev)))
		bm_die("ik_pci_device_create", ret);
	ik_device_set_msi_parent(dev, ik_x86_vector_domain());
	if ((ret = ik_pci_enable_device(dev)))
		bm_die("ik_pci_enable_device", ret);
	ik_pci_set_master(dev);
	if ((ret = ik_device_bind(dev, &bm_driver)))
		bm_die("ik_device_bind", ret);
	return dev;
}

static inline struct ik_device *bm_new_device(struct bm_machine *bm, unsigned int table_size)
{
	return bm_device(bm, bm_plug(bm, table_size));
}

static inline void bm_alloc(struct ik_device *dev, unsigned int n)
{
	int ret = ik_pci_alloc_irq_vectors(dev, n, n, IK_PCI_IRQ_MSIX, NULL);

	if (ret != (int)n)
		bm_die("ik_pci_alloc_irq_vectors", ret < 0 ? ret : -IK_ENOSPC);
}

static inline ik_irqreturn_t bm_handler(unsigned int irq, void *dev_id)
{
	(void)irq;
	(void)dev_id;
	return IK_IRQ_HANDLED;
}

#endif /* IK_BENCH_MSIX_MACHINE_H */

// SPDX-License-Identifier: BSD-2-Clause
/* PCI test machine (see pcibed.h). */
#include "pcibed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <irqkit/matrix.h>
#include <irqkit/osl.h>

static void pb_die(const char *what)
{
	fprintf(stderr, "pcibed: %s failed\n", what);
	abort();
}

/* ---- Configuration-write tracer ------------------------------------------------ */

/*
 * The bus installed the machine's configuration hook; this tracer replaces
 * it and forwards every access through the ECAM window, which reaches the
 * same bus model directly.
 */
static int trace_read(void *opaque, uint16_t segment, uint16_t bdf, uint16_t offset,
		      unsigned int size, uint32_t *value)
{
	struct pcibed *pb = opaque;
	struct sim_machine *m = pb->tb.m;

	if (segment != 0) {
		*value = 0xFFFFFFFFu;
		return 0;
	}
	*value = (uint32_t)sim_cpu_read(m, sim_cpu_current(m),
					PB_ECAM + ((uint64_t)bdf << 12) + offset, size);
	return 0;
}

static int trace_write(void *opaque, uint16_t segment, uint16_t bdf, uint16_t offset,
		       unsigned int size, uint32_t value)
{
	struct pcibed *pb = opaque;
	struct sim_machine *m = pb->tb.m;
	struct pb_cfg_write w = { bdf, offset, size, value };

	if (segment != 0)
		return 0;
	sim_cpu_write(m, sim_cpu_current(m), PB_ECAM + ((uint64_t)bdf << 12) + offset, value,
		      size);
	pthread_mutex_lock(&pb->log_lock);
	if (pb->nr_log < PB_CFG_LOG_MAX)
		pb->log[pb->nr_log++] = w;
	pthread_mutex_unlock(&pb->log_lock);
	if (pb->on_cfg_write)
		pb->on_cfg_write(pb, &w);
	return 0;
}

static const struct sim_pci_cfg_ops trace_ops = {
	.read = trace_read,
	.write = trace_write,
};

void pcibed_init(struct pcibed *pb, const struct testbed_opts *opts)
{
	memset(pb, 0, sizeof(*pb));
	pthread_mutex_init(&pb->log_lock, NULL);
	testbed_init(&pb->tb, opts);
	pb->bus = sim_pci_bus_create(pb->tb.m, 0, PB_ECAM, 4);
	if (!pb->bus)
		pb_die("sim_pci_bus_create");
	sim_set_pci_cfg_handler(pb->tb.m, &trace_ops, pb);
	sim_port_set_log_level(IK_LOG_ERR - 1);  /* tests look at sim_port_last_log() */
}

int64_t pcibed_fini(struct pcibed *pb)
{
	int64_t leaked;

	if (pb->tparent && ik_irq_domain_remove(pb->tparent))
		pb_die("remove the test parent");
	sim_port_set_log_level(IK_LOG_WARN);
	leaked = testbed_fini(&pb->tb);
	pthread_mutex_destroy(&pb->log_lock);
	return leaked;
}

struct sim_pci_dev_config pcibed_std_config(void)
{
	struct sim_pci_dev_config c;

	memset(&c, 0, sizeof(c));
	c.vendor_id = 0x8086;
	c.device_id = 0x1234;
	c.class_code = 0x020000;
	c.bars[0] = (struct sim_pci_bar_config){ SIM_PCI_BAR_MEM32, false, 0x4000, PB_BAR0 };
	c.bars[2] = (struct sim_pci_bar_config){ SIM_PCI_BAR_MEM64, true, 0x100000, PB_BAR2 };
	c.pm = true;
	c.msi = true;
	c.msi_mmc_log2 = 3;
	c.msi_64bit = true;
	c.msi_maskable = true;
	c.msix = true;
	c.msix_table_size = 64;
	c.msix_table_bir = 2;
	c.msix_table_offset = 0x3000;
	c.msix_pba_bir = 0;
	c.msix_pba_offset = 0x2000;
	return c;
}

struct sim_pci_dev *pcibed_plug(struct pcibed *pb, uint16_t bdf,
				const struct sim_pci_dev_config *cfg)
{
	struct sim_pci_dev *d = sim_pci_dev_create(pb->bus, bdf, cfg);

	if (!d)
		pb_die("sim_pci_dev_create");
	return d;
}

struct ik_device *pcibed_device(struct pcibed *pb, uint16_t bdf)
{
	struct ik_device *dev;

	if (ik_pci_device_create(NULL, 0, bdf, &dev))
		pb_die("ik_pci_device_create");
	ik_device_set_msi_parent(dev, pb->tparent ? pb->tparent : ik_x86_vector_domain());
	if (ik_pci_enable_device(dev))
		pb_die("ik_pci_enable_device");
	ik_pci_set_master(dev);
	return dev;
}

/* ---- Test MSI parent ----------------------------------------------------------- */

static struct pcibed *tparent_bed;

static void tparent_compose(struct ik_irq_data *d, struct ik_msi_msg *msg)
{
	ik_irq_chip_compose_msi_msg(d->parent_data, msg);
	if (tparent_bed && tparent_bed->tparent_addr_hi)
		msg->address_hi = tparent_bed->tparent_addr_hi;
}

static void tparent_mask(struct ik_irq_data *d)
{
	if (tparent_bed)
		__atomic_add_fetch(&tparent_bed->tparent_masks, 1, __ATOMIC_RELAXED);
}

static void tparent_unmask(struct ik_irq_data *d)
{
	if (tparent_bed)
		__atomic_add_fetch(&tparent_bed->tparent_unmasks, 1, __ATOMIC_RELAXED);
}

static const struct ik_irq_chip tparent_chip = {
	.name = "TIR",
	.irq_mask = tparent_mask,
	.irq_unmask = tparent_unmask,
	.irq_ack = ik_irq_chip_ack_parent,
	.irq_set_affinity = ik_irq_chip_set_affinity_parent,
	.irq_retrigger = ik_irq_chip_retrigger_hierarchy,
	.irq_compose_msi_msg = tparent_compose,
};

static int tparent_alloc(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr,
			 void *arg)
{
	int ret = ik_irq_domain_alloc_irqs_parent(domain, virq, nr, arg);

	if (ret)
		return ret;
	for (unsigned int i = 0; i < nr; i++)
		ik_irq_domain_set_hwirq_and_chip(domain, virq + i, virq + i, &tparent_chip, NULL);
	return 0;
}

static void tparent_free(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++)
		ik_irq_domain_reset_irq_data(ik_irq_domain_get_irq_data(domain, virq + i));
	ik_irq_domain_free_irqs_parent(domain, virq, nr);
}

static const struct ik_irq_domain_ops tparent_domain_ops = {
	.alloc = tparent_alloc,
	.free = tparent_free,
};

void pcibed_tparent_create(struct pcibed *pb, uint32_t supported)
{
	pcibed_tparent_create_ex(pb, supported, 0);
}

void pcibed_tparent_create_ex(struct pcibed *pb, uint32_t supported, uint32_t required)
{
	pb->tparent = ik_irq_domain_create_hierarchy(ik_x86_vector_domain(),
						     IK_IRQ_DOMAIN_FLAG_MSI_PARENT, 0, "TIR",
						     &tparent_domain_ops, pb);
	if (!pb->tparent)
		pb_die("test parent");
	pb->tparent_ops = (struct ik_msi_parent_ops){
		.supported_flags = supported,
		.required_flags = IK_MSI_FLAG_USE_DEF_DOM_OPS | IK_MSI_FLAG_USE_DEF_CHIP_OPS |
				  required,
		.bus_select_mask = IK_BIT(IK_MSI_BUS_PCI_MSI) | IK_BIT(IK_MSI_BUS_PCI_MSIX),
		.prefix = "TIR-",
		.init_dev_msi_info = ik_msi_parent_init_dev_msi_info,
	};
	if (ik_msi_parent_set_ops(pb->tparent, &pb->tparent_ops))
		pb_die("test parent ops");
	tparent_bed = pb;
}

/* ---- Handlers and inspection ---------------------------------------------------- */

ik_irqreturn_t pb_handler(unsigned int irq, void *dev_id)
{
	struct pb_vec *v = dev_id;

	__atomic_add_fetch(&v->count, 1, __ATOMIC_RELAXED);
	v->last_cpu = ik_os_cpu_id();
	return v->unhandled ? IK_IRQ_NONE : IK_IRQ_HANDLED;
}

int pb_request(struct pb_vec *v, unsigned int irq)
{
	v->irq = irq;
	return ik_request_irq(irq, pb_handler, 0, "pcibed", v);
}

int pb_free(struct pb_vec *v)
{
	return ik_free_irq(v->irq, v);
}

struct sim_pci_msix_entry pb_entry(struct sim_pci_dev *dev, unsigned int index)
{
	struct sim_pci_msix_entry e;

	memset(&e, 0xA5, sizeof(e));
	sim_pci_msix_entry(dev, index, &e);
	return e;
}

unsigned int pb_count_writes(struct pcibed *pb, unsigned int from, uint16_t bdf, uint16_t offset)
{
	unsigned int n = 0;

	for (unsigned int i = from; i < pb->nr_log; i++)
		if (pb->log[i].bdf == bdf && pb->log[i].offset == offset)
			n++;
	return n;
}

uint64_t pb_msi_accepted(struct pcibed *pb)
{
	return sim_stat(pb->tb.m, SIM_STAT_MSI_ACCEPTED);
}

struct pb_matrix pb_matrix(struct pcibed *pb)
{
	struct pb_matrix r = { 0 };

	for (unsigned int cpu = 0; cpu < pb->tb.nr_cpus; cpu++) {
		struct ik_irq_matrix_cpu_stats st;

		if (ik_x86_matrix_cpu_stats(cpu, &st))
			continue;
		r.allocated += st.allocated;
		r.managed += st.managed;
		r.managed_allocated += st.managed_allocated;
		r.available += st.available;
	}
	r.reserved = ik_x86_matrix_reserved();
	return r;
}

bool pb_matrix_equal(struct pb_matrix a, struct pb_matrix b)
{
	return a.allocated == b.allocated && a.managed == b.managed &&
	       a.managed_allocated == b.managed_allocated && a.available == b.available &&
	       a.reserved == b.reserved;
}

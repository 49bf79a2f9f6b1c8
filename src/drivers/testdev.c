// SPDX-License-Identifier: BSD-2-Clause
/*
 * Per-device domain for the simulator's test device (see
 * include/irqkit/drivers/testdev.h).  It programs the device through MMIO
 * only, exactly as it would program real hardware.
 */
#include <irqkit/drivers/testdev.h>
#include <irqkit/osl.h>

#define SLOT_ADDR_LO 0x0
#define SLOT_ADDR_HI 0x4
#define SLOT_DATA 0x8
#define SLOT_CTRL 0xC
#define CTRL_MASK 0x1u

struct testdev {
	uint64_t mmio;
	unsigned int nr_slots;
};

struct testdev_alloc_arg {
	unsigned int slot;
};

static uint64_t slot_reg(const struct ik_irq_data *d, unsigned int reg)
{
	const struct testdev *dev = ik_irq_domain_host_data(d->domain);

	return dev->mmio + d->hwirq * 16 + reg;
}

static void testdev_mask(struct ik_irq_data *d)
{
	ik_os_mmio_write32(slot_reg(d, SLOT_CTRL), CTRL_MASK);
}

static void testdev_unmask(struct ik_irq_data *d)
{
	ik_os_mmio_write32(slot_reg(d, SLOT_CTRL), 0);
}

static void testdev_write_msg(struct ik_irq_data *d, const struct ik_msi_msg *msg)
{
	ik_os_mmio_write32(slot_reg(d, SLOT_ADDR_LO), msg->address_lo);
	ik_os_mmio_write32(slot_reg(d, SLOT_ADDR_HI), msg->address_hi);
	ik_os_mmio_write32(slot_reg(d, SLOT_DATA), msg->data);
}

/*
 * Address and data are separate registers and the device may fire between
 * the writes, so the slot is masked while it changes; a fire meanwhile
 * stays pending in the device and goes out, with the new message, on
 * unmask.
 */
static void testdev_update_msg(struct ik_irq_data *d)
{
	struct ik_msi_msg msg;
	bool masked = ik_irqd_test(d, IK_IRQD_MASKED);

	if (ik_irq_chip_compose_msi_msg(d->parent_data, &msg))
		return;
	if (!masked)
		testdev_mask(d);
	testdev_write_msg(d, &msg);
	if (!masked)
		testdev_unmask(d);
}

static int testdev_set_affinity(struct ik_irq_data *d, const ik_cpumask_t *mask, bool force)
{
	int ret = ik_irq_chip_set_affinity_parent(d, mask, force);

	/* OK_DONE: a lower level (remapping) changed the target without a new message. */
	if (ret == IK_IRQ_SET_MASK_OK || ret == IK_IRQ_SET_MASK_OK_NOCOPY)
		testdev_update_msg(d);
	return ret;
}

static const struct ik_irq_chip testdev_chip = {
	.name = "TESTDEV",
	.irq_mask = testdev_mask,
	.irq_unmask = testdev_unmask,
	.irq_ack = ik_irq_chip_ack_parent,
	.irq_set_affinity = testdev_set_affinity,
	.irq_write_msi_msg = testdev_write_msg,
	.flags = IK_IRQCHIP_ONESHOT_SAFE | IK_IRQCHIP_AFFINITY_PRE_STARTUP,
};

static int testdev_alloc(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr,
			 void *arg)
{
	const struct testdev_alloc_arg *a = arg;
	int ret = ik_irq_domain_alloc_irqs_parent(domain, virq, nr, arg);
	struct ik_irq_data *d;

	if (ret)
		return ret;
	for (unsigned int i = 0; i < nr; i++) {
		ret = ik_irq_domain_set_info(domain, virq + i, a->slot + i, &testdev_chip, NULL,
					     ik_handle_edge_irq, NULL);
		if (ret) {
			ik_irq_domain_free_irqs_parent(domain, virq, nr);
			return ret;
		}
		/*
		 * Slots stay masked until the interrupt is started.  The device
		 * comes out of reset unmasked, so mask it for real: the core
		 * trusts IK_IRQD_MASKED and will not mask again.
		 */
		d = ik_irq_domain_get_irq_data(domain, virq + i);
		testdev_mask(d);
		ik_irqd_set(d, IK_IRQD_MASKED);
	}
	return 0;
}

static void testdev_free(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++)
		ik_irq_domain_reset_irq_data(ik_irq_domain_get_irq_data(domain, virq + i));
	ik_irq_domain_free_irqs_parent(domain, virq, nr);
}

static int testdev_activate(struct ik_irq_domain *domain, struct ik_irq_data *d, bool reserve)
{
	testdev_update_msg(d);
	return 0;
}

static void testdev_deactivate(struct ik_irq_domain *domain, struct ik_irq_data *d)
{
	static const struct ik_msi_msg zero;

	testdev_mask(d);
	testdev_write_msg(d, &zero);
	ik_irqd_set(d, IK_IRQD_MASKED);
}

static const struct ik_irq_domain_ops testdev_domain_ops = {
	.alloc = testdev_alloc,
	.free = testdev_free,
	.activate = testdev_activate,
	.deactivate = testdev_deactivate,
};

struct ik_irq_domain *ik_testdev_domain_create(struct ik_irq_domain *parent, uint64_t mmio,
					       unsigned int nr_slots, const char *name)
{
	struct ik_irq_domain *domain;
	struct testdev *dev;

	if (!parent || !nr_slots || !name)
		return NULL;
	dev = ik_os_alloc(sizeof(*dev));
	if (!dev)
		return NULL;
	dev->mmio = mmio;
	dev->nr_slots = nr_slots;
	domain = ik_irq_domain_create_hierarchy(parent, IK_IRQ_DOMAIN_FLAG_MSI_DEVICE, nr_slots,
						name, &testdev_domain_ops, dev);
	if (!domain)
		ik_os_free(dev);
	return domain;
}

int ik_testdev_domain_remove(struct ik_irq_domain *domain)
{
	void *dev = ik_irq_domain_host_data(domain);
	int ret = ik_irq_domain_remove(domain);

	if (!ret)
		ik_os_free(dev);
	return ret;
}

int ik_testdev_alloc_irqs(struct ik_irq_domain *domain, unsigned int slot, unsigned int nr,
			  const struct ik_irq_affinity_desc *affinity)
{
	const struct testdev *dev = ik_irq_domain_host_data(domain);
	struct testdev_alloc_arg arg = { .slot = slot };

	if (!nr || slot >= dev->nr_slots || nr > dev->nr_slots - slot)
		return -IK_ERANGE;
	for (unsigned int i = 0; i < nr; i++)
		if (ik_irq_domain_find_mapping(domain, slot + i) >= 0)
			return -IK_EEXIST;
	return ik_irq_domain_alloc_irqs(domain, nr, affinity, &arg);
}

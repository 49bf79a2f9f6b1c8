// SPDX-License-Identifier: BSD-2-Clause
/*
 * Driver for the MMIO slot-array IMS device (include/irqkit/drivers/ims_slots.h).
 *
 * Each IMS domain covers a slice of the device's slots.  A descriptor is
 * bound to its slot by prepare_desc, which keeps the slot's physical
 * address in dcookie; the PASID travels in icookie.  The chip touches the
 * slot only through those two, so its callbacks need no lookup.
 */
#include <irqkit/drivers/ims_slots.h>
#include <irqkit/pci.h>

#include "core/internals.h"

#define SLOT_ADDR_LO 0x0u
#define SLOT_ADDR_HI 0x4u
#define SLOT_DATA 0x8u
#define SLOT_CTRL 0xCu
#define CTRL_MASK IK_BIT(0)
#define CTRL_PENDING IK_BIT(1)
#define CTRL_PASID_EN IK_BIT(3)
#define CTRL_PASID_SHIFT 12
#define CAP_SLOTS_MASK 0xFFFFu

struct ims_slots_dev {
	struct ik_device *pdev;
	uint64_t bar0;
	unsigned int nr_slots;
	ik_mutex_t lock;                /* the slice list */
	struct ims_slice *slices;
};

struct ims_slice {
	struct ims_slots_dev *sd;
	struct ik_device *owner;
	unsigned int first;
	unsigned int count;
	bool subdev;                    /* owner is a child made by add_subdev */
	struct ims_slice *next;
};

/* ---- The chip ---------------------------------------------------------- */

static struct ik_msi_desc *slot_desc(const struct ik_irq_data *d)
{
	return d->common->msi_desc;
}

/* CTRL bits other than MASK: the PASID the allocation asked for. */
static uint32_t pasid_ctrl(uint64_t icookie)
{
	if (!(icookie & IK_IMS_PASID_ENABLE))
		return 0;
	return CTRL_PASID_EN | (uint32_t)((icookie & IK_IMS_PASID_MAX) << CTRL_PASID_SHIFT);
}

/* The read back makes the write reach the device before the callback returns. */
static void slot_set_ctrl(const struct ik_msi_desc *desc, bool masked)
{
	uint64_t slot = desc->data.dcookie;

	ik_os_mmio_write32(slot + SLOT_CTRL,
			   pasid_ctrl(desc->data.icookie) | (masked ? CTRL_MASK : 0));
	(void)ik_os_mmio_read32(slot + SLOT_CTRL);
}

static void ims_slots_mask(struct ik_irq_data *d)
{
	slot_set_ctrl(slot_desc(d), true);
}

static void ims_slots_unmask(struct ik_irq_data *d)
{
	slot_set_ctrl(slot_desc(d), false);
}

static void slot_write_words(uint64_t slot, const struct ik_msi_msg *msg)
{
	ik_os_mmio_write32(slot + SLOT_ADDR_LO, msg->address_lo);
	ik_os_mmio_write32(slot + SLOT_ADDR_HI, msg->address_hi);
	ik_os_mmio_write32(slot + SLOT_DATA, msg->data);
}

/*
 * The three words are separate registers that the device reads when it
 * fires, so a live slot is masked while they change: a fire in between
 * is held pending and goes out with the complete new message on unmask.
 * The hardware's MASK bit, not the core's view, decides: this also runs
 * at activation, before the core has unmasked anything.
 */
static void ims_slots_write_msg(struct ik_irq_data *d, const struct ik_msi_msg *msg)
{
	const struct ik_msi_desc *desc = slot_desc(d);
	uint64_t slot = desc->data.dcookie;
	bool live = !(ik_os_mmio_read32(slot + SLOT_CTRL) & CTRL_MASK);

	if (live)
		slot_set_ctrl(desc, true);
	slot_write_words(slot, msg);
	if (live)
		slot_set_ctrl(desc, false);
	else
		(void)ik_os_mmio_read32(slot + SLOT_CTRL);
}

/* Silence the slot and forget its target; deactivation writes zero again. */
static void ims_slots_shutdown(struct ik_irq_data *d)
{
	static const struct ik_msi_msg zero;
	const struct ik_msi_desc *desc = slot_desc(d);

	slot_set_ctrl(desc, true);
	slot_write_words(desc->data.dcookie, &zero);
	(void)ik_os_mmio_read32(desc->data.dcookie + SLOT_CTRL);
}

static int ims_slots_get_state(struct ik_irq_data *d, unsigned int which, bool *state)
{
	uint32_t ctrl = ik_os_mmio_read32(slot_desc(d)->data.dcookie + SLOT_CTRL);

	switch (which) {
	case IK_IRQCHIP_STATE_PENDING:
		*state = (ctrl & CTRL_PENDING) != 0;
		return 0;
	case IK_IRQCHIP_STATE_MASKED:
		*state = (ctrl & CTRL_MASK) != 0;
		return 0;
	default:
		return -IK_EINVAL;
	}
}

/* ---- Descriptors --------------------------------------------------------- */

/*
 * Bind the descriptor to its slot and mask the slot: a slot comes out of
 * reset masked, but a previous user may have left it live.
 */
static int ims_slots_prepare_desc(struct ik_irq_domain *domain, struct ik_msi_alloc_info *arg,
				  struct ik_msi_desc *desc)
{
	const struct ims_slice *slice = ik_msi_get_domain_info(domain)->data;

	if (desc->data.icookie & ~(IK_IMS_PASID_ENABLE | (uint64_t)IK_IMS_PASID_MAX)) {
		ik_err("irqkit: %s: bad PASID cookie 0x%llx\n", ik_device_name(desc->dev),
		       (unsigned long long)desc->data.icookie);
		return -IK_EINVAL;
	}
	if (desc->index >= slice->count)
		return -IK_ERANGE;
	desc->data.dcookie = slice->sd->bar0 + IK_IMS_SLOTS_ARRAY +
			     (uint64_t)(slice->first + desc->index) * IK_IMS_SLOTS_SLOT_SIZE;
	slot_set_ctrl(desc, true);
	return 0;
}

static const struct ik_msi_domain_template ims_slots_template = {
	.name = "IMS",
	.chip = {
		.name = "IMS-SLOTS",
		.irq_mask = ims_slots_mask,
		.irq_unmask = ims_slots_unmask,
		.irq_write_msi_msg = ims_slots_write_msg,
		.irq_shutdown = ims_slots_shutdown,
		.irq_get_irqchip_state = ims_slots_get_state,
		.flags = IK_IRQCHIP_ONESHOT_SAFE,
	},
	.ops = {
		.prepare_desc = ims_slots_prepare_desc,
	},
	.info = {
		.flags = IK_MSI_FLAG_ALLOC_SIMPLE_DESCS | IK_MSI_FLAG_FREE_DESCS |
			 IK_MSI_FLAG_MASK_SOURCE,
		.bus_token = IK_MSI_BUS_IMS,
	},
};

/* ---- Slices -------------------------------------------------------------- */

static struct ims_slots_dev *slots_dev(struct ik_device *pdev)
{
	if (!pdev || ik_device_driver(pdev) != &ik_ims_slots_driver)
		return NULL;
	return ik_device_get_drvdata(pdev);
}

unsigned int ik_ims_slots_nr_slots(struct ik_device *pdev)
{
	struct ims_slots_dev *sd = slots_dev(pdev);

	return sd ? sd->nr_slots : 0;
}

static void slice_release(void *data)
{
	struct ims_slice *slice = data;
	struct ims_slots_dev *sd = slice->sd;
	struct ims_slice **pp;

	ik_os_mutex_lock(&sd->lock);
	for (pp = &sd->slices; *pp; pp = &(*pp)->next) {
		if (*pp == slice) {
			*pp = slice->next;
			break;
		}
	}
	ik_os_mutex_unlock(&sd->lock);
	ik_os_free(slice);
}

/*
 * Claim [first, first + count) for @owner and create its domain.  The
 * slice is device-managed before the domain, so unbind removes the domain
 * (whose descriptors point into the slice) first.
 */
static int slice_create(struct ims_slots_dev *sd, struct ik_device *owner, unsigned int first,
			unsigned int count, bool subdev)
{
	struct ims_slice *slice, *s;
	int ret;

	if (!count)
		return -IK_EINVAL;
	if (first >= sd->nr_slots || count > sd->nr_slots - first)
		return -IK_ERANGE;
	slice = ik_os_alloc(sizeof(*slice));
	if (!slice)
		return -IK_ENOMEM;
	slice->sd = sd;
	slice->owner = owner;
	slice->first = first;
	slice->count = count;
	slice->subdev = subdev;

	ik_os_mutex_lock(&sd->lock);
	for (s = sd->slices; s; s = s->next) {
		if (first < s->first + s->count && s->first < first + count) {
			ik_os_mutex_unlock(&sd->lock);
			ik_err("irqkit: %s: IMS slots %u..%u overlap those of %s\n",
			       ik_device_name(owner), first, first + count - 1,
			       ik_device_name(s->owner));
			ik_os_free(slice);
			return -IK_EBUSY;
		}
	}
	slice->next = sd->slices;
	sd->slices = slice;
	ik_os_mutex_unlock(&sd->lock);

	ret = ik_devm_add_action(owner, slice_release, slice);
	if (ret) {
		slice_release(slice);
		return ret;
	}
	ret = ik_ims_create_domain(owner, &ims_slots_template, count, slice);
	if (ret)
		ik_devm_release_action(owner, slice_release, slice);
	return ret;
}

int ik_ims_slots_create_domain(struct ik_device *pdev, unsigned int first, unsigned int count)
{
	struct ims_slots_dev *sd = slots_dev(pdev);

	if (!sd)
		return -IK_EINVAL;
	return slice_create(sd, pdev, first, count, false);
}

/* ---- Sub-devices ---------------------------------------------------------- */

struct subdev_args {
	struct ims_slots_dev *sd;
	unsigned int first;
	unsigned int count;
};

static int subdev_probe(struct ik_device *child)
{
	const struct subdev_args *args = ik_device_get_drvdata(child);

	ik_device_set_drvdata(child, NULL);
	if (!args)
		return -IK_EINVAL;
	return slice_create(args->sd, child, args->first, args->count, true);
}

static const struct ik_driver ims_slots_subdev_driver = {
	.name = "ims-slots-subdev",
	.probe = subdev_probe,
};

int ik_ims_slots_add_subdev(struct ik_device *pdev, const char *name, unsigned int first,
			    unsigned int count, struct ik_device **out)
{
	struct ims_slots_dev *sd = slots_dev(pdev);
	struct subdev_args args = { .sd = sd, .first = first, .count = count };
	struct ik_device *child;
	int ret;

	if (!sd || !name || !out)
		return -IK_EINVAL;
	ret = ik_device_create(pdev, name, &child);
	if (ret)
		return ret;
	/* The probe takes its arguments from drvdata and clears it. */
	ik_device_set_drvdata(child, &args);
	ret = ik_device_bind(child, &ims_slots_subdev_driver);
	if (ret) {
		ik_device_destroy(child);
		return ret;
	}
	*out = child;
	return 0;
}

/* ---- The function's driver ------------------------------------------------ */

static void slots_dev_free(void *data)
{
	struct ims_slots_dev *sd = data;

	ik_os_mutex_destroy(&sd->lock);
	ik_os_free(sd);
}

/*
 * Device-managed in this order: decode off last, after the state, after
 * the domains (which the user creates later, so they go first).
 */
static int ims_slots_probe(struct ik_device *pdev)
{
	struct ims_slots_dev *sd;
	uint32_t cap;
	int ret;

	if (!ik_dev_is_pci(pdev) || !(ik_pci_resource_flags(pdev, 0) & IK_PCI_RES_MEM))
		return -IK_ENODEV;
	ret = ik_pcim_enable_device(pdev);
	if (ret)
		return ret;
	sd = ik_os_alloc(sizeof(*sd));
	if (!sd)
		return -IK_ENOMEM;
	ik_os_mutex_init(&sd->lock);
	sd->pdev = pdev;
	sd->bar0 = ik_pci_resource_start(pdev, 0);
	cap = ik_os_mmio_read32(sd->bar0 + IK_IMS_SLOTS_CAP);
	sd->nr_slots = cap & CAP_SLOTS_MASK;
	if (!sd->nr_slots || sd->nr_slots > IK_IMS_SLOTS_MAX ||
	    IK_IMS_SLOTS_ARRAY + (uint64_t)sd->nr_slots * IK_IMS_SLOTS_SLOT_SIZE >
		    ik_pci_resource_len(pdev, 0)) {
		ik_err("irqkit: %s: IMS slot array: bad capability 0x%x\n", ik_device_name(pdev),
		       cap);
		ret = -IK_EINVAL;
		goto err_free;
	}
	ret = ik_devm_add_action(pdev, slots_dev_free, sd);
	if (ret)
		goto err_free;
	ik_device_set_drvdata(pdev, sd);
	ik_pci_set_master(pdev);
	return 0;

err_free:
	slots_dev_free(sd);
	return ret;
}

/*
 * Sub-devices first: their domains use this device's registers.  Then
 * the device-managed release removes the function's own domain and frees
 * the state.  Bus mastering stays on until then, for the slots' sake.
 */
static void ims_slots_remove(struct ik_device *pdev)
{
	struct ims_slots_dev *sd = ik_device_get_drvdata(pdev);

	for (;;) {
		struct ik_device *child = NULL;
		struct ims_slice *s;

		ik_os_mutex_lock(&sd->lock);
		for (s = sd->slices; s && !child; s = s->next)
			if (s->subdev)
				child = s->owner;
		ik_os_mutex_unlock(&sd->lock);
		if (!child)
			break;
		ik_device_destroy(child);
	}
}

const struct ik_driver ik_ims_slots_driver = {
	.name = "ims-slots",
	.probe = ims_slots_probe,
	.remove = ims_slots_remove,
};

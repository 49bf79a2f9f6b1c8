/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Interrupt Message Store (IMS): device-specific message storage.
 *
 * An IMS is storage for MSI messages that is not the PCI MSI or MSI-X
 * capability: an array of slots in device memory, entries in queue memory
 * updated by device commands, contexts of a sub-device.  The store is
 * described by a const domain template (chip: mask, unmask, write_msi_msg,
 * optionally bus lock / sync unlock; ops: prepare_desc to bind a
 * descriptor to its hardware slot) and gets a per-device domain at
 * IK_MSI_SECONDARY_DOMAIN below the device's MSI parent, next to the
 * device's MSI-X domain and with its own index space.
 *
 * Devices.  The device may be a PCI function or any sub-device of it (a
 * work queue, a slice, an ik_device child with its own MSI data): each
 * device that calls ik_ims_create_domain() gets its own domain and index
 * space (a per-sub-device domain).  Interrupts are allocated on demand,
 * one at a time, at the lowest free index.
 *
 * Affinity is always the MSI parent's business: the store's chip must not
 * set it.  A change that alters the message reaches the store through its
 * irq_write_msi_msg, in atomic context and outside any bus-lock bracket;
 * under interrupt remapping the message never changes and the store is not
 * written at all.  A store that can only be updated by a sleeping command
 * must therefore defer such writes (see include/irqkit/drivers/idxd.h and
 * docs/architecture.md, "Queue-updated stores and affinity").
 *
 * Lifetime.  The domain is a device-managed resource of @dev: it goes
 * (with every interrupt still allocated in it) when @dev's driver unbinds,
 * before anything the driver registered earlier, so a store's private data
 * set up before the domain is still there while the domain is torn down.
 */
#ifndef IRQKIT_IMS_H
#define IRQKIT_IMS_H

#include <irqkit/msi.h>

/**
 * ik_ims_create_domain - create the IMS domain of @dev
 * @dev:    the device owning the store (bound; a PCI function or a child)
 * @tmpl:   const template, copied; requirements (as for Linux's IMS):
 *          bus_token IK_MSI_BUS_IMS; flags include
 *          IK_MSI_FLAG_ALLOC_SIMPLE_DESCS, IK_MSI_FLAG_FREE_DESCS and
 *          IK_MSI_FLAG_MASK_SOURCE; the chip has irq_mask, irq_unmask and
 *          irq_write_msi_msg and no irq_set_affinity
 * @hwsize: number of slots (0: the template's; if that is 0 too, the index
 *          space is software-managed, 65536 entries)
 * @data:   the store's private data, available to the chip and ops as
 *          ik_msi_get_domain_info(domain)->data
 *
 * The domain is named after the MSI parent's prefix, the template name and
 * the device, e.g. "IMS-0000:00:04.0".
 *
 * Context: sleepable.
 * Return: 0; -IK_EINVAL (NULL argument, template not acceptable for IMS,
 * no MSI parent or the parent refuses IMS; logged); -IK_EEXIST (@dev
 * already has an IMS domain); -IK_ENOMEM.  On failure nothing is created.
 */
int ik_ims_create_domain(struct ik_device *dev, const struct ik_msi_domain_template *tmpl,
			 uint32_t hwsize, void *data);

/**
 * ik_ims_remove_domain - free every IMS interrupt of @dev and remove the domain
 * Handlers must have been freed (an interrupt that still has one is left
 * allocated with a warning, and the domain stays).  No-op if @dev has no
 * IMS domain.  Unbinding the driver does the same implicitly.
 * Context: sleepable.
 */
void ik_ims_remove_domain(struct ik_device *dev);

/** ik_ims_domain - the IMS domain of @dev, or NULL.  Context: any. */
struct ik_irq_domain *ik_ims_domain(struct ik_device *dev);

/**
 * ik_ims_alloc_irq - allocate one IMS interrupt at the lowest free slot
 * @affinity: NULL or the interrupt's affinity (copied)
 * @icookie:  per-instance value for the store's prepare_desc (a PASID, ...),
 *            kept in the descriptor's data.icookie
 *
 * The slot comes out of allocation masked; the message is written when the
 * interrupt is activated (at request, or at once if the template asks for
 * early activation).
 *
 * Context: sleepable.
 * Return: {index, irq}, or {-error, 0}: -IK_ENODEV (no IMS domain);
 * -IK_ENOSPC (every slot in use, or no vector); -IK_ENOMEM; an error of
 * the store's prepare_desc or of a hierarchy level.  On failure nothing
 * remains allocated.
 */
struct ik_msi_map ik_ims_alloc_irq(struct ik_device *dev, const struct ik_irq_affinity_desc *affinity,
				   uint64_t icookie);

/**
 * ik_ims_free_irq - free an interrupt from ik_ims_alloc_irq()
 * The handler must have been freed (ik_free_irq()).  Frees the interrupt,
 * then the descriptor (the store's release_desc runs): the slot is free for
 * the next allocation only after that.
 *
 * Context: sleepable.
 * Return: 0; -IK_ENODEV (no IMS domain); -IK_EINVAL (@map is not a
 * successful map, or its irq is not the one at its index); -IK_ENOENT
 * (nothing allocated at the index: a double free changes nothing);
 * -IK_EBUSY (a handler is still installed: nothing freed).
 */
int ik_ims_free_irq(struct ik_device *dev, struct ik_msi_map map);

#endif /* IRQKIT_IMS_H */

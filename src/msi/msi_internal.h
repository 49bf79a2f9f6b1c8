/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared between the MSI core files; not a public interface. */
#ifndef IK_MSI_INTERNAL_H
#define IK_MSI_INTERNAL_H

#include "core/internals.h"
#include "core/xarray.h"

#include <irqkit/msi.h>

/* Iterator cursor value meaning "no iteration in progress". */
#define MSI_ITER_INVALID UINT64_MAX

struct msi_dev_domain {
	struct ik_xa store;             /* index -> struct ik_msi_desc */
	struct ik_irq_domain *domain;
};

struct msi_device_data {
	ik_mutex_t lock;
	struct ik_device *dev;
	struct msi_dev_domain domains[IK_MSI_MAX_DEVICE_DOMAINS];
	uint64_t iter_idx;
	unsigned int iter_domid;
};

/*
 * A per-device domain: the template copy the parent shaped, and the name.
 * The irq domain's host_data points at .info.
 */
struct msi_domain_bundle {
	struct ik_msi_domain_template tmpl;
	char name[96];
	struct ik_device *dev;
	unsigned int domid;
};

struct msi_device_data *msi_dev_data(struct ik_device *dev);
bool msi_is_device_domain(const struct ik_irq_domain *domain);
void msi_desc_free(struct ik_msi_desc *desc);
void msi_domain_destroy(struct ik_irq_domain *domain);

#define msi_assert_locked(md) IK_WARN_ON(!ik_os_mutex_held(&(md)->lock))

#endif /* IK_MSI_INTERNAL_H */

/* SPDX-License-Identifier: BSD-2-Clause */
/* The message a device writes to raise an interrupt. */
#ifndef IRQKIT_MSI_MSG_H
#define IRQKIT_MSI_MSG_H

#include <irqkit/env.h>

struct ik_msi_msg {
	uint32_t address_lo;
	uint32_t address_hi;
	uint32_t data;
};

#endif /* IRQKIT_MSI_MSG_H */

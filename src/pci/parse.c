// SPDX-License-Identifier: BSD-2-Clause
/*
 * Configuration-space parsing: header, BAR sizing, capability list, MSI-X
 * layout checks.  Everything here takes the content of configuration
 * space as untrusted input (a malformed, malicious or vanished function,
 * or a fuzzer): every value read leads either to a result or to an error,
 * never to an access outside the 256-byte standard space or a structure.
 * This file has no other dependency than the access callbacks, so a
 * fuzzer can drive it directly (ik_pci_parse_config, ik_pci_check_msix).
 */
#include "pci_internal.h"

#define CFG_STD_SIZE 0x100u
#define CAP_FIRST    0x40u
#define CAP_TTL      48u     /* at most 48 capabilities fit in 0x40..0xFF */

static uint32_t acc_read(const struct ik_pci_cfg_access *acc, uint16_t off, unsigned int size)
{
	uint32_t v = 0xFFFFFFFFu;

	if (acc->read(acc->ctx, off, size, &v))
		v = 0xFFFFFFFFu;
	if (size == 1)
		v &= 0xFFu;
	else if (size == 2)
		v &= 0xFFFFu;
	return v;
}

static void acc_write(const struct ik_pci_cfg_access *acc, uint16_t off, unsigned int size,
		      uint32_t val)
{
	if (acc->write)
		acc->write(acc->ctx, off, size, val);
}

/* Lowest set bit of a non-zero size mask: the BAR's size. */
static uint64_t mask_to_size(uint64_t mask)
{
	return mask & (~mask + 1);
}

static void parse_bars(const struct ik_pci_cfg_access *acc, const char *name,
		       struct ik_pci_config *out)
{
	uint32_t cmd = acc_read(acc, IK_PCI_COMMAND, 2);

	/* No decode while a BAR holds its size mask (it could alias anything). */
	if (cmd & IK_PCI_COMMAND_MEMORY)
		acc_write(acc, IK_PCI_COMMAND, 2, cmd & ~IK_PCI_COMMAND_MEMORY);

	for (unsigned int i = 0; i < IK_PCI_NUM_BARS; i++) {
		uint16_t off = (uint16_t)(IK_PCI_BAR0 + 4 * i);
		struct ik_pci_bar_info *bar = &out->bars[i];
		uint32_t orig = acc_read(acc, off, 4), orig_hi = 0, lo, hi = 0;
		unsigned int type = (orig >> 1) & 3u;
		uint64_t mask, start;
		bool is64;

		if (orig & 1u)
			continue;       /* I/O BAR: not supported, ignored */
		if (type == 1u || type == 3u) {
			ik_warn("irqkit: %s: BAR%u has reserved memory type %u: ignored\n", name, i,
				type);
			continue;
		}
		is64 = type == 2u;
		if (is64 && i == IK_PCI_NUM_BARS - 1) {
			ik_warn("irqkit: %s: BAR%u is 64-bit but has no upper half: ignored\n",
				name, i);
			continue;
		}
		acc_write(acc, off, 4, 0xFFFFFFFFu);
		lo = acc_read(acc, off, 4);
		acc_write(acc, off, 4, orig);
		if (is64) {
			orig_hi = acc_read(acc, (uint16_t)(off + 4), 4);
			acc_write(acc, (uint16_t)(off + 4), 4, 0xFFFFFFFFu);
			hi = acc_read(acc, (uint16_t)(off + 4), 4);
			acc_write(acc, (uint16_t)(off + 4), 4, orig_hi);
		}
		mask = ((uint64_t)hi << 32) | (lo & ~0xFull);
		if (!is64)
			mask &= 0xFFFFFFFFull;
		if (is64) {
			/* The upper half belongs to this BAR whatever happens next. */
			out->bars[i + 1].flags = IK_PCI_RES_UPPER;
		}
		if (!mask) {
			if (is64)
				i++;
			continue;       /* not implemented */
		}
		bar->len = mask_to_size(mask);
		start = ((uint64_t)orig_hi << 32) | (orig & ~0xFull);
		if (!is64)
			start &= 0xFFFFFFFFull;
		/*
		 * The size is the lowest writable bit: address bits below it
		 * must read 0.  A BAR that disagrees (or wraps the address
		 * space) is not trusted.
		 */
		if ((start & (bar->len - 1)) || start + bar->len - 1 < start) {
			ik_warn("irqkit: %s: BAR%u address %llx does not fit its size %llx: ignored\n",
				name, i, (unsigned long long)start, (unsigned long long)bar->len);
			bar->len = 0;
			if (is64)
				i++;
			continue;
		}
		bar->start = start;
		bar->flags = IK_PCI_RES_MEM | (is64 ? IK_PCI_RES_MEM64 : 0) |
			     ((orig & 8u) ? IK_PCI_RES_PREFETCH : 0);
		if (is64)
			i++;
	}
	if (cmd & IK_PCI_COMMAND_MEMORY)
		acc_write(acc, IK_PCI_COMMAND, 2, cmd);
}

/* Bytes a capability occupies (for the fit and overlap checks). */
static unsigned int msi_cap_len(uint16_t flags)
{
	unsigned int len = (flags & PCI_MSI_FLAGS_64BIT) ? 0x0E : 0x0A;

	if (flags & PCI_MSI_FLAGS_MASKBIT)
		len = (flags & PCI_MSI_FLAGS_64BIT) ? 0x18 : 0x14;
	return len;
}

struct cap_span {
	uint8_t id;
	unsigned int start, len;
};

static int parse_caps(const struct ik_pci_cfg_access *acc, const char *name,
		      struct ik_pci_config *out)
{
	uint8_t visited[CFG_STD_SIZE / 4 / 8] = { 0 };
	struct cap_span spans[3];
	unsigned int nspans = 0, ttl = CAP_TTL;
	unsigned int pos;

	if (!(acc_read(acc, IK_PCI_STATUS, 2) & IK_PCI_STATUS_CAP_LIST))
		return 0;
	/* Bits 1:0 of every pointer are reserved: ignored, as the spec says. */
	pos = acc_read(acc, IK_PCI_CAP_PTR, 1) & 0xFCu;
	while (pos) {
		unsigned int id, next, len = 2;

		if (pos < CAP_FIRST) {
			ik_err("irqkit: %s: capability pointer %x points into the header\n", name,
			       pos);
			return -IK_EINVAL;
		}
		if (visited[pos / 32] & (1u << ((pos / 4) % 8))) {
			ik_err("irqkit: %s: capability list loops at %x\n", name, pos);
			return -IK_EINVAL;
		}
		if (!ttl--) {
			ik_err("irqkit: %s: capability list too long\n", name);
			return -IK_EINVAL;
		}
		visited[pos / 32] |= (uint8_t)(1u << ((pos / 4) % 8));
		id = acc_read(acc, (uint16_t)pos, 1);
		next = acc_read(acc, (uint16_t)(pos + 1), 1) & 0xFCu;
		if (id == 0xFFu)
			break;          /* the function went away (reads all-ones) */
		switch (id) {
		case IK_PCI_CAP_ID_PM:
			len = 8;
			if (!out->pm_cap)
				out->pm_cap = (uint8_t)pos;
			break;
		case IK_PCI_CAP_ID_MSI:
			if (out->msi_cap) {
				ik_err("irqkit: %s: second MSI capability at %x\n", name, pos);
				return -IK_EINVAL;
			}
			out->msi_flags = (uint16_t)acc_read(acc, (uint16_t)(pos + PCI_MSI_FLAGS), 2);
			len = msi_cap_len(out->msi_flags);
			out->msi_cap = (uint8_t)pos;
			break;
		case IK_PCI_CAP_ID_MSIX: {
			uint32_t table, pba;

			if (out->msix.cap) {
				ik_err("irqkit: %s: second MSI-X capability at %x\n", name, pos);
				return -IK_EINVAL;
			}
			len = 12;
			if (pos + len > CFG_STD_SIZE)
				break;  /* reported below */
			out->msix.cap = (uint8_t)pos;
			out->msix.table_size =
				(uint16_t)((acc_read(acc, (uint16_t)(pos + PCI_MSIX_FLAGS), 2) &
					    PCI_MSIX_FLAGS_QSIZE) + 1);
			table = acc_read(acc, (uint16_t)(pos + PCI_MSIX_TABLE), 4);
			pba = acc_read(acc, (uint16_t)(pos + PCI_MSIX_PBA), 4);
			out->msix.table_bir = (uint8_t)(table & PCI_MSIX_BIR_MASK);
			out->msix.table_offset = table & ~PCI_MSIX_BIR_MASK;
			out->msix.pba_bir = (uint8_t)(pba & PCI_MSIX_BIR_MASK);
			out->msix.pba_offset = pba & ~PCI_MSIX_BIR_MASK;
			break;
		}
		default:
			break;
		}
		if (pos + len > CFG_STD_SIZE) {
			ik_err("irqkit: %s: capability %x at %x runs past the configuration header\n",
			       name, id, pos);
			return -IK_EINVAL;
		}
		if (len > 2) {
			for (unsigned int i = 0; i < nspans; i++) {
				if (pos < spans[i].start + spans[i].len &&
				    spans[i].start < pos + len) {
					ik_err("irqkit: %s: capability %x at %x overlaps capability %x at %x\n",
					       name, id, pos, spans[i].id, spans[i].start);
					return -IK_EINVAL;
				}
			}
			if (nspans < IK_ARRAY_SIZE(spans))
				spans[nspans++] = (struct cap_span){ (uint8_t)id, pos, len };
		}
		pos = next;
	}
	return 0;
}

int ik_pci_parse_config(const struct ik_pci_cfg_access *acc, const char *name,
			struct ik_pci_config *out)
{
	uint32_t vendor;

	if (!acc || !acc->read || !out)
		return -IK_EINVAL;
	if (!name)
		name = "pci";
	ik_memset(out, 0, sizeof(*out));
	vendor = acc_read(acc, IK_PCI_VENDOR_ID, 2);
	if (vendor == 0xFFFFu || vendor == 0)
		return -IK_ENODEV;
	out->vendor_id = (uint16_t)vendor;
	out->device_id = (uint16_t)acc_read(acc, IK_PCI_DEVICE_ID, 2);
	out->header_type = (uint8_t)acc_read(acc, IK_PCI_HEADER_TYPE, 1);
	if ((out->header_type & 0x7Fu) != 0) {
		ik_err("irqkit: %s: header type %x: only type-0 functions are supported\n", name,
		       out->header_type);
		return -IK_EINVAL;
	}
	parse_bars(acc, name, out);
	return parse_caps(acc, name, out);
}

/* One of the MSI-X structures (table or PBA) against its BAR. */
static int check_msix_struct(const struct ik_pci_config *cfg, const char *name, const char *what,
			     unsigned int bir, uint32_t offset, uint64_t size, uint64_t *phys)
{
	const struct ik_pci_bar_info *bar;

	if (bir >= IK_PCI_NUM_BARS) {
		ik_err("irqkit: %s: MSI-X %s BIR %u names no BAR\n", name, what, bir);
		return -IK_EINVAL;
	}
	bar = &cfg->bars[bir];
	if (bar->flags & IK_PCI_RES_UPPER) {
		ik_err("irqkit: %s: MSI-X %s BIR %u names the upper half of a 64-bit BAR\n", name,
		       what, bir);
		return -IK_EINVAL;
	}
	if (!(bar->flags & IK_PCI_RES_MEM) || !bar->len) {
		ik_err("irqkit: %s: MSI-X %s BIR %u names an unimplemented BAR\n", name, what, bir);
		return -IK_EINVAL;
	}
	if ((uint64_t)offset > bar->len || size > bar->len - offset) {
		ik_err("irqkit: %s: MSI-X %s (offset %x, %llu bytes) lies beyond BAR%u (%llu bytes)\n",
		       name, what, offset, (unsigned long long)size, bir,
		       (unsigned long long)bar->len);
		return -IK_EINVAL;
	}
	if (!bar->start) {
		ik_err("irqkit: %s: MSI-X %s: BAR%u has no address assigned\n", name, what, bir);
		return -IK_EINVAL;
	}
	*phys = bar->start + offset;
	return 0;
}

int ik_pci_check_msix(const struct ik_pci_config *cfg, const char *name,
		      struct ik_pci_msix_layout *layout)
{
	uint64_t table_len, pba_len;
	int ret;

	if (!cfg || !layout)
		return -IK_EINVAL;
	if (!name)
		name = "pci";
	*layout = cfg->msix;
	if (!layout->cap)
		return -IK_ENODEV;
	if (!layout->table_size || layout->table_size > 2048) {
		ik_err("irqkit: %s: MSI-X table size %u is invalid\n", name, layout->table_size);
		return -IK_EINVAL;
	}
	table_len = (uint64_t)layout->table_size * PCI_MSIX_ENTRY_SIZE;
	pba_len = (uint64_t)IK_DIV_ROUND_UP(layout->table_size, 64) * 8;
	ret = check_msix_struct(cfg, name, "table", layout->table_bir, layout->table_offset,
				table_len, &layout->table_phys);
	if (ret)
		return ret;
	ret = check_msix_struct(cfg, name, "PBA", layout->pba_bir, layout->pba_offset, pba_len,
				&layout->pba_phys);
	if (ret)
		return ret;
	if (layout->table_bir == layout->pba_bir &&
	    (uint64_t)layout->table_offset < layout->pba_offset + pba_len &&
	    (uint64_t)layout->pba_offset < layout->table_offset + table_len) {
		ik_err("irqkit: %s: MSI-X table (offset %x) and PBA (offset %x) overlap in BAR%u\n",
		       name, layout->table_offset, layout->pba_offset, layout->table_bir);
		return -IK_EINVAL;
	}
	return 0;
}

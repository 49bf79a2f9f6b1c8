// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target over PCI MSI / MSI-X capability and table/PBA layouts.
 *
 * Parser mode: a raw configuration image and BAR read-back values go
 * through ik_pci_parse_config() and ik_pci_check_msix() on a buffer.  The
 * parser must stay inside the 256-byte standard space with naturally
 * aligned accesses, and a layout it accepts must really fit its BARs.
 *
 * Machine mode: a simulated PCI function is built from the header (BARs of
 * any type, size and address, PM/MSI/MSI-X capabilities at any offset, an
 * MSI-X table and PBA in any BAR at any offset), then the records run as
 * operations: raw configuration pokes (bypassing read-only bits: loops, bad
 * pointers, bad BIRs, tables beyond their BAR, sizes up to 2048, table and
 * PBA overlapping), device create/destroy/re-plug, driver bind/unbind, MSI
 * and MSI-X allocation min..max, dynamic MSI-X at an index or any index
 * (also for sub-devices), frees (valid, bogus, double), restore, D3,
 * surprise removal, handlers, affinity, raises, and allocation failures
 * injected into any of them.  Errors are fine; a crash, a sanitizer report,
 * a hang (libFuzzer -timeout), a leak, a teardown that fails, a result
 * outside the documented range, or an MMIO access outside the function's
 * BARs (as the library parsed them) or the local APIC is a finding (abort).
 *
 * The input format is in fuzz_msi.h.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <irqkit/device.h>
#include <irqkit/irq.h>
#include <irqkit/msi.h>
#include <irqkit/pci.h>
#include <irqkit/x86.h>

#include "fuzz_msi.h"
#include "host_port.h"
#include "sim.h"
#include "sim_pci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_BDF SIM_PCI_BDF(0, 3, 0)

static void finding(const char *what, long a, long b)
{
	fprintf(stderr, "fuzz_msi: FINDING: %s (%ld, %ld)\n", what, a, b);
	abort();
}

/* ---- Input cursor ---------------------------------------------------------- */

struct in {
	const uint8_t *p;
	size_t n, pos;
};

static uint8_t in_u8(struct in *in)
{
	return in->pos < in->n ? in->p[in->pos++] : 0;
}

static uint8_t hdr(const uint8_t *d, size_t n, unsigned int off)
{
	return off < n ? d[off] : 0;
}

static uint16_t hdr16(const uint8_t *d, size_t n, unsigned int off)
{
	return (uint16_t)(hdr(d, n, off) | hdr(d, n, off + 1) << 8);
}

static uint16_t a16(const uint8_t *a, unsigned int i)
{
	return (uint16_t)(a[i] | a[i + 1] << 8);
}

/* ---- Parser mode ------------------------------------------------------------ */

struct raw_cfg {
	uint8_t img[256];
	uint32_t readback[6];   /* BAR value after all-ones is written */
};

static int raw_read(void *ctx, uint16_t off, unsigned int size, uint32_t *value)
{
	struct raw_cfg *rc = ctx;
	uint32_t v = 0;

	if ((size != 1 && size != 2 && size != 4) || (off & (size - 1)) || off + size > 256)
		finding("parser read outside the standard space or misaligned", off, size);
	for (unsigned int i = 0; i < size; i++)
		v |= (uint32_t)rc->img[off + i] << (8 * i);
	*value = v;
	return 0;
}

static int raw_write(void *ctx, uint16_t off, unsigned int size, uint32_t value)
{
	struct raw_cfg *rc = ctx;

	if ((size != 1 && size != 2 && size != 4) || (off & (size - 1)) || off + size > 256)
		finding("parser write outside the standard space or misaligned", off, size);
	if (size == 4 && off >= IK_PCI_BAR0 && off < IK_PCI_BAR0 + 24 && value == 0xFFFFFFFFu)
		value = rc->readback[(off - IK_PCI_BAR0) / 4];
	for (unsigned int i = 0; i < size; i++)
		rc->img[off + i] = (uint8_t)(value >> (8 * i));
	return 0;
}

/* A structure the checker accepted must lie inside its (implemented) BAR. */
static void check_struct(const struct ik_pci_config *cfg, unsigned int bir, uint32_t off,
			 uint64_t len, uint64_t phys)
{
	const struct ik_pci_bar_info *bar;

	if (bir >= IK_PCI_NUM_BARS)
		finding("accepted MSI-X BIR names no BAR", bir, 0);
	bar = &cfg->bars[bir];
	if (!(bar->flags & IK_PCI_RES_MEM) || (bar->flags & IK_PCI_RES_UPPER) || !bar->len)
		finding("accepted MSI-X structure in an unusable BAR", bir, (long)bar->flags);
	if ((uint64_t)off + len > bar->len || phys != bar->start + off)
		finding("accepted MSI-X structure beyond its BAR", (long)off, (long)len);
}

static void run_parser(const uint8_t *data, size_t size)
{
	struct ik_pci_cfg_access acc;
	struct ik_pci_msix_layout l;
	struct ik_pci_config cfg;
	struct raw_cfg rc;
	size_t body = size > FZ_HDR_SIZE ? size - FZ_HDR_SIZE : 0;
	int ret;

	memset(&rc, 0, sizeof(rc));
	memcpy(rc.img, data + FZ_HDR_SIZE, body < 256 ? body : 256);
	for (unsigned int i = 0; i < 6; i++)
		for (unsigned int j = 0; j < 4; j++)
			rc.readback[i] |= (uint32_t)hdr(data, size, FZ_HDR_SIZE + 256 + 4 * i + j)
					  << (8 * j);
	acc = (struct ik_pci_cfg_access){ raw_read, raw_write, &rc };
	ret = ik_pci_parse_config(&acc, "fuzz", &cfg);
	if (ret && ret != -IK_EINVAL && ret != -IK_ENODEV)
		finding("ik_pci_parse_config: undocumented error", ret, 0);
	if (ret)
		return;
	if (cfg.msi_cap && (cfg.msi_cap < 0x40 || (cfg.msi_cap & 3)))
		finding("MSI capability at an impossible offset", cfg.msi_cap, 0);
	if (cfg.msix.cap && (cfg.msix.cap < 0x40 || (cfg.msix.cap & 3) || cfg.msix.cap > 0xF4))
		finding("MSI-X capability at an impossible offset", cfg.msix.cap, 0);
	for (unsigned int i = 0; i < IK_PCI_NUM_BARS; i++) {
		const struct ik_pci_bar_info *b = &cfg.bars[i];

		if ((b->flags & IK_PCI_RES_MEM) &&
		    (!b->len || (b->len & (b->len - 1)) || (b->start & (b->len - 1))))
			finding("BAR accepted with a bad size or address", i, (long)b->len);
		if ((b->flags & IK_PCI_RES_MEM64) && i == IK_PCI_NUM_BARS - 1)
			finding("64-bit BAR5 accepted", i, 0);
	}
	ret = ik_pci_check_msix(&cfg, "fuzz", &l);
	if (ret && ret != -IK_EINVAL && ret != -IK_ENODEV)
		finding("ik_pci_check_msix: undocumented error", ret, 0);
	if (ret)
		return;
	if (!l.table_size || l.table_size > 2048)
		finding("accepted MSI-X table size", l.table_size, 0);
	check_struct(&cfg, l.table_bir, l.table_offset, (uint64_t)l.table_size * 16, l.table_phys);
	check_struct(&cfg, l.pba_bir, l.pba_offset, (uint64_t)(l.table_size + 63) / 64 * 8,
		     l.pba_phys);
	if (l.table_bir == l.pba_bir &&
	    (uint64_t)l.table_offset < (uint64_t)l.pba_offset + (l.table_size + 63) / 64 * 8 &&
	    (uint64_t)l.pba_offset < (uint64_t)l.table_offset + (uint64_t)l.table_size * 16)
		finding("accepted overlapping MSI-X table and PBA", (long)l.table_offset,
			(long)l.pba_offset);
}

/* ---- Machine mode ------------------------------------------------------------- */

struct req {
	unsigned int irq;
	int depth;              /* ik_disable_irq() calls not yet undone */
	bool used;
};

struct world {
	struct sim_machine *m;
	struct sim_pci_bus *bus;
	struct sim_pci_dev *sd;
	struct sim_pci_dev_config conf;
	struct ik_device *dev;
	struct ik_device *child[FZ_CHILDREN];
	struct ik_msi_map maps[FZ_MAPS];
	unsigned int next_map;
	struct req reqs[FZ_REQS];
	unsigned int nr_cpus;
	unsigned int budget;    /* vectors that may still be asked for */
	bool bind;
	bool unplugged;
};

static struct world *cur;

/* ---- Register accesses: only the function's BARs and the local APIC ---------- */

/*
 * Every MMIO access the library makes goes through these wrappers
 * (-Wl,--wrap): an access outside the BARs the library itself parsed for
 * the current function (or the local APIC window) means a layout check
 * let something through -- a table beyond its BAR, a bad BIR, an index
 * past the table.  On the simulator such an access would simply hit
 * unmapped space, so without this check it would go unnoticed.
 */
uint32_t __real_ik_os_mmio_read32(uint64_t phys);
void __real_ik_os_mmio_write32(uint64_t phys, uint32_t value);
uint64_t __real_ik_os_mmio_read64(uint64_t phys);
void __real_ik_os_mmio_write64(uint64_t phys, uint64_t value);
uint32_t __wrap_ik_os_mmio_read32(uint64_t phys);
void __wrap_ik_os_mmio_write32(uint64_t phys, uint32_t value);
uint64_t __wrap_ik_os_mmio_read64(uint64_t phys);
void __wrap_ik_os_mmio_write64(uint64_t phys, uint64_t value);

struct mmio_range {
	uint64_t start, len;
};

static struct mmio_range bars[IK_PCI_NUM_BARS];
static unsigned int nr_bars;
static bool mmio_check;

static void mmio_allow_device(struct ik_device *dev)
{
	nr_bars = 0;
	for (unsigned int i = 0; dev && i < IK_PCI_NUM_BARS; i++) {
		if (!(ik_pci_resource_flags(dev, i) & IK_PCI_RES_MEM))
			continue;
		bars[nr_bars++] = (struct mmio_range){ ik_pci_resource_start(dev, i),
						       ik_pci_resource_len(dev, i) };
	}
}

static void mmio_check_access(uint64_t phys, unsigned int size)
{
	if (!mmio_check)
		return;
	if (phys >= IK_X86_LAPIC_BASE && phys - IK_X86_LAPIC_BASE < 0x100000 - size)
		return;
	for (unsigned int i = 0; i < nr_bars; i++)
		if (phys >= bars[i].start && phys - bars[i].start <= bars[i].len - size)
			return;
	finding("MMIO access outside the function's BARs", (long)phys, (long)size);
}

/*
 * Configuration accesses likewise: only the function under test, inside
 * the 256-byte standard space (the library parses nothing beyond it), and
 * naturally aligned.
 */
int __real_ik_os_pci_cfg_read(uint16_t segment, uint16_t bdf, uint16_t offset, unsigned int size,
			      uint32_t *value);
int __real_ik_os_pci_cfg_write(uint16_t segment, uint16_t bdf, uint16_t offset,
			       unsigned int size, uint32_t value);
int __wrap_ik_os_pci_cfg_read(uint16_t segment, uint16_t bdf, uint16_t offset, unsigned int size,
			      uint32_t *value);
int __wrap_ik_os_pci_cfg_write(uint16_t segment, uint16_t bdf, uint16_t offset,
			       unsigned int size, uint32_t value);

struct cfg_span {
	unsigned int start, end;        /* [start, end) */
};

/*
 * What the library may write: the command register and the BARs (sizing)
 * always; the PMCSR, the MSI capability (registers after the capability
 * header, as long as the Message Control found at create says) and the
 * MSI-X Message Control once the device exists.  Anything else would
 * program a register the library never found -- another capability,
 * the header, or past the capability it did find.
 */
static struct cfg_span cfg_spans[5];
static unsigned int nr_cfg_spans;

static void cfg_spans_reset(void)
{
	cfg_spans[0] = (struct cfg_span){ IK_PCI_COMMAND, IK_PCI_COMMAND + 2 };
	cfg_spans[1] = (struct cfg_span){ IK_PCI_BAR0, IK_PCI_BAR0 + 24 };
	nr_cfg_spans = 2;
}

/* Right after a successful create: the capabilities the library found. */
static void cfg_spans_device(struct ik_device *dev, struct sim_pci_dev *sd)
{
	uint8_t pm = ik_pci_find_capability(dev, IK_PCI_CAP_ID_PM);
	uint8_t msi = ik_pci_find_capability(dev, IK_PCI_CAP_ID_MSI);
	uint8_t msix = ik_pci_find_capability(dev, IK_PCI_CAP_ID_MSIX);

	cfg_spans_reset();
	if (pm)
		cfg_spans[nr_cfg_spans++] = (struct cfg_span){ pm + 4u, pm + 6u };
	if (msi) {
		uint32_t flags = sim_pci_cfg_peek(sd, (uint16_t)(msi + 2), 2);
		unsigned int len = (flags & 0x80u) ? 0x0E : 0x0A;

		if (flags & 0x100u)
			len = (flags & 0x80u) ? 0x18 : 0x14;
		cfg_spans[nr_cfg_spans++] = (struct cfg_span){ msi + 2u, msi + len };
	}
	if (msix)
		cfg_spans[nr_cfg_spans++] = (struct cfg_span){ msix + 2u, msix + 4u };
}

static void cfg_check_access(uint16_t segment, uint16_t bdf, uint16_t offset, unsigned int size,
			     bool write)
{
	if (!mmio_check)
		return;
	if (segment != 0 || bdf != FZ_BDF)
		finding("configuration access to another function", segment, bdf);
	if ((size != 1 && size != 2 && size != 4) || (offset & (size - 1)) || offset + size > 0x100)
		finding("configuration access outside the standard space or misaligned", offset,
			(long)size);
	if (!write)
		return;
	for (unsigned int i = 0; i < nr_cfg_spans; i++)
		if (offset >= cfg_spans[i].start && offset + size <= cfg_spans[i].end)
			return;
	finding("configuration write outside the registers found at create", offset, (long)size);
}

int __wrap_ik_os_pci_cfg_read(uint16_t segment, uint16_t bdf, uint16_t offset, unsigned int size,
			      uint32_t *value)
{
	cfg_check_access(segment, bdf, offset, size, false);
	return __real_ik_os_pci_cfg_read(segment, bdf, offset, size, value);
}

int __wrap_ik_os_pci_cfg_write(uint16_t segment, uint16_t bdf, uint16_t offset,
			       unsigned int size, uint32_t value)
{
	cfg_check_access(segment, bdf, offset, size, true);
	return __real_ik_os_pci_cfg_write(segment, bdf, offset, size, value);
}

uint32_t __wrap_ik_os_mmio_read32(uint64_t phys)
{
	mmio_check_access(phys, 4);
	return __real_ik_os_mmio_read32(phys);
}

void __wrap_ik_os_mmio_write32(uint64_t phys, uint32_t value)
{
	mmio_check_access(phys, 4);
	__real_ik_os_mmio_write32(phys, value);
}

uint64_t __wrap_ik_os_mmio_read64(uint64_t phys)
{
	mmio_check_access(phys, 8);
	return __real_ik_os_mmio_read64(phys);
}

void __wrap_ik_os_mmio_write64(uint64_t phys, uint64_t value)
{
	mmio_check_access(phys, 8);
	__real_ik_os_mmio_write64(phys, value);
}
static bool trace;              /* IK_FUZZ_TRACE: print each record and its result */

#define TRACE(...)                                                                  \
	do {                                                                        \
		if (trace)                                                          \
			fprintf(stderr, "fuzz_msi: " __VA_ARGS__);                  \
	} while (0)

static ik_irqreturn_t handler(unsigned int irq, void *dev_id)
{
	return IK_IRQ_HANDLED;
}

static int probe_ok(struct ik_device *dev)
{
	return 0;
}

static const struct ik_driver fz_driver = { .name = "fuzz", .probe = probe_ok };
static const struct ik_driver fz_child_driver = { .name = "fuzz-child", .probe = probe_ok };

static int call_ret;
static void online_fn(void *arg)
{
	call_ret = ik_x86_cpu_online();
}

/* BAR @i of the simulated function from its two header bytes. */
static void build_bar(struct sim_pci_bar_config *b, uint8_t ts, uint8_t sel)
{
	unsigned int type = ts & 3u;
	uint64_t size = 1ull << (4 + ((ts >> 2) % 21u));

	memset(b, 0, sizeof(*b));
	if (!type)
		return;
	b->type = type == 1 ? SIM_PCI_BAR_MEM32 : SIM_PCI_BAR_MEM64;
	b->prefetchable = type == 3;
	b->size = size;
	if (sel == 0xFF)
		b->addr = 0;
	else if (type != 1 && (sel & 0x40))
		b->addr = FZ_BAR_HIGH64 + (uint64_t)(sel & 0x3F) * FZ_BAR_SLOT;
	else
		b->addr = FZ_BAR_LOW32 + (uint64_t)(sel & 0x3F) * FZ_BAR_SLOT;
}

static void build_config(struct world *w, const uint8_t *d, size_t n)
{
	struct sim_pci_dev_config *c = &w->conf;
	uint8_t caps = hdr(d, n, FZ_H_CAPS);

	memset(c, 0, sizeof(*c));
	c->vendor_id = 0x1AF4;
	c->device_id = 0x1000;
	c->class_code = 0x020000;
	c->command = (uint16_t)(((caps & FZ_CAP_CMD_MEM) ? SIM_PCI_COMMAND_MEMORY : 0) |
				((caps & FZ_CAP_CMD_MASTER) ? SIM_PCI_COMMAND_MASTER : 0));
	for (unsigned int i = 0; i < 6; i++) {
		build_bar(&c->bars[i], hdr(d, n, FZ_H_BARS + 2 * i), hdr(d, n, FZ_H_BARS + 2 * i + 1));
		/* The upper half of a 64-bit BAR (or BAR5 as 64-bit) is no BAR of its own. */
		if (i > 0 && c->bars[i - 1].type == SIM_PCI_BAR_MEM64)
			memset(&c->bars[i], 0, sizeof(c->bars[i]));
		if (i == 5 && c->bars[i].type == SIM_PCI_BAR_MEM64)
			c->bars[i].type = SIM_PCI_BAR_MEM32;
		if (c->bars[i].type == SIM_PCI_BAR_MEM32 && c->bars[i].addr >= (1ull << 32))
			c->bars[i].addr = FZ_BAR_LOW32;
	}
	c->pm = caps & FZ_CAP_PM;
	c->msi = caps & FZ_CAP_MSI;
	c->msi_mmc_log2 = hdr(d, n, FZ_H_MSI_MMC) % 6u;
	c->msi_64bit = caps & FZ_CAP_MSI64;
	c->msi_maskable = caps & FZ_CAP_MSIMASK;
	c->msix = caps & FZ_CAP_MSIX;
	c->msix_table_size = (hdr16(d, n, FZ_H_MSIX_QSIZE) & 0x7FFu) + 1;
	c->msix_table_bir = hdr(d, n, FZ_H_MSIX_BIR) & 7u;
	c->msix_pba_bir = (hdr(d, n, FZ_H_MSIX_BIR) >> 4) & 7u;
	c->msix_table_offset = (uint32_t)hdr16(d, n, FZ_H_TABLE_OFF) * 8;
	c->msix_pba_offset = (uint32_t)hdr16(d, n, FZ_H_PBA_OFF) * 8;
	c->pm_cap_offset = hdr(d, n, FZ_H_PM_AT) & 0xFC;
	c->msi_cap_offset = hdr(d, n, FZ_H_MSI_AT) & 0xFC;
	c->msix_cap_offset = hdr(d, n, FZ_H_MSIX_AT) & 0xFC;
}

static struct sim_pci_dev *plug(struct world *w)
{
	struct sim_pci_dev *sd = sim_pci_dev_create(w->bus, FZ_BDF, &w->conf);

	if (!sd) {
		/* Capability offsets that do not fit: let the model place them. */
		w->conf.pm_cap_offset = w->conf.msi_cap_offset = w->conf.msix_cap_offset = 0;
		sd = sim_pci_dev_create(w->bus, FZ_BDF, &w->conf);
	}
	if (!sd)
		finding("simulated function refused", 0, 0);
	return sd;
}

static void free_reqs(struct world *w)
{
	for (unsigned int i = 0; i < FZ_REQS; i++) {
		struct req *r = &w->reqs[i];

		if (!r->used)
			continue;
		while (r->depth > 0) {
			ik_enable_irq(r->irq);
			r->depth--;
		}
		if (ik_free_irq(r->irq, r))
			finding("ik_free_irq of a requested interrupt failed", r->irq, 0);
		r->used = false;
	}
}

static void create_dev(struct world *w)
{
	int ret;

	cfg_spans_reset();
	ret = ik_pci_device_create(NULL, 0, FZ_BDF, &w->dev);

	TRACE("create -> %d\n", ret);
	if (ret) {
		if (ret != -IK_EINVAL && ret != -IK_ENODEV && ret != -IK_ENOMEM)
			finding("ik_pci_device_create: undocumented error", ret, 0);
		w->dev = NULL;
		return;
	}
	ik_device_set_msi_parent(w->dev, ik_x86_vector_domain());
	mmio_allow_device(w->dev);
	cfg_spans_device(w->dev, w->sd);
	if (w->bind && ik_device_bind(w->dev, &fz_driver))
		finding("bind of a fresh device failed", 0, 0);
}

static void destroy_dev(struct world *w)
{
	free_reqs(w);
	if (w->dev)
		ik_pci_device_destroy(w->dev);
	w->dev = NULL;
	memset(w->child, 0, sizeof(w->child));
	memset(w->maps, 0, sizeof(w->maps));
}

static struct req *req_slot(struct world *w, uint8_t a)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FZ_REQS; i++)
		n += w->reqs[i].used;
	if (!n)
		return NULL;
	n = a % n;
	for (unsigned int i = 0; i < FZ_REQS; i++)
		if (w->reqs[i].used && !n--)
			return &w->reqs[i];
	return NULL;
}

static bool irq_requested(struct world *w, unsigned int irq)
{
	for (unsigned int i = 0; i < FZ_REQS; i++)
		if (w->reqs[i].used && w->reqs[i].irq == irq)
			return true;
	return false;
}

static int count_irq(const struct ik_msi_irq_info *info, void *arg)
{
	(*(unsigned int *)arg)++;
	if (!info->mode || !info->domain || !info->irq)
		finding("introspection entry incomplete", (long)info->index, (long)info->irq);
	return 0;
}

static void op_alloc(struct world *w, const uint8_t *a)
{
	unsigned int min = a16(a, 0) % 2049u, max = a16(a, 2) % 2049u;
	struct ik_irq_affinity_spread spread = { a[6] & 3u, (a[6] >> 2) & 3u };
	int n;

	if (max > w->budget)
		max = w->budget;
	w->budget -= max;
	n = ik_pci_alloc_irq_vectors(w->dev, min, max, a[4] & 0xFu, (a[5] & 1) ? &spread : NULL);
	TRACE("alloc %u..%u flags %x -> %d\n", min, max, a[4] & 0xFu, n);
	if (n < 0) {
		switch (n) {
		case -IK_EINVAL: case -IK_ENODEV: case -IK_EIO: case -IK_ENOSPC:
		case -IK_ENOTSUPP: case -IK_ENOMEM:
			return;
		default:
			finding("ik_pci_alloc_irq_vectors: undocumented error", n, 0);
		}
	}
	if ((unsigned int)n < min || (unsigned int)n > max || !n)
		finding("ik_pci_alloc_irq_vectors: count outside min..max", n, (long)max);
	if (!ik_pci_msi_enabled(w->dev) && !ik_pci_msix_enabled(w->dev))
		finding("vectors allocated but neither MSI nor MSI-X enabled", n, 0);
	if (ik_pci_irq_vector(w->dev, 0) <= 0 || ik_pci_irq_vector(w->dev, (unsigned int)n - 1) <= 0)
		finding("allocated vector without an interrupt", n, 0);
}

static void op_alloc_at(struct world *w, const uint8_t *a)
{
	uint32_t index = (a[2] & 1) ? IK_MSI_ANY_INDEX : a16(a, 0);
	struct ik_irq_affinity_desc aff;
	struct ik_msi_map map;

	/* Indices beyond what any table or store can hold. */
	if ((a[2] & 0x11) == 0x10)
		index = (uint32_t)a16(a, 0) << 16 | a[5];

	if (!w->budget)
		return;
	w->budget--;
	memset(&aff, 0, sizeof(aff));
	ik_cpumask_set_cpu(a[3] % w->nr_cpus, &aff.mask);
	aff.is_managed = (a[2] & 4) != 0;
	if (a[2] & 8) {
		unsigned int c = a[4] % FZ_CHILDREN;

		if (!w->child[c]) {
			if (ik_device_create(w->dev, "fuzz-child", &w->child[c]))
				return;
			if (ik_device_bind(w->child[c], &fz_child_driver))
				finding("bind of a fresh child failed", c, 0);
		}
		map = ik_devm_pci_msix_alloc_irq_at(w->child[c], w->dev, index,
						    (a[2] & 2) ? &aff : NULL);
	} else {
		map = ik_pci_msix_alloc_irq_at(w->dev, index, (a[2] & 2) ? &aff : NULL);
	}
	TRACE("alloc_at %d%s -> {%d, %u}\n", (int)index, (a[2] & 8) ? " (child)" : "", map.index,
	      map.virq);
	if (map.index < 0) {
		if (map.virq)
			finding("failed dynamic allocation returned an interrupt", map.index,
				map.virq);
		switch (map.index) {
		case -IK_ENOTSUPP: case -IK_ERANGE: case -IK_EBUSY: case -IK_ENOSPC:
		case -IK_ENOMEM: case -IK_EINVAL: case -IK_EIO:
			return;
		default:
			finding("dynamic MSI-X allocation: undocumented error", map.index, 0);
		}
	}
	if (!map.virq || (index != IK_MSI_ANY_INDEX && (uint32_t)map.index != index))
		finding("dynamic MSI-X allocation: bad map", map.index, map.virq);
	if (ik_pci_irq_vector(w->dev, (unsigned int)map.index) != (int)map.virq)
		finding("dynamic vector not found by ik_pci_irq_vector", map.index, map.virq);
	w->maps[w->next_map++ % FZ_MAPS] = map;
}

static void op_free_at(struct world *w, const uint8_t *a)
{
	struct ik_msi_map map = w->maps[a[0] % FZ_MAPS];
	int ret;

	switch (a[1] % 7u) {
	case 1: map.index++; break;
	case 2: map.virq++; break;
	case 3: map.index = -1; break;
	case 4: map.index = 0; map.virq = 0; break;
	case 5: map.index = (int)((uint32_t)a16(a, 2) | (uint32_t)a[4] << 16); break;
	case 6: map.virq = (unsigned int)a16(a, 2) | (unsigned int)a[4] << 16; break;
	default: break;
	}
	/* A map whose interrupt has a handler gives -IK_EBUSY; that is tested too. */
	ret = ik_pci_msix_free_irq(w->dev, map);
	TRACE("free_at {%d, %u} -> %d\n", map.index, map.virq, ret);
	if (ret && ret != -IK_EINVAL && ret != -IK_EBUSY && ret != -IK_ENOTSUPP)
		finding("ik_pci_msix_free_irq: undocumented error", ret, 0);
	if (!ret && irq_requested(w, map.virq))
		finding("freed an MSI-X vector that has a handler", map.index, map.virq);
}

static void op_request(struct world *w, const uint8_t *a)
{
	int irq = ik_pci_irq_vector(w->dev, a16(a, 0) % 2048u);
	struct req *r = NULL;
	int ret;

	if (irq <= 0 || irq_requested(w, (unsigned int)irq))
		return;
	for (unsigned int i = 0; i < FZ_REQS && !r; i++)
		if (!w->reqs[i].used)
			r = &w->reqs[i];
	if (!r)
		return;
	ret = ik_request_irq((unsigned int)irq, handler, (a[2] & 1) ? IK_IRQF_NO_AUTOEN : 0,
			     "fuzz", r);
	TRACE("request irq %d -> %d\n", irq, ret);
	if (!ret) {
		r->used = true;
		r->irq = (unsigned int)irq;
		r->depth = (a[2] & 1) ? 1 : 0;
	}
}

static void op_disable(struct world *w, const uint8_t *a)
{
	struct req *r = req_slot(w, a[0]);

	if (!r)
		return;
	if (a[1] & 1) {
		if (r->depth > 0 && !ik_enable_irq(r->irq))
			r->depth--;
	} else if (r->depth < 4 && !ik_disable_irq(r->irq)) {
		r->depth++;
	}
}

static void op_affinity(struct world *w, const uint8_t *a)
{
	struct req *r = req_slot(w, a[0]);
	ik_cpumask_t mask;

	if (!r)
		return;
	ik_cpumask_clear(&mask);
	for (unsigned int cpu = 0; cpu < w->nr_cpus; cpu++)
		if (a[1] & (1u << cpu))
			ik_cpumask_set_cpu(cpu, &mask);
	(void)ik_irq_set_affinity(r->irq, &mask);
}

static void op_query(struct world *w, const uint8_t *a)
{
	unsigned int n = 0;

	int irq = ik_pci_irq_vector(w->dev, a16(a, 0));
	uint32_t v;

	if (irq > 0 && !ik_irq_get_msi_desc((unsigned int)irq))
		finding("an MSI vector without an MSI descriptor", irq, 0);
	/* Driver config reads: inside the standard space (the checker's rule). */
	(void)ik_pci_read_config(w->dev, a[2], 1u << (a[3] % 3u), &v);
	(void)ik_pci_resource_start(w->dev, a[4] % 8u);
	(void)ik_pci_resource_len(w->dev, a[4] % 8u);
	(void)ik_pci_resource_flags(w->dev, a[4] % 8u);
	(void)ik_pci_power_state(w->dev);
	(void)ik_pci_is_disconnected(w->dev);
	(void)ik_pci_msi_vec_count(w->dev);
	(void)ik_pci_msix_vec_count(w->dev);
	(void)ik_pci_msix_can_alloc_dyn(w->dev);
	(void)ik_msi_device_for_each_irq(w->dev, count_irq, &n);
}

static void op_recreate(struct world *w)
{
	destroy_dev(w);
	if (w->unplugged) {
		w->sd = plug(w);
		w->unplugged = false;
	}
	create_dev(w);
}

static void op_bind(struct world *w)
{
	int ret;

	if (ik_device_driver(w->dev)) {
		free_reqs(w);
		if (ik_device_unbind(w->dev))
			finding("unbind of a bound device failed", 0, 0);
		/* The vectors were the driver's. */
		if (ik_pci_msi_enabled(w->dev) || ik_pci_msix_enabled(w->dev))
			finding("vectors survived the unbind", 0, 0);
		return;
	}
	ret = ik_device_bind(w->dev, &fz_driver);
	if (ret && ret != -IK_EEXIST)
		finding("ik_device_bind: unexpected error", ret, 0);
}

/* One record; the device exists unless @op re-creates it. */
static void run_op(struct world *w, uint8_t op, const uint8_t *a)
{
	switch (op % FZ_OP_NR) {
	case FZ_OP_POKE:
		sim_pci_cfg_poke(w->sd, a[0], 1u << (a[1] % 3u),
				 (uint32_t)a[2] | (uint32_t)a[3] << 8 | (uint32_t)a[4] << 16 |
				 (uint32_t)a[5] << 24);
		break;
	case FZ_OP_ALLOC:
		op_alloc(w, a);
		break;
	case FZ_OP_FREE_VECTORS: {
		bool busy = false;

		for (unsigned int i = 0; i < FZ_REQS; i++)
			busy |= w->reqs[i].used;
		ik_pci_free_irq_vectors(w->dev);
		if (!busy && (ik_pci_msi_enabled(w->dev) || ik_pci_msix_enabled(w->dev)))
			finding("vectors without handlers survived ik_pci_free_irq_vectors", 0, 0);
		break;
	}
	case FZ_OP_ALLOC_AT:
		op_alloc_at(w, a);
		break;
	case FZ_OP_FREE_AT:
		op_free_at(w, a);
		break;
	case FZ_OP_RESTORE:
		(void)ik_pci_restore_msi_state(w->dev);
		break;
	case FZ_OP_REQUEST:
		op_request(w, a);
		break;
	case FZ_OP_FREE_IRQ: {
		struct req *r = req_slot(w, a[0]);

		if (r) {
			while (r->depth > 0 && !ik_enable_irq(r->irq))
				r->depth--;
			if (ik_free_irq(r->irq, r))
				finding("ik_free_irq of a requested interrupt failed", r->irq, 0);
			r->used = false;
		}
		break;
	}
	case FZ_OP_POWER:
		(void)ik_pci_set_power_state(w->dev, a[0] == 0xFF ? (enum ik_pci_power_state)7 :
						     (a[0] & 1) ? IK_PCI_D3HOT : IK_PCI_D0);
		break;
	case FZ_OP_DISCONNECT:
		if ((a[0] & 1) && !w->unplugged) {
			sim_pci_dev_destroy(w->sd);
			w->unplugged = true;
		}
		ik_pci_set_disconnected(w->dev);
		break;
	case FZ_OP_RAISE:
		for (unsigned int i = 0; i <= a[2] % 4u; i++)
			sim_pci_dev_raise(w->sd, a16(a, 0) % 2049u);
		sim_run_until_idle(w->m);
		break;
	case FZ_OP_QUIRKS:
		ik_pci_set_quirks(w->dev, a[0] & 7u);
		break;
	case FZ_OP_CMD:
		switch (a[0] % 4u) {
		case 0: (void)ik_pci_enable_device(w->dev); break;
		case 1: ik_pci_disable_device(w->dev); break;
		case 2: ik_pci_set_master(w->dev); break;
		default: ik_pci_clear_master(w->dev); break;
		}
		break;
	case FZ_OP_RECREATE:
		op_recreate(w);
		break;
	case FZ_OP_BIND:
		op_bind(w);
		break;
	case FZ_OP_AFFINITY:
		op_affinity(w, a);
		break;
	case FZ_OP_CHILD_DESTROY: {
		unsigned int c = a[0] % FZ_CHILDREN;

		if (w->child[c]) {
			free_reqs(w);
			ik_device_destroy(w->child[c]);
			w->child[c] = NULL;
		}
		break;
	}
	case FZ_OP_QUERY:
		op_query(w, a);
		break;
	case FZ_OP_DISABLE:
		op_disable(w, a);
		break;
	default:
		break;
	}
}

static void run_machine(const uint8_t *data, size_t size)
{
	static const uint8_t port_vectors[] = { SIM_VECTOR_CALL_FUNCTION, SIM_VECTOR_SPURIOUS };
	uint8_t mode = hdr(data, size, FZ_H_MODE);
	struct sim_config cfg = { 0 };
	struct world w;
	struct in in = { data, size, FZ_HDR_SIZE };
	bool created = false;
	int64_t baseline = sim_alloc_outstanding();
	unsigned int nrec = 0;
	int ret;

	memset(&w, 0, sizeof(w));
	cur = &w;
	w.nr_cpus = 1 + ((mode >> 2) & 3u);
	w.bind = (mode & FZ_MODE_BIND) != 0;
	w.budget = FZ_VEC_BUDGET;
	cfg.nr_cpus = w.nr_cpus;
	cfg.seed = 1 + hdr(data, size, FZ_H_SEED);
	cfg.interleave_permille = (mode & FZ_MODE_DENSE) ? 250 : 1;
	w.m = sim_create(&cfg);
	if (!w.m)
		finding("sim_create", 0, 0);
	sim_port_install(w.m, ik_x86_common_interrupt);
	w.bus = sim_pci_bus_create(w.m, 0, 0, 1);
	if (!w.bus)
		finding("sim_pci_bus_create", 0, 0);
	build_config(&w, data, size);
	w.sd = plug(&w);
	if (ik_core_init() || ik_x86_vector_init(port_vectors, 2))
		finding("library init", 0, 0);
	nr_bars = 0;
	cfg_spans_reset();
	mmio_check = true;
	for (unsigned int cpu = 0; cpu < w.nr_cpus; cpu++) {
		sim_run_on_cpu(w.m, cpu, online_fn, NULL);
		if (call_ret)
			finding("cpu online", cpu, call_ret);
	}

	while (in.pos < in.n && nrec++ < FZ_MAX_RECS) {
		uint8_t op = in_u8(&in), a[7];

		for (unsigned int i = 0; i < 7; i++)
			a[i] = in_u8(&in);
		op %= FZ_OP_NR;
		TRACE("record %u: op %u [%02x %02x %02x %02x %02x %02x %02x]\n", nrec - 1, op,
		      a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
		/* Leading pokes shape the function before the library sees it. */
		if (!created && op != FZ_OP_POKE) {
			create_dev(&w);
			created = true;
		}
		if (op == FZ_OP_ALLOC_FAIL) {
			sim_alloc_fail_nth(1 + a[0] % 48u);
			continue;
		}
		if (w.dev || op == FZ_OP_POKE || op == FZ_OP_RECREATE)
			run_op(&w, op, a);
		sim_alloc_fail_nth(0);
		if (op != FZ_OP_POKE && op != FZ_OP_RAISE)
			sim_run_until_idle(w.m);
	}
	sim_alloc_fail_nth(0);
	if (!created)
		create_dev(&w);

	/* Teardown: everything must go, and nothing may be left behind. */
	destroy_dev(&w);
	sim_run_until_idle(w.m);
	if (ik_x86_matrix_reserved())
		finding("global vector reservations left after teardown", ik_x86_matrix_reserved(), 0);
	ret = ik_x86_vector_exit();
	if (ret)
		finding("ik_x86_vector_exit after teardown", ret, 0);
	ret = ik_core_exit();
	if (ret)
		finding("ik_core_exit after teardown", ret, 0);
	if (sim_alloc_outstanding() != baseline)
		finding("allocations leaked", (long)(sim_alloc_outstanding() - baseline), 0);
	mmio_check = false;
	sim_destroy(w.m);
	cur = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;

	if (!quiet) {
		trace = getenv("IK_FUZZ_TRACE") != NULL;
		sim_port_set_log_level(trace ? IK_LOG_DEBUG : -1);
		quiet = true;
	}
	if (size > FZ_MAX_INPUT)
		return 0;
	if (hdr(data, size, FZ_H_MODE) & FZ_MODE_PARSER)
		run_parser(data, size);
	else
		run_machine(data, size);
	return 0;
}

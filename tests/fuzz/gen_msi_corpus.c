// SPDX-License-Identifier: BSD-2-Clause
/*
 * Seed corpus of the MSI/MSI-X fuzzer: valid functions of several shapes
 * (MSI-X table and PBA in one or two BARs, 32- and 64-bit BARs, 1 to 2048
 * entries, MSI 32/64-bit with and without masking), each with a short
 * realistic sequence of operations, plus a few known malformed layouts and
 * a parser-mode image.  Usage: gen_msi_corpus DIR (writes DIR/seed-NN).
 */
#include <stdio.h>
#include <stdlib.h>

#include <irqkit/pci.h>

#include "fuzz_msi.h"

static unsigned int nr_seeds;
static const char *outdir;

static void emit(const struct fz_buf *f)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/seed-%02u", outdir, nr_seeds++);
	fp = fopen(path, "wb");
	if (!fp || fwrite(f->b, 1, f->len, fp) != f->len || fclose(fp)) {
		perror(path);
		exit(1);
	}
}

/* BAR0 32-bit 16 KiB, BAR2 64-bit prefetchable 1 MiB above 4 GiB (like tests/support/pcibed). */
static void std_bars(struct fz_buf *f)
{
	fz_bar(f, 0, FZ_BAR(1, 14), 1);
	fz_bar(f, 2, FZ_BAR(3, 20), 0x41);
}

static void std_dev(struct fz_buf *f, uint8_t mode)
{
	fz_init(f, mode | FZ_MODE_CPUS(2),
		FZ_CAP_PM | FZ_CAP_MSI | FZ_CAP_MSIX | FZ_CAP_MSI64 | FZ_CAP_MSIMASK |
		FZ_CAP_CMD_MEM | FZ_CAP_CMD_MASTER);
	f->b[FZ_H_MSI_MMC] = 3;
	std_bars(f);
	fz_msix(f, 64, 2, 0x3000, 0, 0x2000);
}

/* The common life of a function: vectors, a handler, an interrupt, dynamic, restore, free. */
static void life(struct fz_buf *f, unsigned int max, uint8_t flags)
{
	uint8_t at[7] = { 0, 0, 1, 0, 0, 0, 0 };

	fz_alloc(f, 1, max, flags);
	fz_simple(f, FZ_OP_QUERY, 0, 0, 0);
	fz_simple(f, FZ_OP_REQUEST, 0, 0, 0);
	fz_simple(f, FZ_OP_RAISE, 0, 0, 0);
	fz_op(f, FZ_OP_ALLOC_AT, at);
	fz_simple(f, FZ_OP_REQUEST, (uint8_t)(max > 1 ? max - 1 : 0), 0, 0);
	fz_simple(f, FZ_OP_AFFINITY, 0, 2, 0);
	fz_simple(f, FZ_OP_RESTORE, 0, 0, 0);
	fz_simple(f, FZ_OP_FREE_VECTORS, 0, 0, 0);  /* busy: handlers */
	fz_simple(f, FZ_OP_FREE_IRQ, 0, 0, 0);
	fz_simple(f, FZ_OP_FREE_IRQ, 0, 0, 0);
	fz_simple(f, FZ_OP_FREE_AT, 0, 0, 0);
	fz_simple(f, FZ_OP_FREE_AT, 0, 0, 0);      /* double free */
	fz_simple(f, FZ_OP_FREE_VECTORS, 0, 0, 0);
}

int main(int argc, char **argv)
{
	struct fz_buf f;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];

	/* 0: the standard function, MSI-X. */
	std_dev(&f, FZ_MODE_BIND);
	life(&f, 16, IK_PCI_IRQ_MSIX);
	emit(&f);

	/* 1: the same, MSI (8 vectors, maskable, 64-bit). */
	std_dev(&f, FZ_MODE_BIND);
	life(&f, 8, IK_PCI_IRQ_MSI);
	emit(&f);

	/* 2: MSI only, 32-bit, not maskable, 1 vector; 4 CPUs, dense interleaving. */
	fz_init(&f, FZ_MODE_BIND | FZ_MODE_CPUS(4) | FZ_MODE_DENSE, FZ_CAP_MSI);
	life(&f, 1, IK_PCI_IRQ_ALL_TYPES);
	emit(&f);

	/* 3: 2048 entries, table and PBA in one 64-bit BAR, spread affinity. */
	fz_init(&f, FZ_MODE_BIND | FZ_MODE_CPUS(4), FZ_CAP_MSIX | FZ_CAP_CMD_MEM);
	fz_bar(&f, 0, FZ_BAR(2, 16), 0x42);
	fz_msix(&f, 2048, 0, 0, 0, 0x8000);
	fz_simple(&f, FZ_OP_CMD, 0, 0, 0);
	fz_alloc(&f, 16, 2048, IK_PCI_IRQ_MSIX | IK_PCI_IRQ_AFFINITY);
	fz_simple(&f, FZ_OP_REQUEST, 0xFF, 0x07, 0);
	fz_simple(&f, FZ_OP_FREE_VECTORS, 0, 0, 0);
	emit(&f);

	/* 4: 1 entry, table and PBA in a small 32-bit BAR4; unbound device. */
	fz_init(&f, FZ_MODE_CPUS(1), FZ_CAP_MSIX | FZ_CAP_CMD_MEM | FZ_CAP_CMD_MASTER);
	fz_bar(&f, 4, FZ_BAR(1, 12), 3);
	fz_msix(&f, 1, 4, 0, 4, 0x800);
	life(&f, 1, IK_PCI_IRQ_MSIX);
	fz_simple(&f, FZ_OP_BIND, 0, 0, 0);
	emit(&f);

	/* 5: dynamic MSI-X for sub-devices, then the children go. */
	std_dev(&f, FZ_MODE_BIND);
	fz_alloc(&f, 1, 1, IK_PCI_IRQ_MSIX);
	{
		uint8_t at5[7] = { 5, 0, 0, 0, 0, 0, 0 };
		uint8_t child[7] = { 0, 0, 1 | 8, 0, 1, 0, 0 };
		uint8_t child2[7] = { 40, 0, 8 | 2, 1, 2, 0, 0 };

		fz_op(&f, FZ_OP_ALLOC_AT, at5);
		fz_op(&f, FZ_OP_ALLOC_AT, child);
		fz_op(&f, FZ_OP_ALLOC_AT, child2);
		fz_op(&f, FZ_OP_ALLOC_AT, at5);   /* busy */
	}
	fz_simple(&f, FZ_OP_REQUEST, 5, 0, 0);
	fz_simple(&f, FZ_OP_FREE_AT, 0, 0, 0);   /* busy: has a handler */
	fz_simple(&f, FZ_OP_FREE_AT, 0, 3, 0);   /* bogus */
	fz_simple(&f, FZ_OP_CHILD_DESTROY, 1, 0, 0);
	fz_simple(&f, FZ_OP_QUERY, 0, 0, 0);
	fz_simple(&f, FZ_OP_BIND, 0, 0, 0);      /* unbind */
	emit(&f);

	/* 6: D3, surprise removal, re-plug. */
	std_dev(&f, FZ_MODE_BIND);
	fz_alloc(&f, 4, 16, IK_PCI_IRQ_MSIX);
	fz_simple(&f, FZ_OP_REQUEST, 1, 0, 0);
	fz_simple(&f, FZ_OP_POWER, 1, 0, 0);
	fz_simple(&f, FZ_OP_AFFINITY, 0, 1, 0);
	fz_simple(&f, FZ_OP_POWER, 0, 0, 0);
	fz_simple(&f, FZ_OP_RESTORE, 0, 0, 0);
	fz_simple(&f, FZ_OP_RAISE, 1, 0, 1);
	fz_simple(&f, FZ_OP_DISCONNECT, 1, 0, 0);
	fz_simple(&f, FZ_OP_RECREATE, 0, 0, 0);
	fz_alloc(&f, 1, 4, IK_PCI_IRQ_ALL_TYPES);
	emit(&f);

	/* 7: malformed: a capability list that loops (MSI-X next -> PM). */
	std_dev(&f, FZ_MODE_BIND);
	fz_poke(&f, 0x40 + 8 + 0x18 + 1, 1, 0x40);
	fz_alloc(&f, 1, 8, IK_PCI_IRQ_ALL_TYPES);
	emit(&f);

	/* 8: malformed: table BIR 7, then (runtime poke) back to BAR2 and retry. */
	std_dev(&f, FZ_MODE_BIND);
	fz_poke(&f, 0x40 + 8 + 0x18 + 4, 4, 0x3000 | 7);
	fz_alloc(&f, 1, 8, IK_PCI_IRQ_MSIX);
	fz_poke(&f, 0x40 + 8 + 0x18 + 4, 4, 0x3000 | 2);
	fz_alloc(&f, 1, 8, IK_PCI_IRQ_MSIX);
	emit(&f);

	/* 9: malformed: the table runs past its 32-bit BAR, and table/PBA overlap. */
	fz_init(&f, FZ_MODE_BIND | FZ_MODE_CPUS(2), FZ_CAP_MSIX | FZ_CAP_CMD_MEM);
	fz_bar(&f, 0, FZ_BAR(1, 12), 5);
	fz_msix(&f, 512, 0, 0x800, 0, 0x7F8);
	fz_alloc(&f, 1, 512, IK_PCI_IRQ_MSIX);
	fz_poke(&f, 0x40 + 2, 2, 31);
	fz_alloc(&f, 1, 32, IK_PCI_IRQ_MSIX);
	emit(&f);

	/* 10: allocation failures injected into enable and dynamic allocation. */
	std_dev(&f, FZ_MODE_BIND);
	fz_simple(&f, FZ_OP_ALLOC_FAIL, 5, 0, 0);
	fz_alloc(&f, 1, 16, IK_PCI_IRQ_MSIX);
	fz_alloc(&f, 1, 16, IK_PCI_IRQ_MSIX);
	fz_simple(&f, FZ_OP_ALLOC_FAIL, 1, 0, 0);
	{
		uint8_t any[7] = { 0, 0, 1, 0, 0, 0, 0 };

		fz_op(&f, FZ_OP_ALLOC_AT, any);
	}
	fz_simple(&f, FZ_OP_ALLOC_FAIL, 2, 0, 0);
	fz_simple(&f, FZ_OP_REQUEST, 0, 0, 0);
	emit(&f);

	/* 11: MSI <-> MSI-X switching with quirks and command-register changes. */
	std_dev(&f, FZ_MODE_BIND);
	fz_alloc(&f, 1, 4, IK_PCI_IRQ_MSI);
	fz_simple(&f, FZ_OP_FREE_VECTORS, 0, 0, 0);
	fz_simple(&f, FZ_OP_QUIRKS, 1, 0, 0);
	fz_alloc(&f, 1, 4, IK_PCI_IRQ_MSIX);
	fz_simple(&f, FZ_OP_DISABLE, 0, 0, 0);
	fz_simple(&f, FZ_OP_FREE_VECTORS, 0, 0, 0);
	fz_simple(&f, FZ_OP_CMD, 1, 0, 0);
	fz_alloc(&f, 1, 4, IK_PCI_IRQ_MSIX);
	fz_simple(&f, FZ_OP_CMD, 0, 0, 0);
	fz_alloc(&f, 1, 4, IK_PCI_IRQ_MSIX | IK_PCI_IRQ_AFFINITY);
	emit(&f);

	/* 12: parser mode: the standard function's image, as configuration space. */
	{
		uint8_t *img;

		fz_init(&f, FZ_MODE_PARSER, 0);
		img = &f.b[FZ_HDR_SIZE];
		img[0] = 0xF4; img[1] = 0x1A;             /* vendor */
		img[6] = 0x10;                             /* status: capability list */
		img[0x10] = 0x00; img[0x13] = 0xC0;        /* BAR0 32-bit at 0xC0000000 */
		img[0x18] = 0x0C; img[0x1C] = 0x08;        /* BAR2 64-bit pf at 8 GiB */
		img[0x34] = 0x40;
		img[0x40] = 0x05; img[0x41] = 0x58;        /* MSI, next 0x58 */
		img[0x42] = 0x86;                          /* 8 vectors, 64-bit */
		img[0x58] = 0x11; img[0x59] = 0x00;        /* MSI-X */
		img[0x5A] = 63;                            /* 64 entries */
		img[0x5C] = 0x02; img[0x5D] = 0x30;        /* table: BAR2 + 0x3000 */
		img[0x60] = 0x00; img[0x61] = 0x20;        /* PBA: BAR0 + 0x2000 */
		f.len = FZ_HDR_SIZE + 256;
		{
			static const uint32_t rb[6] = { 0xFFFFC000u, 0, 0xFFF0000Cu, 0xFFFFFFFFu, 0, 0 };

			for (unsigned int i = 0; i < 6; i++)
				for (unsigned int j = 0; j < 4; j++)
					f.b[f.len++] = (uint8_t)(rb[i] >> (8 * j));
		}
		emit(&f);
	}

	printf("%u seeds in %s\n", nr_seeds, outdir);
	return 0;
}

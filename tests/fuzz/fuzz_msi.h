/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Input format of the MSI/MSI-X layout fuzzer (fuzz_msi.c), shared with the
 * seed-corpus generator (gen_msi_corpus.c).
 *
 * An input is a header of FZ_HDR_SIZE bytes followed by records of
 * FZ_REC_SIZE bytes.  Missing bytes read as 0, so every byte string is a
 * valid input.
 *
 * Header byte 0 (FZ_H_MODE) selects the mode:
 *   bit 0 set   -- parser mode: the rest of the input is a raw 256-byte
 *                  configuration image (after the header) followed by six
 *                  little-endian 32-bit BAR read-back values (what a BAR
 *                  returns after all-ones is written to it).  Only
 *                  ik_pci_parse_config() and ik_pci_check_msix() run, on a
 *                  buffer; no machine.
 *   bit 0 clear -- machine mode: a simulated PCI function is built from the
 *                  header, then the records run as operations (pokes of raw
 *                  configuration bytes and library calls).
 *   bit 1       -- bind a driver when the device is created
 *   bits 3:2    -- CPUs - 1 (1..4)
 *   bit 4       -- dense interleaving (device events may run at any
 *                  register access of the library)
 *
 * Everything else is described next to the constants below.
 */
#ifndef IK_FUZZ_MSI_H
#define IK_FUZZ_MSI_H

#include <stdint.h>
#include <string.h>

#define FZ_HDR_SIZE 26u
#define FZ_REC_SIZE 8u
#define FZ_MAX_RECS 64u          /* records beyond are ignored */
#define FZ_MAX_INPUT (FZ_HDR_SIZE + 256u + 24u + FZ_MAX_RECS * FZ_REC_SIZE)
#define FZ_VEC_BUDGET 8192u      /* vectors asked for per input, in total */

/* Header offsets (machine mode). */
#define FZ_H_MODE        0   /* see above */
#define FZ_H_CAPS        1   /* FZ_CAP_* */
#define FZ_H_MSI_MMC     2   /* log2 of MSI vectors capable (mod 6) */
#define FZ_H_MSIX_QSIZE  3   /* u16: MSI-X Table Size field (N - 1, & 0x7FF) */
#define FZ_H_MSIX_BIR    5   /* table BIR bits 2:0, PBA BIR bits 6:4 */
#define FZ_H_TABLE_OFF   6   /* u16: table offset / 8 */
#define FZ_H_PBA_OFF     8   /* u16: PBA offset / 8 */
#define FZ_H_PM_AT       10  /* capability offsets (0 = automatic; bad ones: automatic) */
#define FZ_H_MSI_AT      11
#define FZ_H_MSIX_AT     12
#define FZ_H_BARS        13  /* 6 x 2 bytes: FZ_BAR_* type/size byte, address selector */
#define FZ_H_SEED        25

#define FZ_MODE_PARSER   0x01u
#define FZ_MODE_BIND     0x02u
#define FZ_MODE_CPUS(n)  ((uint8_t)((((n) - 1u) & 3u) << 2))
#define FZ_MODE_DENSE    0x10u

#define FZ_CAP_PM        0x01u
#define FZ_CAP_MSI       0x02u
#define FZ_CAP_MSIX      0x04u
#define FZ_CAP_MSI64     0x08u
#define FZ_CAP_MSIMASK   0x10u
#define FZ_CAP_CMD_MEM   0x20u   /* firmware left Memory Space Enable on */
#define FZ_CAP_CMD_MASTER 0x40u

/*
 * BAR type/size byte: bits 1:0 type (0 none, 1 32-bit, 2 64-bit,
 * 3 64-bit prefetchable), bits 6:2 log2(size) - 4 (mod 21: 16 B..16 MiB).
 * Address selector: 0xFF = address 0 (unassigned); else bits 5:0 pick a
 * 16 MiB slot, bit 6 places a 64-bit BAR above 4 GiB.  Equal selectors
 * overlap (the simulator then refuses to decode the later BAR).
 */
#define FZ_BAR(type, log2size) ((uint8_t)(((type) & 3u) | ((((log2size) - 4u) % 21u) << 2)))
#define FZ_BAR_LOW32   0x80000000ull
#define FZ_BAR_HIGH64  0x800000000ull
#define FZ_BAR_SLOT    0x1000000ull

/* Record: opcode (mod FZ_OP_NR), then 7 argument bytes a[0..6]. */
enum fz_op {
	FZ_OP_POKE,        /* a0 offset, 1 << (a1 % 3) bytes, a2..a5 value (LE) */
	FZ_OP_ALLOC,       /* min u16(a0) % 2049, max u16(a2) % 2049, flags a4 & 0xF,
			    * a5 bit 0: spread {pre a6 & 3, post a6 >> 2 & 3} */
	FZ_OP_FREE_VECTORS,
	FZ_OP_ALLOC_AT,    /* index u16(a0); a2 bit 0 any index, bit 1 affinity (CPU a3,
			    * bit 2 managed), bit 3 for child a4 % FZ_CHILDREN, bit 4
			    * (without bit 0) index u16(a0) << 16 | a5 */
	FZ_OP_FREE_AT,     /* map slot a0 % FZ_MAPS; a1 % 7: as is, index + 1, virq + 1,
			    * index -1, {0, 0}, index = a2..a4, virq = a2..a4 */
	FZ_OP_RESTORE,
	FZ_OP_REQUEST,     /* vector u16(a0) % 2048; a2 bit 0 IK_IRQF_NO_AUTOEN */
	FZ_OP_FREE_IRQ,    /* requested slot a0 */
	FZ_OP_POWER,       /* a0 & 1: D3hot, else D0; a0 == 0xFF: invalid state */
	FZ_OP_DISCONNECT,  /* a0 bit 0: also unplug the simulated function */
	FZ_OP_RAISE,       /* vector u16(a0) % 2049, 1 + a2 % 4 times */
	FZ_OP_QUIRKS,      /* a0 & 7 */
	FZ_OP_CMD,         /* a0 % 4: enable device, disable device, set master, clear master */
	FZ_OP_RECREATE,    /* destroy the device (and replug the function), create again */
	FZ_OP_BIND,        /* bind if unbound, else unbind */
	FZ_OP_AFFINITY,    /* requested slot a0, CPU mask a1 */
	FZ_OP_CHILD_DESTROY, /* child a0 % FZ_CHILDREN */
	FZ_OP_ALLOC_FAIL,  /* the (1 + a0 % 48)-th allocation of the next record fails */
	FZ_OP_QUERY,       /* irq_vector(u16(a0)), counts, introspection */
	FZ_OP_DISABLE,     /* requested slot a0: a1 & 1 ? enable : disable (balanced) */
	FZ_OP_NR
};

#define FZ_MAPS 8u
#define FZ_CHILDREN 4u
#define FZ_REQS 64u

/* ---- Encoding helpers (seed generator) ---------------------------------- */

struct fz_buf {
	uint8_t b[FZ_MAX_INPUT];
	unsigned int len;
};

static inline void fz_init(struct fz_buf *f, uint8_t mode, uint8_t caps)
{
	memset(f, 0, sizeof(*f));
	f->b[FZ_H_MODE] = mode;
	f->b[FZ_H_CAPS] = caps;
	f->len = FZ_HDR_SIZE;
}

static inline void fz_put16(struct fz_buf *f, unsigned int off, unsigned int v)
{
	f->b[off] = (uint8_t)v;
	f->b[off + 1] = (uint8_t)(v >> 8);
}

static inline void fz_bar(struct fz_buf *f, unsigned int bar, uint8_t typesize, uint8_t sel)
{
	f->b[FZ_H_BARS + 2 * bar] = typesize;
	f->b[FZ_H_BARS + 2 * bar + 1] = sel;
}

static inline void fz_msix(struct fz_buf *f, unsigned int entries, unsigned int tbir,
			   uint32_t toff, unsigned int pbir, uint32_t poff)
{
	fz_put16(f, FZ_H_MSIX_QSIZE, (entries - 1) & 0x7FFu);
	f->b[FZ_H_MSIX_BIR] = (uint8_t)((tbir & 7u) | (pbir & 7u) << 4);
	fz_put16(f, FZ_H_TABLE_OFF, toff / 8);
	fz_put16(f, FZ_H_PBA_OFF, poff / 8);
}

static inline void fz_op(struct fz_buf *f, enum fz_op op, const uint8_t a[7])
{
	if (f->len + FZ_REC_SIZE > sizeof(f->b))
		return;
	f->b[f->len] = (uint8_t)op;
	memcpy(&f->b[f->len + 1], a, 7);
	f->len += FZ_REC_SIZE;
}

/* Common records. */
static inline void fz_alloc(struct fz_buf *f, unsigned int min, unsigned int max, uint8_t flags)
{
	uint8_t a[7] = { (uint8_t)min, (uint8_t)(min >> 8), (uint8_t)max, (uint8_t)(max >> 8),
			 flags, 0, 0 };

	fz_op(f, FZ_OP_ALLOC, a);
}

static inline void fz_simple(struct fz_buf *f, enum fz_op op, uint8_t a0, uint8_t a1, uint8_t a2)
{
	uint8_t a[7] = { a0, a1, a2, 0, 0, 0, 0 };

	fz_op(f, op, a);
}

static inline void fz_poke(struct fz_buf *f, uint8_t off, unsigned int size, uint32_t v)
{
	uint8_t a[7] = { off, (uint8_t)(size == 4 ? 2 : size == 2 ? 1 : 0), (uint8_t)v,
			 (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24), 0 };

	fz_op(f, FZ_OP_POKE, a);
}

#endif /* IK_FUZZ_MSI_H */

// SPDX-License-Identifier: BSD-2-Clause
/*
 * The simulated VT-d-style remapping unit, driven through its registers
 * and memory only: reset values, the command/status protocol, remappable
 * decode (handle, handle[15], SHV, subhandle), every fault reason with its
 * record, source-id validation (SQ function-ignore qualifiers, bus
 * ranges), FPD, primary fault logging with overflow and the fault event
 * (masked and unmasked), the interrupt entry cache (a forgotten
 * invalidation keeps delivering the old translation; global and
 * index/mask invalidation refresh it), wait descriptors (status write,
 * completion event, asynchronous processing) and queue errors.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim_test.h"
#include "sim_vtd.h"

#define BASE SIM_VTD_DEFAULT_BASE
#define QBASE 0x10000ull	/* invalidation queue (4 KiB, 256 descriptors) */
#define STATUS 0x11000ull	/* wait status dword */
#define TBASE 0x20000ull	/* remapping table */
#define TBIG 0x100000ull	/* a 65536-entry table (1 MiB) */
#define S_256 7u		/* IRTA.S for 256 entries */

struct fx {
	struct sim_machine *m;
	struct sim_vtd *u;
	struct sim_test_idt idt;
	uint64_t tail;		/* our copy of IQT */
	uint32_t seq;
};

static void fx_up(struct fx *f, const struct sim_vtd_config *c)
{
	struct sim_config cfg = { .nr_cpus = 4, .seed = 11, .ram_size = 4u << 20 };

	memset(f, 0, sizeof(*f));
	f->m = sim_create(&cfg);
	assert_non_null(f->m);
	sim_test_idt_install(f->m, &f->idt);
	sim_test_enable_lapics(f->m);
	f->u = sim_vtd_create(f->m, c);
	assert_non_null(f->u);
}

static void fx_down(struct fx *f)
{
	sim_destroy(f->m);
}

static uint32_t rd32(struct fx *f, uint32_t off)
{
	return (uint32_t)sim_cpu_read(f->m, 0, BASE + off, 4);
}

static uint64_t rd64(struct fx *f, uint32_t off)
{
	return sim_cpu_read(f->m, 0, BASE + off, 8);
}

static void wr32(struct fx *f, uint32_t off, uint32_t v)
{
	sim_cpu_write(f->m, 0, BASE + off, v, 4);
}

static void wr64(struct fx *f, uint32_t off, uint64_t v)
{
	sim_cpu_write(f->m, 0, BASE + off, v, 8);
}

static void mem64(struct fx *f, uint64_t pa, uint64_t v)
{
	sim_cpu_write(f->m, 0, pa, v, 8);
}

/* One command: GSTS without the one-shot status bits, plus or minus @bit. */
static void gcmd(struct fx *f, uint32_t bit, bool on)
{
	uint32_t v = rd32(f, SIM_VTD_GSTS) &
		     ~(SIM_VTD_GSTS_RTPS | SIM_VTD_GSTS_FLS | SIM_VTD_GSTS_WBFS | SIM_VTD_GSTS_IRTPS);

	wr32(f, SIM_VTD_GCMD, on ? v | bit : v & ~bit);
}

static void submit(struct fx *f, uint64_t lo, uint64_t hi)
{
	mem64(f, QBASE + f->tail, lo);
	mem64(f, QBASE + f->tail + 8, hi);
	f->tail = (f->tail + 16) % 4096;
	wr64(f, SIM_VTD_IQT, f->tail);
}

static uint32_t status(struct fx *f)
{
	return (uint32_t)sim_cpu_read(f->m, 0, STATUS, 4);
}

/* Wait descriptor with status write; returns the value it will write. */
static uint32_t submit_wait(struct fx *f)
{
	f->seq++;
	submit(f, SIM_VTD_DESC_WAIT | SIM_VTD_WAIT_SW | SIM_VTD_WAIT_FN |
		  (uint64_t)f->seq << SIM_VTD_WAIT_DATA_SHIFT, STATUS);
	return f->seq;
}

static void iec_global(struct fx *f)
{
	submit(f, SIM_VTD_DESC_IEC, 0);
}

static void iec_index(struct fx *f, unsigned int index, unsigned int im)
{
	submit(f, SIM_VTD_DESC_IEC | SIM_VTD_IEC_G_INDEX | (uint64_t)im << SIM_VTD_IEC_IM_SHIFT |
		  (uint64_t)index << SIM_VTD_IEC_IIDX_SHIFT, 0);
}

/* The enable sequence: queue, table pointer, global invalidation, remapping. */
static void enable(struct fx *f, uint64_t table, unsigned int s)
{
	uint32_t seq;

	wr64(f, SIM_VTD_IQA, QBASE);
	wr64(f, SIM_VTD_IQT, 0);
	gcmd(f, SIM_VTD_GCMD_QIE, true);
	wr64(f, SIM_VTD_IRTA, table | s);
	gcmd(f, SIM_VTD_GCMD_SIRTP, true);
	iec_global(f);
	seq = submit_wait(f);
	assert_int_equal(status(f), seq);
	gcmd(f, SIM_VTD_GCMD_IRE, true);
}

static uint64_t irte_lo(unsigned int vector, unsigned int apic_id)
{
	return SIM_VTD_IRTE_P | (uint64_t)vector << SIM_VTD_IRTE_VECTOR_SHIFT |
	       (uint64_t)apic_id << SIM_VTD_IRTE_XAPIC_DST_SHIFT;
}

static uint64_t irte_hi(unsigned int svt, unsigned int sq, uint16_t sid)
{
	return (uint64_t)svt << SIM_VTD_IRTE_SVT_SHIFT | (uint64_t)sq << SIM_VTD_IRTE_SQ_SHIFT | sid;
}

static void set_irte(struct fx *f, uint64_t table, unsigned int index, uint64_t lo, uint64_t hi)
{
	mem64(f, table + 16ull * index + 8, hi);
	mem64(f, table + 16ull * index, lo);
}

/* Send a message from @rid and let the CPUs take what it latched. */
static void msg(struct fx *f, uint16_t rid, uint32_t addr, uint32_t data)
{
	sim_dma_write32(f->m, rid, addr, data);
	sim_run_until_idle(f->m);
}

static struct sim_vtd_stats stats(struct fx *f)
{
	struct sim_vtd_stats st;

	sim_vtd_get_stats(f->u, &st);
	return st;
}

static uint64_t blocked(struct fx *f, unsigned int reason)
{
	return stats(f).blocked_by_reason[reason - SIM_VTD_FR_FIRST];
}

static void frcd(struct fx *f, unsigned int rec, uint64_t *lo, uint64_t *hi)
{
	*lo = rd64(f, SIM_VTD_FRCD + 16 * rec);
	*hi = rd64(f, SIM_VTD_FRCD + 16 * rec + 8);
}

static void clear_frcd(struct fx *f, unsigned int rec)
{
	wr32(f, SIM_VTD_FRCD + 16 * rec + 12, 1u << 31);
}

/* ---- Registers ---------------------------------------------------------------- */

static void test_reset_registers(void **state)
{
	struct sim_vtd_config c = { .mhmv_given = true, .mhmv = 4, .nr_fault_records = 4 };
	struct fx f;
	uint64_t cap, ecap;

	fx_up(&f, &c);
	assert_int_equal(rd32(&f, SIM_VTD_VER), 0x10);
	cap = rd64(&f, SIM_VTD_CAP);
	assert_int_equal(cap, (uint64_t)rd32(&f, SIM_VTD_CAP + 4) << 32 | rd32(&f, SIM_VTD_CAP));
	assert_int_equal(((cap >> SIM_VTD_CAP_FRO_SHIFT) & 0x3FF) * 16, SIM_VTD_FRCD);
	assert_int_equal((cap >> SIM_VTD_CAP_NFR_SHIFT) & 0xFF, 3);
	ecap = rd64(&f, SIM_VTD_ECAP);
	assert_true(ecap & SIM_VTD_ECAP_IR);
	assert_true(ecap & SIM_VTD_ECAP_QI);
	assert_false(ecap & SIM_VTD_ECAP_EIM);
	assert_int_equal((ecap >> SIM_VTD_ECAP_MHMV_SHIFT) & 0xF, 4);
	assert_int_equal(rd32(&f, SIM_VTD_GSTS), 0);
	assert_int_equal(rd32(&f, SIM_VTD_FECTL), SIM_VTD_FECTL_IM);
	assert_int_equal(rd32(&f, SIM_VTD_IECTL), SIM_VTD_FECTL_IM);
	assert_int_equal(rd32(&f, SIM_VTD_FSTS), 0);
	/* GCMD is write-only; holes and odd sizes read 0. */
	assert_int_equal(rd32(&f, SIM_VTD_GCMD), 0);
	assert_int_equal(rd32(&f, 0x800), 0);
	assert_int_equal(sim_cpu_read(f.m, 0, BASE + SIM_VTD_VER, 2), 0);
	/* Beyond the last fault record there is nothing. */
	assert_int_equal(rd64(&f, SIM_VTD_FRCD + 16 * 4 + 8), 0);
	/* A second unit on the same machine is refused (one interposer). */
	assert_null(sim_vtd_create(f.m, &(struct sim_vtd_config){ .base = 0xFED80000 }));
	fx_down(&f);
}

/* Commands complete at once; a write changing two things is counted. */
static void test_command_protocol(void **state)
{
	struct sim_vtd_log_entry log[16];
	struct fx f;
	unsigned int n;

	fx_up(&f, NULL);
	wr64(&f, SIM_VTD_IQA, QBASE);
	gcmd(&f, SIM_VTD_GCMD_QIE, true);
	assert_int_equal(rd32(&f, SIM_VTD_GSTS), SIM_VTD_GSTS_QIES);
	assert_int_equal(sim_vtd_table_entries(f.u), 0);
	wr64(&f, SIM_VTD_IRTA, TBASE | S_256);
	assert_int_equal(rd64(&f, SIM_VTD_IRTA), TBASE | S_256);
	/* The register alone does nothing; SIRTP latches it. */
	assert_int_equal(sim_vtd_table_entries(f.u), 0);
	gcmd(&f, SIM_VTD_GCMD_SIRTP, true);
	assert_int_equal(sim_vtd_table_entries(f.u), 256);
	assert_int_equal(rd32(&f, SIM_VTD_GSTS), SIM_VTD_GSTS_QIES | SIM_VTD_GSTS_IRTPS);
	gcmd(&f, SIM_VTD_GCMD_IRE, true);
	assert_true(rd32(&f, SIM_VTD_GSTS) & SIM_VTD_GSTS_IRES);
	assert_int_equal(stats(&f).gcmd_multi, 0);
	/* Writing GSTS back as a command re-issues SIRTP along with CFI: counted. */
	wr32(&f, SIM_VTD_GCMD, rd32(&f, SIM_VTD_GSTS) | SIM_VTD_GCMD_CFI);
	assert_int_equal(stats(&f).gcmd_multi, 1);
	assert_true(rd32(&f, SIM_VTD_GSTS) & SIM_VTD_GSTS_CFIS);
	n = sim_vtd_log(f.u, log, 16);
	assert_int_equal(n, 4);
	assert_int_equal(log[0].kind, SIM_VTD_LOG_GCMD);
	assert_int_equal(log[0].a, SIM_VTD_GCMD_QIE);
	assert_int_equal(log[1].a, SIM_VTD_GCMD_QIE | SIM_VTD_GCMD_SIRTP);
	assert_int_equal(log[2].b, SIM_VTD_GSTS_QIES | SIM_VTD_GSTS_IRTPS | SIM_VTD_GSTS_IRES);
	/* Without ECAP.IR / ECAP.QI the unit ignores the enables. */
	fx_down(&f);
	fx_up(&f, &(struct sim_vtd_config){ .no_ir = true, .no_qi = true });
	gcmd(&f, SIM_VTD_GCMD_QIE, true);
	gcmd(&f, SIM_VTD_GCMD_IRE, true);
	assert_int_equal(rd32(&f, SIM_VTD_GSTS), 0);
	fx_down(&f);
}

/* ---- Translation ---------------------------------------------------------------- */

static void test_ir_off_passes_through(void **state)
{
	struct fx f;

	fx_up(&f, NULL);
	msg(&f, 0x0100, (uint32_t)sim_test_msi_addr(1, false), 0x41);
	assert_int_equal(f.idt.count[1][0x41], 1);
	/* A remappable message with remapping off reaches nobody. */
	msg(&f, 0x0100, sim_vtd_msi_addr(3, false), 0);
	assert_int_equal(f.idt.total, 1);
	assert_int_equal(sim_stat(f.m, SIM_STAT_MSI_BAD_FORMAT), 1);
	assert_int_equal(stats(&f).passed, 2);
	assert_int_equal(stats(&f).blocked, 0);
	fx_down(&f);
}

static void test_remappable_decode(void **state)
{
	struct fx f;

	fx_up(&f, NULL);
	enable(&f, TBASE, S_256);
	set_irte(&f, TBASE, 5, irte_lo(0x45, 2), irte_hi(SIM_VTD_SVT_SID, 0, 0x0100));
	/* Handle 5, no subhandle. */
	msg(&f, 0x0100, sim_vtd_msi_addr(5, false), 0);
	assert_int_equal(f.idt.count[2][0x45], 1);
	/* Handle 4 + subhandle 1 = 5; SHV clear ignores the data (index 4: not present). */
	msg(&f, 0x0100, sim_vtd_msi_addr(4, true), 1);
	assert_int_equal(f.idt.count[2][0x45], 2);
	msg(&f, 0x0100, sim_vtd_msi_addr(4, false), 1);
	assert_int_equal(f.idt.count[2][0x45], 2);
	assert_int_equal(blocked(&f, SIM_VTD_FR_NOT_PRESENT), 1);
	/* Logical destination, level trigger, lowest priority are carried over. */
	set_irte(&f, TBASE, 6, irte_lo(0x46, 0x8) | SIM_VTD_IRTE_DM | SIM_VTD_IRTE_TM |
			       1ull << SIM_VTD_IRTE_DLM_SHIFT, 0);
	f.idt.no_eoi = true;
	msg(&f, 0x0100, sim_vtd_msi_addr(6, true), 0);
	assert_int_equal(f.idt.count[3][0x46], 1);	/* flat LDR bit 3 = CPU 3 */
	assert_true(sim_lapic_tmr_test(f.m, 3, 0x46));
	assert_int_equal(stats(&f).remapped, 3);
	fx_down(&f);
}

/* handle[15] lives in address bit 2: only a 65536-entry table reaches it. */
static void test_handle_bit15(void **state)
{
	struct fx f;

	fx_up(&f, NULL);
	enable(&f, TBIG, 15);
	assert_int_equal(sim_vtd_table_entries(f.u), 65536);
	set_irte(&f, TBIG, 0x8003, irte_lo(0x61, 1), 0);
	set_irte(&f, TBIG, 0x0003, irte_lo(0x62, 1), 0);
	msg(&f, 0x0100, sim_vtd_msi_addr(0x8003, false), 0);
	msg(&f, 0x0100, sim_vtd_msi_addr(0x0003, false), 0);
	assert_int_equal(f.idt.count[1][0x61], 1);
	assert_int_equal(f.idt.count[1][0x62], 1);
	/* Handle 0xFFFF + subhandle 1 is beyond any table. */
	msg(&f, 0x0100, sim_vtd_msi_addr(0xFFFF, true), 1);
	assert_int_equal(blocked(&f, SIM_VTD_FR_INDEX), 1);
	fx_down(&f);
}

/* Each reason: blocked, never delivered, recorded with index and requester. */
static void test_fault_reasons(void **state)
{
	static const struct {
		unsigned int reason;
		uint64_t lo, hi;
		uint32_t addr, data;
		unsigned int index;
	} cases[] = {
		{ SIM_VTD_FR_RESERVED_REQUEST, 0, 0, 0, 0x10000, 9 },
		{ SIM_VTD_FR_INDEX, 0, 0, 0, 0, 300 },
		{ SIM_VTD_FR_NOT_PRESENT, 0, 0, 0, 0, 9 },
		{ SIM_VTD_FR_RESERVED_IRTE, 1ull << 12, 0, 0, 0, 9 },
		{ SIM_VTD_FR_RESERVED_IRTE, SIM_VTD_IRTE_IM, 0, 0, 0, 9 },
		{ SIM_VTD_FR_RESERVED_IRTE, 0xFFull << 32, 0, 0, 0, 9 },
		{ SIM_VTD_FR_RESERVED_IRTE, 3ull << SIM_VTD_IRTE_DLM_SHIFT, 0, 0, 0, 9 },
		{ SIM_VTD_FR_RESERVED_IRTE, 0, 3ull << SIM_VTD_IRTE_SVT_SHIFT, 0, 0, 9 },
		{ SIM_VTD_FR_RESERVED_IRTE, 0, 1ull << 20, 0, 0, 9 },
		{ SIM_VTD_FR_SOURCE_ID, 0, 1ull << SIM_VTD_IRTE_SVT_SHIFT | 0x0200, 0, 0, 9 },
		{ SIM_VTD_FR_COMPAT, 0, 0, 0xFEE01000u, 0x41, 0 },
	};
	struct fx f;

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t lo, hi;
		uint32_t addr = cases[i].addr;

		fx_up(&f, NULL);
		enable(&f, TBASE, S_256);
		if (cases[i].reason != SIM_VTD_FR_NOT_PRESENT)
			set_irte(&f, TBASE, 9, irte_lo(0x41, 1) | cases[i].lo, cases[i].hi);
		if (!addr)
			addr = sim_vtd_msi_addr(cases[i].index, false);
		msg(&f, 0x0100, addr, cases[i].data);
		assert_int_equal(f.idt.total, 0);
		assert_int_equal(stats(&f).blocked, 1);
		assert_int_equal(blocked(&f, cases[i].reason), 1);
		assert_int_equal(stats(&f).faults_recorded, 1);
		frcd(&f, 0, &lo, &hi);
		assert_true(hi & SIM_VTD_FRCD_HI_F);
		assert_int_equal((hi >> SIM_VTD_FRCD_HI_FR_SHIFT) & 0xFF, cases[i].reason);
		assert_int_equal(hi & 0xFFFF, 0x0100);
		assert_int_equal(lo >> SIM_VTD_FRCD_LO_FI_SHIFT, cases[i].index);
		assert_int_equal(rd32(&f, SIM_VTD_FSTS), SIM_VTD_FSTS_PPF);
		fx_down(&f);
	}
	/* No table pointer ever latched: 0x23. */
	fx_up(&f, NULL);
	gcmd(&f, SIM_VTD_GCMD_IRE, true);
	msg(&f, 0x0100, sim_vtd_msi_addr(1, false), 0);
	assert_int_equal(blocked(&f, SIM_VTD_FR_TABLE), 1);
	assert_int_equal(f.idt.total, 0);
	fx_down(&f);
}

static void test_compat_and_cfi(void **state)
{
	struct fx f;

	fx_up(&f, NULL);
	enable(&f, TBASE, S_256);
	set_irte(&f, TBASE, 1, irte_lo(0x51, 0), 0);
	msg(&f, 0x0100, (uint32_t)sim_test_msi_addr(0, false), 0x50);
	assert_int_equal(f.idt.total, 0);
	assert_int_equal(blocked(&f, SIM_VTD_FR_COMPAT), 1);
	gcmd(&f, SIM_VTD_GCMD_CFI, true);
	msg(&f, 0x0100, (uint32_t)sim_test_msi_addr(0, false), 0x50);
	msg(&f, 0x0100, sim_vtd_msi_addr(1, false), 0);
	assert_int_equal(f.idt.count[0][0x50], 1);
	assert_int_equal(f.idt.count[0][0x51], 1);
	assert_int_equal(stats(&f).passed, 1);
	gcmd(&f, SIM_VTD_GCMD_CFI, false);
	msg(&f, 0x0100, (uint32_t)sim_test_msi_addr(0, false), 0x50);
	assert_int_equal(blocked(&f, SIM_VTD_FR_COMPAT), 2);
	assert_int_equal(f.idt.count[0][0x50], 1);
	fx_down(&f);
}

/* SVT 1 with the four qualifiers, SVT 2 bus ranges. */
static void test_source_id_validation(void **state)
{
	static const struct {
		unsigned int svt, sq;
		uint16_t sid, rid;
		bool ok;
	} cases[] = {
		{ 1, 0, 0x0318, 0x0318, true },
		{ 1, 0, 0x0318, 0x0319, false },
		{ 1, 0, 0x0318, 0x0418, false },
		{ 1, 1, 0x0318, 0x031C, true },		/* bit 2 ignored */
		{ 1, 1, 0x0318, 0x031A, false },	/* bit 1 checked */
		{ 1, 2, 0x0318, 0x031E, true },		/* bits 2:1 ignored */
		{ 1, 2, 0x0318, 0x0319, false },	/* bit 0 checked */
		{ 1, 3, 0x0318, 0x031F, true },		/* function ignored */
		{ 1, 3, 0x0318, 0x0320, false },	/* device checked */
		{ 2, 0, 0x0204, 0x0200, true },		/* bus 2 in [2, 4] */
		{ 2, 0, 0x0204, 0x04FF, true },
		{ 2, 0, 0x0204, 0x0500, false },
		{ 2, 0, 0x0204, 0x0118, false },
		{ 2, 0, 0x0303, 0x0301, true },		/* one bus, any device */
		{ 0, 0, 0x0318, 0xFFFF, true },
	};
	struct fx f;

	fx_up(&f, NULL);
	enable(&f, TBASE, S_256);
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t before = f.idt.count[0][0x70];

		set_irte(&f, TBASE, 20 + i, irte_lo(0x70, 0),
			 irte_hi(cases[i].svt, cases[i].sq, cases[i].sid));
		msg(&f, cases[i].rid, sim_vtd_msi_addr(20 + i, false), 0);
		if (f.idt.count[0][0x70] != before + (cases[i].ok ? 1 : 0))
			fail_msg("case %u: svt %u sq %u sid %04x rid %04x: expected %s", i,
				 cases[i].svt, cases[i].sq, cases[i].sid, cases[i].rid,
				 cases[i].ok ? "delivery" : "a fault");
	}
	assert_int_equal(blocked(&f, SIM_VTD_FR_SOURCE_ID), 7);
	fx_down(&f);
}

/* FPD: blocked, counted, not recorded, no event. */
static void test_fault_processing_disable(void **state)
{
	struct fx f;

	fx_up(&f, NULL);
	enable(&f, TBASE, S_256);
	wr32(&f, SIM_VTD_FEDATA, 0x7E);
	wr32(&f, SIM_VTD_FEADDR, 0xFEE00000);
	wr32(&f, SIM_VTD_FECTL, 0);
	set_irte(&f, TBASE, 3, irte_lo(0x43, 0) | SIM_VTD_IRTE_FPD, irte_hi(1, 0, 0x0100));
	msg(&f, 0x0200, sim_vtd_msi_addr(3, false), 0);
	assert_int_equal(f.idt.total, 0);
	assert_int_equal(stats(&f).faults_suppressed, 1);
	assert_int_equal(stats(&f).faults_recorded, 0);
	assert_int_equal(rd32(&f, SIM_VTD_FSTS), 0);
	/* The right requester still gets through. */
	msg(&f, 0x0100, sim_vtd_msi_addr(3, false), 0);
	assert_int_equal(f.idt.count[0][0x43], 1);
	fx_down(&f);
}

/* ---- Fault recording and the fault event ---------------------------------------- */

static void test_fault_log_and_event(void **state)
{
	struct sim_vtd_config c = { .nr_fault_records = 4 };
	uint64_t lo, hi;
	struct fx f;

	fx_up(&f, &c);
	enable(&f, TBASE, S_256);
	wr32(&f, SIM_VTD_FEDATA, 0x7E);
	wr32(&f, SIM_VTD_FEADDR, 0xFEE01000);	/* APIC ID 1 */
	wr32(&f, SIM_VTD_FECTL, 0);
	/* First fault: record 0, PPF 0 -> 1: one event. */
	msg(&f, 0x0300, sim_vtd_msi_addr(10, false), 0);
	assert_int_equal(f.idt.count[1][0x7E], 1);
	assert_int_equal(rd32(&f, SIM_VTD_FSTS), SIM_VTD_FSTS_PPF);
	/* Second: record 1, PPF already set: no event. */
	msg(&f, 0x0301, sim_vtd_msi_addr(11, false), 0);
	assert_int_equal(f.idt.count[1][0x7E], 1);
	frcd(&f, 1, &lo, &hi);
	assert_int_equal(hi & 0xFFFF, 0x0301);
	assert_int_equal(lo >> SIM_VTD_FRCD_LO_FI_SHIFT, 11);
	/* Service both (F is write-1-to-clear); PPF drops. */
	clear_frcd(&f, 0);
	assert_int_equal(rd32(&f, SIM_VTD_FSTS), SIM_VTD_FSTS_PPF | 1u << SIM_VTD_FSTS_FRI_SHIFT);
	clear_frcd(&f, 1);
	assert_int_equal(rd32(&f, SIM_VTD_FSTS), 0);
	/* The next fault goes to record 2 and raises a new event. */
	msg(&f, 0x0302, sim_vtd_msi_addr(12, false), 0);
	assert_int_equal(f.idt.count[1][0x7E], 2);
	assert_int_equal(rd32(&f, SIM_VTD_FSTS), SIM_VTD_FSTS_PPF | 2u << SIM_VTD_FSTS_FRI_SHIFT);
	/* Fill records 3, 0, 1; the next one overflows: PFO and an event; then lost. */
	for (unsigned int i = 0; i < 3; i++)
		msg(&f, 0x0303, sim_vtd_msi_addr(13, false), 0);
	assert_int_equal(stats(&f).faults_recorded, 6);
	assert_int_equal(f.idt.count[1][0x7E], 2);
	msg(&f, 0x0304, sim_vtd_msi_addr(14, false), 0);
	assert_true(rd32(&f, SIM_VTD_FSTS) & SIM_VTD_FSTS_PFO);
	assert_int_equal(f.idt.count[1][0x7E], 3);
	msg(&f, 0x0305, sim_vtd_msi_addr(15, false), 0);
	assert_int_equal(stats(&f).faults_lost, 2);
	assert_int_equal(stats(&f).blocked, 8);
	assert_int_equal(f.idt.total, 3);	/* only fault events reached a CPU */
	for (unsigned int r = 0; r < 4; r++)
		clear_frcd(&f, r);
	wr32(&f, SIM_VTD_FSTS, SIM_VTD_FSTS_PFO);
	assert_int_equal(rd32(&f, SIM_VTD_FSTS), 0);

	/* Masked: IP instead of a message; unmasking sends it. */
	wr32(&f, SIM_VTD_FECTL, SIM_VTD_FECTL_IM);
	msg(&f, 0x0306, sim_vtd_msi_addr(16, false), 0);
	assert_int_equal(rd32(&f, SIM_VTD_FECTL), SIM_VTD_FECTL_IM | SIM_VTD_FECTL_IP);
	assert_int_equal(f.idt.count[1][0x7E], 3);
	wr32(&f, SIM_VTD_FECTL, 0);
	sim_run_until_idle(f.m);
	assert_int_equal(rd32(&f, SIM_VTD_FECTL), 0);
	assert_int_equal(f.idt.count[1][0x7E], 4);
	/* Masked, then serviced before unmasking: IP clears, nothing is sent. */
	for (unsigned int r = 0; r < 4; r++)
		clear_frcd(&f, r);
	wr32(&f, SIM_VTD_FECTL, SIM_VTD_FECTL_IM);
	msg(&f, 0x0307, sim_vtd_msi_addr(17, false), 0);
	assert_true(rd32(&f, SIM_VTD_FECTL) & SIM_VTD_FECTL_IP);
	for (unsigned int r = 0; r < 4; r++)
		clear_frcd(&f, r);
	assert_int_equal(rd32(&f, SIM_VTD_FECTL), SIM_VTD_FECTL_IM);
	wr32(&f, SIM_VTD_FECTL, 0);
	sim_run_until_idle(f.m);
	assert_int_equal(f.idt.count[1][0x7E], 4);
	assert_int_equal(stats(&f).fault_events, 4);
	fx_down(&f);
}

/* ---- Interrupt entry cache ------------------------------------------------------- */

static void test_entry_cache(void **state)
{
	uint64_t lo, hi;
	struct fx f;

	fx_up(&f, NULL);
	enable(&f, TBASE, S_256);
	set_irte(&f, TBASE, 7, irte_lo(0x50, 0), 0);
	msg(&f, 0x0100, sim_vtd_msi_addr(7, false), 0);
	assert_int_equal(f.idt.count[0][0x50], 1);
	assert_int_equal(stats(&f).cache_misses, 1);
	assert_true(sim_vtd_cached(f.u, 7, &lo, &hi));
	assert_int_equal(lo, irte_lo(0x50, 0));

	/* Retarget in memory and forget to invalidate: the old translation stays. */
	set_irte(&f, TBASE, 7, irte_lo(0x51, 1), 0);
	msg(&f, 0x0100, sim_vtd_msi_addr(7, false), 0);
	assert_int_equal(f.idt.count[0][0x50], 2);
	assert_int_equal(f.idt.count[1][0x51], 0);
	assert_int_equal(stats(&f).stale_hits, 1);
	/* Neither time nor a new SIRTP refreshes it. */
	sim_run_until_idle(f.m);
	gcmd(&f, SIM_VTD_GCMD_SIRTP, true);
	msg(&f, 0x0100, sim_vtd_msi_addr(7, false), 0);
	assert_int_equal(f.idt.count[0][0x50], 3);
	/* An index-selective invalidation of another index does not either. */
	iec_index(&f, 6, 0);
	msg(&f, 0x0100, sim_vtd_msi_addr(7, false), 0);
	assert_int_equal(f.idt.count[0][0x50], 4);
	/* Index 4 with mask 2 covers 4..7: refreshed. */
	iec_index(&f, 4, 2);
	msg(&f, 0x0100, sim_vtd_msi_addr(7, false), 0);
	assert_int_equal(f.idt.count[1][0x51], 1);
	/* Global invalidation refreshes too. */
	set_irte(&f, TBASE, 7, irte_lo(0x52, 2), 0);
	msg(&f, 0x0100, sim_vtd_msi_addr(7, false), 0);
	assert_int_equal(f.idt.count[1][0x51], 2);
	iec_global(&f);
	msg(&f, 0x0100, sim_vtd_msi_addr(7, false), 0);
	assert_int_equal(f.idt.count[2][0x52], 1);
	/* Clearing Present without invalidating keeps delivering (stale). */
	set_irte(&f, TBASE, 7, 0, 0);
	msg(&f, 0x0100, sim_vtd_msi_addr(7, false), 0);
	assert_int_equal(f.idt.count[2][0x52], 2);
	iec_index(&f, 7, 0);
	msg(&f, 0x0100, sim_vtd_msi_addr(7, false), 0);
	assert_int_equal(f.idt.count[2][0x52], 2);
	assert_int_equal(blocked(&f, SIM_VTD_FR_NOT_PRESENT), 1);
	/* Non-present entries are not cached: making one present needs no invalidation. */
	set_irte(&f, TBASE, 7, irte_lo(0x53, 3), 0);
	msg(&f, 0x0100, sim_vtd_msi_addr(7, false), 0);
	assert_int_equal(f.idt.count[3][0x53], 1);
	assert_int_equal(stats(&f).stale_hits, 5);
	fx_down(&f);
}

/* ---- Queued invalidation ---------------------------------------------------------- */

static void test_wait_and_completion(void **state)
{
	struct sim_vtd_config c = { .qi_delay = 5 };
	struct fx f;
	uint32_t seq;

	fx_up(&f, &c);
	wr64(&f, SIM_VTD_IQA, QBASE);
	gcmd(&f, SIM_VTD_GCMD_QIE, true);
	/* Processed qi_delay ticks after the tail write, not in it. */
	seq = submit_wait(&f);
	assert_int_not_equal(status(&f), seq);
	assert_int_equal(rd64(&f, SIM_VTD_IQH), 0);
	sim_run_until_idle(f.m);
	assert_int_equal(status(&f), seq);
	assert_int_equal(rd64(&f, SIM_VTD_IQH), 16);
	/* IF: IWC and the completion event (masked after reset). */
	wr32(&f, SIM_VTD_IEDATA, 0x6A);
	wr32(&f, SIM_VTD_IEADDR, 0xFEE02000);
	submit(&f, SIM_VTD_DESC_WAIT | SIM_VTD_WAIT_IF, 0);
	sim_run_until_idle(f.m);
	assert_int_equal(rd32(&f, SIM_VTD_ICS), SIM_VTD_ICS_IWC);
	assert_int_equal(rd32(&f, SIM_VTD_IECTL), SIM_VTD_FECTL_IM | SIM_VTD_FECTL_IP);
	assert_int_equal(f.idt.count[2][0x6A], 0);
	wr32(&f, SIM_VTD_IECTL, 0);
	sim_run_until_idle(f.m);
	assert_int_equal(f.idt.count[2][0x6A], 1);
	wr32(&f, SIM_VTD_ICS, SIM_VTD_ICS_IWC);
	submit(&f, SIM_VTD_DESC_WAIT | SIM_VTD_WAIT_IF, 0);
	sim_run_until_idle(f.m);
	assert_int_equal(f.idt.count[2][0x6A], 2);
	assert_int_equal(stats(&f).completion_events, 2);
	/* Queue wraps: 256 descriptors later we are back at slot 0. */
	for (unsigned int i = 0; i < 300; i++) {
		seq = submit_wait(&f);
		sim_run_until_idle(f.m);
		assert_int_equal(status(&f), seq);
	}
	assert_int_equal(rd64(&f, SIM_VTD_IQH), f.tail);
	fx_down(&f);
}

static void test_queue_errors(void **state)
{
	struct sim_vtd_config c = { .mhmv_given = true, .mhmv = 2 };
	struct fx f;
	uint32_t seq;

	fx_up(&f, &c);
	wr32(&f, SIM_VTD_FEDATA, 0x7D);
	wr32(&f, SIM_VTD_FEADDR, 0xFEE00000);
	wr32(&f, SIM_VTD_FECTL, 0);
	enable(&f, TBASE, S_256);
	/* An unknown type stops the queue at the bad descriptor. */
	submit(&f, 9, 0);
	seq = submit_wait(&f);
	assert_true(rd32(&f, SIM_VTD_FSTS) & SIM_VTD_FSTS_IQE);
	assert_int_equal(rd64(&f, SIM_VTD_IQERCD) & 0xF, 3);
	assert_int_equal(rd64(&f, SIM_VTD_IQH), f.tail - 32);
	assert_int_not_equal(status(&f), seq);
	sim_run_until_idle(f.m);
	assert_int_equal(f.idt.count[0][0x7D], 1);
	/* Software replaces it with a harmless descriptor and clears IQE: it goes on. */
	mem64(&f, QBASE + f.tail - 32, SIM_VTD_DESC_WAIT);
	wr32(&f, SIM_VTD_FSTS, SIM_VTD_FSTS_IQE);
	assert_int_equal(status(&f), seq);
	assert_int_equal(rd64(&f, SIM_VTD_IQH), f.tail);
	/* An index mask beyond MHMV, or reserved bits: IQE (reserved field). */
	iec_index(&f, 0, 3);
	assert_int_equal(rd64(&f, SIM_VTD_IQERCD) & 0xF, 4);
	mem64(&f, QBASE + f.tail - 16, SIM_VTD_DESC_IEC | SIM_VTD_IEC_G_INDEX |
				       2ull << SIM_VTD_IEC_IM_SHIFT);
	wr32(&f, SIM_VTD_FSTS, SIM_VTD_FSTS_IQE);
	submit(&f, SIM_VTD_DESC_WAIT | 1ull << 8, 0);
	assert_int_equal(rd64(&f, SIM_VTD_IQERCD) & 0xF, 4);
	assert_int_equal(stats(&f).queue_errors, 3);
	assert_int_equal(stats(&f).iec_selective, 1);
	fx_down(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_registers),
		cmocka_unit_test(test_command_protocol),
		cmocka_unit_test(test_ir_off_passes_through),
		cmocka_unit_test(test_remappable_decode),
		cmocka_unit_test(test_handle_bit15),
		cmocka_unit_test(test_fault_reasons),
		cmocka_unit_test(test_compat_and_cfi),
		cmocka_unit_test(test_source_id_validation),
		cmocka_unit_test(test_fault_processing_disable),
		cmocka_unit_test(test_fault_log_and_event),
		cmocka_unit_test(test_entry_cache),
		cmocka_unit_test(test_wait_and_completion),
		cmocka_unit_test(test_queue_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

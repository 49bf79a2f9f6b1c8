// SPDX-License-Identifier: BSD-2-Clause
/*
 * The simulated ITS-style translation service, driven through its frame and
 * memory only: command queue (MAPD/MAPC/MAPTI/MAPI/MOVI/INV/INVALL/SYNC/
 * DISCARD/INT/CLEAR), translation of doorbell writes tagged with the
 * requester id, the enable bit as the mask with a cached copy only INV/INVALL
 * refresh (a missing INV keeps the old state and counts stale hits),
 * pending state kept while masked and notified once on enable, MOVI moving
 * delivery (and pending state), unmapped devices and events dropped and
 * counted, bad commands skipped and recorded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim_its.h"
#include "sim_test.h"

#define BASE SIM_ITS_DEFAULT_BASE
#define QBASE 0x10000ull	/* command queue, one page (128 commands) */
#define PROP 0x20000ull		/* LPI configuration table (id bits 14: 8192 bytes) */
#define ITT 0x30000ull
#define VEC 0x40		/* notification vector */
#define RID 0x0318		/* 03:03.0 */

struct fx {
	struct sim_machine *m;
	struct sim_its *its;
	struct sim_test_idt idt;
	uint64_t tail;
};

static void wr64(struct fx *f, uint32_t off, uint64_t v)
{
	sim_cpu_write(f->m, 0, BASE + off, v, 8);
}

static uint64_t rd64(struct fx *f, uint32_t off)
{
	return sim_cpu_read(f->m, 0, BASE + off, 8);
}

static void wr32(struct fx *f, uint32_t off, uint32_t v)
{
	sim_cpu_write(f->m, 0, BASE + off, v, 4);
}

static uint32_t rd32(struct fx *f, uint32_t off)
{
	return (uint32_t)sim_cpu_read(f->m, 0, BASE + off, 4);
}

static void cmd(struct fx *f, uint64_t dw0, uint64_t dw1, uint64_t dw2)
{
	sim_dma_write(f->m, QBASE + f->tail, dw0, 8);
	sim_dma_write(f->m, QBASE + f->tail + 8, dw1, 8);
	sim_dma_write(f->m, QBASE + f->tail + 16, dw2, 8);
	sim_dma_write(f->m, QBASE + f->tail + 24, 0, 8);
	f->tail = (f->tail + 32) % 4096;
	wr64(f, SIM_ITS_CWRITER, f->tail);
	assert_int_equal(rd64(f, SIM_ITS_CREADR), f->tail);
}

static void mapd(struct fx *f, uint32_t dev, unsigned int bits, uint64_t itt, bool valid)
{
	cmd(f, SIM_ITS_CMD_MAPD | (uint64_t)dev << 32, bits - 1, itt | (uint64_t)valid << 63);
}

static void mapc(struct fx *f, unsigned int icid, unsigned int cpu)
{
	cmd(f, SIM_ITS_CMD_MAPC, 0, icid | (uint64_t)cpu << 16 | 1ull << 63);
}

static void mapti(struct fx *f, uint32_t dev, uint32_t ev, uint32_t lpi, unsigned int icid)
{
	cmd(f, SIM_ITS_CMD_MAPTI | (uint64_t)dev << 32, ev | (uint64_t)lpi << 32, icid);
}

static void ev_cmd(struct fx *f, unsigned int op, uint32_t dev, uint32_t ev, unsigned int icid)
{
	cmd(f, op | (uint64_t)dev << 32, ev, icid);
}

static void set_enable(struct fx *f, uint32_t lpi, bool on)
{
	sim_dma_write(f->m, PROP + lpi - SIM_ITS_LPI_BASE, on ? 0xA1 : 0xA0, 1);
}

static void fx_up(struct fx *f)
{
	struct sim_config cfg = { .nr_cpus = 4, .seed = 5, .ram_size = 1u << 20 };

	memset(f, 0, sizeof(*f));
	f->m = sim_create(&cfg);
	assert_non_null(f->m);
	sim_test_idt_install(f->m, &f->idt);
	sim_test_enable_lapics(f->m);
	f->its = sim_its_create(f->m, NULL);
	assert_non_null(f->its);
	wr64(f, SIM_ITS_CBASER, QBASE | 1ull << 63);
	wr64(f, SIM_ITS_PROPBASER, PROP | (14 - 1));
	for (unsigned int c = 0; c < 4; c++) {
		uint32_t off = SIM_ITS_CPU_BASE + c * SIM_ITS_CPU_STRIDE;

		wr32(f, off + SIM_ITS_NOTIFY_ADDR, (uint32_t)sim_test_msi_addr(c, false));
		wr32(f, off + SIM_ITS_NOTIFY_DATA, sim_test_msi_data(VEC, false, false));
		wr32(f, off + SIM_ITS_NOTIFY_CTRL, 1);
		mapc(f, c, c);
	}
	wr32(f, SIM_ITS_CTLR, 1);
}

static void doorbell(struct fx *f, uint16_t rid, uint32_t ev)
{
	sim_dma_write32(f->m, rid, BASE + SIM_ITS_TRANSLATER, ev);
	sim_run_until_idle(f->m);
}

static uint32_t iar(struct fx *f, unsigned int cpu)
{
	return rd32(f, SIM_ITS_CPU_BASE + cpu * SIM_ITS_CPU_STRIDE + SIM_ITS_IAR);
}

static void test_translate_and_mask(void **state)
{
	struct sim_its_stats st;
	struct fx f;
	uint32_t lpi;
	unsigned int icid, bits;

	(void)state;
	fx_up(&f);
	assert_int_equal(rd64(&f, SIM_ITS_TYPER) & 0x1F, SIM_ITS_EVENT_BITS - 1);
	mapd(&f, RID, 3, ITT, true);
	assert_true(sim_its_device(f.its, RID, NULL, &bits));
	assert_int_equal(bits, 3);
	mapti(&f, RID, 5, 8200, 2);
	assert_true(sim_its_event(f.its, RID, 5, &lpi, &icid));
	assert_int_equal(lpi, 8200);
	assert_int_equal(icid, 2);

	/* Disabled in the cached configuration: pending, no notification. */
	doorbell(&f, RID, 5);
	assert_true(sim_its_lpi_pending(f.its, 8200));
	assert_int_equal(f.idt.count[2][VEC], 0);
	assert_int_equal(iar(&f, 2), SIM_ITS_LPI_NONE);

	/* Enabled in memory but not invalidated: still masked, stale hit counted. */
	set_enable(&f, 8200, true);
	doorbell(&f, RID, 5);
	sim_its_get_stats(f.its, &st);
	assert_int_equal(st.coalesced, 1);
	assert_int_equal(st.stale_hits, 1);
	assert_int_equal(f.idt.count[2][VEC], 0);

	/* INV: the pending LPI is notified exactly once, on CPU 2. */
	ev_cmd(&f, SIM_ITS_CMD_INV, RID, 5, 0);
	sim_run_until_idle(f.m);
	assert_int_equal(f.idt.count[2][VEC], 1);
	assert_int_equal(iar(&f, 1), SIM_ITS_LPI_NONE);
	assert_int_equal(iar(&f, 2), 8200);
	assert_int_equal(iar(&f, 2), SIM_ITS_LPI_NONE);

	/* Enabled: each doorbell write notifies. */
	doorbell(&f, RID, 5);
	assert_int_equal(f.idt.count[2][VEC], 2);
	assert_int_equal(iar(&f, 2), 8200);

	/* Mask again via INVALL on the collection. */
	set_enable(&f, 8200, false);
	cmd(&f, SIM_ITS_CMD_INVALL, 0, 2);
	doorbell(&f, RID, 5);
	assert_int_equal(f.idt.count[2][VEC], 2);
	assert_false(sim_its_lpi_cached_enabled(f.its, 8200));
	sim_destroy(f.m);
}

static void test_movi_and_discard(void **state)
{
	unsigned int icid;
	struct fx f;

	(void)state;
	fx_up(&f);
	mapd(&f, RID, 4, ITT, true);
	mapti(&f, RID, 0, 9000, 0);
	set_enable(&f, 9000, true);
	ev_cmd(&f, SIM_ITS_CMD_INV, RID, 0, 0);
	doorbell(&f, RID, 0);
	assert_int_equal(f.idt.count[0][VEC], 1);
	assert_int_equal(iar(&f, 0), 9000);

	/* Pending state follows MOVI: notified on the new CPU. */
	set_enable(&f, 9000, false);
	ev_cmd(&f, SIM_ITS_CMD_INV, RID, 0, 0);
	doorbell(&f, RID, 0);
	ev_cmd(&f, SIM_ITS_CMD_MOVI, RID, 0, 3);
	assert_true(sim_its_event(f.its, RID, 0, NULL, &icid));
	assert_int_equal(icid, 3);
	set_enable(&f, 9000, true);
	ev_cmd(&f, SIM_ITS_CMD_INV, RID, 0, 0);
	sim_run_until_idle(f.m);
	assert_int_equal(f.idt.count[3][VEC], 1);
	assert_int_equal(iar(&f, 0), SIM_ITS_LPI_NONE);
	assert_int_equal(iar(&f, 3), 9000);

	/* INT makes it pending (retrigger); CLEAR withdraws a masked one. */
	ev_cmd(&f, SIM_ITS_CMD_INT, RID, 0, 0);
	sim_run_until_idle(f.m);
	assert_int_equal(f.idt.count[3][VEC], 2);
	assert_int_equal(iar(&f, 3), 9000);

	/* DISCARD: unmapped, pending dropped; later writes are counted drops. */
	ev_cmd(&f, SIM_ITS_CMD_DISCARD, RID, 0, 0);
	assert_false(sim_its_event(f.its, RID, 0, NULL, NULL));
	doorbell(&f, RID, 0);
	{
		struct sim_its_stats st;

		sim_its_get_stats(f.its, &st);
		assert_int_equal(st.dropped_unmapped_event, 1);
		assert_int_equal(st.movis, 1);
	}
	sim_destroy(f.m);
}

static void test_drops_and_bad_commands(void **state)
{
	struct sim_its_stats st;
	struct fx f;

	(void)state;
	fx_up(&f);
	mapd(&f, RID, 2, ITT, true);
	mapti(&f, RID, 1, 8192, 1);
	set_enable(&f, 8192, true);
	ev_cmd(&f, SIM_ITS_CMD_INV, RID, 1, 0);
	/* Another requester id (not mapped): dropped, whatever the event. */
	doorbell(&f, RID + 1, 1);
	/* Beyond the ITT (4 events). */
	doorbell(&f, RID, 4);
	/* ITS disabled. */
	wr32(&f, SIM_ITS_CTLR, 0);
	doorbell(&f, RID, 1);
	wr32(&f, SIM_ITS_CTLR, 1);
	sim_its_get_stats(f.its, &st);
	assert_int_equal(st.dropped_unmapped_device, 1);
	assert_int_equal(st.dropped_event_range, 1);
	assert_int_equal(st.dropped_disabled, 1);
	assert_int_equal(st.translations, 0);
	assert_int_equal(f.idt.total, 0);

	/* A CPU write to the doorbell has no requester id: ignored. */
	wr32(&f, SIM_ITS_TRANSLATER, 1);
	sim_run_until_idle(f.m);
	assert_int_equal(f.idt.total, 0);

	/* Bad commands: skipped, recorded; the queue goes on. */
	mapti(&f, RID + 1, 0, 8193, 0);         /* device not mapped */
	assert_int_equal(rd32(&f, SIM_ITS_ERR), SIM_ITS_CMD_MAPTI << 8 | 1);
	mapti(&f, RID, 9, 8193, 0);             /* event beyond the ITT */
	mapti(&f, RID, 0, 100, 0);              /* not an LPI */
	mapti(&f, RID, 0, 8193, 64);            /* no such collection */
	cmd(&f, 0x77, 0, 0);                    /* unknown */
	cmd(&f, SIM_ITS_CMD_SYNC, 0, 1ull << 16);
	sim_its_get_stats(f.its, &st);
	assert_int_equal(st.cmd_errors, 5);
	assert_int_equal(st.syncs, 1);
	assert_false(sim_its_event(f.its, RID, 0, NULL, NULL));

	/* MAPI: LPI id = event id. */
	cmd(&f, SIM_ITS_CMD_MAPD | (uint64_t)0x42 << 32, 13, (ITT + 0x1000) | 1ull << 63);
	cmd(&f, SIM_ITS_CMD_MAPI | (uint64_t)0x42 << 32, 8300, 1);
	set_enable(&f, 8300, true);
	ev_cmd(&f, SIM_ITS_CMD_INV, 0x42, 8300, 0);
	doorbell(&f, 0x42, 8300);
	assert_int_equal(f.idt.count[1][VEC], 1);
	assert_int_equal(iar(&f, 1), 8300);

	/* MAPD V=0 unmaps: the device's writes are dropped again. */
	mapd(&f, RID, 2, ITT, false);
	doorbell(&f, RID, 1);
	sim_its_get_stats(f.its, &st);
	assert_int_equal(st.dropped_unmapped_device, 2);
	sim_destroy(f.m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_translate_and_mask),
		cmocka_unit_test(test_movi_and_discard),
		cmocka_unit_test(test_drops_and_bad_commands),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

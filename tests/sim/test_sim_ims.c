// SPDX-License-Identifier: BSD-2-Clause
/*
 * The simulated IMS devices: (a) a slot array in a BAR (mask, pending,
 * PASID, torn writes, FIRE register), (b) an IDXD-like store updated
 * through a command ring (updates invisible until the command runs,
 * completion by register, record and interrupt, errors, pause, queues,
 * unplug with commands outstanding).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim_ims.h"
#include "sim_test.h"

#define ECAM 0xE0000000ull
#define S_BAR0 0xC0000000ull
#define S_BAR2 0xC0100000ull
#define Q_BAR0 0xC0200000ull
#define Q_BAR2 0xC0300000ull
#define S_BDF SIM_PCI_BDF(0, 4, 0)
#define Q_BDF SIM_PCI_BDF(0, 5, 0)
#define ON (SIM_PCI_COMMAND_MEMORY | SIM_PCI_COMMAND_MASTER)

static struct sim_test_idt idt;

static struct sim_machine *machine(bool threaded)
{
	struct sim_machine *m = sim_test_machine(4, NULL, 5, threaded, 0);

	assert_non_null(m);
	memset(&idt, 0, sizeof(idt));
	idt.no_log = threaded;
	sim_test_idt_install(m, &idt);
	sim_test_enable_lapics(m);
	return m;
}

static uint32_t rd(struct sim_machine *m, uint64_t pa)
{
	return (uint32_t)sim_cpu_read(m, 0, pa, 4);
}

static void wr(struct sim_machine *m, uint64_t pa, uint32_t v)
{
	sim_cpu_write(m, 0, pa, v, 4);
}

static uint32_t cfg_read(struct sim_machine *m, uint16_t bdf, uint16_t off, unsigned int size)
{
	uint32_t v = 0;

	assert_int_equal(sim_pci_cfg_read(m, 0, bdf, off, size, &v), 0);
	return v;
}

/* ---- (a) slot array ----------------------------------------------------------------- */

static struct sim_ims_slots *slots_dev(struct sim_machine *m, unsigned int nr, uint16_t command)
{
	struct sim_pci_bus *bus = sim_pci_bus_create(m, 0, ECAM, 1);
	struct sim_ims_slots_config c = {
		.nr_slots = nr, .bar0_addr = S_BAR0, .bar2_addr = S_BAR2, .command = command,
	};
	struct sim_ims_slots *dev;

	assert_non_null(bus);
	dev = sim_ims_slots_create(bus, S_BDF, &c);
	assert_non_null(dev);
	return dev;
}

#define SLOT(n, reg) (S_BAR0 + SIM_IMS_SLOTS_ARRAY + (n) * SIM_IMS_SLOT_SIZE + (reg))

static void slot_program(struct sim_machine *m, unsigned int n, uint64_t addr, uint32_t data)
{
	wr(m, SLOT(n, SIM_IMS_SLOT_ADDR_LO), (uint32_t)addr);
	wr(m, SLOT(n, SIM_IMS_SLOT_ADDR_HI), (uint32_t)(addr >> 32));
	wr(m, SLOT(n, SIM_IMS_SLOT_DATA), data);
}

static void test_slots_identity(void **state)
{
	struct sim_machine *m = machine(false);
	struct sim_ims_slots *dev = slots_dev(m, 100, 0);
	struct sim_pci_dev *pci = sim_ims_slots_pci(dev);
	unsigned int cap = sim_pci_dev_msix_cap(pci);

	assert_int_equal(cfg_read(m, S_BDF, SIM_PCI_VENDOR_ID, 4),
			 SIM_PCI_DEVICE_IMS_SLOTS << 16 | SIM_PCI_VENDOR_SIM);
	assert_int_equal(cfg_read(m, S_BDF, SIM_PCI_REVISION_ID, 4) >> 8, 0x088000);
	assert_int_not_equal(cap, 0);
	assert_int_equal(cfg_read(m, S_BDF, (uint16_t)(cap + 2), 2), 1);	/* 2 entries */
	assert_int_equal(cfg_read(m, S_BDF, (uint16_t)(cap + 4), 4), SIM_IMS_MSIX_TABLE | 2);
	assert_int_equal(cfg_read(m, S_BDF, (uint16_t)(cap + 8), 4), SIM_IMS_MSIX_PBA | 2);
	assert_int_equal(cfg_read(m, S_BDF, 0x10, 4), (uint32_t)S_BAR0 | 4);
	assert_int_equal(sim_ims_slots_bar0_size(100), 0x2000);
	assert_int_equal(sim_ims_slots_bar0_size(4096), 0x20000);
	/* Memory decode off out of reset. */
	assert_int_equal(rd(m, S_BAR0), 0xFFFFFFFF);
	sim_pci_cfg_write(m, 0, S_BDF, SIM_PCI_COMMAND, 2, ON);
	assert_int_equal(rd(m, S_BAR0 + SIM_IMS_SLOTS_CAP), 100 | 1u << 16);
	assert_int_equal(rd(m, SLOT(99, SIM_IMS_SLOT_CTRL)), SIM_IMS_CTRL_MASK);
	assert_int_equal(rd(m, SLOT(100, SIM_IMS_SLOT_CTRL)), 0);	/* beyond: reads 0 */
	/* The function's own MSI-X works next to the slots. */
	wr(m, S_BAR2 + 0, (uint32_t)sim_test_msi_addr(1, false));
	wr(m, S_BAR2 + 8, 0x33);
	wr(m, S_BAR2 + 0xC, 0);
	sim_pci_cfg_write(m, 0, S_BDF, (uint16_t)(cap + 2), 2, SIM_PCI_MSIX_FLAGS_ENABLE);
	sim_pci_dev_raise(pci, 0);
	assert_true(sim_lapic_irr_test(m, 1, 0x33));
	/* Bad configurations. */
	struct sim_ims_slots_config bad = { .nr_slots = 0, .bar0_addr = 0xC1000000,
					    .bar2_addr = 0xC1100000 };
	struct sim_pci_bus *bus = sim_pci_dev_bus(pci);

	assert_null(sim_ims_slots_create(bus, SIM_PCI_BDF(0, 6, 0), &bad));
	bad.nr_slots = SIM_IMS_SLOTS_MAX + 1;
	assert_null(sim_ims_slots_create(bus, SIM_PCI_BDF(0, 6, 0), &bad));
	bad.nr_slots = 1;
	bad.bar0_addr = 0xC1000800;	/* misaligned */
	assert_null(sim_ims_slots_create(bus, SIM_PCI_BDF(0, 6, 0), &bad));
	bad.bar0_addr = 0xC1000000;
	assert_null(sim_ims_slots_create(bus, S_BDF, &bad));	/* occupied */
	sim_destroy(m);
}

static void test_slots_mask_pending_pasid(void **state)
{
	struct sim_machine *m = machine(false);
	struct sim_ims_slots *dev = slots_dev(m, 8, ON);
	struct sim_ims_slot s;
	struct sim_ims_stats st;

	slot_program(m, 3, sim_test_msi_addr(2, false), 0x52);
	assert_int_equal(rd(m, SLOT(3, SIM_IMS_SLOT_ADDR_LO)), 0xFEE02000);
	/* Masked out of reset: fires set PENDING once. */
	sim_ims_slots_fire(dev, 3);
	sim_ims_slots_fire(dev, 3);
	assert_int_equal(rd(m, SLOT(3, SIM_IMS_SLOT_CTRL)), SIM_IMS_CTRL_MASK | SIM_IMS_CTRL_PENDING);
	/* PENDING is read-only; PASID fields are rw. */
	wr(m, SLOT(3, SIM_IMS_SLOT_CTRL), SIM_IMS_CTRL_MASK | SIM_IMS_CTRL_PASID_EN | 0x77u << 12 | 0xF4);
	assert_int_equal(rd(m, SLOT(3, SIM_IMS_SLOT_CTRL)),
			 SIM_IMS_CTRL_MASK | SIM_IMS_CTRL_PENDING | SIM_IMS_CTRL_PASID_EN | 0x77u << 12);
	sim_ims_slots_stats(dev, &st);
	assert_int_equal(st.sent, 0);
	assert_int_equal(st.pending_set, 2);
	/* Unmask: sent once with the PASID recorded. */
	wr(m, SLOT(3, SIM_IMS_SLOT_CTRL), SIM_IMS_CTRL_PASID_EN | 0x77u << 12);
	wr(m, SLOT(3, SIM_IMS_SLOT_CTRL), SIM_IMS_CTRL_PASID_EN | 0x77u << 12);
	assert_true(sim_ims_slots_slot(dev, 3, &s));
	assert_int_equal(s.stats.sent, 1);
	assert_int_equal(s.ctrl, SIM_IMS_CTRL_PASID_EN | 0x77u << 12);
	assert_true(s.last_pasid_en);
	assert_int_equal(s.last_pasid, 0x77);
	assert_int_equal(s.last_addr, 0xFEE02000);
	assert_true(sim_lapic_irr_test(m, 2, 0x52));
	sim_run_until_idle(m);
	/* Unmasked: fire sends at once; through the FIRE register too. */
	sim_ims_slots_fire(dev, 3);
	sim_run_until_idle(m);
	wr(m, S_BAR0 + SIM_IMS_SLOTS_FIRE, 3);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[2][0x52], 3);
	/* Out of range. */
	sim_ims_slots_fire(dev, 8);
	assert_false(sim_ims_slots_slot(dev, 8, &s));
	sim_ims_slots_stats(dev, &st);
	assert_int_equal(st.dropped_absent, 1);
	assert_int_equal(st.fired, 5);
	assert_int_equal(st.sent, 3);
	/* Without bus master: dropped. */
	sim_pci_cfg_write(m, 0, S_BDF, SIM_PCI_COMMAND, 2, SIM_PCI_COMMAND_MEMORY);
	sim_ims_slots_fire(dev, 3);
	sim_ims_slots_stats(dev, &st);
	assert_int_equal(st.dropped_no_bus_master, 1);
	assert_int_equal(st.sent, 3);
	sim_destroy(m);
}

static void test_slots_torn_and_access_sizes(void **state)
{
	struct sim_machine *m = machine(false);
	struct sim_ims_slots *dev = slots_dev(m, 4, ON);
	struct sim_ims_slot s;

	slot_program(m, 0, 0x1000, 0xAA);
	wr(m, SLOT(0, SIM_IMS_SLOT_CTRL), 0);
	sim_ims_slots_fire(dev, 0);
	assert_int_equal(rd(m, 0x1000), 0xAA);
	/* Half-updated: new address, old data. */
	wr(m, SLOT(0, SIM_IMS_SLOT_ADDR_LO), 0x2000);
	sim_ims_slots_fire(dev, 0);
	assert_int_equal(rd(m, 0x2000), 0xAA);
	wr(m, SLOT(0, SIM_IMS_SLOT_DATA), 0xBB);
	sim_ims_slots_fire(dev, 0);
	assert_int_equal(rd(m, 0x2000), 0xBB);
	/* 8-byte ADDR access; bits 1:0 ro 0; other sizes refused. */
	sim_cpu_write(m, 0, SLOT(1, 0), 0x0000000100003003ull, 8);
	assert_int_equal(sim_cpu_read(m, 0, SLOT(1, 0), 8), 0x0000000100003000ull);
	assert_int_equal(sim_cpu_read(m, 0, SLOT(1, 8), 8), ~0ull);
	assert_int_equal(sim_cpu_read(m, 0, SLOT(1, 8), 2), 0xFFFF);
	sim_cpu_write(m, 0, SLOT(1, 8), 0x1234, 2);
	assert_true(sim_ims_slots_slot(dev, 1, &s));
	assert_int_equal(s.data, 0);
	assert_int_equal(s.addr_hi, 1);
	sim_destroy(m);
}

/* ---- (b) queue-updated store ------------------------------------------------------------ */

struct desc {
	uint32_t op, slot, addr_lo, addr_hi, data, pasid, compl_lo, compl_hi, cookie;
};

static struct sim_ims_queue *queue_dev(struct sim_machine *m, unsigned int nr_slots,
				       unsigned int nr_queues, unsigned int ring_log2,
				       uint64_t delay)
{
	struct sim_pci_bus *bus = sim_pci_bus_create(m, 0, ECAM, 1);
	struct sim_ims_queue_config c = {
		.nr_slots = nr_slots, .nr_queues = nr_queues, .ring_log2 = ring_log2,
		.cmd_delay = delay, .bar0_addr = Q_BAR0, .bar2_addr = Q_BAR2, .command = ON,
	};
	struct sim_ims_queue *dev;

	assert_non_null(bus);
	dev = sim_ims_queue_create(bus, Q_BDF, &c);
	assert_non_null(dev);
	return dev;
}

static unsigned int ring_entries(struct sim_machine *m)
{
	return 1u << (rd(m, Q_BAR0 + SIM_IMSQ_CAP) >> 24 & 0xF);
}

/* Write a descriptor at TAIL and advance TAIL (the doorbell) unless @no_doorbell. */
static uint32_t submit(struct sim_machine *m, const struct desc *d, bool no_doorbell)
{
	uint32_t tail = rd(m, Q_BAR0 + SIM_IMSQ_RING_TAIL);
	uint64_t p = Q_BAR0 + SIM_IMSQ_RING + (uint64_t)tail * SIM_IMSQ_DESC_SIZE;
	const uint32_t words[9] = { d->op, d->slot, d->addr_lo, d->addr_hi, d->data, d->pasid,
				    d->compl_lo, d->compl_hi, d->cookie };

	for (unsigned int i = 0; i < 9; i++)
		wr(m, p + 4 * i, words[i]);
	if (!no_doorbell)
		wr(m, Q_BAR0 + SIM_IMSQ_RING_TAIL, (tail + 1) & (ring_entries(m) - 1));
	return tail;
}

static void query(struct sim_machine *m, unsigned int slot, uint32_t out[4])
{
	wr(m, Q_BAR0 + SIM_IMSQ_QUERY_INDEX, slot);
	out[0] = rd(m, Q_BAR0 + SIM_IMSQ_QUERY_ADDR_LO);
	out[1] = rd(m, Q_BAR0 + SIM_IMSQ_QUERY_ADDR_HI);
	out[2] = rd(m, Q_BAR0 + SIM_IMSQ_QUERY_DATA);
	out[3] = rd(m, Q_BAR0 + SIM_IMSQ_QUERY_CTRL);
}

static void test_queue_update_visible_after_completion(void **state)
{
	struct sim_machine *m = machine(false);
	struct sim_ims_queue *dev = queue_dev(m, 0, 4, 0, 50);
	struct sim_pci_dev *pci = sim_ims_queue_pci(dev);
	uint32_t q[4];
	struct sim_ims_stats st;

	assert_int_equal(rd(m, Q_BAR0 + SIM_IMSQ_CAP), 4096 | 4u << 16 | 6u << 24);
	assert_int_equal(rd(m, Q_BAR0 + SIM_IMSQ_VERSION), 0x00010000);
	assert_int_equal(ring_entries(m), 64);
	query(m, 4000, q);
	assert_int_equal(q[3], SIM_IMS_CTRL_MASK);
	/* MSI-X vector 0 for completion interrupts. */
	wr(m, Q_BAR2 + 0, (uint32_t)sim_test_msi_addr(0, false));
	wr(m, Q_BAR2 + 8, 0x21);
	wr(m, Q_BAR2 + 0xC, 0);
	sim_pci_cfg_write(m, 0, Q_BDF, (uint16_t)(sim_pci_dev_msix_cap(pci) + 2), 2,
			  SIM_PCI_MSIX_FLAGS_ENABLE);

	/* The slot fires while still masked: pending. */
	sim_ims_queue_fire_slot(dev, 4000);
	struct desc w = { .op = SIM_IMSQ_WRITE_MSG, .slot = 4000,
			  .addr_lo = (uint32_t)sim_test_msi_addr(3, false), .data = 0x64,
			  .pasid = SIM_IMSQ_PASID_EN | 0x12345 };
	struct desc u = { .op = SIM_IMSQ_UNMASK | SIM_IMSQ_OP_COMPL_RECORD | SIM_IMSQ_OP_COMPL_INTR,
			  .slot = 4000, .compl_lo = 0x4000, .cookie = 0xC00C1E };

	wr(m, 0x4000, 0);
	assert_int_equal(submit(m, &w, false), 0);
	assert_int_equal(submit(m, &u, false), 1);
	/* Nothing has run: not visible, not complete. */
	assert_int_equal(sim_ims_queue_outstanding(dev), 2);
	assert_int_equal(rd(m, Q_BAR0 + SIM_IMSQ_RING_HEAD), 0);
	assert_int_equal(rd(m, Q_BAR0 + SIM_IMSQ_RING_TAIL), 2);
	assert_int_equal(rd(m, Q_BAR0 + SIM_IMSQ_STATUS), SIM_IMSQ_STATUS_BUSY);
	assert_int_equal(rd(m, Q_BAR0 + SIM_IMSQ_COMPLETED), 0);
	query(m, 4000, q);
	assert_int_equal(q[0], 0);
	assert_int_equal(q[3], SIM_IMS_CTRL_MASK | SIM_IMS_CTRL_PENDING);
	assert_int_equal(rd(m, 0x4000), 0);
	/* Poll like a driver: each read is a point; the commands complete in time. */
	uint64_t start = sim_now(m);
	unsigned int polls = 0;

	while (rd(m, Q_BAR0 + SIM_IMSQ_RING_HEAD) != 2) {
		sim_point(m);
		assert_true(++polls < 100000);
	}
	assert_true(sim_now(m) - start >= 1);
	assert_int_equal(rd(m, Q_BAR0 + SIM_IMSQ_COMPLETED), 2);
	assert_int_equal(rd(m, Q_BAR0 + SIM_IMSQ_STATUS), 0);
	query(m, 4000, q);
	assert_int_equal(q[0], 0xFEE03000);
	assert_int_equal(q[2], 0x64);
	assert_int_equal(q[3], SIM_IMS_CTRL_PASID_EN | 0x12345u << 12);
	/* Completion record: status | index << 16, cookie. */
	assert_int_equal(rd(m, 0x4000), SIM_IMSQ_ST_SUCCESS | 1u << 16);
	assert_int_equal(rd(m, 0x4004), 0xC00C1E);
	sim_run_until_idle(m);
	/* The pending fire went out on UNMASK, once, with the new message. */
	assert_int_equal(idt.count[3][0x64], 1);
	assert_int_equal(idt.count[0][0x21], 1);
	sim_ims_queue_stats(dev, &st);
	assert_int_equal(st.sent, 1);
	assert_int_equal(st.pending_set, 1);
	/* Now unmasked: fires go straight out. */
	sim_ims_queue_fire_slot(dev, 4000);
	wr(m, Q_BAR0 + SIM_IMSQ_FIRE, 4000);
	sim_ims_queue_stats(dev, &st);
	assert_int_equal(st.sent, 3);
	sim_destroy(m);
}

static void test_queue_errors_zero_mask(void **state)
{
	struct sim_machine *m = machine(false);
	struct sim_ims_queue *dev = queue_dev(m, 16, 0, 2, 0);
	struct desc d;
	uint32_t q[4];
	struct sim_ims_slot s;

	assert_int_equal(ring_entries(m), 4);
	d = (struct desc){ .op = 0x77 | SIM_IMSQ_OP_COMPL_RECORD, .compl_lo = 0x5000, .cookie = 1 };
	submit(m, &d, false);
	d = (struct desc){ .op = SIM_IMSQ_MASK | SIM_IMSQ_OP_COMPL_RECORD, .slot = 16,
			   .compl_lo = 0x5008, .cookie = 2 };
	submit(m, &d, false);
	d = (struct desc){ .op = SIM_IMSQ_WRITE_MSG, .slot = 2, .addr_lo = 0x6000, .data = 9 };
	submit(m, &d, false);
	sim_run_until_idle(m);
	/* The first failure is kept; later commands still run. */
	assert_int_equal(rd(m, Q_BAR0 + SIM_IMSQ_STATUS),
			 SIM_IMSQ_STATUS_ERROR | SIM_IMSQ_ST_BAD_OPCODE << 8 | 0u << 16);
	assert_int_equal(rd(m, 0x5000), SIM_IMSQ_ST_BAD_OPCODE);
	assert_int_equal(rd(m, 0x5008), SIM_IMSQ_ST_BAD_SLOT | 1u << 16);
	assert_int_equal(rd(m, 0x500C), 2);
	query(m, 2, q);
	assert_int_equal(q[0], 0x6000);
	wr(m, Q_BAR0 + SIM_IMSQ_ERROR_CLEAR, 1);
	assert_int_equal(rd(m, Q_BAR0 + SIM_IMSQ_STATUS), 0);
	/* Ring wraps (4 entries): unmask, fire, mask, fire, zero, nop... */
	d = (struct desc){ .op = SIM_IMSQ_UNMASK, .slot = 2 };
	submit(m, &d, false);
	sim_run_until_idle(m);
	sim_ims_queue_fire_slot(dev, 2);
	assert_int_equal(rd(m, 0x6000), 9);
	d = (struct desc){ .op = SIM_IMSQ_MASK, .slot = 2 };
	submit(m, &d, false);
	sim_run_until_idle(m);
	sim_ims_queue_fire_slot(dev, 2);
	query(m, 2, q);
	assert_int_equal(q[3], SIM_IMS_CTRL_MASK | SIM_IMS_CTRL_PENDING);
	d = (struct desc){ .op = SIM_IMSQ_ZERO, .slot = 2 };
	submit(m, &d, false);
	d = (struct desc){ .op = SIM_IMSQ_NOP };
	submit(m, &d, false);
	sim_run_until_idle(m);
	query(m, 2, q);
	assert_int_equal(q[0], 0);
	assert_int_equal(q[2], 0);
	assert_int_equal(q[3], SIM_IMS_CTRL_MASK);
	assert_int_equal(rd(m, Q_BAR0 + SIM_IMSQ_RING_HEAD), 7 & 3);
	assert_int_equal(rd(m, Q_BAR0 + SIM_IMSQ_COMPLETED), 7);
	assert_true(sim_ims_queue_slot(dev, 2, &s));
	assert_int_equal(s.stats.sent, 1);
	assert_int_equal(s.stats.pending_set, 1);
	/* Query beyond the slots. */
	query(m, 16, q);
	assert_int_equal(q[3], 0xFFFFFFFF);
	sim_destroy(m);
}

static void test_queue_queues_and_pause(void **state)
{
	struct sim_machine *m = machine(false);
	struct sim_ims_queue *dev = queue_dev(m, 64, 3, 0, 10);
	struct sim_ims_stats st;
	struct desc d;

	/* Queue 1 uses slot 40. */
	wr(m, Q_BAR0 + SIM_IMSQ_QUEUE_SLOT(1), SIM_IMSQ_QUEUE_SLOT_VALID | 40);
	assert_int_equal(rd(m, Q_BAR0 + SIM_IMSQ_QUEUE_SLOT(1)), SIM_IMSQ_QUEUE_SLOT_VALID | 40);
	assert_int_equal(rd(m, Q_BAR0 + SIM_IMSQ_QUEUE_SLOT(3)), 0);	/* no queue 3 */
	d = (struct desc){ .op = SIM_IMSQ_WRITE_MSG, .slot = 40, .addr_lo = 0x7000, .data = 0x40 };
	submit(m, &d, false);
	d = (struct desc){ .op = SIM_IMSQ_UNMASK, .slot = 40 };
	submit(m, &d, false);
	/* A stalled device: nothing completes however long we wait. */
	sim_ims_queue_pause(dev, true);
	sim_run_until_idle(m);
	assert_int_equal(sim_ims_queue_outstanding(dev), 2);
	sim_ims_queue_fire_queue(dev, 1);
	sim_ims_queue_stats(dev, &st);
	assert_int_equal(st.pending_set, 1);
	sim_ims_queue_set_delay(dev, 1000);
	sim_ims_queue_pause(dev, false);
	uint64_t t0 = sim_now(m);

	sim_run_until_idle(m);
	assert_true(sim_now(m) - t0 >= 2000);
	assert_int_equal(sim_ims_queue_outstanding(dev), 0);
	assert_int_equal(rd(m, 0x7000), 0x40);
	sim_ims_queue_fire_queue(dev, 1);
	sim_ims_queue_fire_queue(dev, 0);	/* not associated */
	sim_ims_queue_fire_queue(dev, 7);	/* no such queue */
	sim_ims_queue_stats(dev, &st);
	assert_int_equal(st.sent, 2);
	assert_int_equal(st.dropped_absent, 2);
	sim_destroy(m);
}

static void test_queue_unplug_outstanding(void **state)
{
	struct sim_machine *m = machine(false);
	struct sim_ims_queue *dev = queue_dev(m, 8, 0, 0, 5);
	struct sim_pci_bus *bus = sim_pci_dev_bus(sim_ims_queue_pci(dev));
	struct sim_ims_queue_config c = { .nr_slots = 8, .bar0_addr = Q_BAR0, .bar2_addr = Q_BAR2,
					  .command = ON };
	struct desc d = { .op = SIM_IMSQ_WRITE_MSG | SIM_IMSQ_OP_COMPL_RECORD, .slot = 1,
			  .addr_lo = 0x8000, .compl_lo = 0x9000 };
	uint32_t q[4];

	submit(m, &d, false);
	sim_ims_queue_destroy(dev);
	sim_run_until_idle(m);		/* the queued event finds the device gone */
	assert_int_equal(sim_ims_queue_outstanding(dev), 1);
	assert_int_equal(rd(m, 0x9000), 0);
	sim_ims_queue_fire_slot(dev, 1);
	assert_int_equal(rd(m, Q_BAR0), 0xFFFFFFFF);
	/* Re-plug: a fresh device. */
	dev = sim_ims_queue_create(bus, Q_BDF, &c);
	assert_non_null(dev);
	assert_int_equal(rd(m, Q_BAR0 + SIM_IMSQ_RING_TAIL), 0);
	query(m, 1, q);
	assert_int_equal(q[0], 0);
	submit(m, &d, false);
	sim_run_until_idle(m);
	assert_int_equal(rd(m, 0x9000), SIM_IMSQ_ST_SUCCESS);
	sim_destroy(m);
}

static void test_queue_thousands_of_slots(void **state)
{
	struct sim_machine *m = machine(false);
	struct sim_ims_queue *dev = queue_dev(m, 4096, 0, 8, 1);
	unsigned int done = 0;
	struct sim_ims_slot s;

	/* Program all 4096 slots (ring of 256, keep one entry free). */
	for (unsigned int slot = 0; slot < 4096; slot++) {
		struct desc d = { .op = SIM_IMSQ_WRITE_MSG, .slot = slot,
				  .addr_lo = 0x10000 + 4 * (slot % 1024), .data = slot };

		while (sim_ims_queue_outstanding(dev) >= 255)
			sim_point(m);
		submit(m, &d, false);
		if (slot % 2 == 0) {
			d = (struct desc){ .op = SIM_IMSQ_UNMASK, .slot = slot };
			while (sim_ims_queue_outstanding(dev) >= 255)
				sim_point(m);
			submit(m, &d, false);
		}
	}
	sim_run_until_idle(m);
	assert_int_equal(rd(m, Q_BAR0 + SIM_IMSQ_COMPLETED), 4096 + 2048);
	for (unsigned int slot = 0; slot < 4096; slot += 7) {
		sim_ims_queue_fire_slot(dev, slot);
		assert_true(sim_ims_queue_slot(dev, slot, &s));
		assert_int_equal(s.data, slot);
		if (slot % 2 == 0) {
			assert_int_equal(rd(m, 0x10000 + 4 * (slot % 1024)), slot);
			done++;
		} else {
			assert_true(s.ctrl & SIM_IMS_CTRL_PENDING);
		}
	}
	assert_true(done > 200);
	sim_destroy(m);
}

static void test_queue_threaded(void **state)
{
	struct sim_machine *m = machine(true);
	struct sim_ims_queue *dev = queue_dev(m, 32, 0, 0, 100);
	uint32_t q[4];

	/* Threaded mode: commands run at the doorbell, on the writer's thread. */
	struct desc d = { .op = SIM_IMSQ_WRITE_MSG | SIM_IMSQ_OP_COMPL_RECORD, .slot = 31,
			  .addr_lo = 0xA000, .data = 5, .compl_lo = 0xB000 };

	submit(m, &d, false);
	d = (struct desc){ .op = SIM_IMSQ_UNMASK, .slot = 31 };
	submit(m, &d, false);
	assert_int_equal(rd(m, Q_BAR0 + SIM_IMSQ_COMPLETED), 2);
	assert_int_equal(rd(m, 0xB000), SIM_IMSQ_ST_SUCCESS);
	query(m, 31, q);
	assert_int_equal(q[3], 0);
	sim_ims_queue_fire_slot(dev, 31);
	assert_int_equal(rd(m, 0xA000), 5);
	sim_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots_identity),
		cmocka_unit_test(test_slots_mask_pending_pasid),
		cmocka_unit_test(test_slots_torn_and_access_sizes),
		cmocka_unit_test(test_queue_update_visible_after_completion),
		cmocka_unit_test(test_queue_errors_zero_mask),
		cmocka_unit_test(test_queue_queues_and_pause),
		cmocka_unit_test(test_queue_unplug_outstanding),
		cmocka_unit_test(test_queue_thousands_of_slots),
		cmocka_unit_test(test_queue_threaded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

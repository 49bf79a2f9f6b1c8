// SPDX-License-Identifier: BSD-2-Clause
/*
 * The simulated NTB endpoint and its peer: the inbound MSI window (peer
 * writes translated and tagged with the NTB requester id or a proxy id,
 * writes outside the window dropped), publish slots, doorbells, messages,
 * link events through the function's MSI-X, the outbound memory window,
 * unplug.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim_ntb.h"
#include "sim_test.h"

#define ECAM 0xE0000000ull
#define BAR0 0xC0000000ull
#define BAR2 0xC0400000ull
#define BDF SIM_PCI_BDF(1, 0, 0)
#define ON (SIM_PCI_COMMAND_MEMORY | SIM_PCI_COMMAND_MASTER)

static struct sim_test_idt idt;

static struct sim_machine *machine(void)
{
	struct sim_machine *m = sim_test_machine(4, NULL, 9, false, 0);

	assert_non_null(m);
	memset(&idt, 0, sizeof(idt));
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

static struct sim_ntb *ntb_dev(struct sim_machine *m, struct sim_pci_bus **busp)
{
	struct sim_pci_bus *bus = sim_pci_bus_create(m, 0, ECAM, 2);
	struct sim_ntb_config c = { .bar0_addr = BAR0, .bar2_addr = BAR2, .command = ON,
				    .link_up = true };
	struct sim_ntb *ntb;

	assert_non_null(bus);
	ntb = sim_ntb_create(bus, BDF, &c);
	assert_non_null(ntb);
	if (busp)
		*busp = bus;
	return ntb;
}

/* MSI-X vector v -> APIC v, vector 0x30 + v; MSI-X enabled. */
static void msix_setup(struct sim_machine *m, struct sim_ntb *ntb)
{
	struct sim_pci_dev *pci = sim_ntb_pci(ntb);

	for (unsigned int v = 0; v < SIM_NTB_NR_VECTORS; v++) {
		uint64_t e = BAR0 + SIM_NTB_MSIX_TABLE + 16 * v;

		wr(m, e + 0, (uint32_t)sim_test_msi_addr(v, false));
		wr(m, e + 4, 0);
		wr(m, e + 8, 0x30 + v);
		wr(m, e + 0xC, 0);
	}
	sim_pci_cfg_write(m, 0, BDF, (uint16_t)(sim_pci_dev_msix_cap(pci) + 2), 2,
			  SIM_PCI_MSIX_FLAGS_ENABLE);
}

static void window(struct sim_machine *m, uint64_t base, uint32_t size, bool enable)
{
	wr(m, BAR0 + SIM_NTB_MSI_WIN_BASE_HI, (uint32_t)(base >> 32));
	wr(m, BAR0 + SIM_NTB_MSI_WIN_SIZE, size);
	wr(m, BAR0 + SIM_NTB_MSI_WIN_BASE_LO, (uint32_t)base | (enable ? SIM_NTB_MSI_WIN_ENABLE : 0));
}

static void publish(struct sim_machine *m, unsigned int slot, uint32_t offset, uint32_t data,
		    bool valid)
{
	wr(m, BAR0 + SIM_NTB_PUBLISH(slot) + SIM_NTB_PUB_OFFSET, offset);
	wr(m, BAR0 + SIM_NTB_PUBLISH(slot) + SIM_NTB_PUB_DATA, data);
	wr(m, BAR0 + SIM_NTB_PUBLISH(slot) + SIM_NTB_PUB_CTRL, valid ? SIM_NTB_PUB_VALID : 0);
}

static void test_identity(void **state)
{
	struct sim_machine *m = machine();
	struct sim_ntb *ntb = ntb_dev(m, NULL);
	struct sim_pci_dev *pci = sim_ntb_pci(ntb);
	unsigned int cap = sim_pci_dev_msix_cap(pci);
	uint32_t v;

	sim_pci_cfg_read(m, 0, BDF, 0, 4, &v);
	assert_int_equal(v, SIM_PCI_DEVICE_NTB << 16 | SIM_PCI_VENDOR_SIM);
	sim_pci_cfg_read(m, 0, BDF, SIM_PCI_REVISION_ID, 4, &v);
	assert_int_equal(v >> 8, 0x068000);
	sim_pci_cfg_read(m, 0, BDF, (uint16_t)(cap + 2), 2, &v);
	assert_int_equal(v, SIM_NTB_NR_VECTORS - 1);
	sim_pci_cfg_read(m, 0, BDF, (uint16_t)(cap + 4), 4, &v);
	assert_int_equal(v, SIM_NTB_MSIX_TABLE | 0);
	sim_pci_cfg_read(m, 0, BDF, (uint16_t)(cap + 8), 4, &v);
	assert_int_equal(v, SIM_NTB_MSIX_PBA | 0);
	assert_int_equal(rd(m, BAR0 + SIM_NTB_CAP), 64 | 4u << 8 | 32u << 16);
	assert_int_equal(rd(m, BAR0 + SIM_NTB_LINK_STATUS), 1);
	assert_int_equal(rd(m, BAR0 + SIM_NTB_PROXY_RID), BDF);
	/* MSI-X table entries share BAR0 with the registers. */
	assert_int_equal(rd(m, BAR0 + SIM_NTB_MSIX_TABLE + 0xC), 1);
	/* Window registers: granule bits read 0. */
	window(m, 0xFEE00FFF, 0x100FFF, true);
	assert_int_equal(rd(m, BAR0 + SIM_NTB_MSI_WIN_BASE_LO), 0xFEE00001);
	assert_int_equal(rd(m, BAR0 + SIM_NTB_MSI_WIN_SIZE), 0x100000);
	/* Bad configurations. */
	struct sim_ntb_config bad = { .bar0_addr = 0xC1000000, .bar2_addr = 0xC2000000,
				      .bar2_size = 0x3000 };

	assert_null(sim_ntb_create(sim_pci_dev_bus(pci), SIM_PCI_BDF(1, 1, 0), &bad));
	bad.bar2_size = 32u << 20;
	assert_null(sim_ntb_create(sim_pci_dev_bus(pci), SIM_PCI_BDF(1, 1, 0), &bad));
	bad.bar2_size = 0;
	assert_null(sim_ntb_create(sim_pci_dev_bus(pci), BDF, &bad));	/* occupied */
	sim_destroy(m);
}

static void test_peer_trigger_delivered_with_rid(void **state)
{
	struct sim_machine *m = machine();
	struct sim_ntb *ntb = ntb_dev(m, NULL);
	struct sim_ntb_stats st;

	window(m, 0xFEE00000, 0x100000, true);
	/* The host publishes "write 0x45 at the offset of APIC 2's MSI address". */
	publish(m, 0, 0x2000, 0x45, true);
	publish(m, 1, 0x3000, 0x46, false);
	assert_int_equal(sim_ntb_peer_trigger(ntb, 0), SIM_NTB_DELIVERED);
	assert_true(sim_lapic_irr_test(m, 2, 0x45));
	sim_ntb_stats(ntb, &st);
	assert_int_equal(st.delivered, 1);
	assert_int_equal(st.last_addr, 0xFEE02000);
	assert_int_equal(st.last_data, 0x45);
	assert_int_equal(st.last_rid, BDF);
	/* Not a valid slot: nothing written. */
	assert_int_equal(sim_ntb_peer_trigger(ntb, 1), SIM_NTB_INVALID_SLOT);
	assert_int_equal(sim_ntb_peer_trigger(ntb, 64), SIM_NTB_INVALID_SLOT);
	assert_false(sim_lapic_irr_test(m, 3, 0x46));
	/* Arbitrary peer write inside the window. */
	assert_int_equal(sim_ntb_peer_write(ntb, 0x1000, 0x47), SIM_NTB_DELIVERED);
	assert_true(sim_lapic_irr_test(m, 1, 0x47));
	/* A proxy requester id, visible to the host in PROXY_RID. */
	sim_ntb_set_proxy_rid(ntb, true, SIM_PCI_BDF(1, 0, 1));
	assert_int_equal(rd(m, BAR0 + SIM_NTB_PROXY_RID),
			 SIM_NTB_PROXY_RID_VALID | SIM_PCI_BDF(1, 0, 1));
	assert_int_equal(sim_ntb_peer_trigger(ntb, 0), SIM_NTB_DELIVERED);
	sim_ntb_stats(ntb, &st);
	assert_int_equal(st.last_rid, SIM_PCI_BDF(1, 0, 1));
	sim_ntb_set_proxy_rid(ntb, false, 0);
	assert_int_equal(rd(m, BAR0 + SIM_NTB_PROXY_RID), BDF);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[2][0x45], 1);
	assert_int_equal(idt.count[1][0x47], 1);
	assert_int_equal(idt.total, 2);	/* the second 0x45 merged in the IRR */
	sim_ntb_stats(ntb, &st);
	assert_int_equal(st.peer_writes, 3);
	assert_int_equal(st.invalid_triggers, 2);
	sim_destroy(m);
}

static void test_peer_write_outside_dropped(void **state)
{
	struct sim_machine *m = machine();
	struct sim_ntb *ntb = ntb_dev(m, NULL);
	struct sim_ntb_stats st;
	uint64_t accepted;

	/* Disabled window (size set, enable clear), then size 0. */
	window(m, 0xFEE00000, 0x4000, false);
	assert_int_equal(sim_ntb_peer_write(ntb, 0, 0x50), SIM_NTB_DROPPED_DISABLED);
	window(m, 0xFEE00000, 0, true);
	assert_int_equal(sim_ntb_peer_write(ntb, 0, 0x50), SIM_NTB_DROPPED_DISABLED);
	/* A 16 KiB window: APIC IDs 0..3 reachable, 4 not. */
	window(m, 0xFEE00000, 0x4000, true);
	assert_int_equal(sim_ntb_peer_write(ntb, 0x3000, 0x51), SIM_NTB_DELIVERED);
	assert_int_equal(sim_ntb_peer_write(ntb, 0x4000, 0x52), SIM_NTB_DROPPED_OUTSIDE);
	assert_int_equal(sim_ntb_peer_write(ntb, 0x3FFE, 0x53), SIM_NTB_DROPPED_OUTSIDE);
	assert_int_equal(sim_ntb_peer_write(ntb, ~0ull - 3, 0x54), SIM_NTB_DROPPED_OUTSIDE);
	/* A published slot pointing outside is not delivered either. */
	publish(m, 5, 0x5000, 0x55, true);
	assert_int_equal(sim_ntb_peer_trigger(ntb, 5), SIM_NTB_DROPPED_OUTSIDE);
	/* Bus master off. */
	sim_pci_cfg_write(m, 0, BDF, SIM_PCI_COMMAND, 2, SIM_PCI_COMMAND_MEMORY);
	assert_int_equal(sim_ntb_peer_write(ntb, 0x1000, 0x56), SIM_NTB_DROPPED_NO_BUS_MASTER);
	accepted = sim_stat(m, SIM_STAT_MSI_ACCEPTED);
	assert_int_equal(accepted, 1);
	assert_true(sim_lapic_irr_test(m, 3, 0x51));
	sim_ntb_stats(ntb, &st);
	assert_int_equal(st.peer_writes, 8);
	assert_int_equal(st.delivered, 1);
	assert_int_equal(st.dropped_disabled, 2);
	assert_int_equal(st.dropped_outside, 4);
	assert_int_equal(st.dropped_no_bus_master, 1);
	/* A window onto RAM is a plain memory window. */
	sim_pci_cfg_write(m, 0, BDF, SIM_PCI_COMMAND, 2, ON);
	window(m, 0x20000, 0x1000, true);
	assert_int_equal(sim_ntb_peer_write(ntb, 0x10, 0xDEADBEEF), SIM_NTB_DELIVERED);
	assert_int_equal(rd(m, 0x20010), 0xDEADBEEF);
	/* The last dword of the window is inside, the next one is not. */
	assert_int_equal(sim_ntb_peer_write(ntb, 0xFFC, 0xFEEDFACE), SIM_NTB_DELIVERED);
	assert_int_equal(rd(m, 0x20FFC), 0xFEEDFACE);
	assert_int_equal(sim_ntb_peer_write(ntb, 0x1000, 1), SIM_NTB_DROPPED_OUTSIDE);
	assert_int_equal(rd(m, 0x21000), 0);
	sim_destroy(m);
}

static void test_doorbell_message_event(void **state)
{
	struct sim_machine *m = machine();
	struct sim_ntb *ntb = ntb_dev(m, NULL);

	msix_setup(m, ntb);
	/* Doorbell: unmasked bit -> vector 3. */
	sim_ntb_peer_doorbell(ntb, 0x5);
	assert_int_equal(rd(m, BAR0 + SIM_NTB_DB_STATUS), 0x5);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[3][0x33], 1);
	wr(m, BAR0 + SIM_NTB_DB_STATUS, 0x1);
	assert_int_equal(rd(m, BAR0 + SIM_NTB_DB_STATUS), 0x4);
	wr(m, BAR0 + SIM_NTB_DB_STATUS, 0x4);
	/* Masked: status only; unmask raises. */
	wr(m, BAR0 + SIM_NTB_DB_MASK, 0x100);
	sim_ntb_peer_doorbell(ntb, 0x100);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[3][0x33], 1);
	wr(m, BAR0 + SIM_NTB_DB_MASK, 0);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[3][0x33], 2);
	/* Messages -> vector 2. */
	sim_ntb_peer_message(ntb, 1, 0xABC);
	assert_int_equal(rd(m, BAR0 + SIM_NTB_MSG_IN(1)), 0xABC);
	assert_int_equal(rd(m, BAR0 + SIM_NTB_MSG_STATUS), 0x2);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[2][0x32], 1);
	wr(m, BAR0 + SIM_NTB_MSG_MASK, 0x2);
	sim_ntb_peer_message(ntb, 1, 0xDEF);	/* overwrites the unread one */
	sim_run_until_idle(m);
	assert_int_equal(idt.count[2][0x32], 1);
	wr(m, BAR0 + SIM_NTB_MSG_MASK, 0);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[2][0x32], 2);
	wr(m, BAR0 + SIM_NTB_MSG_STATUS, 0x2);
	assert_int_equal(rd(m, BAR0 + SIM_NTB_MSG_STATUS), 0);
	/* Link event -> vector 0, DMA RPC -> vector 1. */
	sim_ntb_set_link(ntb, false);
	sim_ntb_set_link(ntb, false);	/* no change, no event */
	assert_int_equal(rd(m, BAR0 + SIM_NTB_LINK_STATUS), 0);
	assert_int_equal(rd(m, BAR0 + SIM_NTB_EVENT_STATUS), 1);
	sim_ntb_dma_rpc_done(ntb);
	assert_int_equal(rd(m, BAR0 + SIM_NTB_DMA_RPC_STATUS), 1);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[0][0x30], 1);
	assert_int_equal(idt.count[1][0x31], 1);
	/* MSI-X masking applies: entry 3 masked -> PBA, delivered on unmask. */
	wr(m, BAR0 + SIM_NTB_MSIX_TABLE + 3 * 16 + 0xC, 1);
	sim_ntb_peer_doorbell(ntb, 0x2);
	assert_int_equal(rd(m, BAR0 + SIM_NTB_MSIX_PBA), 1u << 3);
	wr(m, BAR0 + SIM_NTB_MSIX_TABLE + 3 * 16 + 0xC, 0);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[3][0x33], 3);
	struct sim_ntb_stats st;

	sim_ntb_stats(ntb, &st);
	assert_int_equal(st.doorbells, 3);
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.messages_overwritten, 1);
	sim_destroy(m);
}

static void test_outbound_and_unplug(void **state)
{
	struct sim_machine *m = machine();
	struct sim_pci_bus *bus;
	struct sim_ntb *ntb = ntb_dev(m, &bus);
	struct sim_ntb_config c = { .bar0_addr = BAR0, .bar2_addr = BAR2, .command = ON };

	/* Outbound memory window, doorbells and messages to the peer. */
	wr(m, BAR2 + 0x100, 0x12345678);
	sim_cpu_write(m, 0, BAR2 + 0x108, 0x1122334455667788ull, 8);
	assert_int_equal(sim_ntb_peer_mem_read32(ntb, 0x100), 0x12345678);
	assert_int_equal(sim_ntb_peer_mem_read32(ntb, 0x10C), 0x11223344);
	assert_int_equal(rd(m, BAR2 + 0x108), 0x55667788);
	assert_int_equal(sim_ntb_peer_mem_read32(ntb, 1u << 20), 0xFFFFFFFF);
	wr(m, BAR0 + SIM_NTB_DB_PEER, 0x3);
	wr(m, BAR0 + SIM_NTB_DB_PEER, 0x8);
	assert_int_equal(sim_ntb_peer_take_doorbells(ntb), 0xB);
	assert_int_equal(sim_ntb_peer_take_doorbells(ntb), 0);
	wr(m, BAR0 + SIM_NTB_MSG_OUT(3), 0x77);
	assert_int_equal(sim_ntb_peer_msg(ntb, 3), 0x77);
	/* Unplug: the peer's writes go nowhere. */
	window(m, 0xFEE00000, 0x100000, true);
	publish(m, 0, 0x1000, 0x60, true);
	sim_ntb_destroy(ntb);
	assert_int_equal(sim_ntb_peer_write(ntb, 0x1000, 0x60), SIM_NTB_DROPPED_DISABLED);
	assert_int_equal(sim_ntb_peer_trigger(ntb, 0), SIM_NTB_INVALID_SLOT);
	sim_ntb_peer_doorbell(ntb, 1);
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_ACCEPTED), 0);
	assert_int_equal(rd(m, BAR0), 0xFFFFFFFF);
	/* Re-plug: fresh registers. */
	ntb = sim_ntb_create(bus, BDF, &c);
	assert_non_null(ntb);
	assert_int_equal(rd(m, BAR0 + SIM_NTB_MSI_WIN_BASE_LO), 0);
	assert_int_equal(rd(m, BAR0 + SIM_NTB_LINK_STATUS), 0);
	assert_int_equal(sim_ntb_peer_trigger(ntb, 0), SIM_NTB_INVALID_SLOT);
	sim_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_peer_trigger_delivered_with_rid),
		cmocka_unit_test(test_peer_write_outside_dropped),
		cmocka_unit_test(test_doorbell_message_event),
		cmocka_unit_test(test_outbound_and_unplug),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

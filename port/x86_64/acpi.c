// SPDX-License-Identifier: BSD-2-Clause
/*
 * ACPI: find the RSDP, walk the RSDT/XSDT and take what the port needs
 * from MADT (APIC IDs, I/O APIC, ISA overrides), DMAR (remapping unit and
 * the I/O APIC's source id), HPET and MCFG.
 */
#include "kern.h"

struct acpi_header {
	char sig[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem[6], oem_table[8];
	uint32_t oem_rev, creator, creator_rev;
} __attribute__((packed));

static struct port_acpi acpi;

const struct port_acpi *port_acpi(void)
{
	return &acpi;
}

static uint8_t sum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (len--)
		s += *b++;
	return s;
}

static const uint8_t *find_rsdp_in(uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a + 20 <= end; a += 16) {
		const uint8_t *p = phys_ptr(a);

		if (!memcmp(p, "RSD PTR ", 8) && !sum(p, 20))
			return p;
	}
	return NULL;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void parse_madt(const uint8_t *t, uint32_t len)
{
	for (uint32_t off = 44; off + 2 <= len;) {
		const uint8_t *e = t + off;
		uint8_t type = e[0], elen = e[1];

		if (elen < 2 || off + elen > len)
			break;
		switch (type) {
		case 0: /* processor local APIC: uid, apic id, flags */
			if ((rd32(e + 4) & 1) && acpi.nr_cpus < PORT_MAX_CPUS)
				acpi.apic_id[acpi.nr_cpus++] = e[3];
			break;
		case 1: /* I/O APIC: id, reserved, address, GSI base (the first one) */
			if (!acpi.ioapic_base) {
				acpi.ioapic_id = e[2];
				acpi.ioapic_base = rd32(e + 4);
				acpi.ioapic_gsi_base = rd32(e + 8);
			}
			break;
		case 2: /* interrupt source override: bus, source, GSI, flags */
			if (e[2] == 0 && e[3] < 16) {
				acpi.isa_gsi[e[3]] = rd32(e + 4);
				acpi.isa_flags[e[3]] = rd16(e + 8);
			}
			break;
		default:
			break;
		}
		off += elen;
	}
}

static void parse_dmar(const uint8_t *t, uint32_t len)
{
	/* Header (36), host address width, flags, 10 reserved: structures from 48. */
	for (uint32_t off = 48; off + 4 <= len;) {
		const uint8_t *s = t + off;
		uint16_t type = rd16(s), slen = rd16(s + 2);

		if (slen < 4 || off + slen > len)
			break;
		if (type == 0 && slen >= 16 && !acpi.drhd_base) {
			/* DRHD: flags, reserved, segment, register base, then device scopes. */
			acpi.drhd_base = rd64(s + 8);
			for (uint32_t so = 16; so + 6 <= slen;) {
				const uint8_t *ds = s + so;
				uint8_t stype = ds[0], sl = ds[1];

				if (sl < 6 || so + sl > slen)
					break;
				if (stype == 3 && sl >= 8) {
					/* I/O APIC scope: start bus, then (device, function) pairs. */
					uint8_t bus = ds[5];
					const uint8_t *path = ds + 6;

					acpi.ioapic_sid = (uint16_t)(bus << 8 | (path[0] & 0x1F) << 3 |
								     (path[1] & 7));
				}
				so += sl;
			}
		}
		off += slen;
	}
}

static void parse_table(const struct acpi_header *h)
{
	const uint8_t *t = (const uint8_t *)h;
	uint32_t len = h->length;

	if (len < sizeof(*h) || sum(h, len))
		return;
	if (!memcmp(h->sig, "APIC", 4))
		parse_madt(t, len);
	else if (!memcmp(h->sig, "DMAR", 4))
		parse_dmar(t, len);
	else if (!memcmp(h->sig, "HPET", 4) && len >= 52)
		acpi.hpet_base = rd64(t + 44);
	else if (!memcmp(h->sig, "MCFG", 4) && len >= 60) {
		/* Allocation entries from 44: base, segment, start bus, end bus. */
		if (rd16(t + 52) == 0) {
			acpi.ecam_base = rd64(t + 44);
			acpi.ecam_bus_end = t[55];
		}
	}
}

int acpi_init(void)
{
	uint64_t ebda = (uint64_t)*(volatile uint16_t *)phys_ptr(0x40E) << 4;
	const uint8_t *rsdp = NULL;

	for (unsigned int i = 0; i < 16; i++) {
		acpi.isa_gsi[i] = i;
		acpi.isa_flags[i] = 0;
	}
	if (ebda)
		rsdp = find_rsdp_in(ebda, ebda + 1024);
	if (!rsdp)
		rsdp = find_rsdp_in(0xE0000, 0x100000);
	if (!rsdp)
		return -IK_ENODEV;
	if (rsdp[15] >= 2 && rd64(rsdp + 24)) {
		const struct acpi_header *x = (const void *)(uintptr_t)rd64(rsdp + 24);

		for (uint32_t off = sizeof(*x); off + 8 <= x->length; off += 8)
			parse_table((const void *)(uintptr_t)rd64((const uint8_t *)x + off));
	} else {
		const struct acpi_header *r = (const void *)(uintptr_t)rd32(rsdp + 16);

		for (uint32_t off = sizeof(*r); off + 4 <= r->length; off += 4)
			parse_table((const void *)(uintptr_t)rd32((const uint8_t *)r + off));
	}
	if (!acpi.nr_cpus || !acpi.ioapic_base)
		return -IK_ENODEV;
	port_printf("acpi: %u cpus (apic ids", acpi.nr_cpus);
	for (unsigned int i = 0; i < acpi.nr_cpus; i++)
		port_printf(" %u", acpi.apic_id[i]);
	port_printf("), ioapic %llx gsi %u, irq0->gsi %u, drhd %llx ioapic-sid %x, hpet %llx, "
		    "ecam %llx bus 0-%u\n",
		    (unsigned long long)acpi.ioapic_base, acpi.ioapic_gsi_base, acpi.isa_gsi[0],
		    (unsigned long long)acpi.drhd_base, acpi.ioapic_sid,
		    (unsigned long long)acpi.hpet_base, (unsigned long long)acpi.ecam_base,
		    acpi.ecam_bus_end);
	return 0;
}

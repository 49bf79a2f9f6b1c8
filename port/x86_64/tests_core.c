// SPDX-License-Identifier: BSD-2-Clause
/*
 * Core tests of the x86-64 port: the library's x86 platform on QEMU's
 * local APICs, I/O APIC, VT-d remapping and HPET, through the same public
 * API the simulator tests use.
 */
#include "port.h"

/* boot: every CPU came up, and its APIC ID as the library read it matches the MADT. */
PORT_TEST(boot)
{
	const struct port_acpi *acpi = port_acpi();

	PORT_CHECK(acpi->nr_cpus >= 1);
	PORT_CHECK_EQ(port_nr_cpus(), acpi->nr_cpus);
	PORT_CHECK_EQ(ik_os_cpu_count(), acpi->nr_cpus);
	for (unsigned int cpu = 0; cpu < acpi->nr_cpus; cpu++) {
		port_printf("boot: cpu %u apic id %u (madt %u)\n", cpu, ik_x86_cpu_apic_id(cpu),
			    acpi->apic_id[cpu]);
		PORT_CHECK_EQ(ik_x86_cpu_apic_id(cpu), acpi->apic_id[cpu]);
	}
	PORT_CHECK_EQ(ik_x86_matrix_check(), 0);
	return 0;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * The harness's own failure paths.  Each of these must FAIL (tests/core.list
 * marks them "expect-fail"): an exception is reported and fails the boot,
 * and a hung test is failed by the guest-side deadline, also when CPU 0
 * hangs with interrupts off (an AP's tick notices).
 */
#include "port.h"

PORT_TEST(selftest_pagefault)
{
	/* Past the 4 GiB identity map: not present. */
	volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)0x123456789000ull;

	return (int)*p;
}

PORT_TEST(selftest_deadline)
{
	for (;;)
		port_delay_us(1000);
	return 0;
}

PORT_TEST(selftest_deadline_irqs_off)
{
	ik_irqflags_t f = ik_os_irq_save();

	for (;;)
		ik_os_cpu_relax();
	ik_os_irq_restore(f);
	return 0;
}

PORT_TEST(selftest_check)
{
	PORT_CHECK_EQ(port_nr_cpus(), 0);
	return 0;
}

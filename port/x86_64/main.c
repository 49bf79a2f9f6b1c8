// SPDX-License-Identifier: BSD-2-Clause
/*
 * The harness: Multiboot v1 -> long mode (boot.S) -> serial -> ACPI ->
 * heap -> ik_core_init() -> vector domain (port vectors reserved) -> CPU 0
 * online -> APs (INIT-SIPI-SIPI) -> remapping ("ir=1") -> IO-APIC -> the
 * test named by "test=NAME" on CPU 0 -> "PORT: PASS/FAIL NAME" ->
 * isa-debug-exit (0x10 pass, 0x11 fail).  A test running past its deadline
 * ("timeout=SECONDS", default 20) fails from the timer tick.
 */
#include "kern.h"

extern const struct port_test __start_port_tests[], __stop_port_tests[];
extern char __kernel_end[];

static char cmdline[512];
static bool ir_on;
static struct ik_x86_ioapic *ioapic;

bool port_ir_enabled(void)
{
	return ir_on;
}

struct ik_x86_ioapic *port_ioapic(void)
{
	return ioapic;
}

/* Multiboot's command line starts with the image name: every word is looked at. */
bool port_cmdline_get(const char *key, char *buf, size_t len)
{
	size_t klen = port_strlen(key);

	for (const char *p = cmdline; *p;) {
		while (*p == ' ')
			p++;
		if (!port_strncmp(p, key, klen) && p[klen] == '=') {
			size_t n = 0;

			p += klen + 1;
			while (*p && *p != ' ' && n + 1 < len)
				buf[n++] = *p++;
			if (len)
				buf[n] = '\0';
			return true;
		}
		while (*p && *p != ' ')
			p++;
	}
	return false;
}

static unsigned int parse_uint(const char *s, unsigned int dflt)
{
	unsigned int v = 0;

	if (!*s)
		return dflt;
	for (; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (unsigned int)(*s - '0');
	return v;
}

/* The 8259s: moved out of the way (0xF0..0xFF) and masked for good. */
static void pic_disable(void)
{
	port_outb(0x20, 0x11);
	port_outb(0xA0, 0x11);
	port_outb(0x21, 0xF0);
	port_outb(0xA1, 0xF8);
	port_outb(0x21, 0x04);
	port_outb(0xA1, 0x02);
	port_outb(0x21, 0x01);
	port_outb(0xA1, 0x01);
	port_outb(0x21, 0xFF);
	port_outb(0xA1, 0xFF);
}

static void check(int ret, const char *what)
{
	if (ret)
		port_fail("PORT: %s: %d (%s)\n", what, ret, ik_strerror(ret));
}

static void platform_init(void)
{
	static const uint8_t port_vectors[] = { PORT_VECTOR_TIMER, PORT_VECTOR_CALL,
						PORT_VECTOR_SPURIOUS };
	const struct port_acpi *acpi = port_acpi();
	struct percpu *pc = this_cpu();
	char val[16];

	sti();	/* process context from here on */
	check(ik_core_init(), "ik_core_init");
	check(ik_x86_vector_init(port_vectors, IK_ARRAY_SIZE(port_vectors)), "ik_x86_vector_init");
	check(ik_x86_cpu_online(), "ik_x86_cpu_online(0)");
	lapic_timer_start();
	__atomic_store_n(&port_cpus[0], pc, __ATOMIC_RELEASE);
	__atomic_store_n(&pc->up, true, __ATOMIC_RELEASE);
	__atomic_store_n(&port_cpus_up, 1, __ATOMIC_RELEASE);
	check(smp_boot_aps(), "smp_boot_aps");

	if (port_cmdline_get("ir", val, sizeof(val)) && !port_strncmp(val, "1", 2)) {
		struct ik_x86_ir_config cfg = { 0 };

		if (!acpi->drhd_base)
			port_fail("PORT: ir=1 but no DMAR remapping unit\n");
		cfg.unit_base = acpi->drhd_base;
		cfg.nr_entries = 256;
		cfg.mem_size = IK_X86_IR_MEM_SIZE(256);
		cfg.mem_phys = (uint64_t)(uintptr_t)port_phys_alloc(cfg.mem_size, 4096);
		if (!cfg.mem_phys)
			port_fail("PORT: no memory for the remapping table\n");
		check(ik_x86_ir_init(&cfg), "ik_x86_ir_init");
		ir_on = true;
	}
	{
		struct ik_x86_ioapic_config cfg = { 0 };

		cfg.base = acpi->ioapic_base;
		cfg.requester_id = acpi->ioapic_sid;
		check(ik_x86_ioapic_create(&cfg, &ioapic), "ik_x86_ioapic_create");
	}
}

static const struct port_test *find_test(const char *name)
{
	for (const struct port_test *t = __start_port_tests; t < __stop_port_tests; t++)
		if (!port_strncmp(t->name, name, 64))
			return t;
	return NULL;
}

void kmain(uint32_t mb_info);
void kmain(uint32_t mb_info)
{
	const uint32_t *mb = (const uint32_t *)(uintptr_t)mb_info;
	struct percpu *pc = percpu_alloc(0);
	uint64_t mem_top = 128ull << 20, t_boot;
	const struct port_test *test;
	char name[64], val[16];
	unsigned int timeout_s;
	int ret;

	percpu_install(pc);
	cpu_init_tables(pc);
	idt_init();
	idt_load();
	serial_init();
	pc->apic_id = lapic_read(LAPIC_ID) >> 24;

	if (mb && (mb[0] & (1u << 2)) && mb[4]) {
		const char *src = (const char *)(uintptr_t)mb[4];
		size_t n = 0;

		while (src[n] && n + 1 < sizeof(cmdline)) {
			cmdline[n] = src[n];
			n++;
		}
	}
	if (mb && (mb[0] & 1u))
		mem_top = (1ull << 20) + (uint64_t)mb[2] * 1024;
	port_printf("\nirqkit x86_64 port: cmdline \"%s\", %llu MiB\n", cmdline,
		    (unsigned long long)(mem_top >> 20));
	pic_disable();
	/* Heap from 16 MiB; the top 32 MiB (below the firmware's tables) for port_phys_alloc. */
	if ((uint64_t)(uintptr_t)__kernel_end > (16ull << 20) || mem_top < (64ull << 20))
		port_fail("PORT: kernel too big or too little memory\n");
	mem_top &= ~0xFFFFFull;
	mem_top -= 1ull << 20;
	heap_init(16ull << 20, mem_top - (32ull << 20));
	phys_init(mem_top - (32ull << 20), mem_top);

	lapic_write(LAPIC_SVR, 0x100 | PORT_VECTOR_SPURIOUS);
	lapic_write(LAPIC_LVT_LINT0, 1u << 16);
	lapic_write(LAPIC_LVT_LINT1, 1u << 16);
	time_init();
	t_boot = ik_os_time_ns();
	check(acpi_init(), "acpi_init");
	pci_init();
	platform_init();

	if (!port_cmdline_get("test", name, sizeof(name))) {
		port_printf("PORT: no test=NAME; tests:");
		for (const struct port_test *t = __start_port_tests; t < __stop_port_tests; t++)
			port_printf(" %s", t->name);
		port_printf("\n");
		port_fail("no test named\n");
	}
	test = find_test(name);
	if (!test)
		port_fail("PORT: no test \"%s\"\n", name);
	timeout_s = port_cmdline_get("timeout", val, sizeof(val)) ? parse_uint(val, 20) : 20;
	port_current_test = test->name;
	port_printf("PORT: platform up in %llu ms (%u cpus, ir %s); running %s\n",
		    (unsigned long long)((ik_os_time_ns() - t_boot) / 1000000), port_nr_cpus(),
		    ir_on ? "on" : "off", test->name);
	port_deadline_ns = ik_os_time_ns() + (uint64_t)timeout_s * 1000000000ull;
	ret = test->fn();
	port_deadline_ns = 0;
	port_printf("PORT: test returned %d after %llu ms (%llu library warnings)\n", ret,
		    (unsigned long long)((ik_os_time_ns() - t_boot) / 1000000),
		    (unsigned long long)port_log_warnings());
	if (ret) {
		port_printf("PORT: FAIL %s\n", test->name);
		port_exit(0x11);
	}
	port_printf("PORT: PASS %s\n", test->name);
	port_exit(0x10);
}

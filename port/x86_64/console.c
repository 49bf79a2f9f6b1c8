// SPDX-License-Identifier: BSD-2-Clause
/*
 * COM1 console, the port's own printf, and the exit path through
 * isa-debug-exit (QEMU exits with (value << 1) | 1).
 */
#include "kern.h"

#define COM1 0x3F8
#define DEBUG_EXIT_PORT 0xF4

/* Serialises whole lines between CPUs; taken with interrupts off. */
static ik_spinlock_t console_lock;

void serial_init(void)
{
	port_outb(COM1 + 1, 0x00);	/* no interrupts */
	port_outb(COM1 + 3, 0x80);	/* DLAB */
	port_outb(COM1 + 0, 0x01);	/* 115200 baud */
	port_outb(COM1 + 1, 0x00);
	port_outb(COM1 + 3, 0x03);	/* 8N1 */
	port_outb(COM1 + 2, 0xC7);	/* FIFO on, cleared */
	port_outb(COM1 + 4, 0x03);	/* DTR, RTS */
	ik_os_spin_init(&console_lock);
}

static void serial_putc(char c)
{
	for (unsigned int i = 0; i < 100000 && !(port_inb(COM1 + 5) & 0x20); i++)
		cpu_pause();
	port_outb(COM1, (uint8_t)c);
}

/* ---- Formatting ---------------------------------------------------------------------- */

struct outbuf {
	char *buf;
	size_t len, cap;
};

static void out_c(struct outbuf *o, char c)
{
	if (o->len + 1 < o->cap)
		o->buf[o->len++] = c;
}

static void out_num(struct outbuf *o, unsigned long long v, unsigned int base, bool upper,
		    bool neg, unsigned int width, bool zero, bool left)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	unsigned int n = 0, len;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	len = n + (neg ? 1 : 0);
	if (neg && zero)
		out_c(o, '-');
	if (!left)
		for (; width > len; width--)
			out_c(o, zero ? '0' : ' ');
	if (neg && !zero)
		out_c(o, '-');
	while (n)
		out_c(o, tmp[--n]);
	if (left)
		for (; width > len; width--)
			out_c(o, ' ');
}

static void format(struct outbuf *o, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		unsigned int width = 0, lng = 0;
		bool zero = false, left = false;

		if (*fmt != '%') {
			out_c(o, *fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '0')
				zero = true;
			else if (*fmt == '-')
				left = true;
			else if (*fmt != ' ' && *fmt != '+' && *fmt != '#')
				break;
		}
		if (*fmt == '*') {
			int w = va_arg(ap, int);

			width = w < 0 ? 0 : (unsigned int)w;
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (unsigned int)(*fmt++ - '0');
		for (;; fmt++) {
			if (*fmt == 'l')
				lng++;
			else if (*fmt == 'z' || *fmt == 'j' || *fmt == 't')
				lng = 2;
			else if (*fmt != 'h')
				break;
		}
		switch (*fmt) {
		case 'd':
		case 'i': {
			long long v = lng >= 2 ? va_arg(ap, long long) :
				      lng == 1 ? va_arg(ap, long) : va_arg(ap, int);
			unsigned long long u = v < 0 ? 0ull - (unsigned long long)v :
					       (unsigned long long)v;

			out_num(o, u, 10, false, v < 0, width, zero, left);
			break;
		}
		case 'u':
		case 'x':
		case 'X':
		case 'o': {
			unsigned long long v = lng >= 2 ? va_arg(ap, unsigned long long) :
					       lng == 1 ? va_arg(ap, unsigned long) :
					       va_arg(ap, unsigned int);
			unsigned int base = *fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16;

			out_num(o, v, base, *fmt == 'X', false, width, zero, left);
			break;
		}
		case 'p':
			out_c(o, '0');
			out_c(o, 'x');
			out_num(o, (uintptr_t)va_arg(ap, void *), 16, false, false, width, zero, left);
			break;
		case 'c':
			out_c(o, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			size_t len;

			if (!s)
				s = "(null)";
			len = port_strlen(s);
			if (!left)
				for (; width > len; width--)
					out_c(o, ' ');
			while (*s)
				out_c(o, *s++);
			if (left)
				for (; width > len; width--)
					out_c(o, ' ');
			break;
		}
		case '%':
			out_c(o, '%');
			break;
		case '\0':
			return;
		default:
			out_c(o, '%');
			out_c(o, *fmt);
			break;
		}
	}
}

static void console_write(const char *s, size_t len, bool panic)
{
	ik_irqflags_t flags = ik_os_irq_save();
	bool locked = true;

	if (panic) {
		/* Do not wait forever for a CPU that died holding the lock. */
		unsigned int spins = 0;

		while (__atomic_exchange_n(&console_lock.opaque[0], 1, __ATOMIC_ACQUIRE))
			if (++spins > 10000000) {
				locked = false;
				break;
			}
	} else {
		while (__atomic_exchange_n(&console_lock.opaque[0], 1, __ATOMIC_ACQUIRE))
			cpu_pause();
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			serial_putc('\r');
		serial_putc(s[i]);
	}
	if (locked)
		__atomic_store_n(&console_lock.opaque[0], 0, __ATOMIC_RELEASE);
	ik_os_irq_restore(flags);
}

void port_vprintf(const char *prefix, const char *fmt, va_list ap)
{
	char line[512];
	struct outbuf o = { line, 0, sizeof(line) };

	while (prefix && *prefix)
		out_c(&o, *prefix++);
	format(&o, fmt, ap);
	console_write(line, o.len, false);
}

void port_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	port_vprintf(NULL, fmt, ap);
	va_end(ap);
}

void port_panic_printf(const char *fmt, ...)
{
	char line[512];
	struct outbuf o = { line, 0, sizeof(line) };
	va_list ap;

	va_start(ap, fmt);
	format(&o, fmt, ap);
	va_end(ap);
	console_write(line, o.len, true);
}

void port_exit(unsigned int code)
{
	cli();
	/* Let the transmitter drain before QEMU goes away. */
	for (unsigned int i = 0; i < 100000 && !(port_inb(COM1 + 5) & 0x40); i++)
		cpu_pause();
	port_outl(DEBUG_EXIT_PORT, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void port_fail(const char *fmt, ...)
{
	char line[512];
	struct outbuf o = { line, 0, sizeof(line) };
	va_list ap;

	va_start(ap, fmt);
	format(&o, fmt, ap);
	va_end(ap);
	console_write(line, o.len, true);
	port_panic_printf("PORT: FAIL %s\n", port_current_test ? port_current_test : "(boot)");
	port_exit(0x11);
}

/* ---- Compiler support ------------------------------------------------------------------ */

/* rep string instructions: a plain loop could be turned back into a memset() call. */
void *memset(void *dst, int c, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	if ((uintptr_t)dst <= (uintptr_t)src || (uintptr_t)dst >= (uintptr_t)src + n)
		return memcpy(dst, src, n);
	{
		unsigned char *d = (unsigned char *)dst + n - 1;
		const unsigned char *s = (const unsigned char *)src + n - 1;

		__asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	}
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t port_strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int port_strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

/* libgcc's population count (no -mpopcnt: the library's cpumask weight calls it). */
int __popcountdi2(long long a);
int __popcountdi2(long long a)
{
	unsigned long long v = (unsigned long long)a;
	int n = 0;

	for (; v; v &= v - 1)
		n++;
	return n;
}

// SPDX-License-Identifier: BSD-2-Clause
/* Logging, assertions and the two memory helpers the core needs. */
#include "internals.h"

void ik_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ik_os_vlog(level, fmt, ap);
	va_end(ap);
}

bool ik_warn_on(bool cond, const char *expr, const char *file, int line)
{
	if (ik_unlikely(cond))
		ik_log(IK_LOG_WARN, "WARN: %s at %s:%d", expr, file, line);
	return cond;
}

void ik_memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;

	while (n--)
		*d++ = (unsigned char)c;
}

void ik_memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
}

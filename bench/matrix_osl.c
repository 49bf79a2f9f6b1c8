// SPDX-License-Identifier: BSD-2-Clause
/*
 * Minimal hosted OS services for bench_matrix_scale: only what the matrix
 * allocator uses (memory and logging).
 */
#include <stdio.h>
#include <stdlib.h>

#include <irqkit/osl.h>

void *ik_os_alloc(size_t size)
{
	return calloc(1, size);
}

void ik_os_free(void *ptr)
{
	free(ptr);
}

void ik_os_vlog(int level, const char *fmt, va_list ap)
{
	fprintf(stderr, "<%d> ", level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * irqkit environment header: the only place where the library meets the
 * compiler.  Fixed-width types, compile-time configuration, the error table
 * and a handful of compiler builtins.  Nothing here reaches libc.
 */
#ifndef IRQKIT_ENV_H
#define IRQKIT_ENV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Maximum number of logical CPUs the library is built for (cf. NR_CPUS). */
#ifndef IK_CPUS_MAX
#define IK_CPUS_MAX 256
#endif

/* Interrupt numbers are allocated from [0, IK_NR_IRQS_MAX). */
#ifndef IK_NR_IRQS_MAX
#define IK_NR_IRQS_MAX (1u << 21)
#endif

/*
 * Error table.  Functions return the negative of these values.  The numbers
 * are the Linux/POSIX errno numbers so a port can pass them through unchanged.
 */
#define IK_EPERM        1   /* operation not permitted in this state */
#define IK_ENOENT       2   /* no such interrupt, domain or mapping */
#define IK_EIO          5   /* hardware did not respond as required */
#define IK_EAGAIN      11   /* try again later */
#define IK_ENOMEM      12   /* memory allocation failed */
#define IK_EBUSY       16   /* resource in use */
#define IK_EEXIST      17   /* already exists / already allocated */
#define IK_ENODEV      19   /* no such device, CPU or domain */
#define IK_EINVAL      22   /* invalid argument (API misuse) */
#define IK_ENOSPC      28   /* no space left (vectors, slots, numbers) */
#define IK_ERANGE      34   /* index or value out of range */
#define IK_ENOSYS      38   /* operation not implemented by this chip/domain */
#define IK_ENOTSUPP   524   /* not supported by this hardware */
#define IK_ENOTCONN   107   /* level not connected (hierarchy trim marker) */

/**
 * ik_strerror - describe an irqkit error code
 * @err: a negative (or positive) IK_E* value
 *
 * Context: any.
 * Return: a static string; "unknown error" for values not in the table.
 */
const char *ik_strerror(int err);

#define IK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define IK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define IK_MAX(a, b) ((a) > (b) ? (a) : (b))
#define IK_BIT(n) (1u << (n))
#define IK_BIT64(n) (1ull << (n))
#define IK_DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))

#define ik_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define ik_likely(x) __builtin_expect(!!(x), 1)
#define ik_unlikely(x) __builtin_expect(!!(x), 0)

/*
 * Single-copy atomic accesses for fields read without the lock that
 * protects their writers (e.g. the per-CPU vector table read on entry).
 * These are compiler builtins, not library calls.
 */
#define IK_READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define IK_WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
#define IK_ATOMIC_INC(x) __atomic_add_fetch(&(x), 1, __ATOMIC_RELAXED)
#define IK_ATOMIC_DEC(x) __atomic_sub_fetch(&(x), 1, __ATOMIC_ACQ_REL)

#define IK_STATIC_ASSERT(c, msg) _Static_assert(c, msg)

#endif /* IRQKIT_ENV_H */

// SPDX-License-Identifier: BSD-2-Clause
/*
 * The tables of device kinds and platforms.  Each plug-in file registers
 * itself from a constructor (TOOL_REGISTER_KIND / TOOL_REGISTER_PLATFORM),
 * so adding a kind is adding a file.  Listings are sorted by name.
 */
#include <string.h>

#include "tool.h"

#define MAX_KINDS 32
#define MAX_PLATFORMS 8

static const struct tool_kind *kinds[MAX_KINDS];
static unsigned int nr_kinds;
static const struct tool_platform *platforms[MAX_PLATFORMS];
static unsigned int nr_platforms;

static void insert_sorted(const void **table, unsigned int *nr, unsigned int max, const void *item,
			  const char *name, const char *(*name_of)(const void *))
{
	unsigned int i;

	if (*nr >= max)
		return;
	for (i = *nr; i > 0 && strcmp(name_of(table[i - 1]), name) > 0; i--)
		table[i] = table[i - 1];
	table[i] = item;
	(*nr)++;
}

static const char *kind_name(const void *k)
{
	return ((const struct tool_kind *)k)->name;
}

static const char *platform_name(const void *p)
{
	return ((const struct tool_platform *)p)->name;
}

void tool_register_kind(const struct tool_kind *k)
{
	insert_sorted((const void **)kinds, &nr_kinds, MAX_KINDS, k, k->name, kind_name);
}

void tool_register_platform(const struct tool_platform *p)
{
	insert_sorted((const void **)platforms, &nr_platforms, MAX_PLATFORMS, p, p->name,
		      platform_name);
}

const struct tool_kind *tool_find_kind(const char *name, size_t len)
{
	for (unsigned int i = 0; i < nr_kinds; i++)
		if (strlen(kinds[i]->name) == len && !memcmp(kinds[i]->name, name, len))
			return kinds[i];
	return NULL;
}

const struct tool_platform *tool_find_platform(const char *name, size_t len)
{
	for (unsigned int i = 0; i < nr_platforms; i++)
		if (strlen(platforms[i]->name) == len && !memcmp(platforms[i]->name, name, len))
			return platforms[i];
	return NULL;
}

unsigned int tool_kinds(const struct tool_kind **out, unsigned int max)
{
	unsigned int n = nr_kinds < max ? nr_kinds : max;

	memcpy(out, kinds, n * sizeof(*out));
	return n;
}

unsigned int tool_platforms(const struct tool_platform **out, unsigned int max)
{
	unsigned int n = nr_platforms < max ? nr_platforms : max;

	memcpy(out, platforms, n * sizeof(*out));
	return n;
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target for the scenario language.
 *
 * Every input is lexed, parsed and checked.  Inputs that are well formed
 * and small are also run on a tiny machine (at most 8 CPUs, deterministic
 * mode, counts clamped), with every view, the DOT output and the trace
 * written to /dev/null, and torn down; the teardown must free everything
 * the library allocated.  A crash, a sanitizer report, a leak or a failed
 * teardown is a finding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "host_port.h"
#include "tool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT 16384
#define FUZZ_MAX_CMDS 128

static FILE *devnull;

/* Clamp what could make one input slow; refuse what the fuzzer should not run. */
static bool make_small(struct script *s)
{
	unsigned int n = 0;

	for (struct cmd *c = s->head; c; c = c->next) {
		if (++n > FUZZ_MAX_CMDS)
			return false;
		if (c->repeat > 4)
			c->repeat = 4;
		switch (c->verb) {
		case V_MODE:
			if (c->u.mode.threaded)
				return false;
			break;
		case V_MACHINE:
			if (c->u.machine.nr_cpus > 8)
				return false;
			break;
		case V_FIRE:
			if (c->u.fire.count > 8)
				c->u.fire.count = 8;
			if (c->u.fire.burst > 4)
				c->u.fire.burst = 4;
			if (c->u.fire.gap > 8)
				c->u.fire.gap = 8;
			break;
		default:
			break;
		}
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag d = { .out = NULL, .max_errors = 64 };
	struct parse_opts po = { .allow_include = false };
	struct script s;
	struct world w;
	int64_t leaked;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (!devnull) {
		devnull = fopen("/dev/null", "w");
		if (!devnull)
			abort();
		sim_port_set_log_level(-1);
	}
	script_init(&s);
	if (script_parse_text(&s, &d, "<fuzz>", (const char *)data, size, &po) ||
	    sema_script(&d, &s) || !make_small(&s)) {
		script_free(&s);
		return 0;
	}
	world_init(&w, &d, devnull);
	sim_port_set_log_level(-1);
	w.err = devnull;
	w.progress = false;
	w.trace = trace_create();
	world_run_script(&w, &s);
	if (w.built) {
		for (int v = VIEW_TREE; v <= VIEW_SUMMARY; v++) {
			view_print(&w, devnull, (enum view)v, false);
			view_print(&w, devnull, (enum view)v, true);
		}
		dot_write(&w, devnull);
		if (w.trace)
			trace_write(w.trace, &w, devnull);
	}
	leaked = world_fini(&w);
	if (leaked) {
		fprintf(stderr, "fuzz_scenario: teardown failed or the library leaked (%lld)\n",
			(long long)leaked);
		abort();
	}
	trace_destroy(w.trace);
	script_free(&s);
	return 0;
}

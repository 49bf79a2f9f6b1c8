// SPDX-License-Identifier: BSD-2-Clause
/*
 * irqkit - build a simulated machine from a scenario, drive the interrupt
 * library on it, and show what happened.
 *
 *   irqkit [run] [FILE]        run a scenario (default: the embedded one)
 *   irqkit shell [FILE]        the scenario language interactively
 *   irqkit check FILE          parse and check only
 *   irqkit tree|interrupts|vectors|devices [FILE] [--format json]
 *   irqkit dot [FILE] [--out f.dot]
 *   irqkit trace [FILE] [--out trace.json]
 *   irqkit default | kinds | help [COMMAND]
 *
 * Exit status: 0 every expectation held, 1 one failed (or the library
 * leaked or an action failed unexpectedly), 2 bad input.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host_port.h"
#include "tool.h"

#define IRQKIT_VERSION "0.1.0"

void tool_print_kinds(FILE *out);
void shell_free_kept(void);

enum command { C_RUN, C_SHELL, C_CHECK, C_TREE, C_INTERRUPTS, C_VECTORS, C_DEVICES, C_DOT,
	       C_TRACE, C_DEFAULT, C_KINDS, C_HELP };

static const struct {
	const char *name;
	enum command cmd;
	const char *usage;
	const char *help;
} commands[] = {
	{ "run", C_RUN, "irqkit run [FILE] [--seed N] [--format text|json] [-v|-q]",
	  "Build the machine a scenario describes (the embedded default without FILE), run its\n"
	  "actions and expectations, and print a summary per device: interrupts fired by the\n"
	  "device, messages sent, delivered to handlers (in total and by CPU), pending now,\n"
	  "spurious (no handler claimed them) and blocked (fires that sent no message:\n"
	  "held or merged while masked).\n"
	  "  --seed N       override the scenario's seed\n"
	  "  --format json  print the summary as JSON (echo and show lines are not printed)\n"
	  "  -v, --verbose  print every action and expectation as it runs\n"
	  "  -q, --quiet    print only failures and the verdict\n" },
	{ "shell", C_SHELL, "irqkit shell [FILE] [--seed N]",
	  "Read scenario lines interactively (with line editing and history when built with\n"
	  "libedit) and run each at once.  With FILE, run it first, then continue in the shell.\n"
	  "'help' lists examples, 'kinds' the device kinds, 'quit' leaves.\n" },
	{ "check", C_CHECK, "irqkit check FILE",
	  "Parse FILE (and its includes) and check names, indices and CPU numbers without\n"
	  "running anything.  Exit status 0 if it is well formed, 2 otherwise.\n" },
	{ "tree", C_TREE, "irqkit tree [FILE] [--format text|json] [--seed N]",
	  "Run the scenario, then print the domain hierarchy: each domain with its chips,\n"
	  "parent, flags (root, msi-parent, msi-device, remap) and number of interrupts.\n" },
	{ "interrupts", C_INTERRUPTS, "irqkit interrupts [FILE] [--format text|json] [--seed N]",
	  "Run the scenario, then print a /proc/interrupts-like table: interrupts handled per\n"
	  "CPU, chip, domain, hardware number, current target (cpu:vector, * = moving), name.\n" },
	{ "vectors", C_VECTORS, "irqkit vectors [FILE] [--format text|json] [--seed N]",
	  "Run the scenario, then print the vector matrix per CPU: APIC ID, online, available\n"
	  "and allocated vectors, managed reservations, spurious vectors, cleanups, and the\n"
	  "vectors in use with their interrupts.\n" },
	{ "devices", C_DEVICES, "irqkit devices [FILE] [--format text|json] [--seed N]",
	  "Run the scenario, then print every device with its interrupts: mode, index,\n"
	  "interrupt number, target, state, masked and pending (in the core and in the\n"
	  "device), counters and handlers.\n" },
	{ "dot", C_DOT, "irqkit dot [FILE] [--out f.dot] [--seed N]",
	  "Run the scenario, then write the hierarchy as Graphviz DOT (to stdout, or to\n"
	  "--out; then also an SVG next to it when the 'dot' program is installed).\n" },
	{ "trace", C_TRACE, "irqkit trace [FILE] [--out trace.json] [--seed N]",
	  "Run the scenario with tracing and write a Chrome/Perfetto JSON trace (default\n"
	  "trace.json): one track per CPU (interrupt entry/exit, handlers, messages, EOIs,\n"
	  "IPIs) and per device (fires, deliveries, masks, affinity changes, allocations),\n"
	  "and one for the machine (hotplug).  Open it in ui.perfetto.dev or chrome://tracing.\n" },
	{ "default", C_DEFAULT, "irqkit default",
	  "Print the embedded default scenario (a starting point for your own).\n" },
	{ "kinds", C_KINDS, "irqkit kinds", "List the platforms and device kinds with their "
					    "parameters.\n" },
	{ "help", C_HELP, "irqkit help [COMMAND]", "Show help for irqkit or one command.\n" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: irqkit [COMMAND] [FILE] [OPTIONS]\n\n"
		     "Builds a simulated machine from a scenario and drives the irqkit interrupt\n"
		     "library on it.  Without a command: 'run' on the embedded default machine.\n\n"
		     "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %s\n", commands[i].usage);
	fprintf(out, "\n'irqkit help COMMAND' or 'irqkit COMMAND --help' for details; the scenario\n"
		     "language is described in docs/scenarios.md and irqkit(1).\n"
		     "Exit status: 0 all expectations held, 1 one failed, 2 bad input.\n");
}

static void command_help(FILE *out, enum command c)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (commands[i].cmd != c)
			continue;
		fprintf(out, "usage: %s\n\n%s", commands[i].usage, commands[i].help);
		if (c != C_HELP && c != C_DEFAULT && c != C_KINDS)
			fprintf(out, "\nExit status: 0 all expectations held, 1 one failed, 2 bad "
				     "input.\n");
	}
}

struct options {
	enum command cmd;
	const char *file;
	const char *out;
	bool json, verbose, quiet;
	bool seed_given;
	uint64_t seed;
};

static int parse_args(int argc, char **argv, struct options *o)
{
	int i = 1;

	memset(o, 0, sizeof(*o));
	o->cmd = C_RUN;
	if (i < argc && argv[i][0] != '-') {
		size_t k;

		for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
			if (!strcmp(argv[i], commands[k].name)) {
				o->cmd = commands[k].cmd;
				i++;
				break;
			}
		}
		/* "irqkit FILE" runs FILE. */
	}
	for (; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			if (o->cmd == C_RUN && i == 1)
				usage(stdout);
			else
				command_help(stdout, o->cmd);
			exit(0);
		} else if (!strcmp(a, "--version")) {
			printf("irqkit %s\n", IRQKIT_VERSION);
			exit(0);
		} else if (!strcmp(a, "--format") || !strncmp(a, "--format=", 9)) {
			const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);

			if (!v || (strcmp(v, "json") && strcmp(v, "text"))) {
				fprintf(stderr, "irqkit: --format takes 'text' or 'json'\n");
				return 2;
			}
			o->json = !strcmp(v, "json");
		} else if (!strcmp(a, "--out") || !strcmp(a, "-o") || !strncmp(a, "--out=", 6)) {
			const char *v = a[5] == '=' ? a + 6 : (i + 1 < argc ? argv[++i] : NULL);

			if (!v || !*v) {
				fprintf(stderr, "irqkit: --out takes a file name\n");
				return 2;
			}
			o->out = v;
		} else if (!strcmp(a, "--seed") || !strncmp(a, "--seed=", 7)) {
			const char *v = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL);
			char *end;

			errno = 0;
			if (!v || !*v || (o->seed = strtoull(v, &end, 0), *end) || errno) {
				fprintf(stderr, "irqkit: --seed takes a number\n");
				return 2;
			}
			o->seed_given = true;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			o->verbose = true;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			o->quiet = true;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "irqkit: unknown option '%s' (see irqkit --help)\n", a);
			return 2;
		} else if (o->cmd == C_HELP && !o->file) {
			o->file = a;
		} else if (!o->file) {
			o->file = a;
		} else {
			fprintf(stderr, "irqkit: one scenario file at most ('%s' and '%s')\n", o->file,
				a);
			return 2;
		}
	}
	if ((o->cmd == C_CHECK) && !o->file) {
		fprintf(stderr, "irqkit: check needs a FILE\n");
		return 2;
	}
	if (o->out && o->cmd != C_DOT && o->cmd != C_TRACE) {
		fprintf(stderr, "irqkit: --out applies to dot and trace only\n");
		return 2;
	}
	if (o->json && (o->cmd == C_DOT || o->cmd == C_TRACE || o->cmd == C_SHELL ||
			o->cmd == C_CHECK)) {
		fprintf(stderr, "irqkit: --format applies to run, tree, interrupts, vectors and "
				"devices\n");
		return 2;
	}
	return 0;
}

static int load(struct script *s, struct diag *d, const char *file)
{
	struct parse_opts po = { .allow_include = true };

	script_init(s);
	if (file) {
		if (script_parse_file(s, d, file, &po))
			return -1;
	} else {
		po.allow_include = false;
		if (script_parse_text(s, d, "<default>", tool_default_scenario,
				      tool_default_scenario_len, &po))
			return -1;
	}
	return sema_script(d, s);
}

static void make_svg(const char *dot_file)
{
	char svg[4096];
	size_t n = strlen(dot_file);
	pid_t pid;
	int status;

	if (n > 4 && !strcmp(dot_file + n - 4, ".dot"))
		snprintf(svg, sizeof(svg), "%.*s.svg", (int)(n - 4), dot_file);
	else
		snprintf(svg, sizeof(svg), "%s.svg", dot_file);
	pid = fork();
	if (pid == 0) {
		execlp("dot", "dot", "-Tsvg", dot_file, "-o", svg, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		fprintf(stderr, "irqkit: wrote %s and %s\n", dot_file, svg);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		fprintf(stderr, "irqkit: wrote %s (install graphviz for an SVG: dot -Tsvg)\n",
			dot_file);
	else
		fprintf(stderr, "irqkit: wrote %s; 'dot -Tsvg' failed\n", dot_file);
}

static void verdict(struct world *w, FILE *out, int status)
{
	if (status == 2) {
		fprintf(out, "BAD INPUT: see the error above\n");
	} else if (status) {
		fprintf(out, "FAILED: %u of %u expectations failed", w->expect_failures, w->expects);
		if (w->action_failures)
			fprintf(out, "; %u action%s failed unexpectedly", w->action_failures,
				w->action_failures == 1 ? "" : "s");
		fprintf(out, "\n");
	} else {
		fprintf(out, "OK: %u expectation%s held\n", w->expects, w->expects == 1 ? "" : "s");
	}
}

int main(int argc, char **argv)
{
	struct diag d = { .out = stderr, .max_errors = 20 };
	struct options o;
	struct script s;
	struct world w;
	int status, ret;
	int64_t leaked;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret;
	switch (o.cmd) {
	case C_HELP:
		if (o.file) {
			for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
				if (!strcmp(o.file, commands[k].name)) {
					command_help(stdout, commands[k].cmd);
					return 0;
				}
			fprintf(stderr, "irqkit: no command '%s'\n", o.file);
			return 2;
		}
		usage(stdout);
		return 0;
	case C_DEFAULT:
		fwrite(tool_default_scenario, 1, tool_default_scenario_len, stdout);
		return 0;
	case C_KINDS:
		tool_print_kinds(stdout);
		return 0;
	default:
		break;
	}

	if (o.cmd == C_SHELL && !o.file) {
		script_init(&s);
	} else if (load(&s, &d, o.cmd == C_RUN || o.cmd == C_SHELL || o.cmd == C_CHECK ? o.file
											 : o.file)) {
		script_free(&s);
		return 2;
	}
	if (o.cmd == C_CHECK) {
		unsigned int n = 0;

		for (struct cmd *c = s.head; c; c = c->next)
			n++;
		printf("%s: %u commands, well formed\n", o.file, n);
		script_free(&s);
		return 0;
	}

	world_init(&w, &d, stdout);
	if (o.seed_given) {
		w.seed = o.seed;
		w.seed_forced = true;
	}
	w.verbose = o.verbose;
	if (o.verbose)
		sim_port_set_log_level(IK_LOG_WARN);
	/* Views and JSON print only what was asked for. */
	w.quiet = o.quiet || o.json || (o.cmd != C_RUN && o.cmd != C_SHELL);
	if (o.cmd == C_TRACE) {
		w.trace = trace_create();
		if (!w.trace) {
			fprintf(stderr, "irqkit: out of memory\n");
			return 2;
		}
	}
	if (o.cmd == C_SHELL) {
		d.max_errors = 0;
		if (s.head)
			world_run_script(&w, &s);
		w.stop = false;
		w.shell = true;
		w.err_pending = false;
		status = shell_main(&w, NULL);
		if (w.built && !w.quiet) {
			printf("\n");
			view_summary(&w, stdout);
		}
	} else {
		status = world_run_script(&w, &s);
		if (!w.built && status != 2 && world_build(&w, NULL) != 0)
			status = 2;
	}

	if (w.built && status != 2) {
		switch (o.cmd) {
		case C_RUN:
			if (o.json) {
				view_print(&w, stdout, VIEW_SUMMARY, true);
			} else {
				if (!o.quiet)
					printf("\nSummary per device (delivered = handler runs):\n");
				if (!o.quiet)
					view_summary(&w, stdout);
			}
			break;
		case C_TREE:
			view_print(&w, stdout, VIEW_TREE, o.json);
			break;
		case C_INTERRUPTS:
			view_print(&w, stdout, VIEW_INTERRUPTS, o.json);
			break;
		case C_VECTORS:
			view_print(&w, stdout, VIEW_VECTORS, o.json);
			break;
		case C_DEVICES:
			view_print(&w, stdout, VIEW_DEVICES, o.json);
			break;
		case C_DOT:
			if (o.out) {
				FILE *f = fopen(o.out, "w");

				if (!f || dot_write(&w, f) || fclose(f)) {
					fprintf(stderr, "irqkit: cannot write %s: %s\n", o.out,
						strerror(errno));
					status = 2;
				} else {
					make_svg(o.out);
				}
			} else {
				dot_write(&w, stdout);
			}
			break;
		default:
			break;
		}
	} else if (w.built && o.cmd == C_RUN && !o.json && !o.quiet) {
		printf("\nSummary per device (delivered = handler runs):\n");
		view_summary(&w, stdout);
	}
	if (o.cmd == C_TRACE && w.built) {
		const char *path = o.out ? o.out : "trace.json";
		FILE *f;

		/* Drain first so the trace includes everything still queued. */
		sim_run_until_idle(w.m);
		world_reap_chains(&w);
		f = fopen(path, "w");
		if (!f || trace_write(w.trace, &w, f) || fclose(f)) {
			fprintf(stderr, "irqkit: cannot write %s: %s\n", path, strerror(errno));
			status = 2;
		} else {
			fprintf(stderr, "irqkit: wrote %s (open it in ui.perfetto.dev)\n", path);
		}
	}
	leaked = world_fini(&w);
	if (leaked && status == 0)
		status = 1;
	if ((o.cmd == C_RUN || o.cmd == C_SHELL) && !o.json)
		verdict(&w, leaked ? stderr : stdout, status);
	else if (status == 1)
		fprintf(stderr, "irqkit: %u of %u expectations failed\n", w.expect_failures,
			w.expects);
	trace_destroy(w.trace);
	shell_free_kept();
	script_free(&s);
	return status;
}

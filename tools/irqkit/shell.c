// SPDX-License-Identifier: BSD-2-Clause
/*
 * irqkit shell: the scenario language, one line at a time, on a live
 * machine.  Line editing and history come from libedit when the tool was
 * built with it (IK_HAVE_LIBEDIT); otherwise plain line input.  The
 * library itself never depends on it.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef IK_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

#include "tool.h"

bool shell_has_line_editing(void)
{
#ifdef IK_HAVE_LIBEDIT
	return true;
#else
	return false;
#endif
}

static const char shell_help[] =
	"Type scenario lines (docs/scenarios.md), for example:\n"
	"  machine x86 cpus 4 apic-ids 2,5,8,11      (before anything else)\n"
	"  device nic testdev slots 8\n"
	"  allocate nic[0-3]\n"
	"  request nic[0-3] handler handled\n"
	"  fire nic[0] count 10\n"
	"  affinity nic[1] 2-3\n"
	"  cpu 2 offline\n"
	"  expect nic[0] delivered == 10\n"
	"  show tree | interrupts | vectors | devices | summary [json]\n"
	"Shell commands: help, kinds, quit (or end of input).\n"
	"Errors leave the machine unchanged; the shell goes on.\n";

static void print_kinds(FILE *out)
{
	const struct tool_kind *k[32];
	const struct tool_platform *p[8];
	unsigned int nk = tool_kinds(k, 32), np = tool_platforms(p, 8);

	fprintf(out, "platforms:\n");
	for (unsigned int i = 0; i < np; i++)
		fprintf(out, "  machine %s [cpus N] %s\n      %s\n", p[i]->name,
			p[i]->usage ? p[i]->usage : "", p[i]->summary);
	fprintf(out, "device kinds:\n");
	for (unsigned int i = 0; i < nk; i++)
		fprintf(out, "  device NAME %s %s\n      %s\n", k[i]->name, k[i]->usage,
			k[i]->summary);
}

void tool_print_kinds(FILE *out);
void tool_print_kinds(FILE *out)
{
	print_kinds(out);
}

static char *read_line(const char *prompt, bool tty)
{
#ifdef IK_HAVE_LIBEDIT
	if (tty) {
		char *l = readline(prompt);

		if (l && *l)
			add_history(l);
		return l;
	}
#endif
	{
		size_t cap = TOOL_MAX_LINE + 2;
		char *buf = malloc(cap);
		size_t n;

		if (!buf)
			return NULL;
		if (tty) {
			fputs(prompt, stdout);
			fflush(stdout);
		}
		if (!fgets(buf, (int)cap, stdin)) {
			free(buf);
			return NULL;
		}
		n = strlen(buf);
		if (n && buf[n - 1] == '\n')
			buf[--n] = 0;
		else if (n == cap - 1) {
			/* Overlong: swallow the rest; the lexer reports it. */
			int c;

			while ((c = getchar()) != EOF && c != '\n')
				;
		}
		return buf;
	}
}

/* Included scripts stay alive: error locations point at their file names. */
static struct script *kept;
static unsigned int nr_kept;

static void run_included(struct world *w, struct pcur *p, const char *file)
{
	const struct token *t = p_peek(p);
	struct parse_opts o = { .allow_include = true, .shell = true };
	struct script s, *nk;
	char name[4096];

	if (t->type != T_STR) {
		p_expected(p, "a file name in quotes after 'include'");
		return;
	}
	tok_text(t, name, sizeof(name));
	p_next(p);
	if (p_expect_end(p))
		return;
	script_init(&s);
	if (script_parse_file(&s, w->d, name, &o)) {
		w->bad_input = true;
		return;
	}
	for (struct cmd *c = s.head; c; c = c->next)
		world_exec(w, c);
	w->cur_loc = NULL;
	nk = realloc(kept, (nr_kept + 1) * sizeof(*kept));
	if (!nk) {
		script_free(&s);
		return;
	}
	kept = nk;
	kept[nr_kept++] = s;
	(void)file;
}

void shell_free_kept(void);
void shell_free_kept(void)
{
	for (unsigned int i = 0; i < nr_kept; i++)
		script_free(&kept[i]);
	free(kept);
	kept = NULL;
	nr_kept = 0;
}

int shell_main(struct world *w, const char *prompt_file)
{
	bool tty = isatty(STDIN_FILENO);
	unsigned int lineno = 0;
	const char *file = prompt_file ? prompt_file : "<shell>";

	if (tty) {
		fprintf(stdout, "irqkit shell%s. 'help' for help, 'quit' to leave.\n",
			shell_has_line_editing() ? "" : " (no line editing in this build)");
	}
	for (;;) {
		char *line = read_line("irqkit> ", tty);
		struct loc l = { file, ++lineno, 1 };
		struct tline tl;
		struct pcur p = { .tl = &tl, .d = w->d };
		struct cmd *c;

		if (!line)
			break;
		if (lex_line(w->d, &l, line, &tl)) {
			free(line);
			w->bad_input = true;
			continue;
		}
		free(line);
		if (!tl.n) {
			tline_free(&tl);
			continue;
		}
		if (p_is_word(p_peek(&p), "quit") || p_is_word(p_peek(&p), "exit")) {
			tline_free(&tl);
			break;
		}
		if (p_is_word(p_peek(&p), "help")) {
			fputs(shell_help, stdout);
			tline_free(&tl);
			continue;
		}
		if (p_is_word(p_peek(&p), "kinds")) {
			print_kinds(stdout);
			tline_free(&tl);
			continue;
		}
		if (p_accept(&p, "include")) {
			run_included(w, &p, file);
			tline_free(&tl);
			fflush(stdout);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			tline_free(&tl);
			break;
		}
		if (parse_cmd(&p, c) || p.failed) {
			w->bad_input = true;
			cmd_free(c);
			tline_free(&tl);
			continue;
		}
		tline_free(&tl);
		world_exec(w, c);
		w->cur_loc = NULL;
		fflush(stdout);
		/* The location's file name is static; the command can go. */
		cmd_free(c);
	}
	if (tty)
		fputc('\n', stdout);
	return world_status(w);
}

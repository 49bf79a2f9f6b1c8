/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * irqkit tool internals: the scenario language (tokens, parser, commands),
 * the world it drives (a simulated machine, the library on it, devices and
 * their interrupts), and the two plug-in interfaces:
 *
 *  - struct tool_platform: a platform (x86 today) - builds the machine and
 *    the root of the hierarchy, takes CPUs down and up, shows vectors;
 *  - struct tool_kind: a device kind (testdev today) - parses its
 *    parameters, creates the device and its driver, allocates, frees and
 *    fires its interrupts, reports the device's own counters.
 *
 * A new kind is one new file in tools/irqkit/ that defines a struct
 * tool_kind and registers it with TOOL_REGISTER_KIND(); nothing else needs
 * to change (see docs/scenarios.md, "Adding a device kind").
 *
 * The tool uses the library's public headers and the simulator's API only.
 */
#ifndef IRQKIT_TOOL_H
#define IRQKIT_TOOL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <irqkit/irq.h>
#include <irqkit/irqdomain.h>

#include "sim.h"

#define TOOL_NAME_MAX 32          /* device, handler and space names (with NUL) */
#define TOOL_MAX_DEVICES 64
#define TOOL_MAX_SPACES 4         /* interrupt index spaces per device */
#define TOOL_MAX_INDEX 4096       /* indices per space */
#define TOOL_MAX_SHARED 8         /* handlers per interrupt */
#define TOOL_MAX_TOKENS 256
#define TOOL_MAX_LINE 4096
#define TOOL_MAX_RANGES 32
#define TOOL_MAX_INCLUDE_DEPTH 16
#define TOOL_MAX_COUNT 100000000ull /* fire counts, repeat counts */
/* Claimed interrupts of a line held asserted before the tool drops the line. */
#define TOOL_HELD_STORM_MAX 10000u

/* ---- Source locations and diagnostics ------------------------------------ */

struct loc {
	const char *file;
	unsigned int line, col;
};

/* Diagnostics sink: every error is "file:line:col: error: ...". */
struct diag {
	FILE *out;
	unsigned int errors;
	unsigned int max_errors;  /* stop printing after this many (0 = no limit) */
};

void diag_error(struct diag *d, const struct loc *loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- Tokens ----------------------------------------------------------- */

enum tok_type {
	T_END,
	T_WORD,     /* [A-Za-z_][A-Za-z0-9_.-]* */
	T_NUM,      /* [0-9][0-9A-Za-z_]* ; value in num if num_ok */
	T_STR,      /* "..." ; unescaped text */
	T_LBRACK, T_RBRACK, T_COMMA, T_COLON, T_DOT, T_DASH, T_STAR,
	T_OP,       /* == != < <= > >= (= is ==) */
};

enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

struct token {
	enum tok_type type;
	const char *text;   /* not NUL-terminated; len bytes */
	unsigned int len;
	unsigned int col;
	uint64_t num;
	bool num_ok;
	enum cmp_op op;
};

/* One tokenized line.  Owns its text buffer. */
struct tline {
	struct loc loc;     /* col 1 */
	char *buf;
	struct token tok[TOOL_MAX_TOKENS];
	unsigned int n;     /* tokens before the T_END */
};

/* Tokenize @text (one line, no newline).  Return 0, or -1 after a diagnostic. */
int lex_line(struct diag *d, const struct loc *loc, const char *text, struct tline *out);
void tline_free(struct tline *tl);

/* Parser cursor over one line. */
struct pcur {
	struct tline *tl;
	unsigned int i;
	struct diag *d;
	bool failed;
};

const struct token *p_peek(struct pcur *p);
const struct token *p_next(struct pcur *p);
bool p_at_end(struct pcur *p);
bool p_is_word(const struct token *t, const char *w);
bool p_accept(struct pcur *p, const char *word);
bool p_accept_type(struct pcur *p, enum tok_type type);
struct loc p_loc(const struct pcur *p, const struct token *t);
/* "expected @what, got 'x'" at the current token; sets failed; returns -1. */
int p_expected(struct pcur *p, const char *what);
int p_error_at(struct pcur *p, const struct token *t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int p_expect_end(struct pcur *p);
int p_number(struct pcur *p, const char *what, uint64_t min, uint64_t max, uint64_t *out);
int p_name(struct pcur *p, const char *what, char out[TOOL_NAME_MAX], struct loc *loc);
/* One of @words (NULL-terminated); returns its index or -1. */
int p_choice(struct pcur *p, const char *what, const char *const *words);
/*
 * A PCI bus/device/function "BB:DD.F" (hex) into @bdf; on error names
 * @what ("a PCI address", "a requester ID") and shows @example.
 */
int p_bdf(struct pcur *p, const char *what, const char *example, uint16_t *bdf);

/*
 * The x86 platform's CPU-side hooks (plat_x86.c), shared by platforms that
 * run on the same x86 CPUs and vector domain (the ITS platform).
 */
struct plat_cpu_stats;
struct jw;
struct world;
int plat_x86_irq_target(unsigned int irq, unsigned int *cpu, unsigned int *vector, bool *moving);
struct machine_cfg;
int plat_x86_parse_apic_ids(struct pcur *p, struct machine_cfg *cfg);
uint32_t plat_x86_cpu_hw_id(struct world *w, unsigned int cpu);
int plat_x86_cpu_stats(struct world *w, unsigned int cpu, struct plat_cpu_stats *st);
/* A token's text as a NUL-terminated string (truncated to @size). */
void tok_text(const struct token *t, char *buf, size_t size);

/* ---- CPU sets and interrupt references ------------------------------------- */

enum cpuset_kind { CS_LIST, CS_ALL, CS_RANDOM };
struct cpuset {
	enum cpuset_kind kind;
	uint64_t bits;          /* CS_LIST; SIM_MAX_CPUS <= 64 */
	struct loc loc;
	unsigned int max_cpu;   /* highest CPU named (for checks) */
};
int p_cpuset(struct pcur *p, struct cpuset *cs);

struct range {
	uint32_t lo, hi;        /* inclusive */
};

/* DEV[:SPACE][[SPEC]] */
struct ref {
	char dev[TOOL_NAME_MAX];
	char space[TOOL_NAME_MAX];  /* "" = the device's first space */
	bool all;                   /* no [SPEC] or [*] */
	unsigned int nr;
	struct range r[TOOL_MAX_RANGES];
	struct loc loc, spec_loc;
};
int p_ref(struct pcur *p, struct ref *ref);
void ref_format(const struct ref *ref, char *buf, size_t size);

/* ---- Commands ------------------------------------------------------------ */

struct tool_platform;
struct tool_kind;
struct world;

enum verb {
	V_MACHINE, V_SEED, V_MODE, V_DEVICE, V_REMOVE, V_ALLOCATE, V_FREE, V_REQUEST,
	V_RELEASE, V_ENABLE, V_DISABLE, V_MASK, V_UNMASK, V_AFFINITY, V_FIRE, V_RUN_IDLE,
	V_CPU, V_INJECT, V_SHOW, V_ECHO, V_EXPECT, V_INCLUDE, V_ASSERT, V_DEASSERT,
};

#define TOOL_PLAT_OPTS_MAX 64
struct machine_cfg {
	const struct tool_platform *plat;
	unsigned int nr_cpus;
	bool ids_given;
	unsigned int nr_ids;
	uint32_t ids[SIM_MAX_CPUS];
	bool remapping;
	bool msi_naive;                /* x86: msi-update naive (the library's test switch) */
	struct loc loc;
};

enum behaviour { B_HANDLED, B_NONE, B_THREADED, B_COUNT };

enum view { VIEW_TREE, VIEW_INTERRUPTS, VIEW_VECTORS, VIEW_DEVICES, VIEW_SUMMARY };

struct fire_opts {
	uint64_t count, burst, gap;
	bool paced, nowait;
	bool torn;                     /* fire once, when the message is half rewritten */
	struct loc torn_loc;
};

enum subj { S_REF, S_CPU, S_DOMAIN, S_STAT, S_ERROR, S_OK };

struct expect {
	enum subj subj;
	struct ref ref;
	unsigned int cpu;              /* S_CPU; or per-CPU qualifier */
	bool on_cpu;                   /* "on CPU" qualifier of a counter */
	struct loc cpu_loc;
	char name[64];                 /* domain, stat, property, state, parent */
	char prop[32];
	struct loc prop_loc;
	bool is_state, negate;         /* "is [not] STATE" */
	enum cmp_op op;
	bool rhs_is_prop;
	uint64_t rhs;
	char rhs_prop[32];
	struct loc rhs_loc;
	struct cpuset cs;              /* "target in CPUS", "affinity == CPUS" */
	bool has_cs;
	int err;                       /* S_ERROR: positive code, -1 = any */
};

struct cmd {
	enum verb verb;
	struct loc loc;                /* of the verb */
	uint64_t repeat;               /* 1 unless "repeat N" */
	struct cmd *next;

	struct ref ref;                /* irq verbs */
	bool on_given;                 /* "on CPU" */
	bool on_random;
	bool on_target;                /* "on target": each interrupt's current CPU */
	unsigned int on_cpu;
	struct loc on_loc;

	union {
		struct machine_cfg machine;
		uint64_t seed;
		struct { bool threaded; unsigned int interleave; } mode;
		struct {
			char name[TOOL_NAME_MAX];
			struct loc name_loc;
			const struct tool_kind *kind;
			void *params;
		} device;
		struct { bool managed; bool has_aff; struct cpuset aff; } alloc;
		struct {
			enum behaviour b;
			uint64_t limit;
			char as[TOOL_NAME_MAX];
			bool shared, oneshot, noautoen;
		} request;
		char as[TOOL_NAME_MAX];        /* release */
		bool nosync;                   /* disable */
		struct cpuset cpus;            /* affinity */
		struct fire_opts fire;
		uint64_t serve;                /* assert: claims until the device drops the line */
		struct { unsigned int cpu; bool online; } cpu;
		uint64_t inject_nth;           /* 0 = off */
		struct { enum view view; bool json; } show;
		char *text;                    /* echo */
		struct expect expect;
	} u;
};

/* A parsed scenario: commands in order, includes flattened. */
struct script {
	struct cmd *head, **tail;
	char **files;                  /* file names kept for locs */
	unsigned int nr_files;
};

struct parse_opts {
	bool allow_include;            /* false for the embedded default and the fuzzer */
	bool shell;                    /* interactive: include loads at once */
};

/* Parse a whole file (path or in-memory text with @name).  Return 0; -1 on
 * errors (all reported to @d, nothing appended). */
int script_parse_file(struct script *s, struct diag *d, const char *path,
		      const struct parse_opts *o);
int script_parse_text(struct script *s, struct diag *d, const char *name, const char *text,
		      size_t len, const struct parse_opts *o);
void script_init(struct script *s);
void script_free(struct script *s);
void cmd_free(struct cmd *c);

/* Parse a single tokenized line into @c (no include).  0 or -1. */
int parse_cmd(struct pcur *p, struct cmd *c);

/* ---- Static checks (names, indices, CPUs) ---------------------------------- */

struct sym_dev {
	char name[TOOL_NAME_MAX];
	const struct tool_kind *kind;
	unsigned int nr_spaces;
	char space[TOOL_MAX_SPACES][TOOL_NAME_MAX];
	unsigned int size[TOOL_MAX_SPACES];
};

struct symtab {
	bool machine_set;              /* a "machine" line was seen */
	bool built;                    /* a line that needs the machine was seen */
	struct loc built_loc;
	unsigned int nr_cpus;
	unsigned int nr_devs;
	struct sym_dev dev[TOOL_MAX_DEVICES];
	bool torn_pending;             /* the previous line armed "fire ... torn" */
	unsigned int torn_line;
};

void symtab_init(struct symtab *st);
/* Check @c against @st and apply its effect on names.  0 or -1 (reported). */
int sema_cmd(struct symtab *st, struct diag *d, const struct cmd *c);
/* Check only / apply only (the executor applies after success). */
int sema_check_only(struct symtab *st, struct diag *d, const struct cmd *c);
void sema_apply_only(struct symtab *st, const struct cmd *c);
/* Check a whole script from a fresh table. */
int sema_script(struct diag *d, const struct script *s);
/* Does this verb need the machine to be built? */
bool verb_needs_machine(enum verb v);

/* ---- Plug-ins ------------------------------------------------------------ */

struct space_desc {
	char name[TOOL_NAME_MAX];
	unsigned int size;
};

/* Per-index hardware state reported by a kind. */
struct hw_state {
	uint64_t fired;                /* fire requests at the device */
	uint64_t sent;                 /* messages the device wrote */
	bool masked;                   /* masked in the device */
	bool pending;                  /* pending in the device */
	bool valid;
};

/* The message an index would send now, as the device's registers hold it. */
struct dev_msg {
	uint64_t addr;
	uint32_t data;
	bool valid;                    /* false: nothing would be sent (slot invalid, off) */
};

struct tool_device;

struct tool_kind {
	const char *name;
	const char *summary;           /* one line */
	const char *usage;             /* parameter syntax, for help and errors */
	/* Parse "device NAME KIND <params>"; the cursor is after KIND.  Return
	 * malloc'ed params (freed with free()) or NULL after a diagnostic. */
	void *(*parse)(struct pcur *p);
	/* Index spaces of a device with @params.  Returns their number (>= 1). */
	unsigned int (*spaces)(const void *params, struct space_desc out[TOOL_MAX_SPACES]);
	/* Create the device and its driver on the built machine (process
	 * context).  Return 0 or -IK_E*; nothing left behind on failure. */
	int (*create)(struct world *w, struct tool_device *d, const void *params);
	/* Unbind the driver; every interrupt of the device has been freed. */
	int (*remove)(struct world *w, struct tool_device *d);
	/* Allocate interrupts for indices [first, first + nr) of @space
	 * (sleepable, on a CPU).  Return the first interrupt number or -IK_E*. */
	int (*alloc)(struct world *w, struct tool_device *d, unsigned int space, unsigned int first,
		     unsigned int nr, const struct ik_irq_affinity_desc *aff);
	/* Free interrupts [first, first + nr) of @space.  0 or -IK_E*. */
	int (*free)(struct world *w, struct tool_device *d, unsigned int space, unsigned int first,
		    unsigned int nr);
	/* Interrupt number of an index, or -IK_ENOENT. */
	int (*irq_of)(struct world *w, struct tool_device *d, unsigned int space, unsigned int index);
	/* The device raises index @index once (device context). */
	void (*fire)(struct world *w, struct tool_device *d, unsigned int space, unsigned int index);
	/* Device-side counters and state of one index. */
	void (*hw)(struct world *w, struct tool_device *d, unsigned int space, unsigned int index,
		   struct hw_state *st);
	/* One line describing the device ("slots 8 base 0x... rid 00:01.0"). */
	void (*describe)(struct world *w, struct tool_device *d, char *buf, size_t size);
	/* Name of the interrupt mode of @space ("slot", "msix", ...). */
	const char *(*mode)(struct world *w, struct tool_device *d, unsigned int space);
	/* Optional: is @dom one of the device's domains?  Default: the domain
	 * is named like the device. */
	bool (*owns_domain)(struct world *w, struct tool_device *d, struct ik_irq_domain *dom);
	/* Optional (enables "fire ... torn"): the message of @index as its
	 * registers hold it now, read without side effects and without an
	 * interleaving point.  False if the index has no message registers. */
	bool (*msg)(struct world *w, struct tool_device *d, unsigned int space, unsigned int index,
		    struct dev_msg *m);
	/* Optional (enables "assert"/"deassert"): drive the level input line of
	 * @index and hold it (device context).  0 or -IK_E* (for example
	 * -IK_EINVAL for an edge-triggered input). */
	int (*set_line)(struct world *w, struct tool_device *d, unsigned int space,
			unsigned int index, bool asserted);
};

/* The PCI segment of the machine (created on first use), and 64-bit BAR
 * space (size-aligned).  For the PCI-based kinds. */
#define TOOL_PCI_BUSES 16
struct sim_pci_bus;
struct sim_pci_bus *tool_pci_bus(struct world *w);
uint64_t tool_pci_bar(struct world *w, uint64_t size);
/* The error detail of a device whose PCI address is in use. */
void tool_pci_slot_taken(uint16_t bdf);

/* The device a domain belongs to, or NULL. */
struct tool_device *world_domain_device(struct world *w, struct ik_irq_domain *dom);

struct plat_cpu_stats {
	bool online;
	unsigned int available, allocated, managed, managed_allocated;
	uint64_t spurious, cleanups, cleanups_postponed;
	uint64_t taken;                /* vectors taken by the CPU (hardware count) */
};

struct tool_platform {
	const char *name;
	const char *summary;
	const char *usage;
	/* Parse one platform-specific machine option at the cursor; return 1
	 * if consumed, 0 if not ours, -1 after a diagnostic. */
	int (*parse_opt)(struct pcur *p, struct machine_cfg *cfg);
	/* Build: create the machine (sim), the library, bring CPUs up. */
	int (*build)(struct world *w);
	/* Tear everything down that build made (devices are gone). */
	int (*teardown)(struct world *w);
	/* Parent domain for per-device MSI domains. */
	struct ik_irq_domain *(*msi_parent)(struct world *w);
	/* CPU hotplug, run on the CPU itself by the platform. */
	int (*cpu_offline)(struct world *w, unsigned int cpu);
	int (*cpu_online)(struct world *w, unsigned int cpu);
	/* Where an interrupt is delivered: CPU, vector, move in progress. */
	int (*irq_target)(unsigned int irq, unsigned int *cpu, unsigned int *vector, bool *moving);
	/* Per-CPU views. */
	const char *cpu_id_name;       /* "apic-id" */
	uint32_t (*cpu_hw_id)(struct world *w, unsigned int cpu);
	int (*cpu_stats)(struct world *w, unsigned int cpu, struct plat_cpu_stats *st);
	/* Optional: platform statistics by name ("dmar-faults"); 0 with the
	 * value in @v, or -1 when the name is not the platform's. */
	int (*stat)(struct world *w, const char *name, uint64_t *v);
	/* Optional: extra lines for the summary after the machine line. */
	void (*summary_lines)(struct world *w, FILE *out);
	/* Optional: the same facts for the JSON summary, as keys of its top
	 * object (one key per summary line: "dmar", "its"). */
	void (*summary_json)(struct world *w, struct jw *j);
};

/* Registration (constructors, so that adding a kind is adding a file). */
void tool_register_kind(const struct tool_kind *k);
void tool_register_platform(const struct tool_platform *p);
const struct tool_kind *tool_find_kind(const char *name, size_t len);
const struct tool_platform *tool_find_platform(const char *name, size_t len);
unsigned int tool_kinds(const struct tool_kind **out, unsigned int max);
unsigned int tool_platforms(const struct tool_platform **out, unsigned int max);

#define TOOL_REGISTER_KIND(k)                                               \
	static void __attribute__((constructor)) tool_register_##k(void)    \
	{                                                                   \
		tool_register_kind(&(k));                                   \
	}
#define TOOL_REGISTER_PLATFORM(p)                                           \
	static void __attribute__((constructor)) tool_register_##p(void)    \
	{                                                                   \
		tool_register_platform(&(p));                               \
	}

/* ---- The world ---------------------------------------------------------- */

struct tool_handler {
	struct tool_line *line;
	enum behaviour b;
	uint64_t limit;                /* B_COUNT */
	char name[TOOL_NAME_MAX];
	char irqname[48];
	uint64_t runs;                 /* __atomic */
	uint64_t none;                 /* __atomic: returned IK_IRQ_NONE */
	uint64_t thread_runs;          /* __atomic */
	bool leaving;
};

struct tool_line {
	struct tool_device *dev;
	unsigned int space, index;
	struct tool_handler *h[TOOL_MAX_SHARED];
	unsigned int nh;
	uint64_t delivered[SIM_MAX_CPUS]; /* __atomic: interrupt events run, per CPU */
	uint64_t events;               /* __atomic: sum of delivered */
	uint64_t spurious;             /* __atomic: events no handler claimed */
	uint64_t threads;              /* __atomic: threaded handler runs */
	uint64_t torn;                 /* fires made while the message was half rewritten */
	bool held;                     /* "assert": the input line is held asserted */
	bool storm_stopped;            /* the tool dropped it: a handled storm ran too long */
	uint64_t held_claimed;         /* claimed events since the assert */
	uint64_t held_left;            /* "assert ... count N": claims left; 0 = until deassert */
	struct loc held_loc;           /* of the "assert" */
	unsigned int group;            /* 1 + first index of its allocation; 0 = none */
	bool ev_claimed;               /* within one event (lines do not run concurrently) */
};

struct tool_space {
	char name[TOOL_NAME_MAX];
	unsigned int size;
	struct tool_line *lines;       /* size entries */
};

struct tool_device {
	char name[TOOL_NAME_MAX];
	const struct tool_kind *kind;
	void *priv;                    /* the kind's */
	unsigned int nr_spaces;
	struct tool_space sp[TOOL_MAX_SPACES];
	unsigned int id;               /* creation order, for trace tracks */
	bool dead;                     /* removed; kept until teardown for chains */
};

struct fire_chain;
struct torn_watch;
struct trace;
struct sim_pci_bus;

struct world {
	/* configuration (before the machine is built) */
	struct machine_cfg mcfg;
	uint64_t seed;
	bool seed_forced;              /* --seed overrides the scenario */
	bool threaded;
	unsigned int interleave;

	bool built;
	struct sim_machine *m;
	void *plat_priv;
	int64_t alloc_baseline;
	uint64_t next_mmio;            /* MMIO window allocator for devices */
	struct sim_pci_bus *pci_bus;   /* PCI segment (tool_pci_bus), freed with the machine */
	uint64_t pci_next_bar;
	unsigned int next_rid;

	struct tool_device *dev[TOOL_MAX_DEVICES];
	unsigned int nr_devs;
	struct tool_device *graveyard[TOOL_MAX_DEVICES * 4];
	unsigned int nr_graveyard;
	unsigned int dev_ids;
	struct symtab st;

	/* results */
	bool err_pending;              /* the previous action failed, unchecked */
	int last_err;                  /* 0 or -IK_E* of the previous action */
	bool have_last;
	struct loc last_loc;
	char last_what[160];
	unsigned int expects, expect_failures, action_failures;
	bool stop;                     /* stop executing (unexpected error, bad input) */
	bool bad_input;

	/* behaviour */
	bool shell;                    /* interactive: errors do not stop */
	bool verbose;
	bool quiet;                    /* no echo/show output (views) */
	FILE *out;
	FILE *err;                     /* failures and errors found while running */
	struct diag *d;
	struct trace *trace;
	struct fire_chain *chains;
	struct torn_watch *torns;      /* armed "fire ... torn" (until the next settle) */
	unsigned int saved_interleave; /* while torn watches are armed */
	bool inject_armed;

	/* progress on a terminal */
	bool progress;
	double t_start;
	double t_last_progress;
	bool progress_shown;
	const struct loc *cur_loc;
};

void world_init(struct world *w, struct diag *d, FILE *out);
/* Build the machine if not yet built.  0 or -1 (reported at @loc). */
int world_build(struct world *w, const struct loc *loc);
/* Tear down; returns leaked allocations (0 expected), or -1 on errors. */
int64_t world_fini(struct world *w);
/* Execute a script.  Returns exit status: 0 ok, 1 failed, 2 bad input. */
int world_run_script(struct world *w, const struct script *s);
/* Execute one command (shell).  Same status convention for this command. */
int world_exec(struct world *w, struct cmd *c);
/* Final check of an unconsumed error; returns the exit status so far. */
int world_status(struct world *w);

/* Run @fn(@w, @arg) on @cpu in process context; returns its result. */
int world_call(struct world *w, unsigned int cpu, int (*fn)(struct world *w, void *arg), void *arg);
struct world *world_current(void);
/* Devices: new (not yet created by the kind), delete (free memory), bury
 * (removed: out of the table, memory kept until teardown), teardown (free
 * every handler and interrupt, unbind the driver). */
struct tool_device *world_device_new(struct world *w, const char *name,
				     const struct tool_kind *kind, const void *params);
void world_device_delete(struct tool_device *d);
void world_device_bury(struct world *w, struct tool_device *d);
int world_device_teardown(struct world *w, struct tool_device *d);
int world_free_run(struct world *w, unsigned int cpu, struct tool_device *d, unsigned int space,
		   unsigned int first, unsigned int nr);
/* Handlers: install @h on @l (irq @irq) / remove it (frees @h on success). */
int world_request(struct world *w, unsigned int cpu, struct tool_line *l, unsigned int irq,
		  struct tool_handler *h, unsigned int flags);
int world_release(struct world *w, unsigned int cpu, struct tool_line *l, unsigned int irq,
		  struct tool_handler *h);
/* Fire indices of a device per @o (schedules device events; threaded: fires now). */
int world_fire(struct world *w, struct tool_device *d, unsigned int space, const uint32_t *idx,
	       unsigned int n, const struct fire_opts *o, const struct loc *loc);
/* Arm one torn fire per index (deterministic mode; the kind has msg()). */
int world_fire_torn(struct world *w, struct tool_device *d, unsigned int space,
		    const uint32_t *idx, unsigned int n, const struct loc *loc);
/* Torn fires still armed fire now, whole; then the watches are freed. */
void world_torn_disarm(struct world *w);
/* Run until idle and reap fire chains (stalled paced chains count as failures). */
void world_settle(struct world *w);
/* Free finished fire chains; report stalled paced ones; return how many stalled. */
unsigned int world_reap_chains(struct world *w);

/* Run @fn on @cpu in process context. */
void world_on_cpu(struct world *w, unsigned int cpu, void (*fn)(void *), void *arg);
unsigned int world_first_online(struct world *w);
unsigned int world_nr_cpus(const struct world *w);
struct tool_device *world_find_dev(struct world *w, const char *name);
int world_space_index(const struct tool_device *d, const char *space);
/* Interrupt number for device index, or -IK_ENOENT. */
int world_irq_of(struct world *w, struct tool_device *d, unsigned int space, unsigned int index);
/* Allocate an MMIO window for a device (page aligned). */
uint64_t world_alloc_mmio(struct world *w, uint64_t size);
uint16_t world_alloc_rid(struct world *w);
void world_label(const struct tool_device *d, unsigned int space, unsigned int index, char *buf,
		 size_t size);
double tool_now(void);
void world_progress(struct world *w, const char *what, uint64_t done, uint64_t total);
void world_progress_clear(struct world *w);

/* ---- Views -------------------------------------------------------------- */

void view_print(struct world *w, FILE *out, enum view v, bool json);
void view_summary(struct world *w, FILE *out);
int dot_write(struct world *w, FILE *out);

/* ---- JSON writer ---------------------------------------------------------- */

struct jw {
	FILE *out;
	unsigned int depth;
	bool first[64];
	bool pretty;
	bool after_key;
};
void jw_init(struct jw *j, FILE *out, bool pretty);
void jw_obj(struct jw *j);
void jw_obj_end(struct jw *j);
void jw_arr(struct jw *j);
void jw_arr_end(struct jw *j);
void jw_key(struct jw *j, const char *key);
void jw_str(struct jw *j, const char *s);
void jw_u64(struct jw *j, uint64_t v);
void jw_key_u64(struct jw *j, const char *key, uint64_t v);
void jw_i64(struct jw *j, int64_t v);
void jw_bool(struct jw *j, bool v);
void jw_null(struct jw *j);
void jw_raw(struct jw *j, const char *text);
/* Write @s as a JSON string literal to @out. */
void json_string(FILE *out, const char *s);

/* ---- Trace -------------------------------------------------------------- */

struct trace *trace_create(void);
void trace_attach(struct trace *t, struct world *w);   /* after build */
void trace_detach(struct trace *t, struct world *w);
/* Instant event on a device track (dev NULL: the machine track). */
void trace_instant(struct world *w, const struct tool_device *dev, const char *name,
		   const char *argfmt, ...) __attribute__((format(printf, 4, 5)));
/* Instant event on a CPU track. */
void trace_cpu_instant(struct world *w, unsigned int cpu, const char *name);
/* Handler slices on the CPU track. */
void trace_handler(struct world *w, unsigned int cpu, const struct tool_line *l, bool begin);
int trace_write(struct trace *t, struct world *w, FILE *out);
void trace_destroy(struct trace *t);

/* ---- Misc ----------------------------------------------------------------- */

/* What a failing action adds to its error message (kinds may set it). */
void set_action_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Error names: "ENOSPC" <-> 28. */
const char *err_name(int err);
int err_from_name(const char *name, size_t len);

extern const char tool_default_scenario[];
extern const unsigned long tool_default_scenario_len;

/* The shell. */
int shell_main(struct world *w, const char *prompt_file);
bool shell_has_line_editing(void);

#endif /* IRQKIT_TOOL_H */

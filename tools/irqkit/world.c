// SPDX-License-Identifier: BSD-2-Clause
/*
 * The world a scenario drives: the machine (built by the platform), the
 * devices (built by their kinds), the tool's interrupt handlers and their
 * counters, device fire chains, and progress on a terminal.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <irqkit/irqchip.h>

#include "host_port.h"
#include "sim_pci.h"
#include "tool.h"

static struct world *the_world;

double tool_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void world_init(struct world *w, struct diag *d, FILE *out)
{
	memset(w, 0, sizeof(*w));
	w->d = d;
	w->out = out;
	w->err = stderr;
	w->seed = 1;
	w->mcfg.nr_cpus = 4;
	w->next_mmio = 0xF0000000ull;
	w->next_rid = 0x0008;     /* 00:01.0 */
	symtab_init(&w->st);
	sim_port_set_log_level(IK_LOG_ERR - 1); /* shown with failures, or with -v */
	w->progress = isatty(STDERR_FILENO);
	w->t_start = tool_now();
	the_world = w;
}

struct world *world_current(void)
{
	return the_world;
}

int world_build(struct world *w, const struct loc *loc)
{
	int ret;

	if (w->built)
		return 0;
	if (!w->mcfg.plat) {
		w->mcfg.plat = tool_find_platform("x86", 3);
		if (!w->mcfg.plat) {
			diag_error(w->d, loc, "no platform available");
			return -1;
		}
	}
	ret = w->mcfg.plat->build(w);
	if (ret) {
		diag_error(w->d, loc, "building the %s machine failed: %s (%s)",
			   w->mcfg.plat->name, err_name(ret), ik_strerror(ret));
		return -1;
	}
	w->built = true;
	if (w->trace)
		trace_attach(w->trace, w);
	return 0;
}

unsigned int world_nr_cpus(const struct world *w)
{
	return w->m ? sim_nr_cpus(w->m) : w->mcfg.nr_cpus;
}

unsigned int world_first_online(struct world *w)
{
	for (unsigned int cpu = 0; cpu < sim_nr_cpus(w->m); cpu++)
		if (sim_cpu_is_online(w->m, cpu))
			return cpu;
	return 0;
}

void world_on_cpu(struct world *w, unsigned int cpu, void (*fn)(void *), void *arg)
{
	sim_run_on_cpu(w->m, cpu, fn, arg);
}

struct call {
	struct world *w;
	int (*fn)(struct world *w, void *arg);
	void *arg;
	int ret;
};

static void call_fn(void *arg)
{
	struct call *c = arg;

	c->ret = c->fn(c->w, c->arg);
}

int world_call(struct world *w, unsigned int cpu, int (*fn)(struct world *w, void *arg), void *arg)
{
	struct call c = { .w = w, .fn = fn, .arg = arg };

	sim_run_on_cpu(w->m, cpu, call_fn, &c);
	return c.ret;
}

struct tool_device *world_find_dev(struct world *w, const char *name)
{
	for (unsigned int i = 0; i < w->nr_devs; i++)
		if (!strcmp(w->dev[i]->name, name))
			return w->dev[i];
	return NULL;
}

struct tool_device *world_domain_device(struct world *w, struct ik_irq_domain *dom)
{
	for (unsigned int i = 0; i < w->nr_devs; i++) {
		struct tool_device *d = w->dev[i];

		if (d->kind->owns_domain ? d->kind->owns_domain(w, d, dom)
					 : !strcmp(ik_irq_domain_name(dom), d->name))
			return d;
	}
	return NULL;
}

int world_space_index(const struct tool_device *d, const char *space)
{
	if (!space || !space[0])
		return 0;
	for (unsigned int i = 0; i < d->nr_spaces; i++)
		if (!strcmp(d->sp[i].name, space))
			return (int)i;
	return -1;
}

int world_irq_of(struct world *w, struct tool_device *d, unsigned int space, unsigned int index)
{
	if (d->dead || space >= d->nr_spaces || index >= d->sp[space].size)
		return -IK_ENOENT;
	return d->kind->irq_of(w, d, space, index);
}

uint64_t world_alloc_mmio(struct world *w, uint64_t size)
{
	uint64_t base = w->next_mmio;

	size = (size + 0xFFF) & ~0xFFFull;
	w->next_mmio += size + 0x1000; /* a guard page between devices */
	return base;
}

uint16_t world_alloc_rid(struct world *w)
{
	uint16_t rid;

	/* Skip PCI addresses a device took with an explicit 'bdf'. */
	do {
		rid = (uint16_t)w->next_rid;
		w->next_rid += 8; /* next device number, function 0 */
	} while (w->pci_bus && sim_pci_bus_dev(w->pci_bus, rid) && w->next_rid < 0x10000);
	return rid;
}

void world_label(const struct tool_device *d, unsigned int space, unsigned int index, char *buf,
		 size_t size)
{
	if (space)
		snprintf(buf, size, "%s:%s[%u]", d->name, d->sp[space].name, index);
	else
		snprintf(buf, size, "%s[%u]", d->name, index);
}

/* ---- Devices ------------------------------------------------------------- */

struct tool_device *world_device_new(struct world *w, const char *name,
				     const struct tool_kind *kind, const void *params)
{
	struct space_desc sp[TOOL_MAX_SPACES];
	struct tool_device *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->kind = kind;
	d->nr_spaces = kind->spaces(params, sp);
	for (unsigned int i = 0; i < d->nr_spaces; i++) {
		memcpy(d->sp[i].name, sp[i].name, TOOL_NAME_MAX);
		d->sp[i].size = sp[i].size;
		d->sp[i].lines = calloc(sp[i].size, sizeof(struct tool_line));
		if (!d->sp[i].lines) {
			world_device_delete(d);
			return NULL;
		}
		for (unsigned int j = 0; j < sp[i].size; j++) {
			d->sp[i].lines[j].dev = d;
			d->sp[i].lines[j].space = i;
			d->sp[i].lines[j].index = j;
		}
	}
	d->id = w->dev_ids++;
	return d;
}

void world_device_delete(struct tool_device *d)
{
	if (!d)
		return;
	for (unsigned int i = 0; i < d->nr_spaces; i++) {
		if (!d->sp[i].lines)
			continue;
		for (unsigned int j = 0; j < d->sp[i].size; j++)
			for (unsigned int k = 0; k < d->sp[i].lines[j].nh; k++)
				free(d->sp[i].lines[j].h[k]);
		free(d->sp[i].lines);
	}
	free(d->priv);
	free(d);
}

/* A removed device stays allocated (events and the trace may refer to it). */
void world_device_bury(struct world *w, struct tool_device *d)
{
	for (unsigned int i = 0; i < w->nr_devs; i++) {
		if (w->dev[i] != d)
			continue;
		memmove(&w->dev[i], &w->dev[i + 1], (w->nr_devs - i - 1) * sizeof(d));
		w->nr_devs--;
		break;
	}
	d->dead = true;
	if (w->nr_graveyard < sizeof(w->graveyard) / sizeof(w->graveyard[0]))
		w->graveyard[w->nr_graveyard++] = d;
	/* else: leaked on purpose; at most 4x TOOL_MAX_DEVICES removals keep state */
}

/* ---- Handlers ------------------------------------------------------------ */

static bool handler_edge(const struct tool_line *l, const struct tool_handler *h, bool first)
{
	if (first) {
		for (unsigned int i = 0; i < l->nh; i++)
			if (!l->h[i]->leaving)
				return l->h[i] == h;
	} else {
		for (unsigned int i = l->nh; i-- > 0;)
			if (!l->h[i]->leaving)
				return l->h[i] == h;
	}
	return false;
}

static ik_irqreturn_t tool_handler_fn(unsigned int irq, void *dev_id)
{
	struct tool_handler *h = dev_id;
	struct tool_line *l = h->line;
	struct world *w = the_world;
	unsigned int cpu = sim_cpu_current(w->m);
	uint64_t runs = __atomic_add_fetch(&h->runs, 1, __ATOMIC_RELAXED);
	bool first = handler_edge(l, h, true), last = handler_edge(l, h, false);
	ik_irqreturn_t ret = IK_IRQ_HANDLED;

	switch (h->b) {
	case B_HANDLED:
		ret = IK_IRQ_HANDLED;
		break;
	case B_NONE:
		ret = IK_IRQ_NONE;
		break;
	case B_THREADED:
		ret = IK_IRQ_WAKE_THREAD;
		break;
	case B_COUNT:
		ret = runs <= h->limit ? IK_IRQ_HANDLED : IK_IRQ_NONE;
		break;
	}
	if (ret == IK_IRQ_NONE)
		__atomic_add_fetch(&h->none, 1, __ATOMIC_RELAXED);
	if (first) {
		if (w->trace)
			trace_handler(w, cpu, l, true);
		if (cpu < SIM_MAX_CPUS)
			__atomic_add_fetch(&l->delivered[cpu], 1, __ATOMIC_RELAXED);
		l->ev_claimed = false;
	}
	if (ret != IK_IRQ_NONE)
		l->ev_claimed = true;
	if (last) {
		if (!l->ev_claimed)
			__atomic_add_fetch(&l->spurious, 1, __ATOMIC_RELAXED);
		/*
		 * A level line held asserted whose handler keeps claiming is a
		 * storm nothing in the core stops (the spurious detector only
		 * sees unclaimed ones): past a bound the device lets go of the
		 * line and the run fails, naming it (world_settle).
		 */
		if (l->held && l->ev_claimed) {
			bool served = l->held_left && !--l->held_left;
			bool storm = ++l->held_claimed >= TOOL_HELD_STORM_MAX;

			/* Served: the handler cleared the device's last cause, the line drops. */
			if ((served || storm) &&
			    !l->dev->kind->set_line(w, l->dev, l->space, l->index, false)) {
				l->held = false;
				l->storm_stopped = !served;
			}
		}
		/* events last: a paced fire chain waits for it */
		__atomic_add_fetch(&l->events, 1, __ATOMIC_RELEASE);
		if (w->trace)
			trace_handler(w, cpu, l, false);
	}
	(void)irq;
	return ret;
}

static ik_irqreturn_t tool_thread_fn(unsigned int irq, void *dev_id)
{
	struct tool_handler *h = dev_id;

	__atomic_add_fetch(&h->thread_runs, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&h->line->threads, 1, __ATOMIC_RELAXED);
	(void)irq;
	return IK_IRQ_HANDLED;
}

struct req_call {
	unsigned int irq;
	struct tool_handler *h;
	unsigned int flags;
};

static int request_fn(struct world *w, void *arg)
{
	struct req_call *r = arg;

	if (r->h->b == B_THREADED)
		return ik_request_threaded_irq(r->irq, tool_handler_fn, tool_thread_fn, r->flags,
					       r->h->irqname, r->h);
	return ik_request_irq(r->irq, tool_handler_fn, r->flags, r->h->irqname, r->h);
}

int world_request(struct world *w, unsigned int cpu, struct tool_line *l, unsigned int irq,
		  struct tool_handler *h, unsigned int flags)
{
	struct req_call r = { .irq = irq, .h = h, .flags = flags };
	int ret;

	h->line = l;
	/* Installed in the list first: the first interrupt may come at once. */
	l->h[l->nh++] = h;
	ret = world_call(w, cpu, request_fn, &r);
	if (ret)
		l->h[--l->nh] = NULL;
	return ret;
}

static int free_fn(struct world *w, void *arg)
{
	struct req_call *r = arg;

	return ik_free_irq(r->irq, r->h);
}

int world_release(struct world *w, unsigned int cpu, struct tool_line *l, unsigned int irq,
		  struct tool_handler *h)
{
	struct req_call r = { .irq = irq, .h = h };
	int ret;

	h->leaving = true;
	ret = world_call(w, cpu, free_fn, &r);
	if (ret) {
		h->leaving = false;
		return ret;
	}
	for (unsigned int i = 0; i < l->nh; i++) {
		if (l->h[i] != h)
			continue;
		memmove(&l->h[i], &l->h[i + 1], (l->nh - i - 1) * sizeof(h));
		l->h[--l->nh] = NULL;
		break;
	}
	free(h);
	return 0;
}

/* ---- Fire chains ------------------------------------------------------- */

#define PACED_PATIENCE 20000

struct fire_chain {
	struct world *w;
	struct tool_device *dev;
	unsigned int space, index;
	struct fire_opts o;
	uint64_t left;
	uint64_t want_events;
	unsigned int patience;
	bool done, stalled;
	struct loc loc;
	struct fire_chain *next;
};

static uint64_t fires_done, fires_total;

static void chain_fire_once(struct fire_chain *c)
{
	struct tool_line *l = &c->dev->sp[c->space].lines[c->index];

	if (c->o.paced)
		c->want_events = __atomic_load_n(&l->events, __ATOMIC_ACQUIRE) + 1;
	if (c->w->trace)
		trace_instant(c->w, c->dev, "fire", "\"index\":%u,\"burst\":%llu", c->index,
			      (unsigned long long)c->o.burst);
	for (uint64_t b = 0; b < c->o.burst; b++)
		c->dev->kind->fire(c->w, c->dev, c->space, c->index);
	c->left--;
	fires_done++;
	if ((fires_done & 255) == 0)
		world_progress(c->w, "fire", fires_done, fires_total);
}

static void chain_event(void *arg)
{
	struct fire_chain *c = arg;
	struct tool_line *l;

	if (c->dev->dead || c->done) {
		c->done = true;
		return;
	}
	l = &c->dev->sp[c->space].lines[c->index];
	if (c->o.paced && c->want_events &&
	    __atomic_load_n(&l->events, __ATOMIC_ACQUIRE) < c->want_events) {
		if (++c->patience < PACED_PATIENCE) {
			sim_schedule(c->w->m, c->o.gap, chain_event, c);
		} else {
			c->stalled = true;
			c->done = true;
		}
		return;
	}
	c->patience = 0;
	if (!c->left) {
		c->done = true;
		return;
	}
	chain_fire_once(c);
	if (c->left || c->o.paced)
		sim_schedule(c->w->m, c->o.gap, chain_event, c);
	else
		c->done = true;
}

/* Threaded mode: the caller's thread is the device. */
static int fire_threaded(struct world *w, struct fire_chain **cs, unsigned int n)
{
	bool busy = true;

	while (busy) {
		busy = false;
		for (unsigned int i = 0; i < n; i++) {
			struct fire_chain *c = cs[i];
			struct tool_line *l = &c->dev->sp[c->space].lines[c->index];

			if (c->done)
				continue;
			if (c->o.paced && c->want_events &&
			    __atomic_load_n(&l->events, __ATOMIC_ACQUIRE) < c->want_events) {
				busy = true;
				if (++c->patience > PACED_PATIENCE * 50) {
					c->stalled = true;
					c->done = true;
				} else if (c->patience % 64 == 0) {
					usleep(50);
				}
				continue;
			}
			c->patience = 0;
			if (!c->left) {
				c->done = true;
				continue;
			}
			chain_fire_once(c);
			busy = true;
		}
	}
	return 0;
}

int world_fire(struct world *w, struct tool_device *d, unsigned int space, const uint32_t *idx,
	       unsigned int n, const struct fire_opts *o, const struct loc *loc)
{
	struct fire_chain **cs = calloc(n ? n : 1, sizeof(*cs));

	if (!cs)
		return -IK_ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		struct fire_chain *c = calloc(1, sizeof(*c));

		if (!c) {
			free(cs);
			return -IK_ENOMEM; /* chains made so far are on the list, idle */
		}
		c->w = w;
		c->dev = d;
		c->space = space;
		c->index = idx[i];
		c->o = *o;
		c->loc = *loc;
		c->left = o->count;
		c->next = w->chains;
		w->chains = c;
		cs[i] = c;
		fires_total += o->count;
	}
	if (w->threaded) {
		fire_threaded(w, cs, n);
	} else {
		for (unsigned int i = 0; i < n; i++)
			sim_schedule(w->m, 1 + i, chain_event, cs[i]);
	}
	free(cs);
	return 0;
}

/* ---- Torn fires ------------------------------------------------------------ */

/*
 * "fire REF torn": a watch per index polls the message the device holds, at
 * every interleaving point (the machine interleaves at every register
 * access while a watch is armed), and makes the device fire at the first
 * point where the message differs from the one it held when armed: the
 * library is then between its writes of the message (or has just finished
 * a single-write update).  When the machine next settles, a fire whose
 * message was neither the old one nor the one the device holds then went
 * out torn (half old, half new).  A watch still armed then fires there,
 * whole.
 */
struct torn_watch {
	struct world *w;
	struct tool_device *dev;
	unsigned int space, index;
	struct dev_msg snap;
	struct dev_msg sent;           /* what the fire found in the registers */
	bool armed, fired;
	struct loc loc;
	struct torn_watch *next;
};

static void torn_fire(struct torn_watch *tw, bool during, const struct dev_msg *now)
{
	tw->armed = false;
	tw->fired = during;
	tw->sent = *now;
	if (tw->w->trace)
		trace_instant(tw->w, tw->dev, during ? "fire during rewrite" : "fire",
			      "\"index\":%u,\"addr\":\"0x%llx\",\"data\":\"0x%x\"", tw->index,
			      (unsigned long long)now->addr, now->data);
	tw->dev->kind->fire(tw->w, tw->dev, tw->space, tw->index);
}

static void torn_event(void *arg)
{
	struct torn_watch *tw = arg;
	struct dev_msg now = { 0 };

	if (!tw->armed || tw->dev->dead)
		return;
	if (!tw->dev->kind->msg(tw->w, tw->dev, tw->space, tw->index, &now) || !now.valid ||
	    (now.addr == tw->snap.addr && now.data == tw->snap.data)) {
		sim_schedule(tw->w->m, 1, torn_event, tw);
		return;
	}
	torn_fire(tw, true, &now);
}

int world_fire_torn(struct world *w, struct tool_device *d, unsigned int space,
		    const uint32_t *idx, unsigned int n, const struct loc *loc)
{
	for (unsigned int i = 0; i < n; i++) {
		struct torn_watch *tw = calloc(1, sizeof(*tw));

		if (!tw)
			return -IK_ENOMEM; /* watches made so far stay armed */
		tw->w = w;
		tw->dev = d;
		tw->space = space;
		tw->index = idx[i];
		tw->loc = *loc;
		d->kind->msg(w, d, space, idx[i], &tw->snap);
		tw->armed = true;
		if (!w->torns)
			w->saved_interleave = sim_set_interleave(w->m, 1000);
		tw->next = w->torns;
		w->torns = tw;
		sim_schedule(w->m, 1, torn_event, tw);
	}
	return 0;
}

void world_torn_disarm(struct world *w)
{
	struct torn_watch *tw, *n;

	if (!w->torns)
		return;
	for (tw = w->torns; tw; tw = tw->next) {
		if (tw->armed && !tw->dev->dead) {
			struct dev_msg now = { 0 };

			tw->dev->kind->msg(w, tw->dev, tw->space, tw->index, &now);
			torn_fire(tw, false, &now);
		}
		tw->armed = false;
	}
	sim_set_interleave(w->m, w->saved_interleave);
	/* The queued watch events find their watch disarmed. */
	sim_run_until_idle(w->m);
	for (tw = w->torns; tw; tw = n) {
		struct dev_msg fin = { 0 };

		n = tw->next;
		/* Neither the old message nor the final one: half of each. */
		if (tw->fired && !tw->dev->dead &&
		    tw->dev->kind->msg(w, tw->dev, tw->space, tw->index, &fin) &&
		    (tw->sent.addr != fin.addr || tw->sent.data != fin.data)) {
			tw->dev->sp[tw->space].lines[tw->index].torn++;
			if (w->trace)
				trace_instant(w, tw->dev, "torn",
					      "\"index\":%u,\"final_addr\":\"0x%llx\","
					      "\"final_data\":\"0x%x\"",
					      tw->index, (unsigned long long)fin.addr, fin.data);
		}
		free(tw);
	}
	w->torns = NULL;
}

/* Report stalled paced chains (a lost interrupt stops its chain) and free
 * finished ones.  Returns the number of stalled chains reported. */
unsigned int world_reap_chains(struct world *w)
{
	struct fire_chain **pp = &w->chains, *c;
	unsigned int stalled = 0;

	while ((c = *pp)) {
		if (!c->done) {
			pp = &c->next;
			continue;
		}
		if (c->stalled) {
			char label[64];

			world_label(c->dev, c->space, c->index, label, sizeof(label));
			world_progress_clear(w);
			fprintf(w->err,
				"%s:%u:%u: error: paced firing of %s stopped: no handler saw fire "
				"#%llu (lost, or blocked by a disable or mask); %llu fires not made\n",
				c->loc.file, c->loc.line, c->loc.col, label,
				(unsigned long long)(c->o.count - c->left),
				(unsigned long long)c->left);
			stalled++;
		}
		*pp = c->next;
		free(c);
	}
	if (!w->chains)
		fires_done = fires_total = 0;
	return stalled;
}

static void chains_free_all(struct world *w)
{
	struct fire_chain *c = w->chains, *n;

	for (; c; c = n) {
		n = c->next;
		free(c);
	}
	w->chains = NULL;
}

/* ---- Progress ------------------------------------------------------------ */

void world_progress(struct world *w, const char *what, uint64_t done, uint64_t total)
{
	double now;

	if (!w->progress || w->quiet)
		return;
	now = tool_now();
	if (now - w->t_start < 0.5 || now - w->t_last_progress < 0.1)
		return;
	w->t_last_progress = now;
	if (w->cur_loc)
		fprintf(stderr, "\r\033[K%s:%u: %s %llu/%llu", w->cur_loc->file, w->cur_loc->line,
			what, (unsigned long long)done, (unsigned long long)total);
	else
		fprintf(stderr, "\r\033[K%s %llu/%llu", what, (unsigned long long)done,
			(unsigned long long)total);
	fflush(stderr);
	w->progress_shown = true;
}

void world_progress_clear(struct world *w)
{
	if (w->progress_shown) {
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
		w->progress_shown = false;
	}
}

/* ---- Teardown -------------------------------------------------------------- */

static int release_all_fn(struct world *w, void *arg)
{
	struct tool_device *d = arg;
	int err = 0;

	for (unsigned int s = 0; s < d->nr_spaces; s++) {
		for (unsigned int i = 0; i < d->sp[s].size; i++) {
			struct tool_line *l = &d->sp[s].lines[i];
			int irq = l->nh ? world_irq_of(w, d, s, i) : -1;

			while (l->nh) {
				struct tool_handler *h = l->h[l->nh - 1];
				int ret = irq >= 0 ? ik_free_irq((unsigned int)irq, h) : -IK_ENOENT;

				if (ret && !err)
					err = ret;
				l->h[--l->nh] = NULL;
				free(h);
			}
		}
	}
	return err;
}

/* Free every handler and interrupt of @d and unbind its driver. */
int world_device_teardown(struct world *w, struct tool_device *d)
{
	unsigned int cpu = world_first_online(w);
	int err = world_call(w, cpu, release_all_fn, d);

	/* Free by allocation: runs of consecutive indices allocated together. */
	for (unsigned int s = 0; s < d->nr_spaces; s++) {
		struct tool_line *lines = d->sp[s].lines;

		for (unsigned int i = 0; i < d->sp[s].size;) {
			unsigned int n = 1;
			int ret;

			if (!lines[i].group) {
				if (world_irq_of(w, d, s, i) >= 0) /* not allocated by the tool? */
					world_free_run(w, cpu, d, s, i, 1);
				i++;
				continue;
			}
			while (i + n < d->sp[s].size && lines[i + n].group == lines[i].group)
				n++;
			ret = world_free_run(w, cpu, d, s, i, n);
			if (ret && !err)
				err = ret;
			for (unsigned int j = 0; j < n; j++)
				lines[i + j].group = 0;
			i += n;
		}
	}
	if (!d->dead) {
		int ret = d->kind->remove(w, d);

		if (ret && !err)
			err = ret;
	}
	return err;
}

struct free_call {
	struct tool_device *d;
	unsigned int space, first, nr;
};

static int free_run_fn(struct world *w, void *arg)
{
	struct free_call *f = arg;

	return f->d->kind->free(w, f->d, f->space, f->first, f->nr);
}

/* Free the allocation [first, first + nr) through the kind. */
int world_free_run(struct world *w, unsigned int cpu, struct tool_device *d, unsigned int space,
		   unsigned int first, unsigned int nr)
{
	struct free_call f = { .d = d, .space = space, .first = first, .nr = nr };

	return world_call(w, cpu, free_run_fn, &f);
}

int64_t world_fini(struct world *w)
{
	int64_t leaked = 0;
	int err = 0, ret;

	if (!w->built) {
		chains_free_all(w);
		return 0;
	}
	sim_alloc_fail_nth(0);
	/* Bring every CPU back so teardown runs on a whole machine. */
	for (unsigned int cpu = 0; cpu < sim_nr_cpus(w->m); cpu++)
		if (!sim_cpu_is_online(w->m, cpu))
			w->mcfg.plat->cpu_online(w, cpu);
	world_torn_disarm(w);
	sim_run_until_idle(w->m);
	world_reap_chains(w);
	while (w->nr_devs) {
		struct tool_device *d = w->dev[w->nr_devs - 1];

		ret = world_device_teardown(w, d);
		if (ret && !err) {
			fprintf(w->err, "irqkit: teardown of device %s: %s\n", d->name,
				ik_strerror(ret));
			err = ret;
		}
		world_device_bury(w, d);
	}
	sim_run_until_idle(w->m);
	if (w->trace)
		trace_detach(w->trace, w);
	ret = w->mcfg.plat->teardown(w);
	if (ret) {
		fprintf(w->err, "irqkit: teardown of the %s platform: %s\n", w->mcfg.plat->name,
			ik_strerror(ret));
		err = ret;
	}
	if (!ret)
		leaked = sim_alloc_outstanding() - w->alloc_baseline;
	sim_destroy(w->m);
	w->m = NULL;
	w->pci_bus = NULL;
	w->built = false;
	chains_free_all(w);
	for (unsigned int i = 0; i < w->nr_graveyard; i++)
		world_device_delete(w->graveyard[i]);
	w->nr_graveyard = 0;
	if (leaked)
		fprintf(w->err, "irqkit: the library leaked %lld allocations\n", (long long)leaked);
	return err ? -1 : leaked;
}

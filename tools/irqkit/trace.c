// SPDX-License-Identifier: BSD-2-Clause
/*
 * Chrome/Perfetto JSON trace of a scenario.
 *
 * Tracks: one per CPU (process "CPUs": interrupt entry/exit slices with the
 * tool's handlers nested in them, messages accepted, EOIs, IPIs sent,
 * work items), one per device (process "devices": fires, deliveries,
 * allocations, requests, masks, enables, affinity changes) and one for the
 * machine (hotplug).  Time is the simulator's virtual clock: one tick is
 * shown as one microsecond; events within a tick keep their order.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define TRACE_MAX_EVENTS 2000000u
#define PID_CPUS 1
#define PID_DEVICES 2
#define PID_MACHINE 3

struct tev {
	uint64_t ts;          /* tick * 1000 + order within the tick */
	uint32_t tid;
	uint8_t pid;
	char ph;
	char name[40];
	char args[88];
};

struct trace {
	pthread_mutex_t lock;
	struct tev *ev;
	size_t n, cap;
	uint64_t dropped;
	uint64_t last_tick;
	unsigned int sub;
	struct world *w;
};

struct trace *trace_create(void)
{
	struct trace *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void trace_destroy(struct trace *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->ev);
	free(t);
}

static void add(struct trace *t, uint64_t tick, uint8_t pid, uint32_t tid, char ph,
		const char *name, const char *args)
{
	struct tev *e;

	pthread_mutex_lock(&t->lock);
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4096;
		struct tev *nev;

		if (cap > TRACE_MAX_EVENTS)
			cap = TRACE_MAX_EVENTS;
		if (t->n >= cap || !(nev = realloc(t->ev, cap * sizeof(*nev)))) {
			t->dropped++;
			pthread_mutex_unlock(&t->lock);
			return;
		}
		t->ev = nev;
		t->cap = cap;
	}
	if (tick == t->last_tick) {
		if (t->sub < 999)
			t->sub++;
	} else {
		t->last_tick = tick;
		t->sub = 0;
	}
	e = &t->ev[t->n++];
	e->ts = tick * 1000 + t->sub;
	e->pid = pid;
	e->tid = tid;
	e->ph = ph;
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->args, sizeof(e->args), "%s", args ? args : "");
	pthread_mutex_unlock(&t->lock);
}

static void sim_cb(void *ctx, enum sim_trace_type type, uint64_t now, unsigned int cpu,
		   unsigned int vector, uint64_t value)
{
	struct trace *t = ctx;
	char name[40], args[88];

	switch (type) {
	case SIM_TRACE_IRQ_ENTER:
		snprintf(name, sizeof(name), "vector 0x%02x", vector);
		snprintf(args, sizeof(args), "\"vector\":%u", vector);
		add(t, now, PID_CPUS, cpu, 'B', name, args);
		break;
	case SIM_TRACE_IRQ_EXIT:
		snprintf(name, sizeof(name), "vector 0x%02x", vector);
		add(t, now, PID_CPUS, cpu, 'E', name, NULL);
		break;
	case SIM_TRACE_MSI:
		snprintf(name, sizeof(name), "msi 0x%02x", vector);
		snprintf(args, sizeof(args), "\"vector\":%u,\"address\":\"0x%llx\"", vector,
			 (unsigned long long)value);
		add(t, now, PID_CPUS, cpu, 'i', name, args);
		break;
	case SIM_TRACE_EOI:
		snprintf(name, sizeof(name), "eoi 0x%02x", vector);
		add(t, now, PID_CPUS, cpu, 'i', name, NULL);
		break;
	case SIM_TRACE_IPI:
		snprintf(name, sizeof(name), "ipi 0x%02x", vector);
		snprintf(args, sizeof(args), "\"vector\":%u,\"icr\":\"0x%llx\"", vector,
			 (unsigned long long)value);
		add(t, now, PID_CPUS, cpu, 'i', name, args);
		break;
	case SIM_TRACE_WORK:
		add(t, now, PID_CPUS, cpu, 'i', "work", NULL);
		break;
	case SIM_TRACE_EVENT:
		break; /* device events show as fires on the device tracks */
	}
}

void trace_attach(struct trace *t, struct world *w)
{
	t->w = w;
	sim_set_trace(w->m, sim_cb, t);
}

void trace_detach(struct trace *t, struct world *w)
{
	if (w->m)
		sim_set_trace(w->m, NULL, NULL);
}

void trace_instant(struct world *w, const struct tool_device *dev, const char *name,
		   const char *argfmt, ...)
{
	char args[88];
	va_list ap;

	if (!w->trace || !w->m)
		return;
	va_start(ap, argfmt);
	/* Cut arguments would not be JSON: leave them out instead. */
	if (vsnprintf(args, sizeof(args), argfmt, ap) >= (int)sizeof(args))
		snprintf(args, sizeof(args), "\"truncated\":true");
	va_end(ap);
	if (dev)
		add(w->trace, sim_now(w->m), PID_DEVICES, dev->id, 'i', name, args);
	else
		add(w->trace, sim_now(w->m), PID_MACHINE, 0, 'i', name, args);
}

void trace_cpu_instant(struct world *w, unsigned int cpu, const char *name)
{
	if (w->trace && w->m)
		add(w->trace, sim_now(w->m), PID_CPUS, cpu, 'i', name, NULL);
}

void trace_handler(struct world *w, unsigned int cpu, const struct tool_line *l, bool begin)
{
	char name[40], args[88];

	world_label(l->dev, l->space, l->index, name + 8, sizeof(name) - 8);
	memcpy(name, "handler ", 8);
	if (begin) {
		snprintf(args, sizeof(args), "\"cpu\":%u", cpu);
		add(w->trace, sim_now(w->m), PID_CPUS, cpu, 'B', name, NULL);
		add(w->trace, sim_now(w->m), PID_DEVICES, l->dev->id, 'i', "delivered", args);
	} else {
		add(w->trace, sim_now(w->m), PID_CPUS, cpu, 'E', name, NULL);
	}
}

static void meta(FILE *out, bool *first, unsigned int pid, int tid, const char *what,
		 const char *name, unsigned int sort)
{
	fprintf(out, "%s\n{\"ph\":\"M\",\"pid\":%u,", *first ? "" : ",", pid);
	if (tid >= 0)
		fprintf(out, "\"tid\":%d,", tid);
	fprintf(out, "\"name\":\"%s\",\"args\":{\"name\":", what);
	json_string(out, name);
	fprintf(out, "}}");
	*first = false;
	fprintf(out, ",\n{\"ph\":\"M\",\"pid\":%u,", pid);
	if (tid >= 0)
		fprintf(out, "\"tid\":%d,", tid);
	fprintf(out, "\"name\":\"%s_sort_index\",\"args\":{\"sort_index\":%u}}",
		tid >= 0 ? "thread" : "process", sort);
}

int trace_write(struct trace *t, struct world *w, FILE *out)
{
	bool first = true;
	unsigned int nr = w->m ? sim_nr_cpus(w->m) : w->mcfg.nr_cpus;

	fprintf(out, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"tool\":\"irqkit\","
		     "\"clock\":\"simulator ticks shown as microseconds\",\"dropped_events\":%llu},"
		     "\n\"traceEvents\":[",
		(unsigned long long)t->dropped);
	meta(out, &first, PID_CPUS, -1, "process_name", "CPUs", 1);
	meta(out, &first, PID_DEVICES, -1, "process_name", "devices", 2);
	meta(out, &first, PID_MACHINE, -1, "process_name", "machine", 3);
	for (unsigned int cpu = 0; cpu < nr; cpu++) {
		char name[32];

		snprintf(name, sizeof(name), "cpu%u", cpu);
		meta(out, &first, PID_CPUS, (int)cpu, "thread_name", name, cpu);
	}
	for (unsigned int i = 0; i < w->nr_devs; i++)
		meta(out, &first, PID_DEVICES, (int)w->dev[i]->id, "thread_name", w->dev[i]->name,
		     w->dev[i]->id);
	for (unsigned int i = 0; i < w->nr_graveyard; i++)
		meta(out, &first, PID_DEVICES, (int)w->graveyard[i]->id, "thread_name",
		     w->graveyard[i]->name, w->graveyard[i]->id);
	meta(out, &first, PID_MACHINE, 0, "thread_name", "hotplug and faults", 0);
	for (size_t i = 0; i < t->n; i++) {
		const struct tev *e = &t->ev[i];

		fprintf(out, ",\n{\"ph\":\"%c\",\"pid\":%u,\"tid\":%u,\"ts\":%llu.%03u,\"name\":", e->ph,
			e->pid, e->tid, (unsigned long long)(e->ts / 1000), (unsigned int)(e->ts % 1000));
		json_string(out, e->name);
		if (e->ph == 'i')
			fprintf(out, ",\"s\":\"t\"");
		if (e->args[0])
			fprintf(out, ",\"args\":{%s}", e->args);
		fputc('}', out);
	}
	fprintf(out, "\n]}\n");
	return ferror(out) ? -1 : 0;
}

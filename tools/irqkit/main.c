// SPDX-License-Identifier: BSD-2-Clause
/*
 * irqkit - drive the library on the simulated machine.
 *
 * Without arguments it runs the embedded default machine end to end: four
 * CPUs with sparse APIC IDs (no APIC ID 0), the x86 vector domain, a test
 * device with eight interrupts in its own domain, a stream of device
 * events while the interrupts are moved between CPUs and a CPU goes
 * offline and comes back, then the views: domain tree, vectors and
 * /proc/interrupts-style counters, and a verdict (exit status 1 if any
 * interrupt was lost or went to a vector nobody handles).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <irqkit/drivers/testdev.h>
#include <irqkit/irq.h>
#include <irqkit/matrix.h>
#include <irqkit/x86.h>

#include "host_port.h"
#include "sim.h"

#define DEV_BASE 0xF0000000ull
#define NR_LINES 8
#define EVENTS_PER_LINE 250

struct line {
	struct sim_testdev *dev;
	unsigned int irq, slot;
	uint64_t runs, seen;
	char name[16];
};

struct chain {
	struct sim_machine *m;
	struct line *l;
	unsigned int left;
	unsigned int patience;
};

struct opts {
	uint64_t seed;
	unsigned int nr_cpus;
	bool quiet;
};

static ik_irqreturn_t line_handler(unsigned int irq, void *dev_id)
{
	struct line *l = dev_id;

	l->runs++;
	/* The device's event counter plays the role of a status register. */
	l->seen = sim_testdev_fired(l->dev, l->slot);
	return IK_IRQ_HANDLED;
}

/* One event at a time per line: a lost interrupt stalls its line visibly. */
static void fire_event(void *arg)
{
	struct chain *c = arg;

	if (c->l->seen != sim_testdev_fired(c->l->dev, c->l->slot)) {
		if (++c->patience < 100000)
			sim_schedule(c->m, 1 + sim_rand(c->m) % 16, fire_event, c);
		return;
	}
	c->patience = 0;
	if (!c->left)
		return;
	c->left--;
	sim_testdev_fire(c->l->dev, c->l->slot);
	sim_schedule(c->m, 1 + sim_rand(c->m) % 8, fire_event, c);
}

static int call_ret;

static void cpu_online_fn(void *arg)
{
	call_ret = ik_x86_cpu_online();
}

static void cpu_offline_fn(void *arg)
{
	call_ret = ik_x86_cpu_offline();
}

static void request_fn(void *arg)
{
	struct line *l = arg;

	call_ret = ik_request_irq(l->irq, line_handler, 0, l->name, l);
}

static void free_fn(void *arg)
{
	struct line *l = arg;

	call_ret = ik_free_irq(l->irq, l);
}

struct move {
	unsigned int irq;
	ik_cpumask_t mask;
};

static void move_fn(void *arg)
{
	struct move *mv = arg;

	call_ret = ik_irq_set_affinity(mv->irq, &mv->mask);
}

static void die(const char *what, int err)
{
	fprintf(stderr, "irqkit: %s: %s\n", what, ik_strerror(err));
	exit(2);
}

static int print_domain(struct ik_irq_domain *d, void *arg)
{
	unsigned int depth = 0;

	for (struct ik_irq_domain *p = ik_irq_domain_parent(d); p; p = ik_irq_domain_parent(p))
		depth++;
	printf("  %*s%s%s  (%u interrupts)\n", (int)depth * 4, "", depth ? "└─ " : "",
	       ik_irq_domain_name(d), ik_irq_domain_mapcount(d));
	return 0;
}

static void print_views(struct sim_machine *m, struct line *lines, unsigned int nr_cpus)
{
	printf("\nDomain hierarchy:\n");
	ik_irq_domain_for_each(print_domain, NULL);

	printf("\nInterrupts (/proc/interrupts style):\n  %4s", "IRQ");
	for (unsigned int cpu = 0; cpu < nr_cpus; cpu++)
		printf(" %9s%u", "CPU", cpu);
	printf("  %-8s %-5s %-7s %s\n", "chip", "hwirq", "target", "name");
	for (unsigned int i = 0; i < NR_LINES; i++) {
		struct ik_x86_irq_target t;
		struct ik_irq_info info;

		ik_irq_get_info(lines[i].irq, &info);
		ik_x86_irq_target(lines[i].irq, &t);
		printf("  %4u", lines[i].irq);
		for (unsigned int cpu = 0; cpu < nr_cpus; cpu++)
			printf(" %10llu", (unsigned long long)ik_irq_count_cpu(lines[i].irq, cpu));
		printf("  %-8s %-5u %u:0x%02x  %s\n", info.chip_name, lines[i].slot, t.cpu, t.vector,
		       lines[i].name);
	}

	printf("\nVectors per CPU (matrix):\n");
	for (unsigned int cpu = 0; cpu < nr_cpus; cpu++) {
		struct ik_irq_matrix_cpu_stats st;
		struct ik_x86_vector_stats vs;

		ik_x86_matrix_cpu_stats(cpu, &st);
		ik_x86_vector_stats(cpu, &vs);
		printf("  cpu%u apic-id %-3u %s available %3u allocated %2u  "
		       "spurious %llu cleanups %llu (postponed %llu)\n",
		       cpu, ik_x86_cpu_apic_id(cpu), st.online ? "online " : "offline", st.available,
		       st.allocated, (unsigned long long)vs.spurious, (unsigned long long)vs.cleanups,
		       (unsigned long long)vs.cleanups_postponed);
	}
}

static void parse(int argc, char **argv, struct opts *o)
{
	o->seed = 1;
	o->nr_cpus = 4;
	o->quiet = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			o->seed = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--cpus") && i + 1 < argc) {
			o->nr_cpus = (unsigned int)strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--quiet")) {
			o->quiet = true;
		} else if (!strcmp(argv[i], "run")) {
			/* the default */
		} else {
			fprintf(stderr,
				"usage: irqkit [run] [--seed N] [--cpus N (2..16)] [--quiet]\n"
				"Runs the embedded default machine end to end.\n");
			exit(strcmp(argv[i], "--help") ? 2 : 0);
		}
	}
	if (o->nr_cpus < 2 || o->nr_cpus > 16) {
		fprintf(stderr, "irqkit: --cpus must be 2..16\n");
		exit(2);
	}
}

int main(int argc, char **argv)
{
	static const uint8_t port_vectors[] = { SIM_VECTOR_CALL_FUNCTION, SIM_VECTOR_SPURIOUS };
	struct sim_config cfg = { 0 };
	struct line lines[NR_LINES];
	struct chain chains[NR_LINES];
	struct sim_machine *m;
	struct sim_testdev *dev;
	struct ik_irq_domain *devdom;
	uint64_t fired = 0, seen = 0, runs = 0, moves = 0;
	unsigned int lost = 0;
	struct opts o;
	int virq, ret;

	parse(argc, argv, &o);
	cfg.nr_cpus = o.nr_cpus;
	cfg.seed = o.seed;
	cfg.apic_ids_given = true;
	for (unsigned int cpu = 0; cpu < o.nr_cpus; cpu++)
		cfg.apic_ids[cpu] = 2 + 3 * cpu;        /* sparse, no APIC ID 0 */
	m = sim_create(&cfg);
	if (!m)
		die("sim_create", -IK_EINVAL);
	sim_port_install(m, ik_x86_common_interrupt);
	dev = sim_testdev_create(m, DEV_BASE, NR_LINES, 0x0100);

	if ((ret = ik_core_init()))
		die("ik_core_init", ret);
	if ((ret = ik_x86_vector_init(port_vectors, 2)))
		die("ik_x86_vector_init", ret);
	for (unsigned int cpu = 0; cpu < o.nr_cpus; cpu++) {
		sim_run_on_cpu(m, cpu, cpu_online_fn, NULL);
		if (call_ret)
			die("cpu online", call_ret);
	}
	devdom = ik_testdev_domain_create(ik_x86_vector_domain(), DEV_BASE, NR_LINES, "TESTDEV-00:01.0");
	if (!devdom)
		die("device domain", -IK_ENOMEM);
	virq = ik_testdev_alloc_irqs(devdom, 0, NR_LINES, NULL);
	if (virq < 0)
		die("allocate interrupts", virq);
	for (unsigned int i = 0; i < NR_LINES; i++) {
		lines[i] = (struct line){ .dev = dev, .irq = (unsigned int)virq + i, .slot = i };
		snprintf(lines[i].name, sizeof(lines[i].name), "testdev-q%u", i);
		sim_run_on_cpu(m, i % o.nr_cpus, request_fn, &lines[i]);
		if (call_ret)
			die("request_irq", call_ret);
		chains[i] = (struct chain){ .m = m, .l = &lines[i], .left = EVENTS_PER_LINE };
		sim_schedule(m, 1 + i, fire_event, &chains[i]);
	}

	printf("irqkit: embedded default machine, seed %llu\n", (unsigned long long)o.seed);
	printf("  %u CPUs, APIC IDs", o.nr_cpus);
	for (unsigned int cpu = 0; cpu < o.nr_cpus; cpu++)
		printf(" %u", ik_x86_cpu_apic_id(cpu));
	printf("; test device 00:01.0 with %u message slots; %u events per slot\n", NR_LINES,
	       EVENTS_PER_LINE);

	/* Move interrupts around while the device fires; take CPU 1 down and up. */
	for (unsigned int step = 0; step < 400; step++) {
		struct move mv = { .irq = lines[sim_rand(m) % NR_LINES].irq };
		unsigned int cpu = (unsigned int)(sim_rand(m) % o.nr_cpus);

		if (step == 150 || step == 250) {
			if (step == 150) {
				sim_run_on_cpu(m, 1, cpu_offline_fn, NULL);
				if (call_ret)
					die("cpu1 offline", call_ret);
				sim_cpu_set_online(m, 1, false);
				if (!o.quiet)
					printf("  step %u: cpu1 offline\n", step);
			} else {
				sim_cpu_set_online(m, 1, true);
				sim_run_on_cpu(m, 1, cpu_online_fn, NULL);
				if (!o.quiet)
					printf("  step %u: cpu1 online\n", step);
			}
			continue;
		}
		if (step > 150 && step < 250 && cpu == 1)
			cpu = 0;
		ik_cpumask_clear(&mv.mask);
		ik_cpumask_set_cpu((unsigned int)(sim_rand(m) % o.nr_cpus), &mv.mask);
		ik_cpumask_set_cpu((unsigned int)(sim_rand(m) % o.nr_cpus), &mv.mask);
		sim_run_on_cpu(m, cpu, move_fn, &mv);
		if (!call_ret)
			moves++;
		if (step % 4 == 0)
			sim_run_until_idle(m);
	}
	sim_run_until_idle(m);

	for (unsigned int i = 0; i < NR_LINES; i++) {
		uint64_t f = sim_testdev_fired(dev, i);

		fired += f;
		seen += lines[i].seen;
		runs += lines[i].runs;
		if (lines[i].seen != f)
			lost++;
	}
	print_views(m, lines, o.nr_cpus);
	printf("\nSummary: %llu events fired, %llu handler runs, %llu affinity changes, "
	       "%u lines with a lost interrupt, %llu messages to nobody, %llu spurious vectors\n",
	       (unsigned long long)fired, (unsigned long long)runs, (unsigned long long)moves, lost,
	       (unsigned long long)sim_stat(m, SIM_STAT_MSI_NO_DEST),
	       (unsigned long long)(sim_stat(m, SIM_STAT_MSI_ILLEGAL_VECTOR) + sim_port_unhandled()));

	for (unsigned int i = 0; i < NR_LINES; i++) {
		sim_run_on_cpu(m, 0, free_fn, &lines[i]);
		if (call_ret)
			die("free_irq", call_ret);
	}
	if ((ret = ik_irq_domain_free_irqs((unsigned int)virq, NR_LINES)))
		die("free interrupts", ret);
	if ((ret = ik_testdev_domain_remove(devdom)) || (ret = ik_x86_vector_exit()) ||
	    (ret = ik_core_exit()))
		die("teardown", ret);
	sim_destroy(m);
	if (lost || seen != fired) {
		printf("FAIL: interrupts were lost\n");
		return 1;
	}
	printf("OK: every event was delivered to its handler\n");
	return 0;
}

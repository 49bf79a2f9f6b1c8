// SPDX-License-Identifier: BSD-2-Clause
/*
 * Interrupt lifetimes on PCI functions and their sub-devices
 * (ik_devm_pci_msix_alloc_irq_at, device-managed vectors): the
 * port-service pattern -- a core driver binds to the function, enables
 * MSI-X with one vector, creates child devices whose drivers add vectors
 * dynamically; unbinding a child frees exactly its vectors; vectors on an
 * unbound function make binding fail (the seed 003 problem); a child
 * outliving its parent's MSI-X; allocation failure in a child's probe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "host_port.h"
#include "pcibed.h"

#define MSIX_CTRL_MASK 0x1u
#define NR_CHILDREN 2
#define VECS_PER_CHILD 2

struct port {
	struct pcibed *pb;
	struct sim_pci_dev *sd;
	struct ik_device *pdev;
	struct ik_device *child[NR_CHILDREN];
	struct pb_vec own;
	bool destroy_children;          /* remove() unregisters the children */
};

struct service {
	struct ik_msi_map map[VECS_PER_CHILD];
	struct pb_vec v[VECS_PER_CHILD];
	bool request;                   /* install handlers in probe */
};

static struct port port;
static struct service svc[NR_CHILDREN];

static int child_index(struct ik_device *child)
{
	for (int i = 0; i < NR_CHILDREN; i++)
		if (port.child[i] == child)
			return i;
	return -1;
}

static int port_probe(struct ik_device *dev)
{
	static const char *const names[NR_CHILDREN] = { "pcie-pme", "pcie-aer" };
	int n = ik_pci_alloc_irq_vectors(dev, 1, 1, IK_PCI_IRQ_MSIX, NULL), ret;

	if (n < 0)
		return n;
	ret = pb_request(&port.own, ik_pci_irq_vector(dev, 0));
	if (ret)
		return ret;
	for (int i = 0; i < NR_CHILDREN; i++) {
		ret = ik_device_create(dev, names[i], &port.child[i]);
		if (ret) {
			while (i--)
				ik_device_destroy(port.child[i]);
			pb_free(&port.own);
			return ret;
		}
	}
	return 0;
}

static int match_child(struct ik_device *child, void *arg)
{
	return child == arg;
}

static void port_remove(struct ik_device *dev)
{
	/* Unplugging the function destroys the children before this runs. */
	if (port.destroy_children) {
		for (int i = 0; i < NR_CHILDREN; i++) {
			if (port.child[i] && ik_device_for_each_child(dev, match_child, port.child[i]))
				ik_device_destroy(port.child[i]);
			port.child[i] = NULL;
		}
	}
	pb_free(&port.own);
}

static const struct ik_driver port_driver = {
	.name = "portdrv", .probe = port_probe, .remove = port_remove,
};

static int svc_probe(struct ik_device *child)
{
	int c = child_index(child), requested = 0, ret = 0;
	struct ik_device *pdev = ik_device_parent(child);

	if (c < 0)
		return -IK_EINVAL;
	for (int k = 0; k < VECS_PER_CHILD; k++) {
		/* Freed by the device-managed release if the probe fails. */
		svc[c].map[k] = ik_devm_pci_msix_alloc_irq_at(child, pdev, IK_MSI_ANY_INDEX, NULL);
		if (svc[c].map[k].index < 0) {
			ret = svc[c].map[k].index;
			break;
		}
		if (svc[c].request) {
			ret = pb_request(&svc[c].v[k], svc[c].map[k].virq);
			if (ret)
				break;
			requested++;
		}
	}
	if (ret)
		while (requested--)
			pb_free(&svc[c].v[requested]);
	return ret;
}

static void svc_remove(struct ik_device *child)
{
	int c = child_index(child);

	if (c >= 0 && svc[c].request)
		for (int k = 0; k < VECS_PER_CHILD; k++)
			pb_free(&svc[c].v[k]);
}

static const struct ik_driver svc_driver = {
	.name = "portsvc", .probe = svc_probe, .remove = svc_remove,
};

static void up(struct pcibed *pb)
{
	struct sim_pci_dev_config c = pcibed_std_config();

	pcibed_init(pb, NULL);
	memset(&port, 0, sizeof(port));
	memset(svc, 0, sizeof(svc));
	port.pb = pb;
	port.destroy_children = true;
	port.sd = pcibed_plug(pb, PB_BDF, &c);
	port.pdev = pcibed_device(pb, PB_BDF);
	/* Warm up: the core keeps the leaves of its irq-number table once grown. */
	if (ik_pci_alloc_irq_vectors(port.pdev, 1, 1, IK_PCI_IRQ_MSIX, NULL) != 1)
		fail_msg("warm-up allocation");
	ik_pci_free_irq_vectors(port.pdev);
}

static bool entry_masked(unsigned int i)
{
	return pb_entry(port.sd, i).ctrl & MSIX_CTRL_MASK;
}

static void raise_and_run(unsigned int index)
{
	sim_pci_dev_raise(port.sd, index);
	sim_run_until_idle(port.pb->tb.m);
}

struct idx_list {
	unsigned int n;
	uint32_t idx[16];
};

static int collect(const struct ik_msi_irq_info *info, void *arg)
{
	struct idx_list *l = arg;

	if (l->n < 16)
		l->idx[l->n] = info->index;
	l->n++;
	return 0;
}

static void test_port_services(void **state)
{
	struct idx_list l = { 0 };
	struct pcibed pb;
	int64_t baseline;

	up(&pb);
	baseline = sim_alloc_outstanding();
	for (int round = 0; round < 2; round++) {
		assert_int_equal(ik_device_bind(port.pdev, &port_driver), 0);
		assert_true(ik_pci_msix_enabled(port.pdev));
		for (int c = 0; c < NR_CHILDREN; c++) {
			svc[c].request = true;
			assert_int_equal(ik_device_bind(port.child[c], &svc_driver), 0);
			for (int k = 0; k < VECS_PER_CHILD; k++)
				assert_int_equal(svc[c].map[k].index, 1 + c * VECS_PER_CHILD + k);
		}
		/* Everyone gets their own interrupts. */
		raise_and_run(0);
		for (unsigned int i = 1; i <= 4; i++)
			raise_and_run(i);
		assert_int_equal(port.own.count, 1);
		for (int c = 0; c < NR_CHILDREN; c++)
			for (int k = 0; k < VECS_PER_CHILD; k++)
				assert_int_equal(svc[c].v[k].count, 1);

		/* Unbinding a child frees exactly its vectors. */
		assert_int_equal(ik_device_unbind(port.child[0]), 0);
		assert_int_equal(ik_devm_count(port.child[0]), 0);
		assert_int_equal(ik_pci_irq_vector(port.pdev, 1), -IK_EINVAL);
		assert_int_equal(ik_pci_irq_vector(port.pdev, 2), -IK_EINVAL);
		assert_true(entry_masked(1) && entry_masked(2));
		assert_int_equal(ik_pci_irq_vector(port.pdev, 3), (int)svc[1].map[0].virq);
		assert_int_equal(ik_pci_irq_vector(port.pdev, 4), (int)svc[1].map[1].virq);
		l.n = 0;
		assert_int_equal(ik_msi_device_for_each_irq(port.pdev, collect, &l), 0);
		assert_int_equal(l.n, 3);
		assert_int_equal(l.idx[0], 0);
		assert_int_equal(l.idx[1], 3);
		assert_int_equal(l.idx[2], 4);
		raise_and_run(0);
		raise_and_run(3);
		raise_and_run(4);
		raise_and_run(1);       /* nobody's: stays pending in the function */
		assert_int_equal(port.own.count, 2);
		assert_int_equal(svc[1].v[0].count, 2);
		assert_int_equal(svc[1].v[1].count, 2);
		assert_int_equal(svc[0].v[0].count, 1);
		assert_true(sim_pci_msix_pending(port.sd, 1));

		/* Rebinding takes the lowest free entries again. */
		memset(&svc[0], 0, sizeof(svc[0]));
		svc[0].request = true;
		assert_int_equal(ik_device_bind(port.child[0], &svc_driver), 0);
		assert_int_equal(svc[0].map[0].index, 1);
		assert_int_equal(svc[0].map[1].index, 2);
		/* Its entry held a pending raise: delivered once it was requested. */
		sim_run_until_idle(pb.tb.m);
		assert_int_equal(svc[0].v[0].count, 1);

		/* The core driver goes: children first, then its own vector, MSI-X off. */
		assert_int_equal(ik_device_unbind(port.pdev), 0);
		assert_false(ik_pci_msix_enabled(port.pdev));
		assert_int_equal(ik_devm_count(port.pdev), 0);
		assert_null(ik_msi_get_device_domain(port.pdev, IK_MSI_DEFAULT_DOMAIN));
		assert_int_equal(sim_alloc_outstanding(), baseline);
		memset(svc, 0, sizeof(svc));
		port.own.count = 0;
	}
	ik_pci_device_destroy(port.pdev);
	assert_int_equal(pcibed_fini(&pb), 0);
}

/* Seed 003: vectors acquired while no driver is bound have no owner. */
static void test_bind_refused_with_vectors(void **state)
{
	struct pcibed pb;
	int64_t baseline;

	up(&pb);
	baseline = sim_alloc_outstanding();
	assert_int_equal(ik_pci_alloc_irq_vectors(port.pdev, 1, 1, IK_PCI_IRQ_MSIX, NULL), 1);
	assert_int_equal(ik_device_bind(port.pdev, &port_driver), -IK_EEXIST);
	assert_null(ik_device_driver(port.pdev));
	/* Given back, the function can be bound. */
	ik_pci_free_irq_vectors(port.pdev);
	assert_int_equal(ik_devm_count(port.pdev), 0);
	assert_int_equal(sim_alloc_outstanding(), baseline);
	/* A refused request on the unbound function leaves nothing either. */
	assert_int_equal(ik_pci_alloc_irq_vectors(port.pdev, 100, 100, IK_PCI_IRQ_ALL_TYPES, NULL),
			 -IK_ENOSPC);
	assert_int_equal(ik_devm_count(port.pdev), 0);
	assert_int_equal(ik_device_bind(port.pdev, &port_driver), 0);
	/* A child with vectors from its parent, while the child has no driver: the same. */
	assert_true(ik_devm_pci_msix_alloc_irq_at(port.child[0], port.pdev, 7, NULL).index == 7);
	assert_int_equal(ik_device_bind(port.child[0], &svc_driver), -IK_EEXIST);
	ik_device_destroy(port.child[0]);       /* releases it */
	port.child[0] = NULL;
	assert_int_equal(ik_pci_irq_vector(port.pdev, 7), -IK_EINVAL);
	assert_int_equal(ik_device_unbind(port.pdev), 0);
	assert_int_equal(sim_alloc_outstanding(), baseline);
	ik_pci_device_destroy(port.pdev);
	assert_int_equal(pcibed_fini(&pb), 0);
}

/*
 * A core driver that leaves its children alive when it unbinds: the
 * function's MSI-X (with the children's vectors) goes with it; a child
 * unbinding later finds its vectors gone and frees nothing -- in
 * particular not the vectors a new core driver allocated at the same
 * entries.
 */
static void test_child_outlives_parent_msix(void **state)
{
	struct pcibed pb;

	up(&pb);
	port.destroy_children = false;
	assert_int_equal(ik_device_bind(port.pdev, &port_driver), 0);
	svc[0].request = false;         /* vectors only: the parent can free them */
	assert_int_equal(ik_device_bind(port.child[0], &svc_driver), 0);
	assert_int_equal(svc[0].map[0].index, 1);
	assert_int_equal(ik_device_unbind(port.pdev), 0);
	assert_false(ik_pci_msix_enabled(port.pdev));

	/* A new core driver; then the stale child goes. */
	struct ik_device *old_children[NR_CHILDREN];

	memcpy(old_children, port.child, sizeof(old_children));
	assert_int_equal(ik_device_bind(port.pdev, &port_driver), 0);
	struct ik_msi_map m1 = ik_pci_msix_alloc_irq_at(port.pdev, 1, NULL);
	struct ik_msi_map m2 = ik_pci_msix_alloc_irq_at(port.pdev, 2, NULL);

	assert_int_equal(m1.index, 1);
	assert_int_equal(m2.index, 2);
	port.child[0] = old_children[0];
	assert_int_equal(ik_device_unbind(old_children[0]), 0);
	assert_int_equal(ik_pci_irq_vector(port.pdev, 1), (int)m1.virq);
	assert_int_equal(ik_pci_irq_vector(port.pdev, 2), (int)m2.virq);
	/* Unplug everything: children (old and new) first, then the function. */
	ik_pci_device_destroy(port.pdev);
	assert_int_equal(pcibed_fini(&pb), 0);
}

static void test_subdev_errors_and_failure_injection(void **state)
{
	struct ik_msi_map map;
	struct pcibed pb;
	int64_t baseline;
	unsigned int failures = 0;

	up(&pb);
	/* The parent has no MSI-X yet: nothing is allocated, nothing registered. */
	assert_int_equal(ik_device_create(port.pdev, "early", &port.child[0]), 0);
	map = ik_devm_pci_msix_alloc_irq_at(port.child[0], port.pdev, IK_MSI_ANY_INDEX, NULL);
	assert_int_equal(map.index, -IK_ENOTSUPP);
	assert_int_equal(ik_devm_count(port.child[0]), 0);
	map = ik_devm_pci_msix_alloc_irq_at(port.pdev, port.pdev, IK_MSI_ANY_INDEX, NULL);
	assert_int_equal(map.index, -IK_EINVAL);
	map = ik_devm_pci_msix_alloc_irq_at(port.child[0], port.child[0], 0, NULL);
	assert_int_equal(map.index, -IK_EINVAL);
	ik_device_destroy(port.child[0]);
	port.child[0] = NULL;

	assert_int_equal(ik_device_bind(port.pdev, &port_driver), 0);
	svc[0].request = true;
	assert_int_equal(ik_device_bind(port.child[0], &svc_driver), 0);
	assert_int_equal(ik_device_unbind(port.child[0]), 0);
	baseline = sim_alloc_outstanding();
	for (uint64_t nth = 1;; nth++) {
		uint64_t start = sim_alloc_count();
		int ret;

		memset(&svc[0], 0, sizeof(svc[0]));
		svc[0].request = true;
		sim_alloc_fail_nth(nth);
		ret = ik_device_bind(port.child[0], &svc_driver);
		sim_alloc_fail_nth(0);
		if (ret) {
			failures++;
			assert_int_equal(ret, -IK_ENOMEM);
		} else {
			raise_and_run(1);
			assert_int_equal(svc[0].v[0].count, 1);
			assert_int_equal(ik_device_unbind(port.child[0]), 0);
		}
		assert_int_equal(sim_alloc_outstanding(), baseline);
		assert_int_equal(ik_devm_count(port.child[0]), 0);
		for (unsigned int i = 1; i < 64; i++)
			assert_int_equal(ik_pci_irq_vector(port.pdev, i), -IK_EINVAL);
		if (!ret && sim_alloc_count() - start < nth)
			break;
	}
	assert_true(failures >= 4);
	ik_pci_device_destroy(port.pdev);
	assert_int_equal(pcibed_fini(&pb), 0);
}

/*
 * A driver that leaves everything to device-managed release: vectors
 * first, then its handler through an action of its own.  At unbind the
 * newest goes first -- the handler -- so the vectors are freed without a
 * handler on them and nothing is refused or leaked.
 */
static struct pb_vec devm_vec[3];

static void devm_free_handler(void *data)
{
	pb_free(data);
}

static int devm_probe(struct ik_device *dev)
{
	int n = ik_pci_alloc_irq_vectors(dev, 3, 3, IK_PCI_IRQ_MSIX, NULL), ret;

	if (n < 0)
		return n;
	for (int i = 0; i < 3; i++) {
		ret = pb_request(&devm_vec[i], ik_pci_irq_vector(dev, (unsigned int)i));
		if (!ret)
			ret = ik_devm_add_action(dev, devm_free_handler, &devm_vec[i]);
		if (ret)
			return ret;
	}
	return 0;
}

static const struct ik_driver devm_driver = { .name = "devm", .probe = devm_probe };

static void test_devm_release_order(void **state)
{
	struct pcibed pb;
	int64_t baseline;
	uint64_t warnings;

	up(&pb);
	baseline = sim_alloc_outstanding();
	for (int round = 0; round < 2; round++) {
		memset(devm_vec, 0, sizeof(devm_vec));
		assert_int_equal(ik_device_bind(port.pdev, &devm_driver), 0);
		raise_and_run(2);
		assert_int_equal(devm_vec[2].count, 1);
		warnings = sim_port_warnings();
		assert_int_equal(ik_device_unbind(port.pdev), 0);
		assert_int_equal(sim_port_warnings(), warnings);
		assert_false(ik_pci_msix_enabled(port.pdev));
		assert_int_equal(ik_devm_count(port.pdev), 0);
		assert_int_equal(sim_alloc_outstanding(), baseline);
	}
	ik_pci_device_destroy(port.pdev);
	assert_int_equal(pcibed_fini(&pb), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_port_services),
		cmocka_unit_test(test_bind_refused_with_vectors),
		cmocka_unit_test(test_child_outlives_parent_msix),
		cmocka_unit_test(test_subdev_errors_and_failure_injection),
		cmocka_unit_test(test_devm_release_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

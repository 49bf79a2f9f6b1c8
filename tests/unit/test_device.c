// SPDX-License-Identifier: BSD-2-Clause
/*
 * The device model (src/core/device.c): tree and inheritance, binding,
 * device-managed resources released newest first on unbind and after a
 * failed probe, the "resources before bind" refusal, unplug of a subtree,
 * and failure injection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <irqkit/device.h>

#include "testbed.h"

static struct testbed tb;

static int setup(void **state)
{
	struct testbed_opts o = { .nr_cpus = 2, .seed = 1 };

	testbed_init(&tb, &o);
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(testbed_fini(&tb), 0);
	return 0;
}

/* A log of released actions, in order. */
static int release_log[16];
static unsigned int release_n;

static void log_action(void *data)
{
	if (release_n < 16)
		release_log[release_n++] = (int)(intptr_t)data;
}

static void test_tree_and_inheritance(void **state)
{
	struct ik_device *root, *child, *grandchild;
	uint16_t seg = 0, rid = 0, aliases[IK_DEVICE_MAX_DMA_ALIASES];

	assert_int_equal(ik_device_create(NULL, "0000:03:00.0", &root), 0);
	assert_int_equal(ik_device_create(NULL, NULL, &child), -IK_EINVAL);
	assert_int_equal(ik_device_create(NULL, "x", NULL), -IK_EINVAL);
	assert_false(ik_device_requester_id(root, NULL, NULL));
	ik_device_set_requester_id(root, 1, 0x0300);
	assert_int_equal(ik_device_add_dma_alias(root, 0x0208), 0);
	assert_int_equal(ik_device_add_dma_alias(root, 0x0208), 0);   /* no duplicate */
	ik_device_set_msi_parent(root, ik_x86_vector_domain());

	assert_int_equal(ik_device_create(root, "ntb", &child), 0);
	assert_ptr_equal(ik_device_parent(child), root);
	assert_true(ik_device_requester_id(child, &seg, &rid));
	assert_int_equal(seg, 1);
	assert_int_equal(rid, 0x0300);
	assert_int_equal(ik_device_dma_aliases(child, aliases, IK_DEVICE_MAX_DMA_ALIASES), 1);
	assert_int_equal(aliases[0], 0x0208);
	assert_ptr_equal(ik_device_msi_parent(child), ik_x86_vector_domain());

	/* A name longer than the limit is truncated, not overrun. */
	assert_int_equal(ik_device_create(child, "a-very-long-sub-device-name-that-goes-on-and-on",
					  &grandchild), 0);
	assert_int_equal(strlen(ik_device_name(grandchild)), IK_DEVICE_NAME_MAX - 1);

	/* The alias table is bounded. */
	for (unsigned int i = 1; i < IK_DEVICE_MAX_DMA_ALIASES; i++)
		assert_int_equal(ik_device_add_dma_alias(child, (uint16_t)(0x1000 + i)), 0);
	assert_int_equal(ik_device_add_dma_alias(child, 0x2000), -IK_ENOSPC);

	ik_device_destroy(root);        /* takes the subtree with it */
}

static int probe_calls, remove_calls;

static int good_probe(struct ik_device *dev)
{
	probe_calls++;
	assert_int_equal(ik_devm_add_action(dev, log_action, (void *)1), 0);
	assert_int_equal(ik_devm_add_action(dev, log_action, (void *)2), 0);
	assert_int_equal(ik_devm_add_action(dev, log_action, (void *)3), 0);
	ik_device_set_drvdata(dev, &probe_calls);
	return 0;
}

static void good_remove(struct ik_device *dev)
{
	/* remove runs before the resources go: they are all still there. */
	assert_int_equal(ik_devm_count(dev), 3);
	remove_calls++;
}

static const struct ik_driver good_driver = {
	.name = "good", .probe = good_probe, .remove = good_remove,
};

static void test_bind_unbind_releases_newest_first(void **state)
{
	struct ik_device *dev;

	probe_calls = remove_calls = 0;
	release_n = 0;
	assert_int_equal(ik_device_create(NULL, "dev", &dev), 0);
	assert_int_equal(ik_device_bind(dev, NULL), -IK_EINVAL);
	assert_int_equal(ik_device_unbind(dev), -IK_ENODEV);
	assert_int_equal(ik_device_bind(dev, &good_driver), 0);
	assert_ptr_equal(ik_device_driver(dev), &good_driver);
	assert_ptr_equal(ik_device_get_drvdata(dev), &probe_calls);
	assert_int_equal(ik_device_bind(dev, &good_driver), -IK_EBUSY);
	assert_int_equal(probe_calls, 1);

	assert_int_equal(ik_device_unbind(dev), 0);
	assert_int_equal(remove_calls, 1);
	assert_int_equal(release_n, 3);
	assert_int_equal(release_log[0], 3);
	assert_int_equal(release_log[1], 2);
	assert_int_equal(release_log[2], 1);
	assert_null(ik_device_driver(dev));
	assert_null(ik_device_get_drvdata(dev));
	assert_int_equal(ik_devm_count(dev), 0);

	/* Bind again after unbind. */
	assert_int_equal(ik_device_bind(dev, &good_driver), 0);
	ik_device_destroy(dev);         /* unbinds */
	assert_int_equal(remove_calls, 2);
	assert_int_equal(release_n, 6);
}

static int failing_probe(struct ik_device *dev)
{
	assert_int_equal(ik_devm_add_action(dev, log_action, (void *)7), 0);
	assert_int_equal(ik_devm_add_action(dev, log_action, (void *)8), 0);
	return -IK_EIO;
}

static const struct ik_driver failing_driver = {
	.name = "failing", .probe = failing_probe, .remove = good_remove,
};

static void test_failed_probe_releases(void **state)
{
	struct ik_device *dev;

	remove_calls = 0;
	release_n = 0;
	assert_int_equal(ik_device_create(NULL, "dev", &dev), 0);
	assert_int_equal(ik_device_bind(dev, &failing_driver), -IK_EIO);
	assert_int_equal(remove_calls, 0);      /* a failed probe gets no remove */
	assert_int_equal(release_n, 2);
	assert_int_equal(release_log[0], 8);
	assert_int_equal(release_log[1], 7);
	assert_null(ik_device_driver(dev));
	assert_int_equal(ik_devm_count(dev), 0);
	/* The device is usable again. */
	assert_int_equal(ik_device_bind(dev, &good_driver), 0);
	ik_device_destroy(dev);
}

/* The seed 003 rule: nothing may be acquired before a driver binds. */
static void test_resources_before_bind_refused(void **state)
{
	struct ik_device *dev;

	release_n = 0;
	probe_calls = 0;
	assert_int_equal(ik_device_create(NULL, "early", &dev), 0);
	assert_int_equal(ik_devm_add_action(dev, log_action, (void *)5), 0);
	assert_int_equal(ik_device_bind(dev, &good_driver), -IK_EEXIST);
	assert_int_equal(probe_calls, 0);
	assert_null(ik_device_driver(dev));
	assert_int_equal(ik_devm_count(dev), 1);     /* nothing changed */
	assert_int_equal(release_n, 0);

	/* Releasing the stray resource makes the device bindable. */
	assert_int_equal(ik_devm_release_action(dev, log_action, (void *)5), 0);
	assert_int_equal(release_n, 1);
	assert_int_equal(ik_devm_release_action(dev, log_action, (void *)5), -IK_ENOENT);
	assert_int_equal(ik_device_bind(dev, &good_driver), 0);
	/* Removing without running. */
	assert_int_equal(ik_devm_remove_action(dev, log_action, (void *)2), 0);
	assert_int_equal(ik_devm_remove_action(dev, log_action, (void *)2), -IK_ENOENT);
	remove_calls = 0;
	release_n = 0;
	/* good_remove expects 3 resources; put one back so the count holds. */
	assert_int_equal(ik_devm_add_action(dev, log_action, (void *)9), 0);
	assert_int_equal(ik_device_unbind(dev), 0);
	assert_int_equal(release_n, 3);
	assert_int_equal(release_log[0], 9);
	assert_int_equal(release_log[1], 3);
	assert_int_equal(release_log[2], 1);
	ik_device_destroy(dev);
}

static void test_destroy_subtree_children_first(void **state)
{
	struct ik_device *parent, *a, *b, *a1;

	release_n = 0;
	assert_int_equal(ik_device_create(NULL, "parent", &parent), 0);
	assert_int_equal(ik_device_create(parent, "a", &a), 0);
	assert_int_equal(ik_device_create(parent, "b", &b), 0);
	assert_int_equal(ik_device_create(a, "a1", &a1), 0);
	assert_int_equal(ik_devm_add_action(parent, log_action, (void *)10), 0);
	assert_int_equal(ik_devm_add_action(a, log_action, (void *)11), 0);
	assert_int_equal(ik_devm_add_action(b, log_action, (void *)12), 0);
	assert_int_equal(ik_devm_add_action(a1, log_action, (void *)13), 0);
	ik_device_destroy(parent);
	/* Newest child first, depth first, the parent last. */
	assert_int_equal(release_n, 4);
	assert_int_equal(release_log[0], 12);
	assert_int_equal(release_log[1], 13);
	assert_int_equal(release_log[2], 11);
	assert_int_equal(release_log[3], 10);

	/* Destroying a child unlinks it from its parent. */
	assert_int_equal(ik_device_create(NULL, "p2", &parent), 0);
	assert_int_equal(ik_device_create(parent, "a", &a), 0);
	assert_int_equal(ik_device_create(parent, "b", &b), 0);
	ik_device_destroy(a);
	assert_int_equal(ik_device_create(parent, "c", &a), 0);
	ik_device_destroy(parent);
}

static int count_child(struct ik_device *child, void *arg)
{
	(*(int *)arg)++;
	return strcmp(ik_device_name(child), "stop") == 0 ? 42 : 0;
}

static void test_for_each_child(void **state)
{
	struct ik_device *parent, *c;
	int n = 0;

	assert_int_equal(ik_device_create(NULL, "p", &parent), 0);
	assert_int_equal(ik_device_create(parent, "x", &c), 0);
	assert_int_equal(ik_device_create(parent, "stop", &c), 0);
	assert_int_equal(ik_device_create(parent, "y", &c), 0);
	assert_int_equal(ik_device_for_each_child(parent, count_child, &n), 42);
	assert_int_equal(n, 2);
	ik_device_destroy(parent);
}

static void bus_release(struct ik_device *dev, void *data)
{
	/* The driver is gone and so are the children when the bus data goes. */
	assert_null(ik_device_driver(dev));
	log_action(data);
}

static void test_bus_data_released_with_subtree(void **state)
{
	struct ik_device *parent, *fn0, *fn1;

	release_n = 0;
	assert_int_equal(ik_device_create(NULL, "bridge", &parent), 0);
	assert_int_equal(ik_device_create(parent, "fn0", &fn0), 0);
	assert_int_equal(ik_device_create(parent, "fn1", &fn1), 0);
	ik_device_set_bus_data(fn0, (void *)20, bus_release);
	ik_device_set_bus_data(fn1, (void *)21, bus_release);
	assert_ptr_equal(ik_device_bus_data(fn1), (void *)21);
	assert_int_equal(ik_device_bind(fn0, &good_driver), 0);
	ik_device_destroy(parent);
	/* fn1 (newest) first; fn0's driver resources before its bus data. */
	assert_int_equal(release_n, 5);
	assert_int_equal(release_log[0], 21);
	assert_int_equal(release_log[1], 3);
	assert_int_equal(release_log[4], 20);
}

static void test_alloc_failure_changes_nothing(void **state)
{
	struct ik_device *dev = NULL;
	int64_t base = sim_alloc_outstanding();

	sim_alloc_fail_nth(1);
	assert_int_equal(ik_device_create(NULL, "x", &dev), -IK_ENOMEM);
	assert_int_equal(sim_alloc_outstanding(), base);
	assert_int_equal(ik_device_create(NULL, "x", &dev), 0);
	sim_alloc_fail_nth(1);
	assert_int_equal(ik_devm_add_action(dev, log_action, NULL), -IK_ENOMEM);
	assert_int_equal(ik_devm_count(dev), 0);
	assert_int_equal(ik_device_bind(dev, &good_driver), 0);
	ik_device_destroy(dev);
	assert_int_equal(sim_alloc_outstanding(), base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tree_and_inheritance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind_unbind_releases_newest_first, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failed_probe_releases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resources_before_bind_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_subtree_children_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_for_each_child, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_data_released_with_subtree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_failure_changes_nothing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

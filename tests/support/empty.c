/* SPDX-License-Identifier: BSD-2-Clause */
/* Keeps the test-support library non-empty before helpers are added. */
int ik_test_support_empty_unit;

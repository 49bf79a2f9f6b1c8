// SPDX-License-Identifier: BSD-2-Clause
/* The error table. */
#include <irqkit/env.h>

static const struct {
	int code;
	const char *text;
} ik_errors[] = {
	{ 0, "success" },
	{ IK_EPERM, "operation not permitted in this state" },
	{ IK_ENOENT, "no such interrupt, domain or mapping" },
	{ IK_EIO, "hardware did not respond as required" },
	{ IK_EAGAIN, "try again later" },
	{ IK_ENOMEM, "out of memory" },
	{ IK_EBUSY, "resource busy" },
	{ IK_EEXIST, "already exists" },
	{ IK_ENODEV, "no such device or CPU" },
	{ IK_EINVAL, "invalid argument" },
	{ IK_ENOSPC, "no space left (vectors, slots or numbers exhausted)" },
	{ IK_ERANGE, "index or value out of range" },
	{ IK_ENOSYS, "operation not implemented by this chip or domain" },
	{ IK_ENOTCONN, "hierarchy level not connected" },
	{ IK_ENOTSUPP, "not supported by this hardware" },
};

const char *ik_strerror(int err)
{
	if (err < 0)
		err = -err;
	for (size_t i = 0; i < IK_ARRAY_SIZE(ik_errors); i++)
		if (ik_errors[i].code == err)
			return ik_errors[i].text;
	return "unknown error";
}

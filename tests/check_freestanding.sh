#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# src/ and include/ may include only <stdint.h>, <stddef.h>, <stdbool.h>,
# <stdarg.h> and their own headers.
top=${1:-.}
bad=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<' "$top/src" "$top/include" |
      grep -vE '<(stdint|stddef|stdbool|stdarg)\.h>|<irqkit/' )
if [ -n "$bad" ]; then
	echo "hosted includes in freestanding code:"
	echo "$bad"
	exit 1
fi
echo "freestanding: ok"

// SPDX-License-Identifier: BSD-2-Clause
/* A small streaming JSON writer for the views and the trace. */
#include <inttypes.h>

#include "tool.h"

void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		switch (*c) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\t': fputs("\\t", out); break;
		case '\r': fputs("\\r", out); break;
		default:
			if (*c < 0x20 || *c >= 0x7f)
				fprintf(out, "\\u%04x", *c);
			else
				fputc(*c, out);
		}
	}
	fputc('"', out);
}

void jw_init(struct jw *j, FILE *out, bool pretty)
{
	j->out = out;
	j->depth = 0;
	j->first[0] = true;
	j->pretty = pretty;
	j->after_key = false;
}

static void indent(struct jw *j)
{
	if (!j->pretty)
		return;
	fputc('\n', j->out);
	for (unsigned int i = 0; i < j->depth; i++)
		fputs("  ", j->out);
}

/* Before a value: a comma and a new line unless it follows a key. */
static void before_value(struct jw *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth) {
		if (!j->first[j->depth])
			fputc(',', j->out);
		j->first[j->depth] = false;
		indent(j);
	}
}

static void open_(struct jw *j, char c)
{
	before_value(j);
	fputc(c, j->out);
	if (j->depth + 1 < sizeof(j->first) / sizeof(j->first[0]))
		j->depth++;
	j->first[j->depth] = true;
}

static void close_(struct jw *j, char c)
{
	bool empty = j->first[j->depth];

	if (j->depth)
		j->depth--;
	if (!empty)
		indent(j);
	fputc(c, j->out);
	if (!j->depth && j->pretty)
		fputc('\n', j->out);
}

void jw_obj(struct jw *j)
{
	open_(j, '{');
}

void jw_obj_end(struct jw *j)
{
	close_(j, '}');
}

void jw_arr(struct jw *j)
{
	open_(j, '[');
}

void jw_arr_end(struct jw *j)
{
	close_(j, ']');
}

void jw_key(struct jw *j, const char *key)
{
	before_value(j);
	json_string(j->out, key);
	fputs(j->pretty ? ": " : ":", j->out);
	j->after_key = true;
}

void jw_str(struct jw *j, const char *s)
{
	before_value(j);
	json_string(j->out, s ? s : "");
}

void jw_u64(struct jw *j, uint64_t v)
{
	before_value(j);
	fprintf(j->out, "%" PRIu64, v);
}

/* A key and its unsigned value: the common case of the summary objects. */
void jw_key_u64(struct jw *j, const char *key, uint64_t v)
{
	jw_key(j, key);
	jw_u64(j, v);
}

void jw_i64(struct jw *j, int64_t v)
{
	before_value(j);
	fprintf(j->out, "%" PRId64, v);
}

void jw_bool(struct jw *j, bool v)
{
	before_value(j);
	fputs(v ? "true" : "false", j->out);
}

void jw_null(struct jw *j)
{
	before_value(j);
	fputs("null", j->out);
}

void jw_raw(struct jw *j, const char *text)
{
	before_value(j);
	fputs(text, j->out);
}

// SPDX-License-Identifier: BSD-2-Clause
/*
 * Scenario tokens, the parser cursor and the small shared grammar pieces
 * (numbers, names, CPU sets, interrupt references).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

void diag_error(struct diag *d, const struct loc *loc, const char *fmt, ...)
{
	va_list ap;

	d->errors++;
	if (d->max_errors && d->errors > d->max_errors)
		return;
	if (!d->out)
		return;
	fprintf(d->out, "%s:%u:%u: error: ", loc->file ? loc->file : "<input>", loc->line, loc->col);
	va_start(ap, fmt);
	vfprintf(d->out, fmt, ap);
	va_end(ap);
	fputc('\n', d->out);
	if (d->max_errors && d->errors == d->max_errors)
		fprintf(d->out, "%s: too many errors, stopping here\n",
			loc->file ? loc->file : "<input>");
}

/* ---- Lexer ------------------------------------------------------------- */

static bool word_start(int c)
{
	return isalpha(c) || c == '_';
}

static bool word_char(int c)
{
	return isalnum(c) || c == '_' || c == '.' || c == '-';
}

static bool parse_num_text(const char *s, unsigned int len, uint64_t *out)
{
	uint64_t v = 0;
	unsigned int base = 10, i = 0;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i >= len)
		return false;
	for (; i < len; i++) {
		unsigned int digit;
		char c = s[i];

		if (c == '_')
			continue;
		if (c >= '0' && c <= '9')
			digit = (unsigned int)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			digit = (unsigned int)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			digit = (unsigned int)(c - 'A' + 10);
		else
			return false;
		if (v > (UINT64_MAX - digit) / base)
			return false;
		v = v * base + digit;
	}
	*out = v;
	return true;
}

int lex_line(struct diag *d, const struct loc *loc, const char *text, struct tline *out)
{
	size_t len = strlen(text);
	char *buf;
	unsigned int i = 0;

	memset(out, 0, sizeof(*out));
	out->loc = *loc;
	out->loc.col = 1;
	if (len > TOOL_MAX_LINE) {
		struct loc l = out->loc;

		l.col = TOOL_MAX_LINE + 1;
		diag_error(d, &l, "line too long (at most %d characters)", TOOL_MAX_LINE);
		return -1;
	}
	/* Strings are unescaped into buf; other tokens point into it too. */
	buf = malloc(len + 1);
	if (!buf) {
		diag_error(d, &out->loc, "out of memory");
		return -1;
	}
	memcpy(buf, text, len + 1);
	out->buf = buf;
	while (i < len) {
		unsigned char c = (unsigned char)buf[i];
		struct token *t;
		struct loc here = out->loc;

		here.col = i + 1;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
			i++;
			continue;
		}
		if (c == '#')
			break;
		if (out->n >= TOOL_MAX_TOKENS - 1) {
			diag_error(d, &here, "too many words on one line (at most %d)",
				   TOOL_MAX_TOKENS - 1);
			goto fail;
		}
		t = &out->tok[out->n];
		t->col = i + 1;
		t->text = &buf[i];
		if (word_start(c)) {
			unsigned int s = i;

			while (i < len && word_char((unsigned char)buf[i]))
				i++;
			t->type = T_WORD;
			t->len = i - s;
		} else if (isdigit(c)) {
			unsigned int s = i;

			while (i < len && (isalnum((unsigned char)buf[i]) || buf[i] == '_'))
				i++;
			t->type = T_NUM;
			t->len = i - s;
			t->num_ok = parse_num_text(t->text, t->len, &t->num);
		} else if (c == '"') {
			/* Unescape in place: the text only gets shorter. */
			unsigned int s = ++i, o = s;
			bool closed = false;

			while (i < len) {
				char ch = buf[i];

				if (ch == '"') {
					closed = true;
					i++;
					break;
				}
				if (ch == '\\' && i + 1 < len) {
					char e = buf[i + 1];

					if (e == 'n')
						ch = '\n';
					else if (e == 't')
						ch = '\t';
					else if (e == '"' || e == '\\')
						ch = e;
					else {
						here.col = i + 1;
						diag_error(d, &here,
							   "unknown escape '\\%c' (expected \\\", \\\\, \\n or \\t)",
							   isprint((unsigned char)e) ? e : '?');
						goto fail;
					}
					i += 2;
				} else {
					i++;
				}
				buf[o++] = ch;
			}
			if (!closed) {
				diag_error(d, &here, "unterminated string (expected a closing '\"')");
				goto fail;
			}
			t->type = T_STR;
			t->text = &buf[s];
			t->len = o - s;
		} else {
			t->len = 1;
			i++;
			switch (c) {
			case '[': t->type = T_LBRACK; break;
			case ']': t->type = T_RBRACK; break;
			case ',': t->type = T_COMMA; break;
			case ':': t->type = T_COLON; break;
			case '.': t->type = T_DOT; break;
			case '-': t->type = T_DASH; break;
			case '*': t->type = T_STAR; break;
			case '=':
			case '!':
			case '<':
			case '>':
				t->type = T_OP;
				if (i < len && buf[i] == '=') {
					t->len = 2;
					i++;
				}
				if (c == '=')
					t->op = OP_EQ;
				else if (c == '!' && t->len == 2)
					t->op = OP_NE;
				else if (c == '<')
					t->op = t->len == 2 ? OP_LE : OP_LT;
				else if (c == '>')
					t->op = t->len == 2 ? OP_GE : OP_GT;
				else {
					diag_error(d, &here, "unexpected '!' (expected '!=')");
					goto fail;
				}
				break;
			default:
				if (isprint(c))
					diag_error(d, &here, "unexpected character '%c'", c);
				else
					diag_error(d, &here, "unexpected byte 0x%02x", c);
				goto fail;
			}
		}
		out->n++;
	}
	out->tok[out->n].type = T_END;
	out->tok[out->n].col = (unsigned int)len + 1;
	out->tok[out->n].text = &buf[len];
	return 0;
fail:
	free(buf);
	out->buf = NULL;
	out->n = 0;
	return -1;
}

void tline_free(struct tline *tl)
{
	free(tl->buf);
	tl->buf = NULL;
}

/* ---- Cursor ------------------------------------------------------------ */

const struct token *p_peek(struct pcur *p)
{
	return &p->tl->tok[p->i];
}

const struct token *p_next(struct pcur *p)
{
	const struct token *t = &p->tl->tok[p->i];

	if (t->type != T_END)
		p->i++;
	return t;
}

bool p_at_end(struct pcur *p)
{
	return p_peek(p)->type == T_END;
}

bool p_is_word(const struct token *t, const char *w)
{
	size_t n = strlen(w);

	return t->type == T_WORD && t->len == n && !memcmp(t->text, w, n);
}

bool p_accept(struct pcur *p, const char *word)
{
	if (p_is_word(p_peek(p), word)) {
		p->i++;
		return true;
	}
	return false;
}

bool p_accept_type(struct pcur *p, enum tok_type type)
{
	if (p_peek(p)->type == type) {
		p_next(p);
		return true;
	}
	return false;
}

struct loc p_loc(const struct pcur *p, const struct token *t)
{
	struct loc l = p->tl->loc;

	l.col = t->col;
	return l;
}

void tok_text(const struct token *t, char *buf, size_t size)
{
	size_t n = t->len < size - 1 ? t->len : size - 1;

	memcpy(buf, t->text, n);
	buf[n] = 0;
}

static void describe_tok(const struct token *t, char *buf, size_t size)
{
	char txt[48];

	if (t->type == T_END) {
		snprintf(buf, size, "end of line");
		return;
	}
	tok_text(t, txt, sizeof(txt));
	for (char *c = txt; *c; c++)
		if (!isprint((unsigned char)*c))
			*c = '?';
	if (t->type == T_STR)
		snprintf(buf, size, "\"%s\"%s", txt, t->len >= sizeof(txt) ? "..." : "");
	else
		snprintf(buf, size, "'%s'%s", txt, t->len >= sizeof(txt) ? "..." : "");
}

int p_error_at(struct pcur *p, const struct token *t, const char *fmt, ...)
{
	struct loc l = p_loc(p, t);
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!p->failed)
		diag_error(p->d, &l, "%s", msg);
	p->failed = true;
	return -1;
}

int p_expected(struct pcur *p, const char *what)
{
	char got[80];

	describe_tok(p_peek(p), got, sizeof(got));
	return p_error_at(p, p_peek(p), "expected %s, got %s", what, got);
}

int p_expect_end(struct pcur *p)
{
	if (!p_at_end(p))
		return p_expected(p, "end of line");
	return 0;
}

int p_number(struct pcur *p, const char *what, uint64_t min, uint64_t max, uint64_t *out)
{
	const struct token *t = p_peek(p);

	if (t->type != T_NUM)
		return p_expected(p, what);
	if (!t->num_ok)
		return p_error_at(p, t, "expected %s, got '%.*s' (not a decimal or 0x-hex number)",
				  what, (int)(t->len > 40 ? 40 : t->len), t->text);
	if (t->num < min || t->num > max)
		return p_error_at(p, t, "%s must be %llu..%llu, got %llu", what,
				  (unsigned long long)min, (unsigned long long)max,
				  (unsigned long long)t->num);
	*out = t->num;
	p_next(p);
	return 0;
}

int p_name(struct pcur *p, const char *what, char out[TOOL_NAME_MAX], struct loc *loc)
{
	const struct token *t = p_peek(p);

	if (t->type != T_WORD)
		return p_expected(p, what);
	if (t->len >= TOOL_NAME_MAX)
		return p_error_at(p, t, "%s is too long (at most %d characters)", what,
				  TOOL_NAME_MAX - 1);
	for (unsigned int i = 0; i < t->len; i++)
		if (t->text[i] == '.')
			return p_error_at(p, t, "%s may not contain '.'", what);
	tok_text(t, out, TOOL_NAME_MAX);
	if (loc)
		*loc = p_loc(p, t);
	p_next(p);
	return 0;
}

int p_choice(struct pcur *p, const char *what, const char *const *words)
{
	const struct token *t = p_peek(p);

	for (int i = 0; words[i]; i++)
		if (p_is_word(t, words[i])) {
			p_next(p);
			return i;
		}
	p_expected(p, what);
	return -1;
}

/* CPUS: all | random | N | N-M | list of those separated by ',' */
int p_cpuset(struct pcur *p, struct cpuset *cs)
{
	memset(cs, 0, sizeof(*cs));
	cs->loc = p_loc(p, p_peek(p));
	if (p_accept(p, "all")) {
		cs->kind = CS_ALL;
		return 0;
	}
	if (p_accept(p, "random")) {
		cs->kind = CS_RANDOM;
		return 0;
	}
	cs->kind = CS_LIST;
	for (;;) {
		uint64_t lo, hi;

		if (p_number(p, "a CPU number, a range N-M, 'all' or 'random'", 0, SIM_MAX_CPUS - 1,
			     &lo))
			return -1;
		hi = lo;
		if (p_accept_type(p, T_DASH)) {
			if (p_number(p, "the last CPU of the range", lo, SIM_MAX_CPUS - 1, &hi))
				return -1;
		}
		for (uint64_t c = lo; c <= hi; c++)
			cs->bits |= 1ull << c;
		if (hi > cs->max_cpu)
			cs->max_cpu = (unsigned int)hi;
		if (!p_accept_type(p, T_COMMA))
			break;
	}
	return 0;
}

/* DEV[:SPACE][[SPEC]], SPEC = * | N | N-M, comma separated */
int p_ref(struct pcur *p, struct ref *ref)
{
	memset(ref, 0, sizeof(*ref));
	ref->loc = p_loc(p, p_peek(p));
	if (p_name(p, "a device name", ref->dev, NULL))
		return -1;
	if (p_accept_type(p, T_COLON)) {
		if (p_name(p, "an interrupt space name after ':'", ref->space, NULL))
			return -1;
	}
	ref->all = true;
	if (p_peek(p)->type != T_LBRACK)
		return 0;
	ref->spec_loc = p_loc(p, p_peek(p));
	p_next(p);
	if (p_accept_type(p, T_STAR)) {
		if (!p_accept_type(p, T_RBRACK))
			return p_expected(p, "']'");
		return 0;
	}
	ref->all = false;
	for (;;) {
		uint64_t lo, hi;

		if (ref->nr >= TOOL_MAX_RANGES)
			return p_error_at(p, p_peek(p), "too many ranges (at most %d)",
					  TOOL_MAX_RANGES);
		if (p_number(p, "an index, a range N-M or '*'", 0, TOOL_MAX_INDEX - 1, &lo))
			return -1;
		hi = lo;
		if (p_accept_type(p, T_DASH)) {
			if (p_number(p, "the last index of the range", lo, TOOL_MAX_INDEX - 1, &hi))
				return -1;
		}
		ref->r[ref->nr].lo = (uint32_t)lo;
		ref->r[ref->nr].hi = (uint32_t)hi;
		ref->nr++;
		if (p_accept_type(p, T_RBRACK))
			break;
		if (!p_accept_type(p, T_COMMA))
			return p_expected(p, "',' or ']'");
	}
	return 0;
}

void ref_format(const struct ref *ref, char *buf, size_t size)
{
	size_t o = 0;
	int n;

	n = snprintf(buf, size, "%s%s%s", ref->dev, ref->space[0] ? ":" : "", ref->space);
	o = n > 0 ? (size_t)n : 0;
	if (ref->all || o >= size)
		return;
	for (unsigned int i = 0; i < ref->nr && o < size; i++) {
		if (ref->r[i].lo == ref->r[i].hi)
			n = snprintf(buf + o, size - o, "%s%u", i ? "," : "[", ref->r[i].lo);
		else
			n = snprintf(buf + o, size - o, "%s%u-%u", i ? "," : "[", ref->r[i].lo,
				     ref->r[i].hi);
		o += n > 0 ? (size_t)n : 0;
	}
	if (o < size)
		snprintf(buf + o, size - o, "]");
}

/* ---- Error names ---------------------------------------------------------- */

static const struct {
	const char *name;
	int code;
} err_names[] = {
	{ "EPERM", IK_EPERM },   { "ENOENT", IK_ENOENT }, { "EIO", IK_EIO },
	{ "EAGAIN", IK_EAGAIN }, { "ENOMEM", IK_ENOMEM }, { "EBUSY", IK_EBUSY },
	{ "EEXIST", IK_EEXIST }, { "ENODEV", IK_ENODEV }, { "EINVAL", IK_EINVAL },
	{ "ENOSPC", IK_ENOSPC }, { "ERANGE", IK_ERANGE }, { "ENOSYS", IK_ENOSYS },
	{ "ENOTSUPP", IK_ENOTSUPP }, { "ENOTCONN", IK_ENOTCONN },
};

const char *err_name(int err)
{
	if (err < 0)
		err = -err;
	for (size_t i = 0; i < sizeof(err_names) / sizeof(err_names[0]); i++)
		if (err_names[i].code == err)
			return err_names[i].name;
	return "E?";
}

int err_from_name(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(err_names) / sizeof(err_names[0]); i++)
		if (strlen(err_names[i].name) == len && !memcmp(err_names[i].name, name, len))
			return err_names[i].code;
	return -1;
}

int p_bdf(struct pcur *p, const char *what, const char *example, uint16_t *bdf)
{
	static const unsigned long max[3] = { 0xFF, 0x1F, 7 };
	static const char sep[3] = { ':', '.', 0 };
	const struct token *start = p_peek(p);
	char buf[24];
	size_t n = 0;
	unsigned long v[3];
	char *s = buf, *end;

	/* The lexer splits "04:00.0" into adjacent tokens: glue them back. */
	for (int i = 0; i < 5 && !p_at_end(p); i++) {
		const struct token *t = p_peek(p);

		if (t->type != T_NUM && t->type != T_WORD && t->type != T_COLON && t->type != T_DOT)
			break;
		if (i > 0 && t->col != p->tl->tok[p->i - 1].col + p->tl->tok[p->i - 1].len)
			break;
		if (n + t->len >= sizeof(buf))
			goto bad;
		memcpy(buf + n, t->text, t->len);
		n += t->len;
		p_next(p);
	}
	buf[n] = 0;
	for (int k = 0; k < 3; k++) {
		v[k] = strtoul(s, &end, 16);
		if (end == s || v[k] > max[k] || *end != sep[k])
			goto bad;
		s = end + 1;
	}
	*bdf = (uint16_t)(v[0] << 8 | v[1] << 3 | v[2]);
	return 0;
bad:
	return p_error_at(p, start, "expected %s BB:DD.F (hex bus, device 00-1f, function 0-7), "
			  "like %s", what, example);
}

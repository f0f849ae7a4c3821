/* options.c: reading a layer's arguments from the model's syntax tree,
 * strictly: every value is checked, every option must be used. */
#include "nn/layer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int bopt_fail(const qt_build *b, int code, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return qt_model_error(b->m, b->line, b->col, code, "%s: %s",
			      b->term->name, msg);
}

/* Find argument `key`: by name, or the k-th positional literal if key is
 * the k-th positional parameter.  Returns the index or -1. */
static int find_arg(const qt_build *b, const char *key)
{
	int posk = -1, seen = 0;
	for (int k = 0; b->pos && k < 3 && b->pos[k]; k++)
		if (!strcmp(b->pos[k], key))
			posk = k;
	for (int i = 0; i < b->term->nargs; i++) {
		const qt_marg *a = &b->term->args[i];
		if (a->key && !strcmp(a->key, key))
			return i;
		if (!a->key && a->v.kind != QT_MV_NAME && a->v.kind != QT_MV_EXPR) {
			if (seen == posk)
				return i;
			seen++;
		}
	}
	return -1;
}

int bopt_has(const qt_build *b, const char *key)
{
	return find_arg(b, key) >= 0;
}

static const qt_mvalue *take(qt_build *b, const char *key)
{
	int i = find_arg(b, key);
	if (i < 0)
		return NULL;
	b->used[i] = 1;
	return &b->term->args[i].v;
}

static int verr(const qt_build *b, const qt_mvalue *v, const char *key,
		const char *what)
{
	return qt_model_error(b->m, v->line, v->col, QT_EFORMAT,
			      "%s: option '%s' must be %s", b->term->name, key,
			      what);
}

int bopt_int(qt_build *b, const char *key, int def, int min, int max,
	     int *out)
{
	const qt_mvalue *v = take(b, key);
	char what[96];
	if (!v) {
		*out = def;
		return 0;
	}
	snprintf(what, sizeof what, "an integer in [%d, %d]", min, max);
	if (v->kind != QT_MV_NUM || !v->is_int || v->num < min || v->num > max)
		return verr(b, v, key, what);
	*out = (int)v->num;
	return 0;
}

int bopt_double(qt_build *b, const char *key, double def, double min,
		double max, double *out)
{
	const qt_mvalue *v = take(b, key);
	char what[96];
	if (!v) {
		*out = def;
		return 0;
	}
	snprintf(what, sizeof what, "a number in [%g, %g]", min, max);
	if (v->kind != QT_MV_NUM || !(v->num >= min && v->num <= max))
		return verr(b, v, key, what);
	*out = v->num;
	return 0;
}

int bopt_bool(qt_build *b, const char *key, int def, int *out)
{
	const qt_mvalue *v = take(b, key);
	if (!v) {
		*out = def;
		return 0;
	}
	if (v->kind == QT_MV_NAME && !strcmp(v->str, "true"))
		*out = 1;
	else if (v->kind == QT_MV_NAME && !strcmp(v->str, "false"))
		*out = 0;
	else
		return verr(b, v, key, "true or false");
	return 0;
}

int bopt_pair(qt_build *b, const char *key, int def, int min, int max,
	      int out[2])
{
	const qt_mvalue *v = take(b, key);
	char what[128];
	snprintf(what, sizeof what, "an integer in [%d, %d] or a list of two",
		 min, max);
	if (!v) {
		out[0] = out[1] = def;
		return 0;
	}
	if (v->kind == QT_MV_NUM && v->is_int && v->num >= min && v->num <= max) {
		out[0] = out[1] = (int)v->num;
		return 0;
	}
	if (v->kind == QT_MV_LIST && v->n == 2) {
		for (int k = 0; k < 2; k++) {
			const qt_mvalue *e = &v->items[k];
			if (e->kind != QT_MV_NUM || !e->is_int || e->num < min ||
			    e->num > max)
				return verr(b, e, key, what);
			out[k] = (int)e->num;
		}
		return 0;
	}
	return verr(b, v, key, what);
}

int bopt_word(qt_build *b, const char *key, const char *const *words,
	      int def, int *out)
{
	const qt_mvalue *v = take(b, key);
	char what[256] = "one of";
	if (!v) {
		*out = def;
		return 0;
	}
	for (int i = 0; words[i]; i++) {
		if (v->kind == QT_MV_NAME && !strcmp(v->str, words[i])) {
			*out = i;
			return 0;
		}
		size_t l = strlen(what);
		snprintf(what + l, sizeof what - l, "%s %s", i ? "," : "",
			 words[i]);
	}
	return verr(b, v, key, what);
}

int bopt_doubles(qt_build *b, const char *key, double *out, int max, int *n)
{
	const qt_mvalue *v = take(b, key);
	*n = 0;
	if (!v)
		return 0;
	if (v->kind != QT_MV_LIST || v->n > max)
		return verr(b, v, key, "a list of numbers");
	for (int k = 0; k < v->n; k++) {
		if (v->items[k].kind != QT_MV_NUM || !isfinite(v->items[k].num))
			return verr(b, &v->items[k], key, "a list of numbers");
		out[k] = v->items[k].num;
	}
	*n = v->n;
	return 0;
}

int bopt_str(qt_build *b, const char *key, const char **out)
{
	const qt_mvalue *v = take(b, key);
	*out = NULL;
	if (!v)
		return 0;
	if (v->kind != QT_MV_STR && v->kind != QT_MV_NAME)
		return verr(b, v, key, "a string");
	*out = v->str;
	return 0;
}

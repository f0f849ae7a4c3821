/* model.c: lexer and recursive-descent parser for model files
 * (grammar in docs/MODELS.md).
 *
 *   file  := { stmt NEWLINE }
 *   stmt  := 'param' NAME '=' NUM
 *          | 'input' NAME ( '[' dims ']' | 'edges' )
 *          | 'target' NAME | 'output' NAME {NAME}
 *          | 'loss' expr | 'optimizer' expr | 'train' {NAME '=' value}
 *          | ['repeat' NUM ':'] NAME '=' expr
 *   expr  := term { '|' term }
 *   term  := NAME [ '(' [ arg {',' arg} ] ')' ]
 *   arg   := [NAME '='] value
 *   value := NUM | STR | '[' [value {',' value}] ']' | '(' expr ')' | expr
 *   (a parameter's NAME stands for its number wherever a number or a
 *   dimension may be written)
 */
#include "nn/model.h"
#include "common/error.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena: every node of a model, freed at once ---- */

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

static void *arena_alloc(void **arena, size_t n)
{
	struct arena_block *b = *arena;
	n = (n + 15) & ~(size_t)15;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 16384 ? n : 16384;
		struct arena_block *nb = malloc(sizeof *nb + cap);
		if (!nb)
			return NULL;
		nb->next = b;
		nb->used = 0;
		nb->cap = cap;
		*arena = b = nb;
	}
	void *p = b->data + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

static void arena_free(void *arena)
{
	struct arena_block *b = arena;
	while (b) {
		struct arena_block *next = b->next;
		free(b);
		b = next;
	}
}

/* ---- lexer ---- */

enum tok { T_EOF, T_NL, T_NAME, T_NUM, T_STR, T_PUNCT };

struct parser {
	qt_model *m;
	const char *s;   /* text */
	size_t pos;
	int line, col;
	int depth;       /* open ( and [ */
	/* current token */
	enum tok t;
	char punct;
	const char *start;
	size_t len;
	int tline, tcol;
	int prev_continues; /* previous token was '|' or ',' */
	/* `param NAME = VALUE` definitions, and --set overrides */
	int nparams;
	const char *pnames[64];
	double pvalues[64];
	int nset;
	const char *const *set;
	int set_used[64];
};

int qt_model_error(const qt_model *m, int line, int col, int code,
		   const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return qt_error(code, "%s:%d:%d: %s", m->path, line, col, msg);
}

static int perr(struct parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int perr(struct parser *p, const char *fmt, ...)
{
	char msg[400], tok[48];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (p->t == T_EOF)
		snprintf(tok, sizeof tok, "end of file");
	else if (p->t == T_NL)
		snprintf(tok, sizeof tok, "end of line");
	else
		snprintf(tok, sizeof tok, "'%.*s'", (int)(p->len < 40 ? p->len : 40),
			 p->start);
	return qt_model_error(p->m, p->tline, p->tcol, QT_EFORMAT,
			      "%s, found %s", msg, tok);
}

static int peekc(struct parser *p, size_t ahead)
{
	return (unsigned char)p->s[p->pos + ahead];
}

static void advance_char(struct parser *p)
{
	if (p->s[p->pos] == '\n') {
		p->line++;
		p->col = 1;
	} else {
		p->col++;
	}
	p->pos++;
}

/* Skip blanks and comments (not newlines). */
static void skip_blank(struct parser *p)
{
	for (;;) {
		int c = peekc(p, 0);
		if (c == ' ' || c == '\t' || c == '\r')
			advance_char(p);
		else if (c == '#')
			while (peekc(p, 0) && peekc(p, 0) != '\n')
				advance_char(p);
		else
			return;
	}
}

/* After a newline: does the next non-blank line start with '|'? */
static int next_line_continues(struct parser *p)
{
	size_t i = p->pos;
	for (;;) {
		char c = p->s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			i++;
		} else if (c == '#') {
			while (p->s[i] && p->s[i] != '\n')
				i++;
		} else {
			return c == '|';
		}
	}
}

static int next(struct parser *p)
{
	for (;;) {
		skip_blank(p);
		p->tline = p->line;
		p->tcol = p->col;
		p->start = p->s + p->pos;
		int c = peekc(p, 0);
		if (c == 0) {
			p->t = T_EOF;
			p->len = 0;
			return 0;
		}
		if (c == '\n') {
			advance_char(p);
			if (p->depth > 0 || p->prev_continues ||
			    next_line_continues(p))
				continue;
			p->t = T_NL;
			p->len = 1;
			return 0;
		}
		break;
	}
	int c = peekc(p, 0);
	p->prev_continues = 0;
	if (isalpha(c) || c == '_') {
		while (isalnum(peekc(p, 0)) || peekc(p, 0) == '_')
			advance_char(p);
		p->t = T_NAME;
	} else if (isdigit(c) || (c == '.' && isdigit(peekc(p, 1))) ||
		   ((c == '-' || c == '+') && (isdigit(peekc(p, 1)) ||
					       peekc(p, 1) == '.'))) {
		char *end;
		errno = 0;
		strtod(p->s + p->pos, &end);
		if (errno == ERANGE)
			return perr(p, "number out of range");
		while (p->s + p->pos < end)
			advance_char(p);
		if (isalpha(peekc(p, 0)) || peekc(p, 0) == '_') {
			p->len = (size_t)(end - p->start) + 1;
			return perr(p, "expected a number");
		}
		p->t = T_NUM;
	} else if (c == '"') {
		advance_char(p);
		while (peekc(p, 0) && peekc(p, 0) != '"' && peekc(p, 0) != '\n')
			advance_char(p);
		if (peekc(p, 0) != '"') {
			p->len = 1;
			p->t = T_PUNCT;
			return perr(p, "unterminated string");
		}
		advance_char(p);
		p->t = T_STR;
	} else if (strchr("()[],=|:*", c)) {
		advance_char(p);
		p->t = T_PUNCT;
		p->punct = (char)c;
		if (c == '(' || c == '[')
			p->depth++;
		if ((c == ')' || c == ']') && p->depth > 0)
			p->depth--;
		p->prev_continues = c == '|' || c == ',';
	} else {
		p->len = 1;
		p->t = T_PUNCT;
		return perr(p, "unexpected character");
	}
	p->len = (size_t)(p->s + p->pos - p->start);
	return 0;
}

static int is_punct(const struct parser *p, char c)
{
	return p->t == T_PUNCT && p->punct == c;
}

static int is_word(const struct parser *p, const char *w)
{
	return p->t == T_NAME && strlen(w) == p->len &&
	       !memcmp(p->start, w, p->len);
}

static const char *tok_str(struct parser *p)
{
	char *s = arena_alloc(&p->m->arena, p->len + 1);
	if (s)
		memcpy(s, p->start, p->len);
	return s;
}

static int expect(struct parser *p, char c, const char *what)
{
	if (!is_punct(p, c))
		return perr(p, "expected %s", what);
	return next(p);
}

/* ---- grammar ---- */

static int parse_expr(struct parser *p, qt_mexpr **out);

/* Grow an arena array by one element (copying; models are small). */
static void *push(void **arena, void *arr, int n, size_t sz)
{
	void *na = arena_alloc(arena, (size_t)(n + 1) * sz);
	if (na && n)
		memcpy(na, arr, (size_t)n * sz);
	return na;
}

/* The value of parameter NAME (the current token), or -1 if none. */
static int param_index(const struct parser *p)
{
	for (int i = p->nparams - 1; i >= 0; i--)
		if (strlen(p->pnames[i]) == p->len &&
		    !memcmp(p->pnames[i], p->start, p->len))
			return i;
	return -1;
}

static int parse_value(struct parser *p, qt_mvalue *v)
{
	int rc;
	v->line = p->tline;
	v->col = p->tcol;
	if (p->t == T_NUM) {
		char *end;
		v->kind = QT_MV_NUM;
		v->num = strtod(p->start, &end);
		v->is_int = !memchr(p->start, '.', p->len) &&
			    !memchr(p->start, 'e', p->len) &&
			    !memchr(p->start, 'E', p->len);
		return next(p);
	}
	if (p->t == T_STR) {
		char *s = arena_alloc(&p->m->arena, p->len);
		if (!s)
			return qt_error(QT_ENOMEM, "out of memory");
		memcpy(s, p->start + 1, p->len - 2);
		v->kind = QT_MV_STR;
		v->str = s;
		return next(p);
	}
	if (is_punct(p, '[')) {
		v->kind = QT_MV_LIST;
		if ((rc = next(p)) < 0)
			return rc;
		while (!is_punct(p, ']')) {
			qt_mvalue *items = push(&p->m->arena, v->items, v->n,
						sizeof *items);
			if (!items)
				return qt_error(QT_ENOMEM, "out of memory");
			v->items = items;
			if ((rc = parse_value(p, &items[v->n])) < 0)
				return rc;
			v->n++;
			if (is_punct(p, ','))
				rc = next(p);
			else if (!is_punct(p, ']'))
				return perr(p, "expected ',' or ']'");
			if (rc < 0)
				return rc;
		}
		return next(p);
	}
	if (is_punct(p, '(')) {
		if ((rc = next(p)) < 0)
			return rc;
		v->kind = QT_MV_EXPR;
		if ((rc = parse_expr(p, &v->expr)) < 0)
			return rc;
		return expect(p, ')', "')'");
	}
	if (p->t == T_NAME && param_index(p) >= 0 && p->s[p->pos] != '(') {
		v->kind = QT_MV_NUM;
		v->num = p->pvalues[param_index(p)];
		v->is_int = v->num == (double)(long long)v->num;
		return next(p);
	}
	if (p->t == T_NAME) {
		v->kind = QT_MV_EXPR;
		if ((rc = parse_expr(p, &v->expr)) < 0)
			return rc;
		/* A lone bare name is a name (an option word or a value). */
		if (v->expr->n == 1 && !v->expr->terms[0].is_call) {
			v->kind = QT_MV_NAME;
			v->str = v->expr->terms[0].name;
			v->expr = NULL;
		}
		return 0;
	}
	return perr(p, "expected a value (number, name, string, list or "
		    "(pipeline))");
}

static int parse_term(struct parser *p, qt_mterm *t)
{
	int rc;
	if (p->t != T_NAME)
		return perr(p, "expected a layer or value name");
	t->name = tok_str(p);
	t->line = p->tline;
	t->col = p->tcol;
	if ((rc = next(p)) < 0)
		return rc;
	if (!is_punct(p, '('))
		return 0;
	t->is_call = 1;
	if ((rc = next(p)) < 0)
		return rc;
	while (!is_punct(p, ')')) {
		qt_marg *args = push(&p->m->arena, t->args, t->nargs,
				     sizeof *args);
		qt_marg *a;
		if (!args)
			return qt_error(QT_ENOMEM, "out of memory");
		t->args = args;
		a = &args[t->nargs];
		a->line = p->tline;
		a->col = p->tcol;
		/* key=value: a name followed by '=' */
		if (p->t == T_NAME) {
			size_t at = p->pos;
			while (p->s[at] == ' ' || p->s[at] == '\t')
				at++;
			if (p->s[at] == '=') {
				a->key = tok_str(p);
				if ((rc = next(p)) < 0 || (rc = next(p)) < 0)
					return rc;
			}
		}
		if ((rc = parse_value(p, &a->v)) < 0)
			return rc;
		t->nargs++;
		if (is_punct(p, ','))
			rc = next(p);
		else if (!is_punct(p, ')'))
			return perr(p, "expected ',' or ')'");
		if (rc < 0)
			return rc;
	}
	return next(p);
}

static int parse_expr(struct parser *p, qt_mexpr **out)
{
	qt_mexpr *e = arena_alloc(&p->m->arena, sizeof *e);
	int rc;
	if (!e)
		return qt_error(QT_ENOMEM, "out of memory");
	for (;;) {
		qt_mterm *terms = push(&p->m->arena, e->terms, e->n,
				       sizeof *terms);
		if (!terms)
			return qt_error(QT_ENOMEM, "out of memory");
		e->terms = terms;
		if ((rc = parse_term(p, &terms[e->n])) < 0)
			return rc;
		e->n++;
		if (!is_punct(p, '|'))
			break;
		if ((rc = next(p)) < 0)
			return rc;
	}
	*out = e;
	return 0;
}

static int parse_int(struct parser *p, long long min, long long max,
		     const char *what, long long *out)
{
	char *end;
	long long v;
	if (p->t != T_NUM)
		return perr(p, "expected %s", what);
	v = strtoll(p->start, &end, 10);
	if (end != p->start + p->len || v < min || v > max)
		return perr(p, "expected %s (an integer in [%lld, %lld])", what,
			    min, max);
	*out = v;
	return next(p);
}

static int parse_input(struct parser *p, qt_mstmt *s)
{
	int rc;
	long long d;
	if (p->t != T_NAME)
		return perr(p, "expected the input's field name");
	s->name = tok_str(p);
	if ((rc = next(p)) < 0)
		return rc;
	if (s->kind == QT_MS_TARGET)
		return 0;
	if (is_word(p, "edges")) {
		s->is_edges = 1;
		return next(p);
	}
	if ((rc = expect(p, '[', "'[' and the per-sample shape, or 'edges'")) < 0)
		return rc;
	while (!is_punct(p, ']')) {
		if (s->ndim >= 7)
			return perr(p, "too many dimensions (at most 7)");
		if (is_punct(p, '*') && s->ndim == 0) {
			s->shape[s->ndim++] = -1;
			rc = next(p);
		} else {
			int pi = p->t == T_NAME ? param_index(p) : -1;
			if (pi >= 0) {
				double pv = p->pvalues[pi];
				if (pv < 1 || pv > (double)(1LL << 31) ||
				    pv != (double)(long long)pv)
					return perr(p, "parameter is not a dimension");
				s->shape[s->ndim++] = (int64_t)pv;
				rc = next(p);
			} else {
				rc = parse_int(p, 1, 1LL << 31, "a dimension", &d);
				s->shape[s->ndim++] = d;
			}
		}
		if (rc < 0)
			return rc;
		if (is_punct(p, ','))
			rc = next(p);
		else if (!is_punct(p, ']'))
			return perr(p, "expected ',' or ']'");
		if (rc < 0)
			return rc;
	}
	return next(p);
}

static int parse_stmt(struct parser *p, qt_mstmt *s)
{
	int rc;
	s->line = p->tline;
	s->col = p->tcol;
	s->repeat = 1;
	if (p->t != T_NAME)
		return perr(p, "expected a statement (input, target, NAME = ..., "
			    "output, loss, optimizer, train, repeat)");
	if (is_word(p, "input") || is_word(p, "target")) {
		s->kind = is_word(p, "input") ? QT_MS_INPUT : QT_MS_TARGET;
		if ((rc = next(p)) < 0)
			return rc;
		return parse_input(p, s);
	}
	if (is_word(p, "output")) {
		s->kind = QT_MS_OUTPUT;
		if ((rc = next(p)) < 0)
			return rc;
		while (p->t == T_NAME) {
			const char **names = push(&p->m->arena, (void *)s->names,
						  s->nnames, sizeof *names);
			if (!names)
				return qt_error(QT_ENOMEM, "out of memory");
			s->names = names;
			names[s->nnames++] = tok_str(p);
			if ((rc = next(p)) < 0)
				return rc;
		}
		if (!s->nnames)
			return perr(p, "expected the name of an output value");
		return 0;
	}
	if (is_word(p, "loss") || is_word(p, "optimizer")) {
		s->kind = is_word(p, "loss") ? QT_MS_LOSS : QT_MS_OPTIMIZER;
		if ((rc = next(p)) < 0)
			return rc;
		if ((rc = parse_expr(p, &s->expr)) < 0)
			return rc;
		if (s->expr->n != 1)
			return qt_model_error(p->m, s->line, s->col, QT_EFORMAT,
					      "expected one call, not a pipeline");
		return 0;
	}
	if (is_word(p, "train")) {
		s->kind = QT_MS_TRAIN;
		if ((rc = next(p)) < 0)
			return rc;
		while (p->t == T_NAME) {
			qt_marg *args = push(&p->m->arena, s->args, s->nargs,
					     sizeof *args);
			if (!args)
				return qt_error(QT_ENOMEM, "out of memory");
			s->args = args;
			args[s->nargs].key = tok_str(p);
			args[s->nargs].line = p->tline;
			args[s->nargs].col = p->tcol;
			if ((rc = next(p)) < 0 || (rc = expect(p, '=', "'='")) < 0)
				return rc;
			if ((rc = parse_value(p, &args[s->nargs].v)) < 0)
				return rc;
			s->nargs++;
		}
		return 0;
	}
	if (is_word(p, "param")) {
		char *end;
		double v;
		if ((rc = next(p)) < 0)
			return rc;
		if (p->t != T_NAME)
			return perr(p, "expected the parameter's name");
		if (p->nparams >= 64)
			return perr(p, "too many parameters");
		p->pnames[p->nparams] = tok_str(p);
		s->kind = QT_MS_PARAM;
		s->name = p->pnames[p->nparams];
		if ((rc = next(p)) < 0 || (rc = expect(p, '=', "'='")) < 0)
			return rc;
		if (p->t != T_NUM)
			return perr(p, "expected a number");
		v = strtod(p->start, &end);
		/* --set NAME=VALUE replaces the file's value */
		for (int k = 0; k < p->nset; k++) {
			const char *eq = strchr(p->set[k], '=');
			size_t n = eq ? (size_t)(eq - p->set[k]) : 0;
			if (eq && n == strlen(s->name) &&
			    !strncmp(p->set[k], s->name, n)) {
				v = strtod(eq + 1, &end);
				p->set_used[k] = 1;
			}
		}
		p->pvalues[p->nparams++] = v;
		return next(p);
	}
	if (is_word(p, "repeat")) {
		long long n;
		if ((rc = next(p)) < 0 ||
		    (rc = parse_int(p, 1, 1000, "a repeat count", &n)) < 0 ||
		    (rc = expect(p, ':', "':'")) < 0)
			return rc;
		if (p->t != T_NAME)
			return perr(p, "expected an assignment after 'repeat N:'");
		s->repeat = (int)n;
	}
	s->kind = QT_MS_ASSIGN;
	s->name = tok_str(p);
	if ((rc = next(p)) < 0 || (rc = expect(p, '=', "'=' (an assignment)")) < 0)
		return rc;
	return parse_expr(p, &s->expr);
}

int qt_model_parse(qt_model **mp, const char *path, const char *text)
{
	return qt_model_parse_set(mp, path, text, NULL, 0);
}

int qt_model_parse_set(qt_model **mp, const char *path, const char *text,
		       const char *const *set, int nset)
{
	struct parser p = {0};
	qt_model *m = calloc(1, sizeof *m);
	int rc;
	char *copy;
	if (!m)
		return qt_error(QT_ENOMEM, "out of memory");
	copy = arena_alloc(&m->arena, strlen(text) + 1);
	char *pathcopy = arena_alloc(&m->arena, strlen(path) + 1);
	if (!copy || !pathcopy) {
		qt_model_free(m);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	strcpy(copy, text);
	strcpy(pathcopy, path);
	m->text = copy;
	m->path = pathcopy;
	if (nset > 64) {
		qt_model_free(m);
		return qt_error(QT_EUSAGE, "too many --set values");
	}
	for (int k = 0; k < nset; k++) {
		const char *eq = strchr(set[k], '=');
		char *end;
		if (!eq || eq == set[k] || (strtod(eq + 1, &end), *end) ||
		    end == eq + 1) {
			qt_model_free(m);
			return qt_error(QT_EUSAGE, "--set '%s': expected NAME=NUMBER",
					set[k]);
		}
	}
	p.set = set;
	p.nset = nset;
	p.m = m;
	p.s = copy;
	p.line = p.col = 1;
	if ((rc = next(&p)) < 0)
		goto fail;
	while (p.t != T_EOF) {
		if (p.t == T_NL) {
			if ((rc = next(&p)) < 0)
				goto fail;
			continue;
		}
		qt_mstmt *stmts = push(&m->arena, m->stmts, m->n, sizeof *stmts);
		if (!stmts) {
			rc = qt_error(QT_ENOMEM, "out of memory");
			goto fail;
		}
		m->stmts = stmts;
		if ((rc = parse_stmt(&p, &stmts[m->n])) < 0)
			goto fail;
		m->n++;
		if (p.t != T_NL && p.t != T_EOF) {
			rc = perr(&p, "expected the end of the statement");
			goto fail;
		}
	}
	for (int k = 0; k < nset; k++)
		if (!p.set_used[k]) {
			rc = qt_error(QT_EUSAGE, "--set '%s': %s has no such "
				      "'param'", set[k], path);
			goto fail;
		}
	*mp = m;
	return 0;
fail:
	qt_model_free(m);
	return rc;
}

int qt_model_load(qt_model **m, const char *path)
{
	return qt_model_load_set(m, path, NULL, 0);
}

int qt_model_load_set(qt_model **m, const char *path,
		      const char *const *set, int nset)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	int rc;
	if (!f)
		return qt_error(QT_EUSAGE, "cannot open model file '%s': %s", path,
				strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > (1 << 24)) {
		fclose(f);
		return qt_error(QT_EFORMAT, "model file '%s' is not a regular "
				"file of at most 16 MiB", path);
	}
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (!buf) {
		fclose(f);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return qt_error(QT_EIO, "cannot read '%s'", path);
	}
	fclose(f);
	buf[n] = '\0';
	if (memchr(buf, '\0', (size_t)n)) {
		free(buf);
		return qt_error(QT_EFORMAT, "model file '%s' contains a NUL byte "
				"(not a text file?)", path);
	}
	rc = qt_model_parse_set(m, path, buf, set, nset);
	free(buf);
	return rc;
}

void qt_model_free(qt_model *m)
{
	if (!m)
		return;
	arena_free(m->arena);
	free(m);
}

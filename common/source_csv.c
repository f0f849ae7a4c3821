/* source_csv.c: CSV files as tensor streams (see source.h).
 *
 * RFC 4180 CSV with a header row: cells separated by ',', quoted cells
 * ("a, b" with "" for a quote) may hold commas and newlines, CRLF or LF
 * line ends, a UTF-8 byte-order mark is skipped, blank lines are ignored.
 *
 * Each column becomes a field of one value per sample:
 *   - numbers: float32 (NA or an empty cell is NaN);
 *   - --int COL: int64, parsed as an integer (exactly: ids up to 2^63);
 *     NA or empty cells are an error;
 *   - integers that float32 cannot hold exactly (beyond 2^24, such as
 *     TrackML's particle ids) load as int64 unless --float names them;
 *   - text: int64 class indices, the distinct strings (in order of first
 *     appearance, or as --classes orders them) the field's class names;
 *     NA or empty is -1, as pandas' category codes have it;
 *   - --group NAME=A,B,C: numeric columns as one field of shape (3,).
 *
 * The file is read twice (three times with text columns): once to learn
 * the columns' types and classes, which the stream header must declare
 * before any batch, and then batch by batch.  Only the class names are
 * held in memory.
 */
#include "common/source_impl.h"
#include "common/cli.h"
#include "common/error.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLS 4096
#define MAX_CLASSES 65536
#define FLOAT32_EXACT (1LL << 24)

/* ---- reading records ---- */

struct csv {
	FILE *f;
	const char *path;
	char *text;       /* the current record's cells, each NUL-ended */
	size_t cap, len;
	size_t start;     /* where the cell being read starts in text */
	size_t *off;      /* offset of each cell in text */
	int n, offcap;
	int64_t line;     /* line where the current record starts */
	int64_t next_line;
};

static int grow(struct csv *c)
{
	size_t cap = c->cap ? 2 * c->cap : 4096;
	char *t = realloc(c->text, cap);
	if (!t)
		return qt_error(QT_ENOMEM, "out of memory");
	c->text = t;
	c->cap = cap;
	return 0;
}

static inline int push(struct csv *c, char ch)
{
	if (c->len == c->cap && grow(c) < 0)
		return QT_ENOMEM;
	c->text[c->len++] = ch;
	return 0;
}

static int end_cell(struct csv *c)
{
	int rc;
	if (c->n == c->offcap) {
		int cap = c->offcap ? 2 * c->offcap : 64;
		size_t *o;
		if (cap > MAX_COLS + 1)
			return qt_error(QT_EFORMAT, "%s: line %lld has more than "
					"%d cells", c->path,
					(long long)c->line, MAX_COLS);
		if (!(o = realloc(c->off, (size_t)cap * sizeof *o)))
			return qt_error(QT_ENOMEM, "out of memory");
		c->off = o;
		c->offcap = cap;
	}
	if ((rc = push(c, '\0')) < 0)
		return rc;
	c->off[c->n++] = c->start;
	c->start = c->len;
	return 0;
}

/* The next record: 1, 0 at the end of the file, or an error. */
static int next_record(struct csv *c)
{
	int ch, quoted = 0, rc, any = 0;
	for (;;) {
		c->len = c->start = 0;
		c->n = 0;
		c->line = c->next_line;
		any = 0;
		for (;;) {
			ch = getc_unlocked(c->f);
			if (ch == EOF) {
				if (ferror(c->f))
					return qt_error(QT_EIO, "%s: read error: "
							"%s", c->path,
							strerror(errno));
				if (quoted)
					return qt_error(QT_EFORMAT, "%s: line %lld:"
							" a quoted cell never "
							"ends", c->path,
							(long long)c->line);
				if (!any)
					return 0;
				break;
			}
			any = 1;
			if (quoted) {
				if (ch == '"') {
					int nx = getc_unlocked(c->f);
					if (nx != '"') {
						quoted = 0;
						if (nx != EOF)
							ungetc(nx, c->f);
						continue;
					}
				} else if (ch == '\n') {
					c->next_line++;
				}
				if ((rc = push(c, (char)ch)) < 0)
					return rc;
				continue;
			}
			if (ch == '\n') {
				c->next_line++;
				break;
			}
			if (ch == '\r')
				continue;
			if (ch == '"') {
				quoted = 1;
				continue;
			}
			if (ch == ',') {
				if ((rc = end_cell(c)) < 0)
					return rc;
				continue;
			}
			if ((rc = push(c, (char)ch)) < 0)
				return rc;
		}
		if ((rc = end_cell(c)) < 0)
			return rc;
		/* Skip blank lines. */
		if (c->n == 1 && c->text[0] == '\0') {
			if (ch == EOF)
				return 0;
			continue;
		}
		return 1;
	}
}

static const char *cell(const struct csv *c, int i)
{
	return c->text + c->off[i];
}

/* The cell without surrounding blanks, in place. */
static char *trim(char *s)
{
	size_t n;
	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static int is_missing(const char *s)
{
	return !*s || !strcmp(s, "NA");
}

static int parse_i64(const char *s, int64_t *v)
{
	char *end;
	long long x;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (end == s || *end || errno)
		return -1;
	*v = x;
	return 0;
}

static int parse_f64(const char *s, double *v)
{
	char *end;
	errno = 0;
	*v = strtod(s, &end);
	return end == s || *end ? -1 : 0;
}

/* ---- class names: distinct strings in order of first appearance ---- */

struct strmap {
	char **keys;   /* hash slots */
	int *vals;
	size_t cap;
	char **order;  /* keys by index */
	int n, ocap;
	int fixed;     /* preset by --classes: no new names */
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int map_find(const struct strmap *m, const char *s)
{
	if (!m->cap)
		return -1;
	for (size_t i = hash(s) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->keys[i])
			return -1;
		if (!strcmp(m->keys[i], s))
			return m->vals[i];
	}
}

static int map_add(struct strmap *m, const char *s)
{
	char *k;
	size_t i;
	if ((size_t)(m->n + 1) * 2 > m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;
		char **keys = calloc(cap, sizeof *keys);
		int *vals = calloc(cap, sizeof *vals);
		if (!keys || !vals) {
			free(keys);
			free(vals);
			return qt_error(QT_ENOMEM, "out of memory");
		}
		for (size_t j = 0; j < m->cap; j++) {
			if (!m->keys[j])
				continue;
			for (i = hash(m->keys[j]) & (cap - 1); keys[i];
			     i = (i + 1) & (cap - 1))
				;
			keys[i] = m->keys[j];
			vals[i] = m->vals[j];
		}
		free(m->keys);
		free(m->vals);
		m->keys = keys;
		m->vals = vals;
		m->cap = cap;
	}
	if (m->n == m->ocap) {
		int ocap = m->ocap ? 2 * m->ocap : 16;
		char **o = realloc(m->order, (size_t)ocap * sizeof *o);
		if (!o)
			return qt_error(QT_ENOMEM, "out of memory");
		m->order = o;
		m->ocap = ocap;
	}
	if (!(k = strdup(s)))
		return qt_error(QT_ENOMEM, "out of memory");
	for (i = hash(s) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1))
		;
	m->keys[i] = k;
	m->vals[i] = m->n;
	m->order[m->n] = k;
	return m->n++;
}

static void map_free(struct strmap *m)
{
	for (int i = 0; i < m->n; i++)
		free(m->order[i]);
	free(m->order);
	free(m->keys);
	free(m->vals);
}

/* ---- columns ---- */

enum want { W_AUTO, W_INT, W_FLOAT };
enum kind { C_F32, C_I64, C_CLASS };

struct col {
	char name[QT_NAME_MAX]; /* field name: the header's, made valid */
	int used;               /* loaded (selected, or in a selected group) */
	int group;              /* index into groups, or -1 */
	enum want want;
	enum kind kind;
	int64_t missing, first_missing;
	int all_int, all_num, big;
	int64_t bad_line;       /* first cell that is not an integer */
	char bad[48];
	int64_t text_line;      /* first cell that is not a number */
	char text[48];
	struct strmap classes;
};

struct fieldmap {
	int ncols;
	int cols[MAX_COLS];     /* the columns of this field, in order */
};

struct csv_src {
	struct csv c;
	int ncol;
	struct col *col;
	int ngroups;
	char gname[QT_MAX_FIELDS][QT_NAME_MAX];
	int nf;
	struct fieldmap *fm;    /* per field */
	off_t start_off;        /* file offset of the first sample */
	int64_t start_line;
	int started;
};

static void csv_close(qt_source *s)
{
	struct csv_src *x = s->impl;
	if (!x)
		return;
	if (x->c.f)
		fclose(x->c.f);
	free(x->c.text);
	free(x->c.off);
	for (int i = 0; x->col && i < x->ncol; i++)
		map_free(&x->col[i].classes);
	free(x->col);
	free(x->fm);
	free(x);
	s->impl = NULL;
}

static int find_col(const struct csv_src *x, const char *name)
{
	for (int i = 0; i < x->ncol; i++)
		if (!strcmp(x->col[i].name, name))
			return i;
	return -1;
}

static int no_column(qt_source *s, const char *opt, const char *name)
{
	struct csv_src *x = s->impl;
	char list[300];
	size_t used = 0;
	list[0] = '\0';
	for (int i = 0; i < x->ncol && used + 8 < sizeof list; i++) {
		int w = snprintf(list + used, sizeof list - used, "%s%s",
				 i ? ", " : "", x->col[i].name);
		used += w > 0 ? (size_t)w : 0;
	}
	return qt_error(QT_EUSAGE, "%s%s%s: no column '%s' (it has: %s)", opt,
			*opt ? ": " : "", s->path, name, list);
}

static int read_header_row(qt_source *s, struct csv_src *x)
{
	int rc, c0;
	/* A UTF-8 byte-order mark is not part of the first name. */
	c0 = getc_unlocked(x->c.f);
	if (c0 == 0xEF) {
		if (getc_unlocked(x->c.f) != 0xBB || getc_unlocked(x->c.f) != 0xBF)
			return qt_error(QT_EFORMAT, "%s: not a text CSV file",
					s->path);
	} else if (c0 != EOF) {
		ungetc(c0, x->c.f);
	}
	if ((rc = next_record(&x->c)) <= 0)
		return rc < 0 ? rc : qt_error(QT_EFORMAT, "%s: empty file; a CSV "
					      "file needs a header row", s->path);
	x->ncol = x->c.n;
	if (!(x->col = calloc((size_t)x->ncol, sizeof *x->col)))
		return qt_error(QT_ENOMEM, "out of memory");
	for (int i = 0; i < x->ncol; i++) {
		struct col *k = &x->col[i];
		char *raw = trim((char *)cell(&x->c, i));
		if (!*raw)
			return qt_error(QT_EFORMAT, "%s: column %d has no name in "
					"the header row", s->path, i + 1);
		qt_source_field_name(k->name, sizeof k->name, raw);
		if (find_col(x, k->name) >= 0 && find_col(x, k->name) < i)
			return qt_error(QT_EFORMAT, "%s: two columns are named "
					"'%s'", s->path, k->name);
		k->group = -1;
		k->all_int = k->all_num = 1;
	}
	return 0;
}

/* --int, --float, --group and --classes name columns. */
static int apply_options(qt_source *s, struct csv_src *x)
{
	const qt_source_opts *o = s->opts;
	for (int w = 0; w < 2; w++) {
		char **v = w ? o->float_cols : o->int_cols;
		int n = w ? o->nfloat : o->nint;
		for (int i = 0; i < n; i++) {
			int c = find_col(x, v[i]);
			if (c < 0)
				return no_column(s, w ? "--float" : "--int", v[i]);
			x->col[c].want = w ? W_FLOAT : W_INT;
		}
	}
	for (int g = 0; g < o->ngroups; g++) {
		const char *spec = o->groups[g], *eq = strchr(spec, '=');
		char **cols;
		int n, rc;
		if (!eq || eq == spec || (size_t)(eq - spec) >= QT_NAME_MAX ||
		    !eq[1])
			return qt_error(QT_EUSAGE, "--group: '%s' is not "
					"NAME=column,column,...", spec);
		if (x->ngroups >= QT_MAX_FIELDS)
			return qt_error(QT_EUSAGE, "--group: too many groups");
		snprintf(x->gname[g], QT_NAME_MAX, "%.*s", (int)(eq - spec), spec);
		if ((rc = qt_parse_list(eq + 1, "--group", &cols, &n)) < 0)
			return rc;
		for (int i = 0; i < n; i++) {
			int c = find_col(x, cols[i]);
			if (c < 0 || x->col[c].group >= 0) {
				rc = c < 0 ? no_column(s, "--group", cols[i])
					   : qt_error(QT_EUSAGE, "--group: column "
						      "'%s' is in two groups",
						      cols[i]);
				qt_free_list(cols, n);
				return rc;
			}
			x->col[c].group = g;
		}
		qt_free_list(cols, n);
		x->ngroups++;
	}
	return 0;
}

/* The fields: --fields in their order, or every column in file order
 * with each group where its first column is. */
static int plan_fields(qt_source *s, struct csv_src *x)
{
	const qt_source_opts *o = s->opts;
	int want[QT_MAX_FIELDS * 2], nw = 0; /* >= 0 column, < 0 -(group+1) */
	if (!(x->fm = calloc(QT_MAX_FIELDS, sizeof *x->fm)))
		return qt_error(QT_ENOMEM, "out of memory");
	if (o->nfields > QT_MAX_FIELDS)
		return qt_error(QT_EUSAGE, "--fields: more than %d fields",
				QT_MAX_FIELDS);
	if (o->nfields) {
		for (int i = 0; i < o->nfields; i++) {
			int g, c = -1;
			for (g = 0; g < x->ngroups; g++)
				if (!strcmp(x->gname[g], o->fields[i]))
					break;
			if (g == x->ngroups && (c = find_col(x, o->fields[i])) < 0)
				return no_column(s, "", o->fields[i]);
			if (c >= 0 && x->col[c].group >= 0)
				return qt_error(QT_EUSAGE, "--fields: column '%s' "
						"is in group '%s'; name the group",
						o->fields[i],
						x->gname[x->col[c].group]);
			want[nw++] = c >= 0 ? c : -(g + 1);
		}
	} else {
		int seen[QT_MAX_FIELDS] = {0};
		for (int c = 0; c < x->ncol && nw < QT_MAX_FIELDS + 1; c++) {
			int g = x->col[c].group;
			if (g < 0)
				want[nw++] = c;
			else if (!seen[g]++)
				want[nw++] = -(g + 1);
		}
	}
	if (nw > QT_MAX_FIELDS)
		return qt_error(QT_EUSAGE, "%s: more than %d fields; pick some "
				"with --fields or --group", s->path,
				QT_MAX_FIELDS);
	x->nf = nw;
	for (int f = 0; f < nw; f++) {
		struct fieldmap *m = &x->fm[f];
		if (want[f] >= 0) {
			m->cols[m->ncols++] = want[f];
			continue;
		}
		for (int c = 0; c < x->ncol; c++)
			if (x->col[c].group == -want[f] - 1)
				m->cols[m->ncols++] = c;
	}
	for (int f = 0; f < nw; f++)
		for (int j = 0; j < x->fm[f].ncols; j++)
			x->col[x->fm[f].cols[j]].used = 1;
	return 0;
}

static void clip(char *dst, size_t len, const char *s)
{
	snprintf(dst, len, "%s", s);
	if (strlen(s) >= len && len > 4)
		memcpy(dst + len - 4, "...", 4);
}

/* Pass 1: the type of every used column. */
static int scan_types(qt_source *s, struct csv_src *x)
{
	int64_t row = 0;
	int rc;
	for (;;) {
		/* Where sample `start` begins, for the second pass. */
		if (row == s->opts->start) {
			x->start_off = ftello(x->c.f);
			x->start_line = x->c.next_line;
		}
		if ((rc = next_record(&x->c)) <= 0)
			break;
		if (x->c.n != x->ncol)
			return qt_error(QT_EFORMAT, "%s: line %lld has %d cells, "
					"the header has %d", s->path,
					(long long)x->c.line, x->c.n, x->ncol);
		row++;
		for (int i = 0; i < x->ncol; i++) {
			struct col *k = &x->col[i];
			char *v;
			int64_t iv;
			double dv;
			if (!k->used)
				continue;
			v = trim((char *)cell(&x->c, i));
			if (is_missing(v)) {
				if (!k->missing++)
					k->first_missing = x->c.line;
				continue;
			}
			if (parse_i64(v, &iv) == 0) {
				if (iv > FLOAT32_EXACT || iv < -FLOAT32_EXACT)
					k->big = 1;
				continue;
			}
			if (k->all_int) {
				k->all_int = 0;
				k->bad_line = x->c.line;
				clip(k->bad, sizeof k->bad, v);
			}
			if (k->all_num && parse_f64(v, &dv) < 0) {
				k->all_num = 0;
				k->text_line = x->c.line;
				clip(k->text, sizeof k->text, v);
			}
		}
	}
	if (rc < 0)
		return rc;
	s->total = row;
	return 0;
}

/* Decide each used column's kind from what pass 1 saw. */
static int decide(qt_source *s, struct csv_src *x)
{
	for (int i = 0; i < x->ncol; i++) {
		struct col *k = &x->col[i];
		int numeric = k->want != W_AUTO || k->group >= 0;
		if (!k->used)
			continue;
		if (numeric && !k->all_num)
			return qt_error(QT_EFORMAT, "%s: line %lld, column '%s': "
					"'%s' is not a number", s->path,
					(long long)k->text_line, k->name, k->text);
		if (k->want == W_INT && !k->all_int)
			return qt_error(QT_EFORMAT, "%s: line %lld, column '%s': "
					"'%s' is not an integer", s->path,
					(long long)k->bad_line, k->name, k->bad);
		if (k->want == W_INT && k->missing)
			return qt_error(QT_EFORMAT, "%s: line %lld, column '%s': "
					"a missing value (NA or empty) in an "
					"integer column", s->path,
					(long long)k->first_missing, k->name);
		if (k->want == W_INT) {
			k->kind = C_I64;
		} else if (!k->all_num) {
			k->kind = C_CLASS;
		} else if (k->want == W_AUTO && k->group < 0 && k->all_int &&
			   k->big && !k->missing) {
			k->kind = C_I64;
			qt_source_note(s, "column '%s' holds integers beyond 2^24, "
				       "which float32 would round: loading it "
				       "as int64 (--float %s keeps float32)",
				       k->name, k->name);
		} else {
			k->kind = C_F32;
		}
	}
	return 0;
}

/* --classes FIELD=... preset the class order of a text column. */
static int preset_classes(qt_source *s, struct csv_src *x)
{
	for (int i = 0; i < s->opts->nclasses; i++) {
		const char *spec = s->opts->classes[i], *eq = strchr(spec, '=');
		char **names;
		int c, n, rc = 0;
		if (!eq)
			continue; /* apply_classes reports it */
		for (c = 0; c < x->ncol; c++)
			if (strlen(x->col[c].name) == (size_t)(eq - spec) &&
			    !strncmp(x->col[c].name, spec, (size_t)(eq - spec)))
				break;
		if (c == x->ncol || x->col[c].kind != C_CLASS)
			continue;
		if (qt_parse_list(eq + 1, "--classes", &names, &n) < 0)
			continue;
		for (int j = 0; j < n && rc >= 0; j++)
			if (map_find(&x->col[c].classes, names[j]) < 0)
				rc = map_add(&x->col[c].classes, names[j]);
		qt_free_list(names, n);
		if (rc < 0)
			return rc;
		x->col[c].classes.fixed = 1;
	}
	return 0;
}

/* Pass 1b, for text columns: the class names in order of appearance. */
static int scan_classes(qt_source *s, struct csv_src *x)
{
	int rc, any = 0;
	for (int i = 0; i < x->ncol; i++)
		any |= x->col[i].used && x->col[i].kind == C_CLASS;
	if (!any)
		return 0;
	if ((rc = preset_classes(s, x)) < 0)
		return rc;
	if (fseeko(x->c.f, 0, SEEK_SET) != 0)
		return qt_error(QT_EIO, "%s: cannot rewind: %s", s->path,
				strerror(errno));
	x->c.next_line = 1;
	if ((rc = next_record(&x->c)) <= 0) /* the header row */
		return rc < 0 ? rc : qt_error(QT_EFORMAT, "%s: changed while "
					      "being read", s->path);
	while ((rc = next_record(&x->c)) > 0) {
		for (int i = 0; i < x->ncol && i < x->c.n; i++) {
			struct col *k = &x->col[i];
			char *v;
			if (!k->used || k->kind != C_CLASS)
				continue;
			v = trim((char *)cell(&x->c, i));
			if (is_missing(v) || map_find(&k->classes, v) >= 0)
				continue;
			if (k->classes.fixed)
				return qt_error(QT_EFORMAT, "%s: line %lld, column "
						"'%s': '%s' is not among the "
						"--classes", s->path,
						(long long)x->c.line, k->name, v);
			if (k->classes.n >= MAX_CLASSES)
				return qt_error(QT_EFORMAT, "%s: column '%s' has "
						"more than %d distinct strings: "
						"not a class label; leave it "
						"out with --fields", s->path,
						k->name, MAX_CLASSES);
			if ((rc = map_add(&k->classes, v)) < 0)
				return rc;
		}
	}
	return rc;
}

static int declare_fields(qt_source *s, struct csv_src *x)
{
	for (int f = 0; f < x->nf; f++) {
		const struct fieldmap *m = &x->fm[f];
		const struct col *k = &x->col[m->cols[0]];
		int grouped = k->group >= 0, rc, all_int = 1;
		int64_t shape[1] = {m->ncols};
		for (int j = 0; j < m->ncols; j++)
			all_int &= x->col[m->cols[j]].want == W_INT;
		qt_dtype dt = grouped ? (all_int ? QT_I64 : QT_F32)
				      : k->kind == C_F32 ? QT_F32 : QT_I64;
		rc = qt_header_add_field(s->h, grouped ? x->gname[k->group]
						       : k->name,
					 dt, grouped, shape);
		if (rc < 0)
			return qt_error_prefix(rc, "%s: ", s->path);
		if (grouped)
			for (int j = 0; j < m->ncols; j++)
				x->col[m->cols[j]].kind = all_int ? C_I64 : C_F32;
		if (!grouped && k->kind == C_CLASS &&
		    (rc = qt_header_set_classes(s->h, f, k->classes.n,
						(const char *const *)
							k->classes.order)) < 0)
			return rc;
	}
	return 0;
}

/* One cell into element i of a field's tensor. */
static int convert(qt_source *s, struct csv_src *x, struct col *k,
		   char *v, qt_tensor *t, int64_t i)
{
	v = trim(v);
	if (k->kind == C_F32) {
		char *end;
		float f = is_missing(v) ? NAN : strtof(v, &end);
		if (!is_missing(v) && (end == v || *end))
			goto changed;
		((float *)t->data)[i] = f;
	} else if (k->kind == C_I64) {
		int64_t iv;
		if (parse_i64(v, &iv) < 0)
			goto changed;
		((int64_t *)t->data)[i] = iv;
	} else {
		int idx = is_missing(v) ? -1 : map_find(&k->classes, v);
		if (idx < 0 && !is_missing(v))
			goto changed;
		((int64_t *)t->data)[i] = idx;
	}
	return 0;
changed:
	return qt_error(QT_EFORMAT, "%s: line %lld, column '%s': unexpected "
			"'%s' (did the file change while being read?)", s->path,
			(long long)x->c.line, k->name, v);
}

static int csv_read(qt_source *s, int64_t start, int64_t k, qt_batch *b)
{
	struct csv_src *x = s->impl;
	qt_tensor *t[QT_MAX_FIELDS];
	int rc;
	if (!x->started) {
		if (fseeko(x->c.f, x->start_off, SEEK_SET) != 0)
			return qt_error(QT_EIO, "%s: cannot seek: %s", s->path,
					strerror(errno));
		x->c.next_line = x->start_line;
		x->started = 1;
	}
	for (int f = 0; f < x->nf; f++)
		if (!(t[f] = qt_source_tensor(s, f, k)))
			return QT_ENOMEM;
	for (int64_t r = 0; r < k; r++) {
		if ((rc = next_record(&x->c)) <= 0)
			return rc < 0 ? rc : qt_error(QT_EFORMAT, "%s: ended early "
						      "(did it change while "
						      "being read?)", s->path);
		if (x->c.n != x->ncol)
			return qt_error(QT_EFORMAT, "%s: line %lld has %d cells, "
					"the header has %d", s->path,
					(long long)x->c.line, x->c.n, x->ncol);
		for (int f = 0; f < x->nf; f++) {
			const struct fieldmap *m = &x->fm[f];
			for (int j = 0; j < m->ncols; j++) {
				int c = m->cols[j];
				if ((rc = convert(s, x, &x->col[c],
						  (char *)cell(&x->c, c), t[f],
						  r * m->ncols + j)) < 0)
					return rc;
			}
		}
	}
	return 0;
}

int qt_source_open_csv(qt_source *s)
{
	struct csv_src *x = calloc(1, sizeof *x);
	int rc;
	if (!x)
		return qt_error(QT_ENOMEM, "out of memory");
	s->impl = x;
	s->read = csv_read;
	s->close = csv_close;
	x->c.path = s->path;
	x->c.next_line = 1;
	if (!(x->c.f = fopen(s->path, "rb")))
		return qt_error(QT_EUSAGE, "cannot open '%s': %s", s->path,
				strerror(errno));
	setvbuf(x->c.f, NULL, _IOFBF, 1 << 20);
	if ((rc = read_header_row(s, x)) < 0 || (rc = apply_options(s, x)) < 0 ||
	    (rc = plan_fields(s, x)) < 0 || (rc = scan_types(s, x)) < 0 ||
	    (rc = decide(s, x)) < 0 || (rc = scan_classes(s, x)) < 0 ||
	    (rc = declare_fields(s, x)) < 0)
		return rc;
	return 0;
}

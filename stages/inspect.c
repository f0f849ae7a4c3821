/* inspect.c: quanta-inspect, a stream described for people or machines.
 *
 * Reads a stream and prints its header (fields, class names, provenance),
 * the sample and batch counts and, per field, the shape, min, max, mean,
 * standard deviation, NaN/Inf counts and a class histogram
 * (common/stats.h), then the first N samples (--head).  Memory is constant
 * in the length of the stream: one batch and the --head samples.
 * docs/stages/inspect.md is the manual.
 */
#include "common/cli.h"
#include "common/error.h"
#include "common/show.h"
#include "common/stats.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
	"Usage: quanta inspect [OPTIONS] [FILE]\n"
	"Describe a stream: header, sample counts, per-field statistics, class\n"
	"histograms and the first samples.  Reads FILE, -i ENDPOINT or stdin.\n"
	"\n"
	"  -i, --input ENDPOINT  stream to read: a file, '-' or a ZeroMQ endpoint\n"
	"  -n, --head N          also print the first N samples (default 0)\n"
	"      --header          print the header only; do not read the batches\n"
	"      --json            print one JSON object instead of text\n"
	"  -h, --help            show this help\n"
	"  -V, --version         show the version\n"
	"\n"
	"Statistics cover every element; min, max, mean and std (population, as\n"
	"numpy's std) use the finite values and NaN/Inf are counted apart.\n"
	"\n"
	"Examples:\n"
	"  quanta simulate jets -n 1000 | quanta inspect --head 2\n"
	"  quanta inspect --json train.qs | jq .stats.labels.histogram\n";

struct report {
	const qt_header *h;
	qt_field_stats fs[QT_MAX_FIELDS];
	int64_t samples, batches;
	qt_batch **head; /* the first samples, as taken from the batches */
	int nhead;
	int64_t head_samples;
};

/* ---- text ---- */

/* An argument as a shell would need it. */
static void print_arg(const char *a)
{
	if (*a && !a[strcspn(a, " \t\n'\"\\$`*?[]{}()<>|&;#~!")]) {
		fputs(a, stdout);
		return;
	}
	putchar('\'');
	for (; *a; a++)
		if (*a == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*a);
	putchar('\'');
}

/* A shape as Python writes it: "()", "(10,)", "(10, 3)". */
static void shape_str(char *buf, size_t len, int ndim, const int64_t *shape)
{
	qt_shape_str(buf, len, ndim, shape);
	if (ndim == 1 && strlen(buf) + 2 < len)
		strcpy(buf + strlen(buf) - 1, ",)");
}

static void field_shape(char *buf, size_t len, const qt_field *f)
{
	shape_str(buf, len, f->ndim, f->shape);
}

static void print_header_text(const qt_header *h)
{
	char shape[96];
	int wn = 5, ws = 5;
	for (int i = 0; i < h->nfields; i++) {
		int n = (int)strlen(h->fields[i].name);
		field_shape(shape, sizeof shape, &h->fields[i]);
		if (n > wn)
			wn = n;
		if ((int)strlen(shape) > ws)
			ws = (int)strlen(shape);
	}
	printf("quanta stream, format %d%s\n", h->version,
	       h->end_marker ? "" : ", no end marker");
	printf("fields:\n");
	for (int i = 0; i < h->nfields; i++) {
		const qt_field *f = &h->fields[i];
		field_shape(shape, sizeof shape, f);
		printf("  %-*s  %-7s  %-*s", wn, f->name, qt_dtype_name(f->dtype),
		       (f->ndim > 0 && f->shape[0] < 0) || f->nclasses ? ws : 0,
		       shape);
		if (f->ndim > 0 && f->shape[0] < 0)
			printf("  ragged");
		if (f->index_of[0])
			printf(", indexes %s", f->index_of);
		if (f->nclasses) {
			printf("  classes:");
			for (int c = 0; c < f->nclasses; c++)
				printf("%s %s", c ? "," : "", f->classes[c]);
		}
		printf("\n");
	}
	printf("provenance:%s\n", h->nprov ? "" : " none");
	for (int i = 0; i < h->nprov; i++) {
		const qt_prov *p = &h->prov[i];
		printf("  %d. %s %s:", i + 1, p->stage, p->version);
		for (int a = 0; a < p->argc; a++) {
			putchar(' ');
			print_arg(p->argv[a]);
		}
		for (int k = 0; k < p->nparams; k++)
			printf("%s%s=%s", k ? ", " : "   [", p->keys[k],
			       p->values[k]);
		printf("%s\n", p->nparams ? "]" : "");
	}
}

static void fmt_num(char *buf, size_t len, double v, int have)
{
	if (have)
		snprintf(buf, len, "%.6g", v);
	else
		snprintf(buf, len, "-");
}

static void print_stats_text(const struct report *r)
{
	const qt_header *h = r->h;
	char cell[QT_MAX_FIELDS][6][96], shape[96];
	int w[6] = {5, 5, 3, 3, 4, 3}, wn = 5;
	static const char *title[6] = {"dtype", "shape", "min", "max", "mean",
				       "std"};

	printf("\nsamples: %lld in %lld batch%s\n\n", (long long)r->samples,
	       (long long)r->batches, r->batches == 1 ? "" : "es");
	for (int i = 0; i < h->nfields; i++) {
		const qt_field *f = &h->fields[i];
		const qt_field_stats *fs = &r->fs[i];
		int64_t full[QT_MAX_DIMS];
		int ragged = f->ndim > 0 && f->shape[0] < 0, nd = f->ndim + !ragged;
		full[0] = fs->rows;
		for (int d = ragged; d < f->ndim; d++)
			full[d + !ragged] = f->shape[d];
		shape_str(shape, sizeof shape, nd, full);
		snprintf(cell[i][0], 96, "%s", qt_dtype_name(f->dtype));
		snprintf(cell[i][1], 96, "%s", shape);
		fmt_num(cell[i][2], 96, fs->st.min, fs->st.n > 0);
		fmt_num(cell[i][3], 96, fs->st.max, fs->st.n > 0);
		fmt_num(cell[i][4], 96, fs->st.mean, fs->st.n > 0);
		fmt_num(cell[i][5], 96, qt_stats_std(&fs->st, 0), fs->st.n > 0);
		for (int c = 0; c < 6; c++)
			if ((int)strlen(cell[i][c]) > w[c])
				w[c] = (int)strlen(cell[i][c]);
		if ((int)strlen(f->name) > wn)
			wn = (int)strlen(f->name);
	}
	printf("%-*s", wn, "field");
	for (int c = 0; c < 6; c++)
		printf(c < 2 ? "  %-*s" : "  %*s", w[c], title[c]);
	printf("  %6s  %6s\n", "nan", "inf");
	for (int i = 0; i < h->nfields; i++) {
		printf("%-*s", wn, h->fields[i].name);
		for (int c = 0; c < 6; c++)
			printf(c < 2 ? "  %-*s" : "  %*s", w[c], cell[i][c]);
		printf("  %6lld  %6lld\n", (long long)r->fs[i].st.nan,
		       (long long)(r->fs[i].st.posinf + r->fs[i].st.neginf));
	}
	for (int i = 0, first = 1; i < h->nfields; i++) {
		const qt_field *f = &h->fields[i];
		const qt_field_stats *fs = &r->fs[i];
		if (!(f->ndim > 0 && f->shape[0] < 0 && fs->samples > 0))
			continue;
		printf("%s%s: %lld rows, %lld to %lld per sample (mean %.4g)",
		       first ? "\n" : "", f->name, (long long)fs->rows,
		       (long long)fs->min_rows, (long long)fs->max_rows,
		       (double)fs->rows / (double)fs->samples);
		if (f->index_of[0])
			printf("; values index the sample's '%s' rows",
			       f->index_of);
		putchar('\n');
		first = 0;
	}
	for (int i = 0; i < h->nfields; i++) {
		const qt_field *f = &h->fields[i];
		const qt_tally *hs = &r->fs[i].tally;
		int64_t total = hs->other;
		if (!r->fs[i].tally_mode || hs->overflow ||
		    (!hs->nclasses && !hs->nvalues))
			continue;
		for (int c = 0; c < hs->nclasses; c++)
			total += hs->counts[c];
		for (int c = 0; c < hs->nvalues; c++)
			total += hs->vcounts[c];
		printf("\n%s %s:\n", f->name, hs->nclasses ? "classes" : "values");
		for (int c = 0; c < hs->nclasses; c++)
			printf("  %-10s %10lld  %5.1f%%\n", f->classes[c],
			       (long long)hs->counts[c],
			       total ? 100.0 * (double)hs->counts[c] / (double)total : 0);
		for (int c = 0; c < hs->nvalues; c++)
			printf("  %-10.6g %10lld  %5.1f%%\n", hs->values[c],
			       (long long)hs->vcounts[c],
			       100.0 * (double)hs->vcounts[c] / (double)total);
		if (hs->other)
			printf("  %-10s %10lld  %5.1f%%\n", "(no class)",
			       (long long)hs->other,
			       100.0 * (double)hs->other / (double)total);
	}
}

/* Sample s of field f of batch b as its own array (index fields made
 * relative to the sample); *tmp is allocated when a copy is needed. */
static qt_tensor sample_view(const qt_header *h, const qt_batch *b, int f,
			     int64_t s, qt_tensor **tmp)
{
	const qt_tensor *t = b->t[f];
	int64_t a, e, shape[QT_MAX_DIMS];
	size_t row;
	qt_batch_rows(b, f, s, &a, &e);
	int ragged = b->ptr[f] != NULL;
	int nd = ragged ? t->ndim : t->ndim - 1;
	if (ragged)
		shape[0] = e - a;
	for (int d = 1; d < t->ndim; d++)
		shape[d - !ragged] = t->shape[d];
	row = (size_t)qt_shape_numel(t->ndim - 1, t->shape + 1);
	qt_tensor v = qt_tensor_wrap(t->dtype, nd, shape,
				     (char *)t->data + (size_t)a * row *
				     qt_dtype_size(t->dtype));
	*tmp = NULL;
	if (h->fields[f].index_of[0] && (*tmp = qt_tensor_clone(&v))) {
		int tf = qt_header_find(h, h->fields[f].index_of);
		int64_t base = ((const int64_t *)b->ptr[tf]->data)[s];
		for (int64_t k = 0; k < qt_tensor_numel(*tmp); k++) {
			if ((*tmp)->dtype == QT_I64)
				((int64_t *)(*tmp)->data)[k] -= base;
			else
				((int32_t *)(*tmp)->data)[k] -= (int32_t)base;
		}
		v.data = (*tmp)->data;
	}
	return v;
}

static void print_head_text(const struct report *r)
{
	const qt_header *h = r->h;
	int64_t k = 0;
	for (int j = 0; j < r->nhead; j++)
		for (int64_t s = 0; s < r->head[j]->n; s++, k++) {
			printf("\nsample %lld:\n", (long long)k);
			for (int f = 0; f < h->nfields; f++) {
				const qt_field *fd = &h->fields[f];
				qt_tensor *tmp;
				qt_tensor v = sample_view(h, r->head[j], f, s, &tmp);
				int n = printf("  %s = ", fd->name);
				qt_show_array(stdout, v.dtype, v.data, v.ndim,
					      v.shape, n);
				if (fd->nclasses && v.ndim == 0) {
					double c = qt_tensor_get(&v, 0);
					if (c >= 0 && c < fd->nclasses && c == (int64_t)c)
						printf(" (%s)", fd->classes[(int64_t)c]);
				}
				putchar('\n');
				qt_tensor_free(tmp);
			}
		}
}

/* ---- JSON ---- */

static void print_header_json(const qt_header *h)
{
	printf("\"format\":%d,\"end_marker\":%s,\"fields\":[", h->version,
	       h->end_marker ? "true" : "false");
	for (int i = 0; i < h->nfields; i++) {
		const qt_field *f = &h->fields[i];
		printf("%s{\"name\":", i ? "," : "");
		qt_show_json_string(stdout, f->name);
		printf(",\"dtype\":\"%s\",\"shape\":[", qt_dtype_name(f->dtype));
		for (int d = 0; d < f->ndim; d++)
			if (f->shape[d] < 0)
				printf("%snull", d ? "," : "");
			else
				printf("%s%lld", d ? "," : "", (long long)f->shape[d]);
		printf("]");
		if (f->nclasses) {
			printf(",\"classes\":[");
			for (int c = 0; c < f->nclasses; c++) {
				if (c)
					putchar(',');
				qt_show_json_string(stdout, f->classes[c]);
			}
			printf("]");
		}
		if (f->index_of[0]) {
			printf(",\"index_of\":");
			qt_show_json_string(stdout, f->index_of);
		}
		printf("}");
	}
	printf("],\"provenance\":[");
	for (int i = 0; i < h->nprov; i++) {
		const qt_prov *p = &h->prov[i];
		printf("%s{\"stage\":", i ? "," : "");
		qt_show_json_string(stdout, p->stage);
		printf(",\"version\":");
		qt_show_json_string(stdout, p->version);
		printf(",\"args\":[");
		for (int a = 0; a < p->argc; a++) {
			if (a)
				putchar(',');
			qt_show_json_string(stdout, p->argv[a]);
		}
		printf("],\"params\":{");
		for (int k = 0; k < p->nparams; k++) {
			if (k)
				putchar(',');
			qt_show_json_string(stdout, p->keys[k]);
			putchar(':');
			qt_show_json_string(stdout, p->values[k]);
		}
		printf("}}");
	}
	printf("]");
}

static void print_field_json(const qt_field *f, const qt_field_stats *fs)
{
	const qt_stats *st = &fs->st;
	int ragged = f->ndim > 0 && f->shape[0] < 0;
	printf("{\"dtype\":\"%s\",\"shape\":[%lld", qt_dtype_name(f->dtype),
	       (long long)fs->rows);
	for (int d = ragged; d < f->ndim; d++)
		printf(",%lld", (long long)f->shape[d]);
	printf("],\"count\":%lld,\"finite\":%lld,\"min\":",
	       (long long)qt_stats_total(st), (long long)st->n);
	qt_show_json_number(stdout, st->n ? st->min : NAN);
	printf(",\"max\":");
	qt_show_json_number(stdout, st->n ? st->max : NAN);
	printf(",\"mean\":");
	qt_show_json_number(stdout, st->n ? st->mean : NAN);
	printf(",\"std\":");
	qt_show_json_number(stdout, qt_stats_std(st, 0));
	printf(",\"nan\":%lld,\"posinf\":%lld,\"neginf\":%lld",
	       (long long)st->nan, (long long)st->posinf, (long long)st->neginf);
	if (ragged)
		printf(",\"rows\":{\"total\":%lld,\"min\":%lld,\"max\":%lld}",
		       (long long)fs->rows,
		       (long long)(fs->samples ? fs->min_rows : 0),
		       (long long)fs->max_rows);
	if (fs->tally_mode && !fs->tally.overflow) {
		const qt_tally *hs = &fs->tally;
		printf(",\"histogram\":[");
		for (int c = 0; c < hs->nclasses; c++) {
			printf("%s{\"value\":%d,\"class\":", c ? "," : "", c);
			qt_show_json_string(stdout, f->classes[c]);
			printf(",\"count\":%lld}", (long long)hs->counts[c]);
		}
		for (int c = 0; c < hs->nvalues; c++) {
			printf("%s{\"value\":", c ? "," : "");
			qt_show_json_number(stdout, hs->values[c]);
			printf(",\"count\":%lld}", (long long)hs->vcounts[c]);
		}
		printf("],\"no_class\":%lld", (long long)hs->other);
	}
	printf("}");
}

static void print_report_json(const struct report *r, int head)
{
	const qt_header *h = r->h;
	printf("{");
	print_header_json(h);
	printf(",\"samples\":%lld,\"batches\":%lld,\"stats\":{",
	       (long long)r->samples, (long long)r->batches);
	for (int i = 0; i < h->nfields; i++) {
		printf("%s", i ? "," : "");
		qt_show_json_string(stdout, h->fields[i].name);
		putchar(':');
		print_field_json(&h->fields[i], &r->fs[i]);
	}
	printf("}");
	if (head) {
		int k = 0;
		printf(",\"head\":[");
		for (int j = 0; j < r->nhead; j++)
			for (int64_t s = 0; s < r->head[j]->n; s++) {
				printf("%s{", k++ ? "," : "");
				for (int f = 0; f < h->nfields; f++) {
					qt_tensor *tmp;
					qt_tensor v = sample_view(h, r->head[j], f,
								  s, &tmp);
					printf("%s", f ? "," : "");
					qt_show_json_string(stdout, h->fields[f].name);
					putchar(':');
					qt_show_json_array(stdout, v.dtype, v.data,
							   v.ndim, v.shape);
					qt_tensor_free(tmp);
				}
				printf("}");
			}
		printf("]");
	}
	printf("}\n");
}

/* ---- the stream ---- */

/* Read every batch into the statistics; keep the first `head` samples. */
static int collect(struct report *r, qt_reader *rd, int64_t head)
{
	qt_batch *b;
	int rc;
	for (int i = 0; i < r->h->nfields; i++)
		if ((rc = qt_field_stats_init(&r->fs[i], &r->h->fields[i])) < 0)
			return rc;
	while ((rc = qt_reader_next(rd, &b)) > 0) {
		for (int i = 0; i < r->h->nfields; i++)
			qt_field_stats_add(&r->fs[i], r->h, i, b);
		r->samples += b->n;
		r->batches++;
		if (r->head_samples < head && b->n > 0) {
			int64_t k = head - r->head_samples, *idx;
			qt_batch **nh = realloc(r->head, (size_t)(r->nhead + 1) *
						sizeof *nh);
			if (k > b->n)
				k = b->n;
			if (nh)
				r->head = nh;
			idx = malloc((size_t)k * sizeof *idx);
			for (int64_t s = 0; idx && s < k; s++)
				idx[s] = s;
			if (!nh || !idx || !(r->head[r->nhead] =
					     qt_batch_take(r->h, b, idx, k))) {
				free(idx);
				qt_batch_free(b);
				return qt_error(QT_ENOMEM, "out of memory");
			}
			free(idx);
			r->nhead++;
			r->head_samples += k;
		}
		qt_batch_free(b);
	}
	for (int i = 0; i < r->h->nfields; i++)
		qt_tally_sort(&r->fs[i].tally);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"input", required_argument, 0, 'i'},
		{"head", required_argument, 0, 'n'},
		{"header", no_argument, 0, 'H'},
		{"json", no_argument, 0, 'j'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},
		{0, 0, 0, 0},
	};
	const char *input = NULL;
	long long head = 0;
	int json = 0, header_only = 0, c, rc = 0;
	qt_reader *rd = NULL;
	struct report r = {0};

	qt_cli_init("inspect", argc, argv);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hVi:n:", opts, NULL)) != -1) {
		switch (c) {
		case 'i': input = optarg; break;
		case 'n':
			if ((rc = qt_parse_int(optarg, "--head", 0, 1000000,
					       &head)) < 0)
				return qt_cli_usage("%s", qt_error_message(rc));
			break;
		case 'H': header_only = 1; break;
		case 'j': json = 1; break;
		case 'h': return qt_cli_help(help);
		case 'V': return qt_cli_version();
		case ':': return qt_cli_bad_option(argv, 1);
		default: return qt_cli_bad_option(argv, 0);
		}
	}
	if (optind < argc) {
		if (input || optind + 1 < argc)
			return qt_cli_usage("give one input (FILE or -i)");
		input = argv[optind];
	}
	if ((rc = qt_reader_open(&rd, input ? input : "-")) < 0)
		goto out;
	r.h = qt_reader_header(rd);
	if (header_only) {
		if (json) {
			printf("{");
			print_header_json(r.h);
			printf("}\n");
		} else {
			print_header_text(r.h);
		}
		goto out;
	}
	if ((rc = collect(&r, rd, head)) < 0)
		goto out;
	if (json) {
		print_report_json(&r, head > 0);
	} else {
		print_header_text(r.h);
		print_stats_text(&r);
		print_head_text(&r);
	}
out:
	for (int i = 0; r.h && i < r.h->nfields; i++)
		qt_field_stats_free(&r.fs[i]);
	for (int j = 0; j < r.nhead; j++)
		qt_batch_free(r.head[j]);
	free(r.head);
	qt_reader_close(rd);
	return qt_cli_finish(rc);
}
